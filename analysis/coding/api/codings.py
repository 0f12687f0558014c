"""API for codings, the change feed, memos, assignments, agreement and code retrieval.

    /api/v1/studies/{id}/transcripts/{tid}/codings/            GET (?code=&coder=), POST (one, or a list)
    /api/v1/studies/{id}/transcripts/{tid}/codings/{cid}/      GET, PATCH (version required), DELETE
    /api/v1/studies/{id}/transcripts/{tid}/codings/delete/     POST {"ids": [...]}  (bulk, audited)
    /api/v1/studies/{id}/transcripts/{tid}/codings/events/     GET ?after=N  (the change feed)
    /api/v1/studies/{id}/codes/{code_id}/segments/             GET ?page=&page_size=&group=&subcodes=  (retrieval)
    /api/v1/studies/{id}/exports/codings/                      POST -> 202 job (CSV or XLSX of coded material)
    /api/v1/studies/{id}/memos/                                GET (?q=&target=), POST
    /api/v1/studies/{id}/memos/{mid}/                          PATCH, DELETE
    /api/v1/studies/{id}/assignments/                          GET, POST
    /api/v1/studies/{id}/assignments/{tid}/done/               POST {"done": true|false}
    /api/v1/studies/{id}/agreement/                            GET ?transcript=  (complete assignments)
    /api/v1/studies/{id}/agreement/report/                     POST -> 202 job
    /api/v1/studies/{id}/assignments/{tid}/disagreements/      GET ?status=all|open|resolved
    /api/v1/studies/{id}/assignments/{tid}/disagreements/{key}/comments/  POST {"body": ...}
    /api/v1/studies/{id}/assignments/{tid}/disagreements/{key}/resolve/   POST {"outcome": ..., "note": ...}

Writes to codings are rate limited per user (``CHORUS_CODING_RATE``): a flood answers 429.
A frozen transcript (consent withdrawn, data retained) answers 409; a stale ``version`` or
``transcript_version`` answers 409 with the current coding.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.models import Assignment, DisagreementOutcome, Memo
from analysis.coding.selectors import assignments as assignment_selectors
from analysis.coding.selectors import codebook as selectors
from analysis.coding.selectors import codings as coding_selectors
from analysis.coding.selectors import disagreements as disagreement_selectors
from analysis.coding.selectors import retrieval
from analysis.coding.services import assignments, disagreements
from analysis.coding.services import codings as coding_services
from analysis.coding.services import memos as memo_services
from analysis.coding.services.codings import CodingConflict, CodingFrozen, coding_as_dict
from config.api import only_fields

# The fields a coding is written with (one object, each object of a list, or a PATCH with "version").
CODING_FIELDS = frozenset({"code", "start", "end", "memo", "transcript_version"})

# Views whose bodies are plain JSON objects (documented in the module docstring and the README).
_json = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)


class CodingSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    transcript = serializers.IntegerField(read_only=True)
    code = serializers.IntegerField()
    code_name = serializers.CharField(read_only=True)
    colour = serializers.CharField(read_only=True)
    coder = serializers.IntegerField(read_only=True)
    coder_name = serializers.CharField(read_only=True)
    start = serializers.IntegerField(help_text="Code point offset, inclusive")
    end = serializers.IntegerField(help_text="Code point offset, exclusive")
    lost = serializers.BooleanField(read_only=True)
    memo = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(read_only=True)


def _error(exc: Exception) -> Response:
    if isinstance(exc, CodingConflict):
        body: dict[str, Any] = {"detail": str(exc)}
        if exc.current is not None:
            body["current"] = coding_as_dict(exc.current)
        return Response(body, status=status.HTTP_409_CONFLICT)
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _event_json(e: Any) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "coding": e.data, "actor": e.actor_id, "at": e.at.isoformat()}


@_json
class CodingListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_VIEW, methods=("GET",))]
    # Writes also count against the per-user coding rate (config/throttling.py).
    write_rate_setting, write_rate_scope = "CHORUS_CODING_RATE", "coding"

    @extend_schema(responses=inline_serializer("CodingList", {
        "transcript_version": serializers.IntegerField(), "feed": serializers.IntegerField(allow_null=True),
        "results": CodingSerializer(many=True)}), summary="Codings of a transcript (?code=, ?coder=)",
        operation_id="studies_transcripts_codings_list")
    def get(self, request: Request, study_id: int, transcript_id: int) -> Response:
        code, coder = request.query_params.get("code"), request.query_params.get("coder")
        if not (code or coder):  # what the coding page asks on every document opened
            version, feed, rows = coding_selectors.transcript_coding_list(
                user=request.user, study_id=study_id, transcript_id=transcript_id)
            return Response({"transcript_version": version, "feed": feed, "results": rows})
        t = coding_selectors.transcript_for_coding(user=request.user, study_id=study_id, transcript_id=transcript_id)
        qs = coding_selectors.transcript_codings(user=request.user, study_id=study_id, transcript=t,
                                                 code_id=code, coder_id=coder)
        return Response({"transcript_version": t.version, "feed": coding_selectors.feed_head(transcript_id=t.pk),
                         "results": [coding_as_dict(c) for c in qs]})

    @extend_schema(request=CodingSerializer, responses={201: PolymorphicProxySerializer(
        component_name="CodingCreated", serializers=[CodingSerializer, CodingSerializer(many=True)],
        resource_type_field_name=None, many=False)},
                   summary="Code a span (an object), or many (a list, all or nothing)")
    def post(self, request: Request, study_id: int, transcript_id: int) -> Response:
        data = request.data
        version = request.query_params.get("transcript_version")
        many = isinstance(data, list)
        if not many and hasattr(data, "get"):
            version = data.get("transcript_version", version)
        items: list[Any] = list(data) if many else [data]
        for item in items:
            only_fields(item, CODING_FIELDS)
        try:
            rows = coding_services.codings_bulk_create(
                actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, items=items,
                transcript_version=version,
            )
        except (CodingFrozen, CodingConflict) as exc:
            return _error(exc)
        out = [coding_as_dict(c) for c in rows]
        return Response(out if many else out[0], status=status.HTTP_201_CREATED)


@_json
class CodingDetailAPI(APIView):
    # Writes also count against the per-user coding rate (config/throttling.py).
    write_rate_setting, write_rate_scope = "CHORUS_CODING_RATE", "coding"

    @extend_schema(responses=CodingSerializer)
    def get(self, request: Request, study_id: int, transcript_id: int, coding_id: int) -> Response:
        c = coding_selectors.coding_get(user=request.user, study_id=study_id, transcript_id=transcript_id,
                                        coding_id=coding_id)
        return Response(coding_as_dict(c))

    @extend_schema(request=CodingSerializer, responses=CodingSerializer,
                   summary="Re-code, adjust boundaries or change the memo; send the version you read")
    def patch(self, request: Request, study_id: int, transcript_id: int, coding_id: int) -> Response:
        data = dict(only_fields(request.data, CODING_FIELDS | {"version"})) if hasattr(request.data, "items") else {}
        if "version" not in data:
            return Response({"version": ["Send the version of the coding you read."]}, status=400)
        version = data.pop("version")
        data.pop("transcript_version", None)
        try:
            c = coding_services.coding_update(
                actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, coding_id=coding_id,
                version=version, changes=data,
            )
        except (CodingFrozen, CodingConflict) as exc:
            return _error(exc)
        return Response(coding_as_dict(c))

    def delete(self, request: Request, study_id: int, transcript_id: int, coding_id: int) -> Response:
        try:
            coding_services.coding_delete(actor=acting_user(request), study_id=study_id,
                                          transcript_id=transcript_id, coding_id=coding_id)
        except (CodingFrozen, CodingConflict) as exc:
            return _error(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


@_json
class CodingBulkDeleteAPI(APIView):
    # Writes also count against the per-user coding rate (config/throttling.py).
    write_rate_setting, write_rate_scope = "CHORUS_CODING_RATE", "coding"

    def post(self, request: Request, study_id: int, transcript_id: int) -> Response:
        ids = only_fields(request.data, {"ids"}).get("ids") if hasattr(request.data, "get") else None
        if not isinstance(ids, list):
            return Response({"ids": ["Send a list of coding ids."]}, status=400)
        try:
            n = coding_services.codings_bulk_delete(actor=acting_user(request), study_id=study_id,
                                                    transcript_id=transcript_id, coding_ids=ids,
                                                    ip=client_ip(request))
        except (CodingFrozen, CodingConflict) as exc:
            return _error(exc)
        return Response({"deleted": n})


@_json
class CodingEventsAPI(APIView):
    @extend_schema(summary="The transcript's coding change feed after event id ?after=N (catch-up)")
    def get(self, request: Request, study_id: int, transcript_id: int) -> Response:
        t = coding_selectors.transcript_for_coding(user=request.user, study_id=study_id, transcript_id=transcript_id)
        try:
            after = max(0, int(request.query_params.get("after", 0)))
        except ValueError:
            return Response({"after": ["A whole number is required."]}, status=400)
        events, last = coding_selectors.events_after(user=request.user, transcript_id=t.pk, after=after)
        return Response({"last": last, "events": [_event_json(e) for e in events]})


def _query_int(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise serializers.ValidationError({name: ["A whole number is required."]}) from None
    if not 0 < value < 2**63:
        raise serializers.ValidationError({name: ["Out of range."]})
    return value


def segment_as_dict(s: retrieval.Segment) -> dict[str, Any]:
    return {
        "coding": s.coding_id, "transcript": s.transcript_id, "transcript_title": s.transcript_title,
        "code": s.code_id, "code_name": s.code_name, "start": s.start, "end": s.end,
        "start_line": s.start_line, "end_line": s.end_line, "speaker": s.speaker, "coder": s.coder,
        "pseudonym": s.pseudonym, "group": s.group, "site": s.site, "memo": s.memo,
        "before": s.before, "text": s.text, "after": s.after,
        "context": [{"speaker": t.speaker, "line": t.line, "before": t.before, "coded": t.coded, "after": t.after}
                    for t in s.turns],
    }


@_json
class CodeSegmentsAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_VIEW)]

    @extend_schema(
        summary="A code's segments, a page at a time with the total, with context turns and line numbers",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int, description="1–200, default 50"),
                    OpenApiParameter("group", int, description="Only this participant group"),
                    OpenApiParameter("subcodes", bool, description="Include the code's sub-codes")],
    )
    def get(self, request: Request, study_id: int, code_id: int) -> Response:
        code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
        page_size = _query_int(request, "page_size", retrieval.PAGE_SIZE) or retrieval.PAGE_SIZE
        if page_size > retrieval.MAX_PAGE_SIZE:
            return Response({"page_size": [f"At most {retrieval.MAX_PAGE_SIZE}."]}, status=400)
        number = _query_int(request, "page", 1) or 1
        group = _query_int(request, "group", None)
        subcodes = request.query_params.get("subcodes") in ("1", "true")
        base = retrieval.segments_queryset(user=request.user, study_id=study_id, code=code, subcodes=subcodes)
        groups, ids = retrieval.segment_totals_and_ids(base=base, number=number, page_size=page_size, group_id=group)
        page = retrieval.segments_page(user=request.user, study_id=study_id, code=code, number=number,
                                       page_size=page_size, group_id=group, subcodes=subcodes, groups=groups, base=base,
                                       ids=ids)
        if number > page.pages:
            return Response({"detail": f"There are {page.pages} page(s) of segments."}, status=404)

        def link(n: int) -> str:
            q = request.query_params.copy()
            q["page"] = str(n)
            return request.build_absolute_uri(request.path) + "?" + q.urlencode()

        return Response({
            "code": code.pk, "name": code.name, "count": page.total, "page": page.number, "pages": page.pages,
            "page_size": page.page_size, "next": link(page.number + 1) if page.has_next else None,
            "previous": link(page.number - 1) if page.has_previous else None,
            "groups": [{"group": g.group_id, "label": g.label, "segments": g.segments, "participants": g.participants}
                       for g in groups],
            "segments": [segment_as_dict(s) for s in page.segments],
        })


# Memos -------------------------------------------------------------------------------------------


class MemoSerializer(serializers.Serializer[Any]):
    """The schema of memo_as_dict."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    target = serializers.CharField(help_text="What the memo is about, in words")
    transcript = serializers.IntegerField(allow_null=True)
    code = serializers.IntegerField(allow_null=True)
    coding = serializers.IntegerField(allow_null=True)
    author = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MemoWriteSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    body = serializers.CharField(required=False, allow_blank=True)
    transcript = serializers.IntegerField(required=False, allow_null=True)
    code = serializers.IntegerField(required=False, allow_null=True)
    coding = serializers.IntegerField(required=False, allow_null=True)


def memo_as_dict(m: Memo) -> dict[str, Any]:
    return {"id": m.id, "title": m.title, "body": m.body, "target": m.target_label, "transcript": m.transcript_id,
            "code": m.code_id, "coding": m.coding_id, "author": m.author.display_name,
            "created_at": m.created_at.isoformat(), "updated_at": m.updated_at.isoformat()}


@_json
class MemoListAPI(APIView):
    @extend_schema(responses=MemoSerializer(many=True), parameters=[
        OpenApiParameter("q", str, description="Words in the title or body"),
        OpenApiParameter("target", str, description="study, transcript, code or coding")])
    def get(self, request: Request, study_id: int) -> Response:
        qs = coding_selectors.memo_search(user=request.user, study_id=study_id,
                                          query=request.query_params.get("q", ""),
                                          target=request.query_params.get("target", ""))
        return Response([memo_as_dict(m) for m in qs[:500]])

    @extend_schema(request=MemoWriteSerializer, responses={201: MemoSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        d = only_fields(request.data, {"title", "body", "transcript", "code", "coding"}) if hasattr(request.data, "get") else {}
        try:
            m = memo_services.memo_create(
                actor=acting_user(request), study_id=study_id, title=d.get("title"), body=d.get("body"),
                transcript_id=d.get("transcript"), code_id=d.get("code"), coding_id=d.get("coding"),
            )
        except CodingFrozen as exc:
            return _error(exc)
        return Response(memo_as_dict(m), status=status.HTTP_201_CREATED)


@_json
class MemoDetailAPI(APIView):
    @extend_schema(request=inline_serializer("MemoUpdate", {
        "title": serializers.CharField(required=False), "body": serializers.CharField(required=False, allow_blank=True)}),
        responses=MemoSerializer)
    def patch(self, request: Request, study_id: int, memo_id: int) -> Response:
        d = only_fields(request.data, {"title", "body"}) if hasattr(request.data, "get") else {}
        m = memo_services.memo_update(actor=acting_user(request), study_id=study_id, memo_id=memo_id,
                                      title=d.get("title"), body=d.get("body"))
        return Response(memo_as_dict(m))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, study_id: int, memo_id: int) -> Response:
        memo_services.memo_delete(actor=acting_user(request), study_id=study_id, memo_id=memo_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Assignments and agreement -----------------------------------------------------------------------


class AssignmentSerializer(serializers.Serializer[Any]):
    """The schema of assignment_as_dict."""

    id = serializers.IntegerField()
    transcript = serializers.IntegerField()
    coder_a = serializers.IntegerField()
    coder_b = serializers.IntegerField()
    coder_a_name = serializers.CharField()
    coder_b_name = serializers.CharField()
    done_a = serializers.BooleanField()
    done_b = serializers.BooleanField()
    complete = serializers.BooleanField()


def assignment_as_dict(a: Assignment) -> dict[str, Any]:
    return {"id": a.pk, "transcript": a.transcript_id, "coder_a": a.coder_a_id, "coder_b": a.coder_b_id,
            "coder_a_name": a.coder_a.display_name, "coder_b_name": a.coder_b.display_name,
            "done_a": bool(a.done_a), "done_b": bool(a.done_b), "complete": a.complete}


@_json
class AssignmentListAPI(APIView):
    @extend_schema(responses=AssignmentSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        return Response([assignment_as_dict(a) for a in assignment_selectors.assignments_visible(user=request.user, study_id=study_id)])

    @extend_schema(request=inline_serializer("AssignmentCreate", {
        "transcript": serializers.IntegerField(), "coder_a": serializers.IntegerField(),
        "coder_b": serializers.IntegerField()}), responses={201: AssignmentSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        d = only_fields(request.data, {"transcript", "coder_a", "coder_b"}) if hasattr(request.data, "get") else {}
        a = assignments.assignment_create(actor=acting_user(request), study_id=study_id,
                                          transcript_id=d.get("transcript"), coder_a_id=d.get("coder_a"),
                                          coder_b_id=d.get("coder_b"), ip=client_ip(request))
        return Response(assignment_as_dict(a), status=status.HTTP_201_CREATED)


@_json
class AssignmentDoneAPI(APIView):
    @extend_schema(request=inline_serializer("AssignmentDone", {"done": serializers.BooleanField(default=True)}),
                   responses=AssignmentSerializer)
    def post(self, request: Request, study_id: int, transcript_id: int) -> Response:
        done = only_fields(request.data, {"done"}).get("done", True) if hasattr(request.data, "get") else True
        if not isinstance(done, bool):
            return Response({"done": ["Must be true or false."]}, status=400)
        a = assignments.assignment_mark_done(actor=acting_user(request), study_id=study_id,
                                             transcript_id=transcript_id, done=done)
        return Response(assignment_as_dict(a))


@_json
class AgreementAPI(APIView):
    @extend_schema(summary="Agreement on complete double-coded transcripts (?transcript= for one)")
    def get(self, request: Request, study_id: int) -> Response:
        tid = request.query_params.get("transcript")
        ids = None
        if tid:
            try:
                ids = [int(tid)]
            except ValueError:
                return Response({"transcript": ["Not a valid id."]}, status=400)
        return Response(assignment_selectors.agreement_compute(user=request.user, study_id=study_id, transcript_ids=ids))


@_json
class AgreementReportAPI(APIView):
    @extend_schema(request=None, summary="Start the study-wide agreement report as a background job")
    def post(self, request: Request, study_id: int) -> Response:
        job = assignments.agreement_report_start(actor=acting_user(request), study_id=study_id, ip=client_ip(request))
        return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class AgreementReportDownloadAPI(APIView):
    """A finished agreement report's tables (overall, per transcript, per code) as CSV or XLSX."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.AGREEMENT_VIEW)]

    @extend_schema(summary="Download a finished agreement report as CSV or XLSX (fmt: csv or xlsx)",
                   responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, study_id: int, job_id: int, fmt: str) -> HttpResponse:
        content, filename, content_type = assignments.agreement_report_export(
            actor=acting_user(request), study_id=study_id, job_id=job_id, fmt=fmt, ip=client_ip(request))
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# Disagreements: discuss and resolve ----------------------------------------------------------------


class DisagreementCommentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    author = serializers.IntegerField(read_only=True)
    author_name = serializers.CharField(read_only=True)
    body = serializers.CharField(max_length=disagreements.COMMENT_MAX)
    created_at = serializers.DateTimeField(read_only=True)


class DisagreementCoderSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    spans = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                  help_text="The coder's unioned [start, end) spans of the code in the region")
    only = serializers.IntegerField(help_text="Characters only this coder coded (0 when no longer current)")


class DisagreementSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="{code}-{start}-{end}; lost-{id} for a thread whose text a correction removed")
    code = serializers.IntegerField()
    code_name = serializers.CharField()
    colour = serializers.CharField()
    start = serializers.IntegerField(help_text="Code point offset, inclusive")
    end = serializers.IntegerField(help_text="Code point offset, exclusive")
    text = serializers.CharField()
    coder_a = DisagreementCoderSerializer()
    coder_b = DisagreementCoderSerializer()
    current = serializers.BooleanField(help_text="The codings still differ here")
    status = serializers.ChoiceField(
        choices=["open", "resolved", "lost"],
        help_text="lost: a correction of the transcript removed the text; the thread is kept, read-only")
    outcome = serializers.ChoiceField(choices=DisagreementOutcome.choices, allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    resolved_by = serializers.IntegerField(allow_null=True)
    resolved_by_name = serializers.CharField(allow_blank=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    comments = DisagreementCommentSerializer(many=True)


class DisagreementListSerializer(serializers.Serializer[Any]):
    assignment = serializers.IntegerField()
    transcript = serializers.IntegerField()
    open = serializers.IntegerField()
    resolved = serializers.IntegerField()
    can_resolve = serializers.BooleanField()
    results = DisagreementSerializer(many=True)


class DisagreementResolveSerializer(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=DisagreementOutcome.choices)
    note = serializers.CharField(required=False, allow_blank=True, help_text="Required for `adjusted`")


class DetailSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


def _comment_json(c: Any) -> dict[str, Any]:
    return {"id": c.pk, "author": c.author_id, "author_name": c.author.display_name, "body": c.body,
            "created_at": c.created_at.isoformat()}


def _disagreement_json(i: disagreement_selectors.Item, a: Assignment) -> dict[str, Any]:
    d = i.record if i.resolved else None
    return {
        "key": i.key, "code": i.code.pk, "code_name": i.code.name, "colour": i.code.colour, "start": i.start,
        "end": i.end, "text": i.text,
        "coder_a": {"id": a.coder_a_id, "name": a.coder_a.display_name, "spans": [list(s) for s in i.a], "only": i.a_only},
        "coder_b": {"id": a.coder_b_id, "name": a.coder_b.display_name, "spans": [list(s) for s in i.b], "only": i.b_only},
        "current": i.current, "status": i.status, "outcome": d.outcome if d else "", "note": d.note if d else "",
        "resolved_by": d.resolved_by_id if d else None,
        "resolved_by_name": d.resolved_by.display_name if d and d.resolved_by else "",
        "resolved_at": d.resolved_at.isoformat() if d and d.resolved_at else None,
        "comments": [_comment_json(c) for c in i.comments],
    }


def _closed(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


class DisagreementListAPI(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(disagreement_selectors.STATUSES), description="default all")],
        responses={200: DisagreementListSerializer, 409: DetailSerializer},
        summary="Disagreements of a complete double-coded transcript (the assignment is named by its transcript)",
    )
    def get(self, request: Request, study_id: int, transcript_id: int) -> Response:
        try:
            listing = disagreement_selectors.disagreements_list(user=request.user, study_id=study_id,
                                                       transcript_id=transcript_id,
                                                       status=request.query_params.get("status", "all"))
        except disagreement_selectors.DisagreementsClosed as exc:
            return _closed(exc)
        a = listing.assignment
        return Response({"assignment": a.pk, "transcript": a.transcript_id, "open": listing.open,
                         "resolved": listing.resolved, "can_resolve": listing.can_resolve,
                         "results": [_disagreement_json(i, a) for i in listing.items]})


class DisagreementCommentAPI(APIView):
    @extend_schema(request=DisagreementCommentSerializer,
                   responses={201: DisagreementCommentSerializer, 409: DetailSerializer},
                   summary="Comment on a disagreement (an assigned coder or a lead)")
    def post(self, request: Request, study_id: int, transcript_id: int, key: str) -> Response:
        d = only_fields(request.data, {"body"}) if hasattr(request.data, "get") else {}
        try:
            c = disagreements.disagreement_comment(actor=acting_user(request), study_id=study_id,
                                                   transcript_id=transcript_id, key=key, body=d.get("body"),
                                                   ip=client_ip(request))
        except disagreement_selectors.DisagreementsClosed as exc:
            return _closed(exc)
        return Response(_comment_json(c), status=status.HTTP_201_CREATED)


class DisagreementResolveAPI(APIView):
    @extend_schema(request=DisagreementResolveSerializer,
                   responses={200: DisagreementSerializer, 409: DetailSerializer},
                   summary="Resolve a disagreement; keep_a / keep_b / neither change the codings")
    def post(self, request: Request, study_id: int, transcript_id: int, key: str) -> Response:
        d = only_fields(request.data, {"outcome", "note"}) if hasattr(request.data, "get") else {}
        user = acting_user(request)
        try:
            disagreements.disagreement_resolve(actor=user, study_id=study_id, transcript_id=transcript_id, key=key,
                                               outcome=d.get("outcome"), note=d.get("note", ""),
                                               ip=client_ip(request))
        except (disagreement_selectors.DisagreementsClosed, disagreements.DisagreementConflict, CodingFrozen) as exc:
            return _closed(exc)
        listing = disagreement_selectors.disagreements_list(user=user, study_id=study_id, transcript_id=transcript_id)
        item = next(i for i in listing.items if i.key == key)
        return Response(_disagreement_json(item, listing.assignment))
