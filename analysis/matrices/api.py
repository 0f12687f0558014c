"""Matrices API under /api/v1/studies/{id}/matrices/: ask (202 and a matrix to poll, or 200 with a
fresh identical one), poll the result, page through a cell's segments, export. Thin over the same
services and selectors as the pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import audit_record, client_ip
from analysis.matrices import engine, selectors, services
from analysis.matrices.exports import COOCCURRENCE_LABELS, MEASURE_LABELS
from analysis.matrices.models import Matrix
from analysis.matrices.views import FORMATS, export_content, export_filename, measures_of
from config.api import StrictFieldsMixin


class MatrixRequestSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    columns = serializers.ChoiceField(choices=list(selectors.COLUMN_KINDS), default="codes")
    column_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                       required=False, max_length=selectors.MAX_IDS)
    rows = serializers.ChoiceField(choices=list(selectors.ROW_KINDS), default="group")
    attribute = serializers.CharField(required=False, allow_blank=True, max_length=50)
    bands = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                  help_text="For a number or date attribute: lower edges in order (18,30,45 or "
                                            "2020-01-01,2020-07-01), or year, or quarter")
    coder = serializers.CharField(required=False, max_length=20, help_text="all, agreed or a coder's user id")
    site_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                     required=False, max_length=selectors.MAX_IDS)
    group_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                      required=False, max_length=selectors.MAX_IDS)
    transcript_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                           required=False, max_length=selectors.MAX_IDS)
    transcript_set_id = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, allow_null=True,
        help_text="Count only this transcript set's transcripts (those you may see), as they are now; the matrix "
                  "records them in spec.transcript_ids and shows as stale when the set changes. Not with transcript_ids.")
    skip_interviewer = serializers.BooleanField(required=False, default=False)


class MatrixSerializer(serializers.ModelSerializer[Matrix]):
    """A matrix with its result (``null`` until it is computed)."""

    status = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()

    class Meta:
        model = Matrix
        fields = ["id", "spec", "status", "stale", "created_at", "computed_at", "job", "result"]
        read_only_fields = fields

    def get_status(self, obj: Matrix) -> str:
        if obj.result is not None:
            return "done"
        return obj.job.status if obj.job else "failed"

    def get_stale(self, obj: Matrix) -> bool | None:
        return selectors.matrix_is_stale(matrix=obj) if obj.result is not None else None


class MatrixSummarySerializer(MatrixSerializer):
    """The schema of a matrix in the list: everything but its result."""

    class Meta(MatrixSerializer.Meta):
        fields = ["id", "spec", "status", "stale", "created_at", "computed_at", "job"]
        read_only_fields = fields


class SegmentSerializer(serializers.Serializer[Any]):
    coding_id = serializers.IntegerField()
    code_name = serializers.CharField()
    pseudonym = serializers.CharField()
    group = serializers.CharField()
    transcript_id = serializers.IntegerField()
    transcript_title = serializers.CharField()
    line = serializers.IntegerField()
    start = serializers.IntegerField(help_text="Unicode code points, half-open [start, start + length)")
    length = serializers.IntegerField()
    before = serializers.CharField()
    text = serializers.CharField()
    after = serializers.CharField()
    shown = serializers.BooleanField(help_text="False after a withdrawal: the segment counts, its text is not shown")
    quotable = serializers.BooleanField()
    other_code = serializers.CharField(help_text="Co-occurrence: the second code of the overlapping pair (else empty)")
    other_coding_id = serializers.IntegerField(allow_null=True, help_text="Co-occurrence: the second coding")
    lead = serializers.CharField(help_text="Co-occurrence: the coded text before the overlap (text is the overlap)")
    tail = serializers.CharField(help_text="Co-occurrence: the coded text after the overlap")
    overlap_start = serializers.IntegerField(allow_null=True, help_text="Co-occurrence: where both codes apply "
                                             "(code points); start/length then span both codings")
    overlap_length = serializers.IntegerField(allow_null=True)


class CellPageSerializer(serializers.Serializer[Any]):
    column = serializers.CharField()
    row = serializers.CharField()
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    segments = SegmentSerializer(many=True)


def _ser(m: Matrix) -> dict[str, Any]:
    return dict(MatrixSerializer(m).data)


class MatrixListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW),
                          StudyPermission(Perm.MATRIX_RUN, methods=("POST",))]

    @extend_schema(responses=MatrixSummarySerializer(many=True), summary="Your matrices, newest first (without results)")
    def get(self, request: Request, study_id: int) -> Response:
        qs = selectors.matrices_mine(user=request.user, study_id=study_id)[:100]
        return Response([{k: v for k, v in _ser(m).items() if k != "result"} for m in qs])

    @extend_schema(request=MatrixRequestSerializer, responses={202: MatrixSerializer, 200: MatrixSerializer},
                   summary="Ask for a matrix: 202 and a matrix to poll, or 200 with a fresh identical one")
    def post(self, request: Request, study_id: int) -> Response:
        s = MatrixRequestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        matrix, created = services.matrix_request(actor=acting_user(request), study_id=study_id,
                                                  raw=dict(s.validated_data), ip=client_ip(request))
        matrix.refresh_from_db()
        return Response(_ser(matrix), status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class MatrixDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW)]

    @extend_schema(responses=MatrixSerializer, summary="A matrix: its state and, when done, its result")
    def get(self, request: Request, study_id: int, matrix_id: int) -> Response:
        return Response(_ser(selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)))


class MatrixRefreshAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_RUN)]

    @extend_schema(request=None, responses={202: MatrixSerializer, 200: MatrixSerializer},
                   summary="The same matrix on today's data")
    def post(self, request: Request, study_id: int, matrix_id: int) -> Response:
        matrix, created = services.matrix_refresh(actor=acting_user(request), study_id=study_id,
                                                  matrix_id=matrix_id, ip=client_ip(request))
        matrix.refresh_from_db()
        return Response(_ser(matrix), status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class MatrixCancelAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.JOB_MANAGE)]

    @extend_schema(request=None, responses=MatrixSerializer,
                   summary="Cancel a matrix's job: at once while queued, at its next step while running")
    def post(self, request: Request, study_id: int, matrix_id: int) -> Response:
        from django.core.exceptions import ValidationError as DjangoValidationError

        try:
            services.matrix_cancel(actor=acting_user(request), study_id=study_id, matrix_id=matrix_id,
                                   ip=client_ip(request))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"detail": " ".join(exc.messages)}) from None
        return Response(_ser(selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)))


class MatrixCellAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW)]

    @extend_schema(parameters=[OpenApiParameter("row", str, description="row index in the result, or total"),
                               OpenApiParameter("column", str, description="column index, or total"),
                               OpenApiParameter("page", int)],
                   responses=CellPageSerializer, summary="One page of the segments behind a cell")
    def get(self, request: Request, study_id: int, matrix_id: int) -> Response:
        matrix = selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)
        if matrix.result is None:
            raise serializers.ValidationError({"detail": "This matrix has not been computed yet."})
        q = request.query_params
        page = engine.cell_segments(user=request.user, study_id=study_id, matrix=matrix,
                                       row=q.get("row", "total"), column=q.get("column", "total"),
                                       page=q.get("page", "1"))
        return Response(CellPageSerializer(page).data)


class MatrixExportAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.EXPORT)]

    @extend_schema(parameters=[OpenApiParameter("measure", str, enum=sorted({*MEASURE_LABELS, *COOCCURRENCE_LABELS}),
                                                description="participants, segments, share or characters; "
                                                            "co-occurrence: segments, participants or turns")],
                   responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   summary="The matrix as csv, xlsx, svg or png")
    def get(self, request: Request, study_id: int, matrix_id: int, fmt: str) -> HttpResponse:
        matrix = selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)
        if matrix.result is None:
            raise serializers.ValidationError({"detail": "This matrix has not been computed yet."})
        if fmt not in FORMATS:
            raise serializers.ValidationError({"format": "Choose csv, xlsx, svg or png."})
        allowed = [m for m, _ in measures_of(matrix.result)]
        measure = request.query_params.get("measure", allowed[0])
        if measure not in allowed:
            raise serializers.ValidationError({"measure": f"Choose {', '.join(allowed)}."})
        content, ctype = export_content(matrix, fmt, measure)
        audit_record(actor=request.user, action="matrix.export", study=matrix.study, obj=matrix,
                     ip=client_ip(request), details={"format": fmt})
        response = HttpResponse(content, content_type=ctype)
        response["Content-Disposition"] = f'attachment; filename="{export_filename(matrix, fmt, measure)}"'
        return response
