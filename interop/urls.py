from django.urls import path

from . import views

urlpatterns = [
    path("studies/<int:study_id>/project/import/", views.project_import, name="project-import"),
    path("studies/<int:study_id>/project/import/<int:import_id>/", views.project_import_detail,
         name="project-import-detail"),
    path("studies/<int:study_id>/project/import/<int:import_id>/start/", views.project_import_start,
         name="project-import-start"),
    path("studies/<int:study_id>/project/import/<int:import_id>/cancel/", views.project_import_cancel,
         name="project-import-cancel"),
    path("studies/<int:study_id>/project/export/", views.project_export, name="project-export"),
]
