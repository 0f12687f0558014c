from django.urls import path

from analysis.transcripts import views
from analysis.transcripts.sets import views as set_views

S = "studies/<int:study_id>/"
T = S + "transcripts/<int:transcript_id>/"
TS = S + "transcript-sets/<int:set_id>/"

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
    path(S + "transcript-sets/", set_views.set_list, name="transcript-set-list"),
    path(S + "transcript-sets/add/", set_views.set_add, name="transcript-set-add"),
    path(TS, set_views.set_detail, name="transcript-set-detail"),
    path(TS + "edit/", set_views.set_edit, name="transcript-set-edit"),
    path(TS + "delete/", set_views.set_delete, name="transcript-set-delete"),
    path(TS + "remove/", set_views.set_remove, name="transcript-set-remove"),
]
