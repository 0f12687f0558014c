"""Framework charts API under /api/v1/studies/{id}/matrices/framework/: list and create charts, read a
chart (its grid), delete it, read and write a cell with its version (a stale one answers 409 with the
other person's text), page through a cell's supporting segments, export. Thin over the same services
and selectors as the pages."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.matrices.api import SegmentSerializer
from config.api import StrictFieldsMixin
from jobs.api import JobSerializer

from . import selectors, services
from .models import FrameworkCell, FrameworkChart
from .views import export_response, export_too_large

BIG = 2**63 - 1


class ChartCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=services.NAME_MAX)
    theme_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIG), required=False,
                                      max_length=services.MAX_IDS, help_text="Columns; empty: every theme")
    group_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIG), required=False,
                                      max_length=services.MAX_IDS)
    site_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIG), required=False,
                                     max_length=services.MAX_IDS)


class ChartSerializer(serializers.ModelSerializer[FrameworkChart]):
    theme_ids = serializers.SerializerMethodField()
    group_ids = serializers.SerializerMethodField()
    site_ids = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.display_name")

    class Meta:
        model = FrameworkChart
        fields = ["id", "name", "theme_ids", "group_ids", "site_ids", "created_by", "created_at"]
        read_only_fields = fields

    def get_theme_ids(self, obj: FrameworkChart) -> list[int]:
        return list(obj.themes.values_list("pk", flat=True))

    def get_group_ids(self, obj: FrameworkChart) -> list[int]:
        return list(obj.groups.values_list("pk", flat=True))

    def get_site_ids(self, obj: FrameworkChart) -> list[int]:
        return list(obj.sites.values_list("pk", flat=True))


class GridCellSerializer(serializers.Serializer[Any]):
    theme_id = serializers.IntegerField()
    summary = serializers.CharField()
    version = serializers.IntegerField(help_text="0: nobody has written this cell yet")
    segments = serializers.IntegerField(help_text="Supporting segments you can see")


class GridRowSerializer(serializers.Serializer[Any]):
    participant_id = serializers.IntegerField(source="participant.pk")
    pseudonym = serializers.CharField(source="participant.pseudonym")
    group = serializers.CharField(source="participant.group.label")
    site = serializers.CharField(source="participant.site.name", default="")
    cells = GridCellSerializer(many=True)


class ThemeHeaderSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class GridSerializer(serializers.Serializer[Any]):
    chart = ChartSerializer()
    themes = ThemeHeaderSerializer(many=True)
    rows = GridRowSerializer(many=True)


class CellSerializer(serializers.Serializer[Any]):
    participant_id = serializers.IntegerField()
    theme_id = serializers.IntegerField()
    summary = serializers.CharField()
    version = serializers.IntegerField()
    updated_by = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class CellConflictSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="Who changed the cell, and when; your text was not saved.")
    current = CellSerializer(help_text="The cell as it is now: its text and version.")


class CellWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    summary = serializers.CharField(allow_blank=True, max_length=services.SUMMARY_MAX, trim_whitespace=False)
    version = serializers.IntegerField(min_value=0, max_value=services.VERSION_MAX,
                                       help_text="The version you read (0 for a cell nobody has written); "
                                                 "a stale one answers 409 with the cell as it is now.")


class SegmentPageSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    segments = SegmentSerializer(many=True)


def _cell(cell: FrameworkCell | None, participant_id: int, theme_id: int) -> dict[str, Any]:
    return {"participant_id": participant_id, "theme_id": theme_id, "summary": cell.summary if cell else "",
            "version": cell.version if cell else 0,
            "updated_by": cell.updated_by.display_name if cell else None,
            "updated_at": cell.updated_at if cell else None}


class FrameworkChartListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW),
                          StudyPermission(Perm.MATRIX_RUN, methods=("POST",))]

    @extend_schema(responses=ChartSerializer(many=True), summary="The study's framework charts")
    def get(self, request: Request, study_id: int) -> Response:
        charts = selectors.charts_list(user=request.user, study_id=study_id).prefetch_related("themes", "groups", "sites")
        return Response(ChartSerializer(charts[:500], many=True).data)

    @extend_schema(request=ChartCreateSerializer, responses={201: ChartSerializer}, summary="Create a framework chart")
    def post(self, request: Request, study_id: int) -> Response:
        s = ChartCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        chart = services.framework_chart_create(
            actor=acting_user(request), study_id=study_id, name=d["name"], theme_ids=d.get("theme_ids", []),
            group_ids=d.get("group_ids", []), site_ids=d.get("site_ids", []), ip=client_ip(request))
        return Response(ChartSerializer(chart).data, status=status.HTTP_201_CREATED)


class FrameworkChartDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW),
                          StudyPermission(Perm.MATRIX_RUN, methods=("DELETE",))]

    @extend_schema(responses=GridSerializer, summary="A chart: its themes and your rows, each cell's summary, "
                                                     "version and number of supporting segments")
    def get(self, request: Request, study_id: int, chart_id: int) -> Response:
        chart = selectors.chart_get(user=request.user, study_id=study_id, chart_id=chart_id)
        grid = selectors.chart_grid(user=request.user, study_id=study_id, chart=chart)
        return Response(GridSerializer({"chart": chart, "themes": grid.themes, "rows": grid.rows}).data)

    @extend_schema(responses={204: None}, summary="Delete a chart (who made it, or a lead)")
    def delete(self, request: Request, study_id: int, chart_id: int) -> Response:
        services.framework_chart_delete(actor=acting_user(request), study_id=study_id, chart_id=chart_id,
                                        ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FrameworkCellAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW),
                          StudyPermission(Perm.MATRIX_RUN, methods=("PUT",))]

    @extend_schema(responses=CellSerializer, summary="A cell: its summary and version")
    def get(self, request: Request, study_id: int, chart_id: int, participant_id: int, theme_id: int) -> Response:
        chart = selectors.chart_get(user=request.user, study_id=study_id, chart_id=chart_id)
        view = selectors.cell_get(user=request.user, study_id=study_id, chart=chart, participant_id=participant_id,
                                  theme_id=theme_id)
        return Response(CellSerializer(_cell(view.cell, view.participant.pk, view.theme.pk)).data)

    @extend_schema(request=CellWriteSerializer, responses={200: CellSerializer, 409: CellConflictSerializer},
                   summary="Write a cell's summary with the version you read; 409 with the current text if it moved on")
    def put(self, request: Request, study_id: int, chart_id: int, participant_id: int, theme_id: int) -> Response:
        s = CellWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            cell = services.framework_cell_write(
                actor=acting_user(request), study_id=study_id, chart_id=chart_id, participant_id=participant_id,
                theme_id=theme_id, version=s.validated_data["version"], summary=s.validated_data["summary"])
        except services.CellConflict as exc:
            return Response({"detail": str(exc), "current": CellSerializer(
                _cell(exc.current, exc.current.participant_id, exc.current.theme_id)).data},
                status=status.HTTP_409_CONFLICT)
        return Response(CellSerializer(_cell(cell, cell.participant_id, cell.theme_id)).data)


class FrameworkCellSegmentsAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MATRIX_VIEW)]

    @extend_schema(parameters=[OpenApiParameter("page", int)], responses=SegmentPageSerializer,
                   summary="One page of a cell's supporting segments, with context and line numbers")
    def get(self, request: Request, study_id: int, chart_id: int, participant_id: int, theme_id: int) -> Response:
        chart = selectors.chart_get(user=request.user, study_id=study_id, chart_id=chart_id)
        view = selectors.cell_get(user=request.user, study_id=study_id, chart=chart, participant_id=participant_id,
                                  theme_id=theme_id)
        page = selectors.cell_segments(user=request.user, study_id=study_id, view=view,
                                       page=request.query_params.get("page", "1"))
        return Response(SegmentPageSerializer(page).data)


class FrameworkExportAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.EXPORT)]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   summary="The chart as xlsx (one sheet per theme) or csv (the whole chart), now; a chart of more "
                           f"than {services.SYNC_MAX_ROWS} participants answers 400: POST for a job")
    def get(self, request: Request, study_id: int, chart_id: int, fmt: str) -> HttpResponse | FileResponse:
        chart = selectors.chart_get(user=request.user, study_id=study_id, chart_id=chart_id)
        if fmt not in services.EXPORT_FORMATS:
            raise serializers.ValidationError({"format": "Choose xlsx or csv."})
        if export_too_large(request, chart):
            raise serializers.ValidationError({"detail": "This chart is large: POST to make the file in a job."})
        return export_response(request, chart, fmt)

    @extend_schema(request=None, responses={202: JobSerializer},
                   summary="Make the file in a job (any size): poll the job, then download its file")
    def post(self, request: Request, study_id: int, chart_id: int, fmt: str) -> Response:
        job = services.framework_export_start(actor=acting_user(request), study_id=study_id, chart_id=chart_id,
                                              fmt=fmt, ip=client_ip(request))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
