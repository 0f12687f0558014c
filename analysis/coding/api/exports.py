"""API for exporting coded material.

    POST /api/v1/studies/{id}/exports/codings/   {"format": "csv"|"xlsx", "codes": [..], "coders": [..],
         "groups": [..], "sites": [..], "transcripts": [..] or "transcript_set": id, "subcodes": true,
         "sheet_per_code": false}
         -> 202 {"job": id, "status_url": ..., "download_url": ...}

Follow the job at /api/v1/studies/{id}/jobs/{job}/ and download its file from .../download/.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.services import exports
from config.api import only_fields

EXPORT_FIELDS = ("format", "fmt", "codes", "coders", "groups", "sites", "transcripts", "transcript_set", "subcodes",
                 "sheet_per_code")


class CodingExportAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODING_EXPORT)]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={202: OpenApiTypes.OBJECT},
                   summary="Export coded material (one row per coding) as CSV or XLSX, as a job")
    def post(self, request: Request, study_id: int) -> Response:
        data = request.data if hasattr(request.data, "get") else None
        if data is None:
            return Response({"detail": "Send a JSON object."}, status=400)
        only_fields(data, EXPORT_FIELDS)
        req = exports.export_request_parse(study_id=study_id, data=exports.export_transcript_set_apply(
            user=request.user, study_id=study_id, data=dict(data)))
        job = exports.coded_export_start(actor=acting_user(request), study_id=study_id, request=req,
                                         ip=client_ip(request))
        return Response({
            "job": job.pk, "status": job.status,
            "status_url": reverse("api-job-detail", kwargs={"study_id": study_id, "job_id": job.pk}),
            "download_url": reverse("api-job-download", kwargs={"study_id": study_id, "job_id": job.pk}),
        }, status=status.HTTP_202_ACCEPTED)
