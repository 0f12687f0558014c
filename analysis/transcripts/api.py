"""REST API for transcripts under /api/v1/studies/<id>/: list, create, read (text and turns), bulk
upload with preview and an import job, search, and corrections with their version history.

Thin views: the same services and selectors as the pages. Out of scope = 404; PPI and outsiders
have no transcript access; every read and search is audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policy
from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.selectors.retrieval import transcripts_progress
from analysis.transcripts import selectors
from analysis.transcripts.importers import (
    ENCODINGS,
    ImportRefused,
    max_file_bytes,
    max_transcript_chars,
    max_transcript_turns,
    parse_transcript,
)
from analysis.transcripts.models import (
    EditKind,
    SpeakerRole,
    Transcript,
    TranscriptEdit,
    TranscriptImport,
    TranscriptImportItem,
)
from analysis.transcripts.services import imports, redaction
from analysis.transcripts.services import transcripts as transcript_services
from config.api import FormParser, MultiPartParser, StrictFieldsMixin
from config.api_schema import paginated
from config.input_guard import format_bytes

# Serializers ------------------------------------------------------------------------------------


class TranscriptSerializer(serializers.ModelSerializer[Transcript]):
    participant = serializers.IntegerField(source="participant_id", read_only=True)
    pseudonym = serializers.CharField(source="participant.pseudonym", read_only=True)
    group = serializers.CharField(source="participant.group.key", read_only=True)
    site = serializers.CharField(source="participant.site.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Transcript
        fields = [
            "id", "participant", "pseudonym", "group", "site", "title", "version", "interview_date",
            "interview_mode", "interviewer", "source_format", "imported_at", "edited_at",
        ]


class ProgressSerializer(serializers.Serializer[Any]):
    turns = serializers.IntegerField()
    corrections = serializers.IntegerField()
    codings = serializers.IntegerField(help_text="Codings you can see on it.")
    coders = serializers.ListField(child=serializers.CharField())
    double_coding = serializers.CharField(help_text="'' (not double coded), 'in progress', 'one coder done' or 'complete'.")
    last_coded = serializers.DateTimeField(allow_null=True)


class TranscriptListItemSerializer(TranscriptSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(TranscriptSerializer.Meta):
        fields = [*TranscriptSerializer.Meta.fields, "progress"]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj: Transcript) -> dict[str, Any]:
        p = self.context["progress"][obj.pk]
        return {"turns": self.context["turns"][obj.pk], "corrections": obj.version - 1, "codings": p.codings,
                "coders": p.coders, "double_coding": p.double_coding,
                "last_coded": p.last_activity.isoformat() if p.last_activity else None}


class TurnSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    speaker = serializers.CharField()
    role = serializers.ChoiceField(choices=SpeakerRole.choices)
    start = serializers.IntegerField(help_text="Code point offset into text (inclusive).")
    end = serializers.IntegerField(help_text="Code point offset into text (exclusive).")
    time_ms = serializers.IntegerField(allow_null=True)


class TranscriptDetailSerializer(TranscriptSerializer):
    """One transcript in parts of at most the import caps (CHORUS_MAX_TRANSCRIPT_CHARS characters of text,
    CHORUS_MAX_TRANSCRIPT_TURNS turns): every transcript imported within the caps comes whole; a larger one
    (imported before the caps) comes in parts, ``next`` giving the address of the next part."""

    text = serializers.SerializerMethodField()
    text_start = serializers.SerializerMethodField(help_text="Code point offset of this part's text (0 = the start).")
    length = serializers.IntegerField(read_only=True, help_text="Length of the whole text in Unicode code points.")
    turns = serializers.SerializerMethodField()
    turns_total = serializers.SerializerMethodField()
    next = serializers.SerializerMethodField(help_text="The next part's address, or null when this is the last.")
    original_sha256 = serializers.SerializerMethodField()

    class Meta(TranscriptSerializer.Meta):
        fields = [*TranscriptSerializer.Meta.fields, "length", "text", "text_start", "turns", "turns_total", "next",
                  "original_sha256"]

    def _part(self) -> tuple[int, int]:
        return int(self.context.get("text_offset", 0)), int(self.context.get("turns_offset", 0))

    def get_text(self, obj: Transcript) -> str:
        start, _ = self._part()
        return obj.text[start:start + max_transcript_chars()]

    def get_text_start(self, obj: Transcript) -> int:
        return self._part()[0]

    def _turns_part(self, obj: Transcript) -> tuple[list[dict[str, Any]], bool]:
        """This part's turns and whether more follow: one statement (one row past the cap says "more"),
        where a count and an existence test cost two more round trips on every document opened."""
        if not hasattr(self, "_turns_cache"):
            _, first = self._part()
            cap = max_transcript_turns()
            rows = obj.turns.filter(index__gte=first).order_by("index")[:cap + 1]
            found = [dict(t) for t in rows.values("index", "speaker", "role", "start", "end", "time_ms")]
            self._turns_cache = (found[:cap], len(found) > cap)
        return self._turns_cache

    @extend_schema_field(TurnSerializer(many=True))
    def get_turns(self, obj: Transcript) -> list[dict[str, Any]]:
        return self._turns_part(obj)[0]

    def get_turns_total(self, obj: Transcript) -> int:
        turns, more = self._turns_part(obj)
        if not more and not self._part()[1]:
            return len(turns)  # the whole transcript's turns are in this part
        return obj.turns.count()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_next(self, obj: Transcript) -> str | None:
        text_start, turns_start = self._part()
        more_text = text_start + max_transcript_chars() < len(obj.text)
        more_turns = self._turns_part(obj)[1]
        if not (more_text or more_turns):
            return None
        text_next = text_start + max_transcript_chars() if more_text else len(obj.text)
        turns_next = turns_start + max_transcript_turns() if more_turns else obj.turns.count()
        base = self.context.get("base_url", "")
        return f"{base}?text_offset={text_next}&turns_offset={turns_next}"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_original_sha256(self, obj: Transcript) -> str | None:
        return obj.original_sha256 if self.context.get("can_original") else None


class TranscriptCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    participant = serializers.IntegerField()
    text = serializers.CharField(trim_whitespace=False, max_length=5_000_000,
                                 help_text="Plain text; 'Name: words' lines become speaker turns.")


class UploadSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    encoding = serializers.ChoiceField(choices=list(ENCODINGS), required=False, allow_blank=True)


class ImportItemSerializer(serializers.ModelSerializer[TranscriptImportItem]):
    participant = serializers.IntegerField(source="participant_id", allow_null=True)
    transcript = serializers.IntegerField(source="transcript_id", allow_null=True)

    class Meta:
        model = TranscriptImportItem
        fields = ["filename", "participant", "status", "message", "format", "encoding", "characters",
                  "turn_count", "speakers", "transcript"]


class ImportSerializer(serializers.ModelSerializer[TranscriptImport]):
    items = ImportItemSerializer(many=True, read_only=True)
    job = serializers.IntegerField(source="job_id", allow_null=True)
    job_status = serializers.CharField(source="job.status", default=None, allow_null=True)

    class Meta:
        model = TranscriptImport
        fields = ["id", "status", "created_at", "job", "job_status", "items"]


class SearchHitSerializer(serializers.Serializer[Any]):
    transcript_id = serializers.IntegerField()
    pseudonym = serializers.CharField()
    group = serializers.CharField()
    site = serializers.CharField()
    speaker = serializers.CharField()
    role = serializers.CharField()
    start = serializers.IntegerField(help_text="Code point offset of the first match in the transcript.")
    end = serializers.IntegerField()
    before = serializers.CharField()
    match = serializers.CharField()
    after = serializers.CharField()
    matches = serializers.IntegerField(help_text="Matching words in this speaker turn.")


class SearchResultSerializer(serializers.Serializer[Any]):
    query = serializers.CharField()
    total = serializers.IntegerField()
    capped = serializers.BooleanField(help_text="True when there are more results than total says.")
    backend = serializers.CharField()
    results = SearchHitSerializer(many=True, source="hits")


class EditSerializer(serializers.ModelSerializer[TranscriptEdit]):
    actor = serializers.CharField(source="actor.email")
    reverts = serializers.IntegerField(source="reverts_id", allow_null=True)
    ops = serializers.SerializerMethodField()

    class Meta:
        model = TranscriptEdit
        fields = ["id", "version", "kind", "actor", "at", "summary", "reverts", "ops", "report"]

    def get_ops(self, obj: TranscriptEdit) -> list[Any]:
        if self.context.get("show_old"):
            return [{"start": o[0], "end": o[1], "old": o[2], "new": o[3]} for o in obj.ops]
        return [{"start": o[0], "end": o[1]} for o in obj.ops]


class EditWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=[EditKind.REPLACE, EditKind.REPLACE_ALL])
    base_version = serializers.IntegerField(min_value=1)
    replacement = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=500)
    start = serializers.IntegerField(required=False, min_value=0)
    end = serializers.IntegerField(required=False, min_value=0)
    expected = serializers.CharField(required=False, trim_whitespace=False)
    find = serializers.CharField(required=False, trim_whitespace=False, max_length=500)
    match_case = serializers.BooleanField(required=False, default=False)
    whole_word = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == EditKind.REPLACE and not all(k in attrs for k in ("start", "end", "expected")):
            raise serializers.ValidationError("A replace needs start, end and expected (the selected text).")
        if attrs["kind"] == EditKind.REPLACE_ALL and not attrs.get("find"):
            raise serializers.ValidationError("A replace_all needs find.")
        return attrs


class RevertSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    base_version = serializers.IntegerField(min_value=1, required=False)


def _opt_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise serializers.ValidationError("Filters must be integer ids.") from exc


def _conflict(exc: redaction.EditConflict) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


# Views ------------------------------------------------------------------------------------------


class TranscriptListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_UPLOAD, methods=("POST",))]

    @extend_schema(
        parameters=[OpenApiParameter("group", int), OpenApiParameter("site", int), OpenApiParameter("participant", int)],
        responses=paginated(TranscriptListItemSerializer(many=True), "PaginatedTranscriptList"),
        operation_id="studies_transcripts_list",
    )
    def get(self, request: Request, study_id: int) -> Response:
        qs = selectors.transcript_list(
            user=request.user, study_id=study_id, group_id=_opt_int(request.query_params.get("group")),
            site_id=_opt_int(request.query_params.get("site")),
            participant_id=_opt_int(request.query_params.get("participant")),
        )
        from rest_framework.pagination import LimitOffsetPagination

        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        ids = [t.pk for t in page]
        context = {"turns": selectors.transcript_turn_counts(transcript_ids=ids),
                   "progress": transcripts_progress(user=request.user, study_id=study_id, transcript_ids=ids)}
        return paginator.get_paginated_response(TranscriptListItemSerializer(page, many=True, context=context).data)

    @extend_schema(request=TranscriptCreateSerializer, responses={201: TranscriptDetailSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = TranscriptCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        participant = transcript_services.participant_for_upload(
            actor=acting_user(request), study_id=study_id, participant_id=s.validated_data["participant"]
        )
        data = s.validated_data["text"].encode("utf-8")
        try:
            parsed = parse_transcript(data, filename="api.txt", pseudonym=participant.pseudonym, encoding="utf-8")
        except ImportRefused as exc:
            raise ValidationError({"text": str(exc)}) from exc
        transcript = transcript_services.transcript_create(
            actor=acting_user(request), study_id=study_id, participant_id=participant.pk, parsed=parsed,
            original=data, original_name="api.txt", ip=client_ip(request), via="api",
        )
        transcript = selectors.transcript_get(user=request.user, study_id=study_id, transcript_id=transcript.pk)
        return Response(TranscriptDetailSerializer(transcript).data, status=status.HTTP_201_CREATED)


class TranscriptDetailAPI(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("text_offset", int, description="From the previous part's `next`."),
                    OpenApiParameter("turns_offset", int, description="From the previous part's `next`.")],
        responses=TranscriptDetailSerializer,
    )
    def get(self, request: Request, study_id: int, transcript_id: int) -> Response:
        transcript = selectors.transcript_read(user=request.user, study_id=study_id, transcript_id=transcript_id)
        text_offset = max(0, _opt_int(request.query_params.get("text_offset")) or 0)
        turns_offset = max(0, _opt_int(request.query_params.get("turns_offset")) or 0)
        transcript_services.transcript_read_audit(
            actor=acting_user(request), transcript=transcript, via="api", ip=client_ip(request),
            details={"text_offset": text_offset, "turns_offset": turns_offset} if text_offset or turns_offset else None,
        )
        can_original = policy.has_perm(user=request.user, study=study_id, perm=Perm.TRANSCRIPT_ORIGINAL)
        context = {"can_original": can_original, "text_offset": text_offset, "turns_offset": turns_offset,
                   "base_url": request.build_absolute_uri(request.path)}
        return Response(transcript_detail_data(transcript, context))


_DATETIME, _DATE = serializers.DateTimeField(), serializers.DateField()


def transcript_detail_data(obj: Transcript, context: dict[str, Any]) -> dict[str, Any]:
    """What ``TranscriptDetailSerializer(obj, context=context).data`` holds, key for key and value for value,
    built directly: the serializer (kept for the schema and the create answer) builds its twenty fields anew
    for every document opened, ~3 ms of Python. Dates and datetimes go through DRF's own fields, so they are
    formatted as the serializer formats them; ``tests/transcripts`` compares the two."""
    text_start, turns_start = int(context.get("text_offset", 0)), int(context.get("turns_offset", 0))
    cap_chars, cap_turns = max_transcript_chars(), max_transcript_turns()
    found = selectors.transcript_turns_part(transcript_id=obj.pk, first=turns_start, limit=cap_turns + 1)
    turns, more_turns = found[:cap_turns], len(found) > cap_turns
    text = obj.text
    more_text = text_start + cap_chars < len(text)
    # Without more turns from the start, the whole transcript's turns are in this part.
    turns_total = len(turns) if not more_turns and not turns_start else obj.turns.count()
    nxt = None
    if more_text or more_turns:
        text_next = text_start + cap_chars if more_text else len(text)
        turns_next = turns_start + cap_turns if more_turns else turns_total
        nxt = f"{context.get('base_url', '')}?text_offset={text_next}&turns_offset={turns_next}"
    participant = obj.participant
    site = participant.site
    return {
        "id": obj.pk, "participant": obj.participant_id, "pseudonym": participant.pseudonym,
        "group": participant.group.key, "site": site.name if site is not None else None, "title": obj.title,
        "version": obj.version,
        "interview_date": _DATE.to_representation(obj.interview_date) if obj.interview_date else None,
        "interview_mode": obj.interview_mode, "interviewer": obj.interviewer, "source_format": obj.source_format,
        "imported_at": _DATETIME.to_representation(obj.imported_at) if obj.imported_at else None,
        "edited_at": _DATETIME.to_representation(obj.edited_at) if obj.edited_at else None,
        "length": len(text), "text": text[text_start:text_start + cap_chars], "text_start": text_start,
        "turns": turns, "turns_total": turns_total, "next": nxt,
        "original_sha256": obj.original_sha256 if context.get("can_original") else None,
    }


class TranscriptOriginalAPI(APIView):
    """Download the file a transcript was imported from, byte for byte (leads and admins; audited as a read)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, study_id: int, transcript_id: int) -> FileResponse:
        transcript = selectors.transcript_get(user=request.user, study_id=study_id, transcript_id=transcript_id,
                                              perm=Perm.TRANSCRIPT_ORIGINAL)
        handle = transcript_services.transcript_original_open(
            actor=acting_user(request), transcript=transcript, via="api_original_download", ip=client_ip(request))
        return FileResponse(handle, as_attachment=True, filename=transcript.original_name or "original",
                            content_type="application/octet-stream")


class TranscriptUploadAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_UPLOAD)]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: ImportSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > max_file_bytes() * 2:
            raise ValidationError(f"The upload is too large (limit {format_bytes(max_file_bytes())} per file).")
        s = UploadSerializer(data={"files": request.FILES.getlist("files"), "encoding": request.POST.get("encoding", "")})
        s.is_valid(raise_exception=True)
        uploads = [imports.Upload(f.name, f.read()) for f in s.validated_data["files"]]
        batch = imports.import_preview(
            actor=acting_user(request), study_id=study_id, uploads=uploads,
            encoding=s.validated_data.get("encoding") or None, ip=client_ip(request),
        )
        return Response(ImportSerializer(batch).data, status=status.HTTP_201_CREATED)


class ImportDetailAPI(APIView):
    @extend_schema(responses=ImportSerializer)
    def get(self, request: Request, study_id: int, batch_id: int) -> Response:
        return Response(ImportSerializer(imports.import_get(user=request.user, study_id=study_id, batch_id=batch_id)).data)


class ImportCommitAPI(APIView):
    @extend_schema(request=None, responses={202: ImportSerializer})
    def post(self, request: Request, study_id: int, batch_id: int) -> Response:
        batch = imports.import_commit(actor=acting_user(request), study_id=study_id, batch_id=batch_id,
                                      ip=client_ip(request))
        return Response(ImportSerializer(batch).data, status=status.HTTP_202_ACCEPTED)


class ImportCancelAPI(APIView):
    @extend_schema(request=None, responses=ImportSerializer)
    def post(self, request: Request, study_id: int, batch_id: int) -> Response:
        batch = imports.import_cancel(actor=acting_user(request), study_id=study_id, batch_id=batch_id,
                                      ip=client_ip(request))
        return Response(ImportSerializer(batch).data)


class SearchAPI(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True), OpenApiParameter("group", int), OpenApiParameter("site", int),
            OpenApiParameter("role", str, enum=SpeakerRole.values), OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=SearchResultSerializer,
    )
    def get(self, request: Request, study_id: int) -> Response:
        p = request.query_params
        role = p.get("role") or None
        if role and role not in SpeakerRole.values:
            raise serializers.ValidationError({"role": f"One of {', '.join(SpeakerRole.values)}."})
        limit = max(1, min(_opt_int(p.get("limit")) or 20, 100))
        offset = max(0, _opt_int(p.get("offset")) or 0)
        group, site = _opt_int(p.get("group")), _opt_int(p.get("site"))
        result = selectors.transcript_search(
            user=request.user, study_id=study_id, query=p.get("q", ""), group_id=group, site_id=site, role=role,
            limit=limit, offset=offset,
        )
        transcript_services.transcript_search_audit(
            actor=acting_user(request), study_id=study_id, query=p.get("q", ""),
            filters={"group": group, "site": site, "role": role, "offset": offset}, total=result.total,
            transcript_ids=[h.transcript_id for h in result.hits], ip=client_ip(request), via="api",
        )
        return Response(SearchResultSerializer(result).data)


class EditListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_EDIT, methods=("POST",))]

    @extend_schema(responses=EditSerializer(many=True))
    def get(self, request: Request, study_id: int, transcript_id: int) -> Response:
        edits = selectors.transcript_edits(user=request.user, study_id=study_id, transcript_id=transcript_id)
        return Response(EditSerializer(edits, many=True, context={
            "show_old": policy.has_perm(user=request.user, study=study_id, perm=Perm.TRANSCRIPT_REMOVED_TEXT)}).data)

    @extend_schema(request=EditWriteSerializer, responses={201: EditSerializer, 409: None})
    def post(self, request: Request, study_id: int, transcript_id: int) -> Response:
        s = EditWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        try:
            if d["kind"] == EditKind.REPLACE:
                result = redaction.transcript_replace(
                    actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, start=d["start"],
                    end=d["end"], expected=d["expected"], replacement=d["replacement"],
                    base_version=d["base_version"], ip=client_ip(request),
                )
            else:
                result = redaction.transcript_replace_all(
                    actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, find=d["find"],
                    replacement=d["replacement"], match_case=d["match_case"], whole_word=d["whole_word"],
                    base_version=d["base_version"], ip=client_ip(request),
                )
        except redaction.EditConflict as exc:
            return _conflict(exc)
        return Response(EditSerializer(result.edit, context={"show_old": True}).data, status=status.HTTP_201_CREATED)


class EditRevertAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_EDIT)]

    @extend_schema(request=RevertSerializer, responses={201: EditSerializer, 409: None})
    def post(self, request: Request, study_id: int, transcript_id: int, edit_id: int) -> Response:
        s = RevertSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            result = redaction.transcript_edit_revert(
                actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, edit_id=edit_id,
                base_version=s.validated_data.get("base_version"), ip=client_ip(request),
            )
        except redaction.EditConflict as exc:
            return _conflict(exc)
        return Response(EditSerializer(result.edit, context={"show_old": True}).data, status=status.HTTP_201_CREATED)

