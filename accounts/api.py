"""REST API for studies, sites, groups, members, and audit events, under /api/v1/.

Thin views: parse with a serializer, call the same services and selectors as the pages.
Non-members get 404 for anything under a study; the policy module decides everything else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictFieldsMixin
from jobs.api import JobSerializer

from . import exports, policy, selectors, services
from .models import AuditEvent, Membership, ParticipantGroup, Role, Site, Study
from .permissions import API_DEFAULT, StudyPermission
from .policy import Perm, acting_user
from .services import client_ip

# Serializers ------------------------------------------------------------------------------------


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    # Bounded so an id beyond 64 bits is a 400, not an OverflowError from SQLite.
    return serializers.IntegerField(min_value=1, max_value=policy.MAX_ID, **kwargs)


class SiteSerializer(serializers.ModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["id", "name"]


class GroupSerializer(serializers.ModelSerializer[ParticipantGroup]):
    class Meta:
        model = ParticipantGroup
        fields = ["id", "key", "label"]


class StudySerializer(serializers.ModelSerializer[Study]):
    my_role = serializers.SerializerMethodField()
    sites = SiteSerializer(many=True, read_only=True)
    groups = GroupSerializer(many=True, read_only=True)

    class Meta:
        model = Study
        fields = ["id", "name", "description", "created_at", "my_role", "sites", "groups"]

    def get_my_role(self, obj: Study) -> str | None:
        m = policy.membership_get(user=self.context["request"].user, study_id=obj.pk)
        return m.role if m else None


class StudyWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    sites = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)


class StudyUpdateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class SiteWriteSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    scope_sites: serializers.PrimaryKeyRelatedField[Site] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    scope_groups: serializers.PrimaryKeyRelatedField[ParticipantGroup] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "scope_sites", "scope_groups", "created_at"]


class MembershipCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    email = serializers.EmailField()
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Role.choices)
    scope_sites = serializers.ListField(child=_id_field(), required=False, default=list)
    scope_groups = serializers.ListField(child=_id_field(), required=False, default=list)


class MembershipUpdateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    scope_sites = serializers.ListField(child=_id_field(), required=False)
    scope_groups = serializers.ListField(child=_id_field(), required=False)


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_email", "action", "object_type", "object_id", "ip", "details"]


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    memberships = serializers.ListField(child=serializers.DictField())


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise serializers.ValidationError({name: "Must be an integer."}) from exc


# Views ------------------------------------------------------------------------------------------


class MeAPI(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        memberships = Membership.objects.filter(user=acting_user(request)).select_related("study")
        return Response({
            "id": acting_user(request).pk, "email": acting_user(request).email,
            "full_name": acting_user(request).full_name,
            "memberships": [{"study": m.study_id, "study_name": m.study.name, "role": m.role} for m in memberships],
        })


class StudyListAPI(APIView):
    @extend_schema(responses=StudySerializer(many=True))
    def get(self, request: Request) -> Response:
        studies = selectors.study_list(user=request.user).prefetch_related("sites", "groups")
        return Response(StudySerializer(studies, many=True, context={"request": request}).data)

    @extend_schema(request=StudyWriteSerializer, responses={201: StudySerializer})
    def post(self, request: Request) -> Response:
        s = StudyWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        study = services.study_create(
            actor=acting_user(request), name=s.validated_data["name"],
            description=s.validated_data["description"], site_names=s.validated_data["sites"],
            ip=client_ip(request),
        )
        return Response(StudySerializer(study, context={"request": request}).data, status=status.HTTP_201_CREATED)


class StudyDetailAPI(APIView):
    @extend_schema(responses=StudySerializer)
    def get(self, request: Request, study_id: int) -> Response:
        study = policy.study_get_for_user(user=request.user, study_id=study_id)
        return Response(StudySerializer(study, context={"request": request}).data)

    @extend_schema(request=StudyUpdateSerializer, responses=StudySerializer)
    def patch(self, request: Request, study_id: int) -> Response:
        study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.STUDY_EDIT)
        s = StudyUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        study = services.study_update(
            actor=acting_user(request), study_id=study.pk,
            name=s.validated_data.get("name", study.name),
            description=s.validated_data.get("description", study.description), ip=client_ip(request),
        )
        return Response(StudySerializer(study, context={"request": request}).data)


class SiteListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.SITE_MANAGE, methods=("POST",))]

    @extend_schema(responses=SiteSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        return Response(SiteSerializer(selectors.site_list(user=request.user, study_id=study_id), many=True).data)

    @extend_schema(request=SiteWriteSerializer, responses={201: SiteSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = SiteWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        site = services.site_create(
            actor=acting_user(request), study_id=study_id, name=s.validated_data["name"], ip=client_ip(request)
        )
        return Response(SiteSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.SITE_MANAGE, methods=("PATCH",))]

    def _site(self, request: Request, study_id: int, site_id: int) -> Site:
        site = selectors.site_list(user=request.user, study_id=study_id).filter(pk=site_id).first()
        if site is None:
            raise Http404
        return site

    @extend_schema(responses=SiteSerializer)
    def get(self, request: Request, study_id: int, site_id: int) -> Response:
        return Response(SiteSerializer(self._site(request, study_id, site_id)).data)

    @extend_schema(request=SiteWriteSerializer, responses=SiteSerializer)
    def patch(self, request: Request, study_id: int, site_id: int) -> Response:
        s = SiteWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        site = services.site_update(
            actor=acting_user(request), study_id=study_id, site_id=site_id,
            name=s.validated_data["name"], ip=client_ip(request),
        )
        return Response(SiteSerializer(site).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id: int, site_id: int) -> Response:
        services.site_delete(actor=acting_user(request), study_id=study_id, site_id=site_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupListAPI(generics.ListAPIView[ParticipantGroup]):
    serializer_class = GroupSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        return selectors.group_list(user=self.request.user, study_id=self.kwargs["study_id"])


class MemberListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MEMBER_MANAGE, methods=("POST",))]

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        members = selectors.membership_list(user=request.user, study_id=study_id)
        return Response(MembershipSerializer(members, many=True).data)

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = MembershipCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        m = services.membership_add(
            actor=acting_user(request), study_id=study_id, email=d["email"], role=d["role"],
            full_name=d["full_name"], site_ids=d["scope_sites"], group_ids=d["scope_groups"],
            request=request._request,
        )
        return Response(MembershipSerializer(m).data, status=status.HTTP_201_CREATED)


class MemberDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.MEMBER_MANAGE, methods=("PATCH",))]

    @extend_schema(responses=MembershipSerializer)
    def get(self, request: Request, study_id: int, membership_id: int) -> Response:
        m = selectors.membership_get(user=request.user, study_id=study_id, membership_id=membership_id)
        return Response(MembershipSerializer(m).data)

    @extend_schema(request=MembershipUpdateSerializer, responses=MembershipSerializer)
    def patch(self, request: Request, study_id: int, membership_id: int) -> Response:
        current = selectors.membership_get(user=request.user, study_id=study_id, membership_id=membership_id)
        s = MembershipUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        m = services.membership_update(
            actor=acting_user(request), study_id=study_id, membership_id=current.pk,
            role=d.get("role", current.role),
            site_ids=d.get("scope_sites", [x.pk for x in current.scope_sites.all()]),
            group_ids=d.get("scope_groups", [x.pk for x in current.scope_groups.all()]),
            ip=client_ip(request),
        )
        return Response(MembershipSerializer(m).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id: int, membership_id: int) -> Response:
        services.membership_remove(
            actor=acting_user(request), study_id=study_id, membership_id=membership_id, ip=client_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventListAPI(generics.ListAPIView[AuditEvent]):
    serializer_class = AuditEventSerializer

    @extend_schema(parameters=[
        OpenApiParameter("actor", int, description="user id"),
        OpenApiParameter("action", str, description="an action (auth.login) or a family (auth)"),
        OpenApiParameter("date_from", dt.date), OpenApiParameter("date_to", dt.date),
    ])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        p = self.request.query_params
        errors: dict[str, str] = {}
        dates: dict[str, dt.date | None] = {}
        for name in ("date_from", "date_to"):
            try:
                dates[name] = dt.date.fromisoformat(p[name]) if p.get(name) else None
            except ValueError:
                errors[name] = "Use YYYY-MM-DD."
        actor = p.get("actor")
        if actor and not (actor.isascii() and actor.isdigit() and 0 < int(actor) <= policy.MAX_ID):
            errors["actor"] = "Must be a user id."
        if errors:
            raise serializers.ValidationError(errors)
        return selectors.audit_event_list(
            user=self.request.user, study_id=_int(self.kwargs["study_id"], "study_id"),
            actor_id=int(actor) if actor else None, action=p.get("action") or None, **dates,
        )


class AuditExportSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    actor = _id_field(required=False, allow_null=True)
    action = serializers.CharField(max_length=64, required=False, allow_blank=True)
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)


class AuditExportAPI(APIView):
    """Start a CSV export of the study's audit events (same filters as the list) as a job."""

    permission_classes = [*API_DEFAULT, StudyPermission(Perm.AUDIT_VIEW)]

    @extend_schema(request=AuditExportSerializer, responses={202: JobSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        s = AuditExportSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        filters = {
            k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in s.validated_data.items() if v
        }
        job = exports.audit_export_start(
            actor=request.user, study_id=study_id, filters=filters, ip=client_ip(request)  # type: ignore[arg-type]
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

