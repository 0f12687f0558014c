from django.urls import path

from . import views

J = "studies/<int:study_id>/jobs/<int:job_id>/"

urlpatterns = [
    path("studies/<int:study_id>/jobs/", views.job_list, name="job-list"),
    path(J, views.job_detail, name="job-detail"),
    path(J + "download/", views.job_download, name="job-download"),
    path(J + "cancel/", views.job_cancel, name="job-cancel"),
    path(J + "retry/", views.job_retry, name="job-retry"),
]
