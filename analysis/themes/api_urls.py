from django.urls import path

from analysis.themes import api

S = "studies/<int:study_id>/"
T = S + "themes/<int:theme_id>/"

urlpatterns = [
    path(S + "themes/", api.ThemeListAPI.as_view(), name="api-theme-list"),
    path(S + "themes/report/", api.ThemeReportAPI.as_view(), name="api-theme-report"),
    path(T, api.ThemeDetailAPI.as_view(), name="api-theme-detail"),
    path(T + "segments/", api.ThemeSegmentsAPI.as_view(), name="api-theme-segments"),
    path(T + "history/", api.ThemeHistoryAPI.as_view(), name="api-theme-history"),
    path(T + "quotes/", api.QuoteListAPI.as_view(), name="api-quote-list"),
    path(T + "quotes/<int:quote_id>/", api.QuoteDetailAPI.as_view(), name="api-quote-detail"),
    path(T + "comments/", api.CommentListAPI.as_view(), name="api-comment-list"),
    path(T + "reaction/", api.ReactionAPI.as_view(), name="api-theme-reaction"),
    path(S + "codes/<int:code_id>/comments/", api.CodeCommentListAPI.as_view(), name="api-code-comment-list"),
    path(S + "codes/<int:code_id>/comments/<int:comment_id>/", api.CodeCommentDetailAPI.as_view(),
         name="api-code-comment-detail"),
    path(S + "codes/<int:code_id>/comments/<int:comment_id>/resolve/", api.CodeCommentResolveAPI.as_view(),
         name="api-code-comment-resolve"),
    path(S + "notifications/", api.NotificationsAPI.as_view(), name="api-notifications"),
    path(S + "notifications/digest/", api.DigestAPI.as_view(), name="api-digest"),
    path(S + "board/", api.BoardAPI.as_view(), name="api-board"),
    path(S + "board/settings/", api.BoardSettingsAPI.as_view(), name="api-board-settings"),
    path(S + "comments/<int:comment_id>/", api.CommentDetailAPI.as_view(), name="api-comment-detail"),
    path(S + "comments/<int:comment_id>/resolve/", api.CommentResolveAPI.as_view(), name="api-comment-resolve"),
    path(S + "comments/<int:comment_id>/decision/", api.SuggestionDecisionAPI.as_view(), name="api-suggestion-decision"),
]
