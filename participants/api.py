"""REST API for participants, consent forms, consent events, imports, the consent dashboard and
the sampling frame, under /api/v1/studies/{id}/.

Thin views: parse with a serializer, call the same services and selectors as the pages. Scope is
applied by the selectors: a participant outside the caller's scope is a 404. Identifiable fields
are never in these payloads; an admin reads them from ``.../identifiable/`` (audited).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm
from accounts.services import client_ip
from config.api import FormParser, JSONParser, MultiPartParser, StrictFieldsMixin
from config.api_schema import paginated

from . import selectors, services
from .consent_rules import data_uses_allowed
from .models import (
    AttributeDefinition,
    AttributeKind,
    ConsentEvent,
    ConsentForm,
    ConsentItem,
    ConsentState,
    EventKind,
    Participant,
    WithdrawalScope,
)


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


# Serializers ------------------------------------------------------------------------------------


class ParticipantSerializer(serializers.ModelSerializer[Participant]):
    group = serializers.SlugRelatedField[Any](slug_field="key", read_only=True)
    group_id = serializers.IntegerField(read_only=True)
    site = serializers.CharField(source="site.name", read_only=True, default=None, allow_null=True)
    site_id = serializers.IntegerField(read_only=True, allow_null=True)
    consent_form_version = serializers.CharField(source="consent_form.version", read_only=True, default=None, allow_null=True)
    data_uses = serializers.SerializerMethodField()
    purged = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id", "pseudonym", "group", "group_id", "site", "site_id", "attributes", "interview_date",
            "consent_state", "consent_form_version", "consent_answers", "consent_date", "withdrawn_on",
            "data_uses", "purged", "created_at", "updated_at",
        ]

    def get_data_uses(self, obj: Participant) -> dict[str, bool]:
        return {str(k): v for k, v in data_uses_allowed(participant=obj).items()}

    def get_purged(self, obj: Participant) -> bool:
        return obj.purged_at is not None


class ParticipantWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    pseudonym = serializers.CharField(max_length=50)
    group_id = serializers.IntegerField()
    site_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    attributes = serializers.DictField(required=False, default=dict)
    interview_date = serializers.DateField(required=False, allow_null=True, default=None)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True)
    contact = serializers.CharField(max_length=1000, required=False, allow_blank=True, write_only=True)


class ParticipantPatchSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    pseudonym = serializers.CharField(max_length=50, required=False)
    group_id = serializers.IntegerField(required=False)
    site_id = serializers.IntegerField(required=False, allow_null=True)
    attributes = serializers.DictField(required=False)
    interview_date = serializers.DateField(required=False, allow_null=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True)
    contact = serializers.CharField(max_length=1000, required=False, allow_blank=True, write_only=True)


class IdentifiableSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    contact = serializers.CharField()


class AttributeSerializer(serializers.ModelSerializer[AttributeDefinition]):
    class Meta:
        model = AttributeDefinition
        fields = ["id", "key", "label", "kind", "choices"]


class AttributeWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]
    key = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=AttributeKind.choices)
    choices = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)


class ConsentItemSerializer(serializers.ModelSerializer[ConsentItem]):
    class Meta:
        model = ConsentItem
        fields = ["key", "label", "mandatory"]


class ConsentFormSerializer(serializers.ModelSerializer[ConsentForm]):
    items = ConsentItemSerializer(many=True, read_only=True)

    class Meta:
        model = ConsentForm
        fields = ["id", "version", "title", "effective_from", "reconsent_required", "items", "created_at"]


class ConsentFormWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    version = serializers.CharField(max_length=20)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    effective_from = serializers.DateField()
    reconsent_required = serializers.BooleanField(required=False, default=False)
    items = ConsentItemSerializer(many=True)


class ConsentEventSerializer(serializers.ModelSerializer[ConsentEvent]):
    participant = serializers.CharField(source="participant.pseudonym", read_only=True)
    participant_id = serializers.IntegerField(read_only=True)
    form_version = serializers.CharField(source="form.version", read_only=True, default=None, allow_null=True)
    recorded_by = serializers.EmailField(source="recorded_by.email", read_only=True)
    taken_by = serializers.EmailField(source="taken_by.email", read_only=True, default=None, allow_null=True)
    has_signed_form = serializers.SerializerMethodField()

    class Meta:
        model = ConsentEvent
        fields = [
            "id", "participant", "participant_id", "kind", "date", "form_version", "method", "taken_by", "answers",
            "withdrawal_scope", "corrects", "voids", "note", "has_signed_form", "source", "recorded_by",
            "recorded_at",
        ]

    def get_has_signed_form(self, obj: ConsentEvent) -> bool:
        return bool(obj.signed_form)


class ConsentEventWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    date = serializers.DateField()
    form_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    answers = serializers.DictField(required=False, default=dict)
    method = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    taken_by_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    withdrawal_scope = serializers.ChoiceField(choices=WithdrawalScope.choices, required=False, allow_blank=True, default="")
    corrects = serializers.IntegerField(required=False, allow_null=True, default=None)
    voids = serializers.BooleanField(required=False, default=False)


class ConsentEventCreatedSerializer(serializers.Serializer[Any]):
    event = ConsentEventSerializer()
    participant = ParticipantSerializer()
    purge_job = serializers.IntegerField(allow_null=True)


class SignedFormSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    signed_form = serializers.FileField()


class ParticipantImportSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    file = serializers.FileField()
    commit = serializers.BooleanField(required=False, default=False, help_text="false = preview only")
    import_valid_rows = serializers.BooleanField(required=False, default=False)
    create_missing = serializers.BooleanField(
        required=False, default=False,
        help_text="participants: create unknown sites; consent: create unknown form versions",
    )
    confirm_deletions = serializers.BooleanField(required=False, default=False)
    encoding = serializers.ChoiceField(choices=["utf-8", "windows-1252", "utf-16"], required=False, allow_null=True, default=None)


class SamplingTargetWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    group_id = serializers.IntegerField()
    site_id = serializers.IntegerField()
    target = serializers.IntegerField(allow_null=True, min_value=0)


class SamplingTargetsSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    targets = SamplingTargetWriteSerializer(many=True)


# Views ------------------------------------------------------------------------------------------


class ParticipantListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PARTICIPANT_MANAGE, methods=("POST",))]

    @extend_schema(
        parameters=[OpenApiParameter("group", int), OpenApiParameter("site", int),
                    OpenApiParameter("state", str, enum=ConsentState.values), OpenApiParameter("search", str)],
        responses=paginated(ParticipantSerializer(many=True), "PaginatedParticipantList"),
        operation_id="studies_participants_list",
    )
    def get(self, request: Request, study_id: int) -> Response:
        p = request.query_params
        ints: dict[str, int | None] = {}
        for name in ("group", "site"):
            value = p.get(name)
            if value and not value.isdigit():
                raise serializers.ValidationError({name: "Must be an id."})
            ints[name] = int(value) if value else None
        state = p.get("state") or None
        if state and state not in ConsentState.values:
            raise serializers.ValidationError({"state": f"One of: {', '.join(ConsentState.values)}."})
        qs = selectors.participant_list(user=request.user, study_id=study_id, group_id=ints["group"],
                                        site_id=ints["site"], state=state, search=p.get("search"))
        from rest_framework.pagination import LimitOffsetPagination

        pager = LimitOffsetPagination()
        page = pager.paginate_queryset(qs, request, view=self)
        return pager.get_paginated_response(ParticipantSerializer(page, many=True).data)

    @extend_schema(request=ParticipantWriteSerializer, responses={201: ParticipantSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = ParticipantWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        participant = services.participant_create(
            actor=_actor(request), study_id=study_id, pseudonym=d["pseudonym"], group_id=d["group_id"],
            site_id=d["site_id"], attributes=d["attributes"], interview_date=d["interview_date"],
            name=d.get("name", ""), contact=d.get("contact", ""), ip=client_ip(request),
        )
        return Response(ParticipantSerializer(participant).data, status=status.HTTP_201_CREATED)


class ParticipantDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PARTICIPANT_MANAGE, methods=("PATCH",))]

    @extend_schema(responses=ParticipantSerializer)
    def get(self, request: Request, study_id: int, participant_id: int) -> Response:
        return Response(ParticipantSerializer(
            selectors.participant_get(user=request.user, study_id=study_id, participant_id=participant_id)
        ).data)

    @extend_schema(request=ParticipantPatchSerializer, responses=ParticipantSerializer)
    def patch(self, request: Request, study_id: int, participant_id: int) -> Response:
        current = selectors.participant_get(user=request.user, study_id=study_id, participant_id=participant_id)
        s = ParticipantPatchSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        participant = services.participant_update(
            actor=_actor(request), study_id=study_id, participant_id=current.pk,
            pseudonym=d.get("pseudonym", current.pseudonym), group_id=d.get("group_id", current.group_id),
            site_id=d.get("site_id", current.site_id),
            attributes=d.get("attributes", current.attributes),
            interview_date=d.get("interview_date", current.interview_date),
            name=d.get("name"), contact=d.get("contact"), ip=client_ip(request),
        )
        return Response(ParticipantSerializer(participant).data)


class ParticipantIdentifiableAPI(APIView):
    @extend_schema(responses=IdentifiableSerializer, description="Admins only; every read is audited.")
    def get(self, request: Request, study_id: int, participant_id: int) -> Response:
        data = services.participant_identifiable_read(
            actor=_actor(request), study_id=study_id, participant_id=participant_id, ip=client_ip(request)
        )
        response = Response(data)
        response["Cache-Control"] = "no-store"
        return response


class AttributeListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PARTICIPANT_MANAGE, methods=("POST",))]

    @extend_schema(responses=AttributeSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        return Response(AttributeSerializer(selectors.attribute_list(user=request.user, study_id=study_id), many=True).data)

    @extend_schema(request=AttributeWriteSerializer, responses={201: AttributeSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = AttributeWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        a = services.attribute_create(actor=_actor(request), study_id=study_id, label=d["label"], key=d["key"],
                                      kind=d["kind"], choices=d["choices"], ip=client_ip(request))
        return Response(AttributeSerializer(a).data, status=status.HTTP_201_CREATED)


class AttributeDetailAPI(APIView):
    """Delete a participant attribute that no participant has a value for (as the attributes page does)."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PARTICIPANT_MANAGE)]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, study_id: int, attribute_id: int) -> Response:
        services.attribute_delete(actor=_actor(request), study_id=study_id, attribute_id=attribute_id,
                                  ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsentFormListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CONSENT_MANAGE, methods=("POST",))]

    @extend_schema(responses=ConsentFormSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        return Response(ConsentFormSerializer(selectors.consent_form_list(user=request.user, study_id=study_id), many=True).data)

    @extend_schema(request=ConsentFormWriteSerializer, responses={201: ConsentFormSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = ConsentFormWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        form = services.consent_form_create(
            actor=_actor(request), study_id=study_id, version=d["version"], title=d["title"],
            effective_from=d["effective_from"], reconsent_required=d["reconsent_required"],
            items=[dict(i) for i in d["items"]], ip=client_ip(request),
        )
        return Response(ConsentFormSerializer(form).data, status=status.HTTP_201_CREATED)


class ConsentFormDetailAPI(APIView):
    @extend_schema(responses=ConsentFormSerializer)
    def get(self, request: Request, study_id: int, form_id: int) -> Response:
        return Response(ConsentFormSerializer(selectors.consent_form_get(user=request.user, study_id=study_id, form_id=form_id)).data)


class ConsentEventStudyListAPI(APIView):
    @extend_schema(responses=paginated(ConsentEventSerializer(many=True), "PaginatedConsentEventList"),
                   operation_id="studies_consent_events_list")
    def get(self, request: Request, study_id: int) -> Response:
        from rest_framework.pagination import LimitOffsetPagination

        pager = LimitOffsetPagination()
        page = pager.paginate_queryset(selectors.consent_event_list(user=request.user, study_id=study_id), request, view=self)
        return pager.get_paginated_response(ConsentEventSerializer(page, many=True).data)


class ConsentEventListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CONSENT_MANAGE, methods=("POST",))]

    @extend_schema(responses=ConsentEventSerializer(many=True))
    def get(self, request: Request, study_id: int, participant_id: int) -> Response:
        p = selectors.participant_get(user=request.user, study_id=study_id, participant_id=participant_id)
        events = selectors.consent_event_list(user=request.user, study_id=study_id, participant_id=p.pk)
        return Response(ConsentEventSerializer(events, many=True).data)

    @extend_schema(
        request=ConsentEventWriteSerializer, responses={201: ConsentEventCreatedSerializer},
        description="kind=consent|reconsent needs form_id and answers; kind=withdrawal needs withdrawal_scope "
                    "(delete_data starts a purge job, returned as purge_job); kind=correction needs corrects "
                    "(an event id) and either voids=true or the corrected content, and a note.",
    )
    def post(self, request: Request, study_id: int, participant_id: int) -> Response:
        p = selectors.participant_get(user=request.user, study_id=study_id, participant_id=participant_id)
        s = ConsentEventWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        actor, ip = _actor(request), client_ip(request)
        job = None
        if d["kind"] in (EventKind.CONSENT, EventKind.RECONSENT):
            event = services.consent_event_record(
                actor=actor, study_id=study_id, participant_id=p.pk, form_id=d["form_id"], date=d["date"],
                answers=d["answers"], kind=d["kind"], method=d["method"], taken_by_id=d["taken_by_id"],
                note=d["note"], source="api", ip=ip,
            )
        elif d["kind"] == EventKind.WITHDRAWAL:
            event, job = services.participant_withdraw(
                actor=actor, study_id=study_id, participant_id=p.pk, scope=d["withdrawal_scope"], date=d["date"],
                method=d["method"], note=d["note"], source="api", ip=ip,
            )
        else:
            if not d["corrects"]:
                raise ValidationError({"corrects": "A correction names the event it corrects."})
            event, job = services.consent_event_correct(
                actor=actor, study_id=study_id, participant_id=p.pk, event_id=d["corrects"], note=d["note"],
                voids=d["voids"], date=d["date"], form_id=d["form_id"], answers=d["answers"] or None,
                method=d["method"], scope=d["withdrawal_scope"], ip=ip,
            )
        participant = selectors.participant_get(user=request.user, study_id=study_id, participant_id=p.pk)
        return Response({
            "event": ConsentEventSerializer(event).data, "participant": ParticipantSerializer(participant).data,
            "purge_job": job.pk if job else None,
        }, status=status.HTTP_201_CREATED)


class SignedFormAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CONSENT_MANAGE)]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": SignedFormSerializer}, responses={201: ConsentEventSerializer},
                   description="Attach the signed consent form (a PDF, checked by content; size-limited). Admins only.")
    def post(self, request: Request, study_id: int, event_id: int) -> Response:
        s = SignedFormSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        upload = s.validated_data["signed_form"]
        from .services.consent import signed_form_max_bytes

        if upload.size > signed_form_max_bytes():
            raise ValidationError({"signed_form": f"The file is larger than {signed_form_max_bytes() // 1_048_576} MB."})
        event = services.consent_signed_form_attach(actor=_actor(request), study_id=study_id, event_id=event_id,
                                                    data=upload.read(), ip=client_ip(request))
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)


class _ImportAPI(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    kind = ""

    @extend_schema(request={"multipart/form-data": ParticipantImportSerializer}, responses={200: dict, 400: dict},
                   description="commit=false (default) previews; commit=true imports everything or nothing (400 "
                               "with the report and `blocked` when refused).")
    def post(self, request: Request, study_id: int) -> Response:
        s = ParticipantImportSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        data = d["file"].read()
        common: dict[str, Any] = {
            "actor": _actor(request), "study_id": study_id, "data": data, "filename": d["file"].name or "",
            "commit": d["commit"], "import_valid_rows": d["import_valid_rows"], "encoding": d["encoding"],
            "ip": client_ip(request),
        }
        if self.kind == "participants":
            report = services.participants_import(**common, create_sites=d["create_missing"])
        else:
            report = services.consent_import(**common, create_forms=d["create_missing"],
                                             confirm_deletions=d["confirm_deletions"])
        code = status.HTTP_400_BAD_REQUEST if d["commit"] and not report.committed else status.HTTP_200_OK
        return Response(report.as_dict(), status=code)


class ParticipantImportAPI(_ImportAPI):
    # The role before the input: a coder learns that they may not import, not what the file lacked.
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.PARTICIPANT_MANAGE)]
    kind = "participants"


class ConsentImportAPI(_ImportAPI):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CONSENT_MANAGE)]
    kind = "consent"


class ConsentDashboardAPI(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, study_id: int) -> Response:
        dash = selectors.consent_dashboard(user=request.user, study_id=study_id)
        return Response({
            "total": dash.total,
            "by_group": {g.key: {s: dash.counts.get((g.pk, s), 0) for s, _ in dash.states} for g in dash.groups},
            "by_state": dash.col_totals,
            "items_not_agreed": [
                {"key": m["key"], "label": m["label"], "no": [p.pseudonym for p in m["no"]],
                 "unanswered": [p.pseudonym for p in m["unanswered"]]} for m in dash.missing
            ],
            "reconsent_form_version": dash.reconsent_form.version if dash.reconsent_form else None,
            "needs_reconsent": [p.pseudonym for p in dash.reconsent],
            "forms": [{"version": f["form"].version, "participants": f["participants"]} for f in dash.forms],
        })


class SamplingFrameAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.SAMPLING_MANAGE, methods=("PUT",))]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, study_id: int) -> Response:
        frame = selectors.sampling_frame(user=request.user, study_id=study_id)
        return Response({
            "cells": [
                {"group": g.key, "group_id": g.pk, "site": s.name, "site_id": s.pk, "target": c.target,
                 "consented": c.consented, "interviewed": c.interviewed, "withdrawn": c.withdrawn}
                for g in frame.groups for s in frame.sites for c in [frame.cells[(g.pk, s.pk)]]
            ],
            "total": {"target": frame.total.target, "consented": frame.total.consented,
                      "interviewed": frame.total.interviewed},
        })

    @extend_schema(request=SamplingTargetsSerializer, responses={200: dict})
    def put(self, request: Request, study_id: int) -> Response:
        s = SamplingTargetsSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        services.sampling_targets_set(
            actor=_actor(request), study_id=study_id,
            targets=[(t["group_id"], t["site_id"], t["target"]) for t in s.validated_data["targets"]],
            ip=client_ip(request),
        )
        return self.get(request, study_id)


class ParticipantPurgeAPI(APIView):
    """Retry the purge of a participant who withdrew with deletion of their data, when the first purge
    failed (the participant page's *Retry the deletion*). Answers the purge job."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CONSENT_MANAGE)]

    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, study_id: int, participant_id: int) -> Response:
        job = services.participant_purge_retry(actor=_actor(request), study_id=study_id,
                                               participant_id=participant_id, ip=client_ip(request))
        return Response({"job": job.pk, "url": f"/api/v1/studies/{study_id}/jobs/{job.pk}/"},
                        status=status.HTTP_202_ACCEPTED)


class ParticipantExportAPI(APIView):
    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, study_id: int) -> Response:
        job = services.participants_export_start(actor=_actor(request), study_id=study_id, ip=client_ip(request))
        return Response({"job": job.pk, "url": f"/api/v1/studies/{study_id}/jobs/{job.pk}/"}, status=status.HTTP_202_ACCEPTED)
