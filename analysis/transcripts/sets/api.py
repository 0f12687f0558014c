"""Transcript sets API under /api/v1/studies/{id}/transcript-sets/: list and make sets, read, rename and
delete one, list its transcripts (those you may see), add and remove transcripts. Thin over the same services
and selectors as the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.transcripts import selectors as transcript_selectors
from analysis.transcripts.api import TranscriptSerializer
from analysis.transcripts.models import TranscriptSet
from config.api import StrictFieldsMixin
from config.api_schema import paginated

from . import selectors, services

BIG = 2**63 - 1


def _id_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIG), required=False,
                                 max_length=services.MAX_IDS, help_text=help_text)


class SetSerializer(serializers.ModelSerializer[TranscriptSet]):
    transcript_count = serializers.IntegerField(source="visible_count", read_only=True,
                                                help_text="The set's transcripts that you may see.")
    created_by = serializers.CharField(source="created_by.display_name", read_only=True)
    members_version = serializers.IntegerField(read_only=True,
                                               help_text="Moves on at every change of the set's transcripts.")

    class Meta:
        model = TranscriptSet
        fields = ["id", "name", "description", "transcript_count", "members_version", "created_by", "created_at",
                  "updated_at"]
        read_only_fields = fields


class SetCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=services.NAME_MAX, help_text="Unique in the study (any case).")
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)
    transcript_ids = _id_list("Transcripts to put in the set at once (ones you may see).")


class SetUpdateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)


class MembersAddSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    transcript_ids = _id_list("The transcripts to add (ones you may see); or leave out and send all_matching.")
    all_matching = serializers.BooleanField(required=False, default=False,
                                            help_text="Add every transcript you may see that matches group and site "
                                                      "(the transcript list's filter).")
    group = serializers.IntegerField(min_value=1, max_value=BIG, required=False, help_text="With all_matching")
    site = serializers.IntegerField(min_value=1, max_value=BIG, required=False, help_text="With all_matching")


class MembersRemoveSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    transcript_ids = _id_list("The transcripts to take out of the set (ones you may see).")


class CountSerializer(serializers.Serializer[Any]):
    changed = serializers.IntegerField(help_text="How many transcripts were added or taken out.")
    set = SetSerializer()


def _with_count(request: Request, study_id: int, set_id: int) -> TranscriptSet:
    return selectors.set_get(user=request.user, study_id=study_id, set_id=set_id)


class TranscriptSetListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_VIEW),
                          StudyPermission(Perm.TRANSCRIPT_SET_EDIT, methods=("POST",))]

    @extend_schema(responses=SetSerializer(many=True), summary="The study's transcript sets, each with the number "
                                                                "of its transcripts you may see")
    def get(self, request: Request, study_id: int) -> Response:
        return Response(SetSerializer(selectors.sets_list(user=request.user, study_id=study_id)[:1000], many=True).data)

    @extend_schema(request=SetCreateSerializer, responses={201: SetSerializer}, summary="Make a transcript set")
    def post(self, request: Request, study_id: int) -> Response:
        s = SetCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        created = services.transcript_set_create(
            actor=acting_user(request), study_id=study_id, name=d["name"], description=d.get("description", ""),
            transcript_ids=d.get("transcript_ids", []), ip=client_ip(request))
        return Response(SetSerializer(_with_count(request, study_id, created.pk)).data, status=status.HTTP_201_CREATED)


class TranscriptSetDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_VIEW),
                          StudyPermission(Perm.TRANSCRIPT_SET_EDIT, methods=("PATCH", "DELETE"))]

    @extend_schema(responses=SetSerializer, summary="A transcript set")
    def get(self, request: Request, study_id: int, set_id: int) -> Response:
        return Response(SetSerializer(_with_count(request, study_id, set_id)).data)

    @extend_schema(request=SetUpdateSerializer, responses=SetSerializer,
                   summary="Rename a set or change its description (who made it, or a lead)")
    def patch(self, request: Request, study_id: int, set_id: int) -> Response:
        s = SetUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        services.transcript_set_update(actor=acting_user(request), study_id=study_id, set_id=set_id,
                                       name=d.get("name"), description=d.get("description"), ip=client_ip(request))
        return Response(SetSerializer(_with_count(request, study_id, set_id)).data)

    @extend_schema(responses={204: None}, summary="Delete a set (who made it, or a lead); its transcripts stay")
    def delete(self, request: Request, study_id: int, set_id: int) -> Response:
        services.transcript_set_delete(actor=acting_user(request), study_id=study_id, set_id=set_id,
                                       ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TranscriptSetMembersAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_VIEW),
                          StudyPermission(Perm.TRANSCRIPT_SET_EDIT, methods=("POST",))]

    @extend_schema(responses=paginated(TranscriptSerializer(many=True), "PaginatedTranscriptSetMembers"),
                   summary="The set's transcripts that you may see (limit and offset)")
    def get(self, request: Request, study_id: int, set_id: int) -> Response:
        transcript_set = selectors.set_get(user=request.user, study_id=study_id, set_id=set_id)
        qs = selectors.set_transcripts(user=request.user, study_id=study_id, transcript_set=transcript_set)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(TranscriptSerializer(page, many=True).data)

    @extend_schema(request=MembersAddSerializer, responses=CountSerializer,
                   summary="Add transcripts to a set: chosen ones, or all you may see matching a group and site")
    def post(self, request: Request, study_id: int, set_id: int) -> Response:
        s = MembersAddSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        if d["all_matching"]:
            if d.get("transcript_ids"):
                raise serializers.ValidationError({"all_matching": "Send transcript_ids or all_matching, not both."})
            ids: list[int] = list(transcript_selectors.transcript_list(
                user=request.user, study_id=study_id, group_id=d.get("group"), site_id=d.get("site"),
            ).values_list("pk", flat=True))
        else:
            ids = d.get("transcript_ids", [])
        changed = services.transcript_set_add(actor=acting_user(request), study_id=study_id, set_id=set_id,
                                              transcript_ids=ids, ip=client_ip(request))
        return Response({"changed": changed, "set": SetSerializer(_with_count(request, study_id, set_id)).data})


class TranscriptSetMembersRemoveAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.TRANSCRIPT_SET_EDIT)]

    @extend_schema(request=MembersRemoveSerializer, responses=CountSerializer,
                   summary="Take transcripts out of a set (the transcripts themselves stay)")
    def post(self, request: Request, study_id: int, set_id: int) -> Response:
        s = MembersRemoveSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        changed = services.transcript_set_remove(actor=acting_user(request), study_id=study_id, set_id=set_id,
                                                 transcript_ids=s.validated_data.get("transcript_ids", []),
                                                 ip=client_ip(request))
        return Response({"changed": changed, "set": SetSerializer(_with_count(request, study_id, set_id)).data})
