from django.urls import path

from . import api

urlpatterns = [
    path("studies/<int:study_id>/jobs/<int:job_id>/", api.JobDetailAPI.as_view(), name="api-job-detail"),
    path(
        "studies/<int:study_id>/jobs/<int:job_id>/download/", api.JobDownloadAPI.as_view(),
        name="api-job-download",
    ),
]
