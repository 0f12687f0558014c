"""Codebook API under /api/v1/studies/{id}/codes/. Thin views over the same services and selectors
as the pages. A stale ``version`` on PATCH answers 409 with the current code."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policy
from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.models import Code
from analysis.coding.selectors import codebook as selectors
from analysis.coding.services import codebook as services
from analysis.coding.services import codebook_files
from analysis.coding.services import codebook_import as importing
from config.api import FormParser, JSONParser, MultiPartParser, StrictFieldsMixin

# Serializers ------------------------------------------------------------------------------------


class CodeSerializer(serializers.ModelSerializer[Code]):
    updated_by = serializers.CharField(source="updated_by.display_name", read_only=True)
    label_colour = serializers.CharField(read_only=True)

    class Meta:
        model = Code
        fields = [
            "id", "parent", "name", "description", "inclusion_criteria", "exclusion_criteria", "example",
            "colour", "label_colour", "is_codable", "position", "version", "guid", "created_at", "updated_at",
            "updated_by", "proposed",
        ]
        read_only_fields = fields


class CodeProposeSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    # A top-level code: a lead places it in the hierarchy when reviewing it (code move).
    name = serializers.CharField(max_length=200)


class CodeTreeSerializer(CodeSerializer):
    children = serializers.SerializerMethodField()

    class Meta(CodeSerializer.Meta):
        fields = [*CodeSerializer.Meta.fields, "children"]
        read_only_fields = fields

    def get_children(self, obj: Code) -> list[dict[str, Any]]:
        kids = self.context["children"].get(obj.pk, [])
        return [CodeTreeSerializer(k, context=self.context).data for k in kids]


class _CodeFields(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX)
    inclusion_criteria = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX)
    exclusion_criteria = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX)
    example = serializers.CharField(required=False, allow_blank=True, max_length=services.TEXT_MAX)
    colour = serializers.CharField(required=False, max_length=7)
    is_codable = serializers.BooleanField(required=False)


class CodeCreateSerializer(StrictFieldsMixin, _CodeFields):
    parent = serializers.IntegerField(required=False, allow_null=True, min_value=1)  # type: ignore[assignment]


class CodeUpdateSerializer(StrictFieldsMixin, _CodeFields):
    name = serializers.CharField(max_length=200, required=False)
    version = serializers.IntegerField(min_value=1, help_text="The version you read; a stale one answers 409.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "parent" in self.initial_data:
            raise serializers.ValidationError({"parent": "Use the move endpoint to change a code's parent."})
        return attrs


class CodeMoveSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    parent = serializers.IntegerField(  # type: ignore[assignment]  # Field.parent in the stubs
        allow_null=True, min_value=1, help_text="null for the top level"
    )
    position = serializers.IntegerField(required=False, min_value=0)
    version = serializers.IntegerField(required=False, min_value=1)


class CodeMergeSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    target = serializers.IntegerField(min_value=1, help_text="the code that absorbs this one")


class ConflictSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    current = CodeSerializer()


class CodebookImportSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    file = serializers.FileField()
    mode = serializers.ChoiceField(choices=["preview", "commit"], default="preview")


def _conflict(exc: services.ConflictError) -> Response:
    return Response(
        {"detail": str(exc), "current": CodeSerializer(exc.current).data}, status=status.HTTP_409_CONFLICT
    )


def _validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Views ------------------------------------------------------------------------------------------


class CodeListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_EDIT, methods=("POST",))]

    @extend_schema(responses=CodeSerializer(many=True), summary="The codebook, flat, with parent ids")
    def get(self, request: Request, study_id: int) -> Response:
        return Response(CodeSerializer(selectors.code_list(user=request.user, study_id=study_id), many=True).data)

    @extend_schema(request=CodeCreateSerializer, responses={201: CodeSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        d = _validated(CodeCreateSerializer(data=request.data))
        code = services.code_create(
            actor=acting_user(request), study_id=study_id, parent_id=d.pop("parent", None), ip=client_ip(request), **d
        )
        return Response(CodeSerializer(code).data, status=status.HTTP_201_CREATED)


class CodeProposeAPI(APIView):
    """New code from a selection on the coding page: a lead's is an ordinary code, a coder's is
    marked proposed until a lead reviews it (services.code_propose)."""

    @extend_schema(request=CodeProposeSerializer, responses={201: CodeSerializer},
                   summary="Define a new code from the coding page (coders propose, leads create)")
    def post(self, request: Request, study_id: int) -> Response:
        d = _validated(CodeProposeSerializer(data=request.data))
        code = services.code_propose(actor=acting_user(request), study_id=study_id, name=d["name"],
                                     ip=client_ip(request))
        return Response(CodeSerializer(code).data, status=status.HTTP_201_CREATED)


class CodeTreeAPI(APIView):
    @extend_schema(responses=CodeTreeSerializer(many=True), summary="The codebook as a tree")
    def get(self, request: Request, study_id: int) -> Response:
        codes = list(selectors.code_list(user=request.user, study_id=study_id))
        children: dict[int | None, list[Code]] = {}
        for c in codes:
            children.setdefault(c.parent_id, []).append(c)
        roots = children.get(None, [])
        return Response(CodeTreeSerializer(roots, many=True, context={"children": children}).data)


class CodeDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_EDIT, methods=("PATCH", "DELETE"))]

    @extend_schema(responses=CodeSerializer)
    def get(self, request: Request, study_id: int, code_id: int) -> Response:
        return Response(CodeSerializer(selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)).data)

    @extend_schema(
        request=CodeUpdateSerializer,
        responses={200: CodeSerializer, 409: OpenApiResponse(ConflictSerializer, description="stale version")},
    )
    def patch(self, request: Request, study_id: int, code_id: int) -> Response:
        code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
        d = _validated(CodeUpdateSerializer(data=request.data, partial=True))
        if "version" not in d:
            raise serializers.ValidationError({"version": "Send the version of the code you edited."})
        version = d.pop("version")
        try:
            code = services.code_update(
                actor=acting_user(request), study_id=study_id, code_id=code.pk, version=version, changes=d,
                ip=client_ip(request),
            )
        except services.ConflictError as exc:
            return _conflict(exc)
        return Response(CodeSerializer(code).data)

    @extend_schema(
        parameters=[OpenApiParameter("confirm", bool, description="must be true; without it the answer is 400 with the impact")],
        responses={204: None, 400: OpenApiResponse(description="not confirmed: the body says what would be removed")},
    )
    def delete(self, request: Request, study_id: int, code_id: int) -> Response:
        code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
        if request.query_params.get("confirm", "").lower() not in ("true", "1", "yes"):
            impact = services.code_delete_impact(study=code.study, code=code)
            return Response(
                {"detail": "Add ?confirm=true to delete this code and everything below.", "impact": impact.as_dict()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        services.code_delete(
            actor=acting_user(request), study_id=study_id, code_id=code.pk, confirm=True, ip=client_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodeMoveAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_EDIT)]

    @extend_schema(request=CodeMoveSerializer, responses={200: CodeSerializer, 409: ConflictSerializer})
    def post(self, request: Request, study_id: int, code_id: int) -> Response:
        code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
        d = _validated(CodeMoveSerializer(data=request.data))
        try:
            code = services.code_move(
                actor=acting_user(request), study_id=study_id, code_id=code.pk, parent_id=d["parent"],
                position=d.get("position"), version=d.get("version"), ip=client_ip(request),
            )
        except services.ConflictError as exc:
            return _conflict(exc)
        return Response(CodeSerializer(code).data)


class CodeMergeAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_EDIT)]

    @extend_schema(request=CodeMergeSerializer, responses={200: CodeSerializer})
    def post(self, request: Request, study_id: int, code_id: int) -> Response:
        code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
        d = _validated(CodeMergeSerializer(data=request.data))
        result = services.code_merge(
            actor=acting_user(request), study_id=study_id, source_id=code.pk, target_id=d["target"],
            ip=client_ip(request),
        )
        return Response({**CodeSerializer(result.target).data, "merged_codes": result.merged_codes, "moved": result.moved})


class CodebookImportAPI(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": CodebookImportSerializer},
        responses={200: OpenApiResponse(description="the plan: summary, warnings and one row per code")},
        summary="Import a .qdc or .csv codebook: mode=preview (default) shows the plan, mode=commit applies it",
    )
    def post(self, request: Request, study_id: int) -> Response:
        user = acting_user(request)
        policy.membership_require(user=user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
        d = _validated(CodebookImportSerializer(data=request.data))
        upload = d["file"]
        parsed = codebook_files.codebook_upload_parse(upload=upload)
        if d["mode"] == "commit":
            try:
                plan = importing.codebook_import_commit(actor=user, study_id=study_id, parsed=parsed, ip=client_ip(request))
            except importing.ImportFileError:
                raise
            except ValidationError as exc:
                preview = importing.codebook_import_preview(actor=user, study_id=study_id, parsed=parsed)
                return Response(
                    {"detail": exc.messages, **preview.as_dict(), "committed": False}, status=status.HTTP_400_BAD_REQUEST
                )
            return Response({**plan.as_dict(), "committed": True})
        plan = importing.codebook_import_preview(actor=user, study_id=study_id, parsed=parsed)
        return Response({**plan.as_dict(), "committed": False})


class CodebookExportAPI(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["qdc", "csv"], description="file format (default qdc)")],
        responses={(200, "application/xml"): bytes, (200, "text/csv"): bytes},
    )
    def get(self, request: Request, study_id: int) -> HttpResponse:
        f = codebook_files.codebook_export(
            actor=acting_user(request), study_id=study_id, fmt=request.query_params.get("as", "qdc"),
            ip=client_ip(request), via="api",
        )
        response = HttpResponse(f.content, content_type=f.content_type)
        response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
        return response
