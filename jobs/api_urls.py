from django.urls import path

from . import api

J = "studies/<int:study_id>/jobs/<int:job_id>/"

urlpatterns = [
    path("studies/<int:study_id>/jobs/", api.JobListAPI.as_view(), name="api-job-list"),
    path(J, api.JobDetailAPI.as_view(), name="api-job-detail"),
    path(J + "download/", api.JobDownloadAPI.as_view(), name="api-job-download"),
    path(J + "cancel/", api.JobCancelAPI.as_view(), name="api-job-cancel"),
    path(J + "retry/", api.JobRetryAPI.as_view(), name="api-job-retry"),
]
