from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import PasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("csp-report/", views.csp_report, name="csp-report"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", views.account, name="account"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path(
        "accounts/reset/", auth_views.PasswordResetView.as_view(form_class=PasswordResetForm), name="password_reset"
    ),
    path("accounts/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("studies/", views.study_list, name="study-list"),
    path("studies/new/", views.study_create, name="study-create"),
    path("studies/<int:study_id>/", views.study_detail, name="study-detail"),
    path("studies/<int:study_id>/settings/", views.study_settings, name="study-settings"),
    path("studies/<int:study_id>/sites/new/", views.site_create, name="site-create"),
    path("studies/<int:study_id>/sites/<int:site_id>/edit/", views.site_update, name="site-update"),
    path("studies/<int:study_id>/sites/<int:site_id>/delete/", views.site_delete, name="site-delete"),
    path("studies/<int:study_id>/members/", views.member_list, name="member-list"),
    path("studies/<int:study_id>/members/<int:membership_id>/", views.member_edit, name="member-edit"),
    path(
        "studies/<int:study_id>/members/<int:membership_id>/remove/", views.member_remove, name="member-remove"
    ),
    path("studies/<int:study_id>/audit/", views.audit_log, name="audit-log"),
    path("studies/<int:study_id>/audit/export/", views.audit_export, name="audit-export"),
]
