from django.urls import path

from analysis.coding.api import codebook as api
from analysis.coding.api import codings as coding_api
from analysis.coding.api import exports as export_api

urlpatterns = [
    path("studies/<int:study_id>/codes/", api.CodeListAPI.as_view(), name="api-code-list"),
    path("studies/<int:study_id>/codes/tree/", api.CodeTreeAPI.as_view(), name="api-code-tree"),
    path("studies/<int:study_id>/codes/propose/", api.CodeProposeAPI.as_view(), name="api-code-propose"),
    path("studies/<int:study_id>/codes/import/", api.CodebookImportAPI.as_view(), name="api-code-import"),
    path("studies/<int:study_id>/codes/export/", api.CodebookExportAPI.as_view(), name="api-code-export"),
    path("studies/<int:study_id>/codes/<int:code_id>/", api.CodeDetailAPI.as_view(), name="api-code-detail"),
    path("studies/<int:study_id>/codes/<int:code_id>/move/", api.CodeMoveAPI.as_view(), name="api-code-move"),
    path("studies/<int:study_id>/codes/<int:code_id>/merge/", api.CodeMergeAPI.as_view(), name="api-code-merge"),
]

S = "studies/<int:study_id>/"
TC = S + "transcripts/<int:transcript_id>/codings/"

urlpatterns += [
    path(TC, coding_api.CodingListAPI.as_view(), name="api-coding-list"),
    path(TC + "delete/", coding_api.CodingBulkDeleteAPI.as_view(), name="api-coding-bulk-delete"),
    path(TC + "events/", coding_api.CodingEventsAPI.as_view(), name="api-coding-events"),
    path(TC + "<int:coding_id>/", coding_api.CodingDetailAPI.as_view(), name="api-coding-detail"),
    path(S + "codes/<int:code_id>/segments/", coding_api.CodeSegmentsAPI.as_view(), name="api-code-segments"),
    path(S + "exports/codings/", export_api.CodingExportAPI.as_view(), name="api-coding-export"),
    path(S + "memos/", coding_api.MemoListAPI.as_view(), name="api-memo-list"),
    path(S + "memos/<int:memo_id>/", coding_api.MemoDetailAPI.as_view(), name="api-memo-detail"),
    path(S + "assignments/", coding_api.AssignmentListAPI.as_view(), name="api-assignment-list"),
    path(S + "assignments/<int:transcript_id>/done/", coding_api.AssignmentDoneAPI.as_view(),
         name="api-assignment-done"),
    path(S + "assignments/<int:transcript_id>/disagreements/", coding_api.DisagreementListAPI.as_view(),
         name="api-disagreement-list"),
    path(S + "assignments/<int:transcript_id>/disagreements/<str:key>/comments/",
         coding_api.DisagreementCommentAPI.as_view(), name="api-disagreement-comment"),
    path(S + "assignments/<int:transcript_id>/disagreements/<str:key>/resolve/",
         coding_api.DisagreementResolveAPI.as_view(), name="api-disagreement-resolve"),
    path(S + "agreement/", coding_api.AgreementAPI.as_view(), name="api-agreement"),
    path(S + "agreement/report/", coding_api.AgreementReportAPI.as_view(), name="api-agreement-report"),
    path(S + "agreement/report/<int:job_id>/agreement.<str:fmt>", coding_api.AgreementReportDownloadAPI.as_view(),
         name="api-agreement-report-download"),
]
