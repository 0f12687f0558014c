from django.urls import path

from analysis.coding.views import codebook as views
from analysis.coding.views import codings as coding_views
from analysis.coding.views import exports as export_views

urlpatterns = [
    path("studies/<int:study_id>/codebook/", views.codebook, name="codebook"),
    path("studies/<int:study_id>/codebook/new/", views.code_create, name="code-create"),
    path("studies/<int:study_id>/codebook/import/", views.codebook_import, name="codebook-import"),
    path(
        "studies/<int:study_id>/codebook/export.<str:fmt>", views.codebook_export, name="codebook-export"
    ),
    path("studies/<int:study_id>/codebook/<int:code_id>/", views.code_detail, name="code-detail"),
    path("studies/<int:study_id>/codebook/<int:code_id>/edit/", views.code_edit, name="code-edit"),
    path("studies/<int:study_id>/codebook/<int:code_id>/move/", views.code_move, name="code-move"),
    path("studies/<int:study_id>/codebook/<int:code_id>/merge/", views.code_merge, name="code-merge"),
    path("studies/<int:study_id>/codebook/<int:code_id>/delete/", views.code_delete, name="code-delete"),
]

S = "studies/<int:study_id>/"
T = S + "transcripts/<int:transcript_id>/"

urlpatterns += [
    path(T + "code/", coding_views.coding_page, name="coding-page"),
    path(T + "code/stream/", coding_views.coding_stream, name="coding-stream"),
    path(T + "disagreements/", coding_views.disagreements, name="coding-disagreements"),
    path(T + "disagreements/<str:key>/comments/", coding_views.disagreement_comment, name="disagreement-comment"),
    path(T + "disagreements/<str:key>/resolve/", coding_views.disagreement_resolve, name="disagreement-resolve"),
    path(S + "memos/", coding_views.memo_list, name="memo-list"),
    path(S + "memos/<int:memo_id>/edit/", coding_views.memo_edit, name="memo-edit"),
    path(S + "memos/<int:memo_id>/delete/", coding_views.memo_delete, name="memo-delete"),
    path(S + "codebook/<int:code_id>/segments/", coding_views.code_segments, name="code-segments"),
    path(S + "exports/codings/", export_views.coding_export, name="coding-export"),
    path(S + "double-coding/", coding_views.double_coding, name="double-coding"),
    path(S + "double-coding/reports/<int:job_id>/agreement.<str:fmt>", coding_views.agreement_report_download,
         name="agreement-report-download"),
]
