"""API for REFI-QDA projects: upload a .qdpx for a preview, send choices, start the import; preview
and start an export (its file is the job's download). The same services as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from config.api import JSONParser, MultiPartParser, StrictFieldsMixin
from interop.models import ProjectImport
from interop.services import exports, imports


class ProjectImportSerializer(serializers.ModelSerializer[ProjectImport]):
    job_id = serializers.IntegerField(source="job.pk", allow_null=True, read_only=True, default=None)

    class Meta:
        model = ProjectImport
        fields = ["id", "study", "filename", "size", "status", "created_at", "preview", "choices", "result", "job_id"]


class ChoicesSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    users = serializers.DictField(child=serializers.CharField(max_length=40), required=False,
                                  help_text="Project user GUID → “member:<user id>” or “new” (a placeholder coder).")
    user_names = serializers.DictField(child=serializers.CharField(max_length=150), required=False,
                                       help_text="Project user GUID → the placeholder coder's name.")
    group_variable = serializers.CharField(allow_blank=True, required=False, max_length=40)
    site_variable = serializers.CharField(allow_blank=True, required=False, max_length=40)
    default_group = serializers.CharField(required=False, max_length=50)
    codes = serializers.DictField(child=serializers.ChoiceField(choices=["existing", "new"]), required=False)
    participants = serializers.DictField(child=serializers.ChoiceField(choices=["keep", "fill"]), required=False)
    transcripts = serializers.DictField(child=serializers.ChoiceField(choices=["skip", "add"]), required=False)


class SelectionSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    sites = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False)
    groups = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False)
    codes = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False)
    coders = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False)


def _selection(request: Request, study_id: int) -> exports.Selection:
    s = SelectionSerializer(data=request.data)
    s.is_valid(raise_exception=True)
    return exports.selection_clean(study_id=study_id, **s.validated_data)


class ProjectImportListAPI(APIView):
    # The permission is checked before the body is parsed: a member without it gets 403, not a 415.
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PROJECT_IMPORT)]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Upload a .qdpx project for a preview",
        description="Reads and checks the project (nothing is imported yet). A project with problems answers 400 "
                    "with every problem, naming the element and its line; nothing is stored.",
        request={"multipart/form-data": inline_serializer("ProjectUpload", {"file": serializers.FileField()})},
        responses={201: ProjectImportSerializer},
    )
    def post(self, request: Request, study_id: int) -> Response:
        f = request.FILES.get("file")
        if f is None:
            raise ValidationError("Send the project as the multipart field “file”.")
        if f.size and f.size > imports.MAX_QDPX_BYTES:
            raise ValidationError("The file is too large.")
        record = imports.project_import_preview(actor=acting_user(request), study_id=study_id, filename=f.name or "",
                                                data=f.read(), ip=client_ip(request))
        return Response(ProjectImportSerializer(record).data, status=status.HTTP_201_CREATED)


class ProjectImportNewStudyAPI(APIView):
    """Import a project into a new study, in one step: the study is created for it, you become its lead,
    and the project's preview is made there. Then send choices and start the import under the new study's
    URLs (``/studies/{study}/project-imports/{id}/``). A refused project creates no study."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Upload a .qdpx project into a new study (you become its lead) for a preview",
        request={"multipart/form-data": inline_serializer("ProjectUploadNewStudy", {
            "file": serializers.FileField(), "study_name": serializers.CharField(max_length=200)})},
        responses={201: ProjectImportSerializer},
    )
    def post(self, request: Request) -> Response:
        f = request.FILES.get("file")
        if f is None:
            raise ValidationError({"file": ["Send the project as the multipart field “file”."]})
        if f.size and f.size > imports.MAX_QDPX_BYTES:
            raise ValidationError({"file": ["The file is too large."]})
        data = request.data if hasattr(request.data, "get") else {}
        name = str(data.get("study_name") or "").strip()
        if not name:
            raise ValidationError({"study_name": ["Name the new study."]})
        if len(name) > 200:
            raise ValidationError({"study_name": ["At most 200 characters."]})
        record = imports.project_import_new_study(actor=acting_user(request), name=name, filename=f.name or "",
                                                  data=f.read(), ip=client_ip(request))
        return Response(ProjectImportSerializer(record).data, status=status.HTTP_201_CREATED)


class ProjectImportDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PROJECT_IMPORT)]
    parser_classes = [JSONParser]

    @extend_schema(summary="A project import: its preview, choices, status and result",
                   responses=ProjectImportSerializer)
    def get(self, request: Request, study_id: int, import_id: int) -> Response:
        record = imports.project_import_get(user=request.user, study_id=study_id, import_id=import_id)
        return Response(ProjectImportSerializer(record).data)

    @extend_schema(
        summary="Choose how people, variables and conflicts are imported",
        request=ChoicesSerializer, responses=ProjectImportSerializer,
        examples=[OpenApiExample("Map a coder to a member", value={
            "users": {"3f2a…": "member:12"}, "group_variable": "a81c…", "transcripts": {"9d0e…": "skip"}})],
    )
    def patch(self, request: Request, study_id: int, import_id: int) -> Response:
        s = ChoicesSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        record = imports.project_import_choose(actor=acting_user(request), study_id=study_id, import_id=import_id,
                                               choices=s.validated_data)
        return Response(ProjectImportSerializer(record).data)


class ProjectImportStartAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PROJECT_IMPORT)]

    @extend_schema(summary="Start the import (a job)", request=None, responses={202: ProjectImportSerializer})
    def post(self, request: Request, study_id: int, import_id: int) -> Response:
        record = imports.project_import_start(actor=acting_user(request), study_id=study_id, import_id=import_id,
                                              ip=client_ip(request))
        return Response(ProjectImportSerializer(record).data, status=status.HTTP_202_ACCEPTED)


class ProjectImportCancelAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PROJECT_IMPORT)]

    @extend_schema(summary="Cancel an import that has not started", request=None, responses={204: None})
    def post(self, request: Request, study_id: int, import_id: int) -> Response:
        imports.project_import_cancel(actor=acting_user(request), study_id=study_id, import_id=import_id,
                                      ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


_PREVIEW = inline_serializer("ProjectExportPreview", {
    "participants": serializers.IntegerField(), "transcripts": serializers.IntegerField(),
    "codes": serializers.IntegerField(), "codings": serializers.IntegerField(),
    "excluded": serializers.ListField(child=serializers.DictField()),
})


class ProjectExportPreviewAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PROJECT_EXPORT)]
    parser_classes = [JSONParser]

    @extend_schema(summary="What an export of this selection would contain, and who is left out and why",
                   request=SelectionSerializer, responses=_PREVIEW)
    def post(self, request: Request, study_id: int) -> Response:
        sel = _selection(request, study_id)
        return Response(exports.project_export_preview(actor=acting_user(request), study_id=study_id, sel=sel))


class ProjectExportAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PROJECT_EXPORT)]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Export the study or a selection as .qdpx (a job; download its file when done)",
        request=SelectionSerializer,
        responses={202: inline_serializer("ProjectExportStarted", {"job_id": serializers.IntegerField()})},
        examples=[OpenApiExample("Two sites, one coder", value={"sites": [1, 2], "coders": [7]})],
    )
    def post(self, request: Request, study_id: int) -> Response:
        sel = _selection(request, study_id)
        job = exports.project_export_start(actor=acting_user(request), study_id=study_id, sel=sel,
                                           ip=client_ip(request))
        return Response({"job_id": job.pk}, status=status.HTTP_202_ACCEPTED)
