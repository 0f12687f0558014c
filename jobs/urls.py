from django.urls import path

from . import views

urlpatterns = [
    path("studies/<int:study_id>/jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("studies/<int:study_id>/jobs/<int:job_id>/download/", views.job_download, name="job-download"),
]
