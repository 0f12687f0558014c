from django.urls import path

from . import api

urlpatterns = [
    path("project-imports/", api.ProjectImportNewStudyAPI.as_view(), name="api-project-import-new-study"),
    path("studies/<int:study_id>/project-imports/", api.ProjectImportListAPI.as_view(),
         name="api-project-import-list"),
    path("studies/<int:study_id>/project-imports/<int:import_id>/", api.ProjectImportDetailAPI.as_view(),
         name="api-project-import-detail"),
    path("studies/<int:study_id>/project-imports/<int:import_id>/start/", api.ProjectImportStartAPI.as_view(),
         name="api-project-import-start"),
    path("studies/<int:study_id>/project-imports/<int:import_id>/cancel/", api.ProjectImportCancelAPI.as_view(),
         name="api-project-import-cancel"),
    path("studies/<int:study_id>/project-exports/preview/", api.ProjectExportPreviewAPI.as_view(),
         name="api-project-export-preview"),
    path("studies/<int:study_id>/project-exports/", api.ProjectExportAPI.as_view(), name="api-project-export"),
]
