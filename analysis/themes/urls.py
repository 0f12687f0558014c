from django.urls import path

from analysis.themes import views

S = "studies/<int:study_id>/"
T = S + "themes/<int:theme_id>/"

urlpatterns = [
    path(S + "themes/", views.theme_list, name="theme-list"),
    path(S + "themes/new/", views.theme_create, name="theme-create"),
    path(S + "themes/report/", views.theme_report, name="theme-report"),
    path(T, views.theme_detail, name="theme-detail"),
    path(T + "edit/", views.theme_edit, name="theme-edit"),
    path(T + "delete/", views.theme_delete, name="theme-delete"),
    path(T + "quotes/new/", views.quote_create, name="theme-quote-create"),
    path(T + "quotes/<int:quote_id>/edit/", views.quote_edit, name="theme-quote-edit"),
    path(T + "quotes/<int:quote_id>/remove/", views.quote_remove, name="theme-quote-remove"),
    path(S + "codebook/<int:code_id>/comments/", views.code_comment_create, name="code-comment-create"),
    path(S + "notifications/", views.notifications, name="notifications"),
    path(S + "board/", views.board, name="board"),
    path(S + "board/settings/", views.board_settings, name="board-settings"),
    path(S + "board/digest/", views.board_digest, name="board-digest"),
    path(S + "board/<int:theme_id>/", views.board_theme, name="board-theme"),
    path(S + "board/<int:theme_id>/react/", views.board_react, name="board-react"),
    path(S + "board/<int:theme_id>/comments/", views.comment_create, name="board-comment-create"),
    path(S + "board/comments/<int:comment_id>/edit/", views.comment_edit, name="board-comment-edit"),
    path(S + "board/comments/<int:comment_id>/delete/", views.comment_delete, name="board-comment-delete"),
    path(S + "board/comments/<int:comment_id>/resolve/", views.comment_resolve, name="board-comment-resolve"),
    path(S + "board/comments/<int:comment_id>/decide/", views.suggestion_decide, name="board-suggestion-decide"),
]
