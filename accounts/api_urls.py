from django.urls import path

from . import api

urlpatterns = [
    path("me/", api.MeAPI.as_view(), name="api-me"),
    path("studies/", api.StudyListAPI.as_view(), name="api-study-list"),
    path("studies/<int:study_id>/", api.StudyDetailAPI.as_view(), name="api-study-detail"),
    path("studies/<int:study_id>/sites/", api.SiteListAPI.as_view(), name="api-site-list"),
    path("studies/<int:study_id>/sites/<int:site_id>/", api.SiteDetailAPI.as_view(), name="api-site-detail"),
    path("studies/<int:study_id>/groups/", api.GroupListAPI.as_view(), name="api-group-list"),
    path("studies/<int:study_id>/members/", api.MemberListAPI.as_view(), name="api-member-list"),
    path(
        "studies/<int:study_id>/members/<int:membership_id>/", api.MemberDetailAPI.as_view(),
        name="api-member-detail",
    ),
    path("studies/<int:study_id>/audit-events/", api.AuditEventListAPI.as_view(), name="api-audit-list"),
    path(
        "studies/<int:study_id>/audit-events/export/", api.AuditExportAPI.as_view(), name="api-audit-export"
    ),
]
