from django.urls import path

from analysis.transcripts import views

S = "studies/<int:study_id>/"
T = S + "transcripts/<int:transcript_id>/"

urlpatterns = [
    path(S + "transcripts/", views.transcript_list, name="transcript-list"),
    path(S + "transcripts/upload/", views.transcript_upload, name="transcript-upload"),
    path(S + "transcripts/imports/<int:batch_id>/", views.import_detail, name="transcript-import"),
    path(S + "transcripts/imports/<int:batch_id>/confirm/", views.import_commit, name="transcript-import-commit"),
    path(S + "transcripts/imports/<int:batch_id>/cancel/", views.import_cancel, name="transcript-import-cancel"),
    path(S + "search/", views.transcript_search, name="transcript-search"),
    path(T, views.transcript_detail, name="transcript-detail"),
    path(T + "replace/", views.transcript_replace, name="transcript-replace"),
    path(T + "replace-all/", views.transcript_replace_all, name="transcript-replace-all"),
    path(T + "history/", views.transcript_history, name="transcript-history"),
    path(T + "history/<int:edit_id>/revert/", views.transcript_revert, name="transcript-revert"),
    path(T + "original/", views.transcript_original, name="transcript-original"),
]
