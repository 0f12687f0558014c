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

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm
from accounts.services import client_ip

from . import selectors, services
from .models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "kind", "kind_label", "status", "percent", "progress_done", "progress_total", "created_at",
            "started_at", "finished_at", "result", "error", "download_url", "attempts", "next_attempt_at",
            "cancel_requested", "can_cancel", "can_retry",
        ]
        read_only_fields = fields

    kind_label = serializers.CharField(source="label", read_only=True)
    next_attempt_at = serializers.DateTimeField(source="not_before", read_only=True, allow_null=True,
                                                help_text="When a job waiting after a failed attempt is tried again.")
    cancel_requested = serializers.SerializerMethodField()
    can_cancel = serializers.BooleanField(read_only=True)
    can_retry = serializers.BooleanField(read_only=True)

    def get_cancel_requested(self, obj: Job) -> bool:
        return obj.cancel_requested_at is not None

    def get_download_url(self, obj: Job) -> str | None:
        if not obj.result_file:
            return None
        return reverse("api-job-download", kwargs={"study_id": obj.study_id, "job_id": obj.pk})


class JobListAPI(APIView):
    """The jobs you started in this study, newest first (at most 200)."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.JOB_VIEW)]

    @extend_schema(responses=JobSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        return Response(JobSerializer(selectors.job_list_visible(user=request.user, study_id=study_id), many=True).data)


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


class JobCancelAPI(APIView):
    """Cancel a job you started: a queued one at once, a running one after its current piece of work
    (the answer then has ``cancel_requested`` true). A purge cannot be cancelled (400)."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.JOB_MANAGE)]

    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request: Request, study_id: int, job_id: int) -> Response:
        job = services.job_cancel(actor=request.user,  # type: ignore[arg-type]
                                   study_id=study_id, job_id=job_id, ip=client_ip(request))
        return Response(JobSerializer(job).data)


class JobRetryAPI(APIView):
    """Run a failed job again (an import continues with the files not yet imported). 503 while the job
    queue is unavailable."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.JOB_MANAGE)]

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request: Request, study_id: int, job_id: int) -> Response:
        job = services.job_retry(actor=request.user,  # type: ignore[arg-type]
                                  study_id=study_id, job_id=job_id, ip=client_ip(request))
        return Response(JobSerializer(job).data, status=202)
