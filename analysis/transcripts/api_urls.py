from django.urls import path

from analysis.transcripts import api
from analysis.transcripts.sets import api as set_api

S = "studies/<int:study_id>/"
T = S + "transcripts/<int:transcript_id>/"
TS = S + "transcript-sets/<int:set_id>/"

urlpatterns = [
    path(S + "transcripts/", api.TranscriptListAPI.as_view(), name="api-transcript-list"),
    path(S + "transcripts/upload/", api.TranscriptUploadAPI.as_view(), name="api-transcript-upload"),
    path(S + "transcript-imports/<int:batch_id>/", api.ImportDetailAPI.as_view(), name="api-transcript-import"),
    path(S + "transcript-imports/<int:batch_id>/confirm/", api.ImportCommitAPI.as_view(),
         name="api-transcript-import-commit"),
    path(S + "transcript-imports/<int:batch_id>/cancel/", api.ImportCancelAPI.as_view(),
         name="api-transcript-import-cancel"),
    path(S + "search/", api.SearchAPI.as_view(), name="api-transcript-search"),
    path(T, api.TranscriptDetailAPI.as_view(), name="api-transcript-detail"),
    path(T + "original/", api.TranscriptOriginalAPI.as_view(), name="api-transcript-original"),
    path(T + "edits/", api.EditListAPI.as_view(), name="api-transcript-edits"),
    path(T + "edits/<int:edit_id>/revert/", api.EditRevertAPI.as_view(), name="api-transcript-revert"),
    path(S + "transcript-sets/", set_api.TranscriptSetListAPI.as_view(), name="api-transcript-set-list"),
    path(TS, set_api.TranscriptSetDetailAPI.as_view(), name="api-transcript-set-detail"),
    path(TS + "transcripts/", set_api.TranscriptSetMembersAPI.as_view(), name="api-transcript-set-members"),
    path(TS + "transcripts/remove/", set_api.TranscriptSetMembersRemoveAPI.as_view(),
         name="api-transcript-set-members-remove"),
]
