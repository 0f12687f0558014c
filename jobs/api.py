"""Job API: status and result file, for the jobs every app starts."""

from __future__ import annotations

from django.http import FileResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import client_ip

from . import selectors, services
from .models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "kind", "status", "percent", "progress_done", "progress_total", "created_at",
            "started_at", "finished_at", "result", "error", "download_url",
        ]

    def get_download_url(self, obj: Job) -> str | None:
        if not obj.result_file:
            return None
        return reverse("api-job-download", kwargs={"study_id": obj.study_id, "job_id": obj.pk})



class JobDetailAPI(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, study_id: int, job_id: int) -> Response:
        return Response(JobSerializer(selectors.job_get(user=request.user, study_id=study_id, job_id=job_id)).data)


class JobDownloadAPI(APIView):
    """The job's file, for token-authenticated clients (the page link needs a browser session)."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, study_id: int, job_id: int) -> HttpResponseBase:
        f, filename = services.job_download_open(
            user=request.user, study_id=study_id, job_id=job_id, ip=client_ip(request)
        )
        return FileResponse(f, as_attachment=True, filename=filename)
