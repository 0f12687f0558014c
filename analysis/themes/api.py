"""Themes and board API under /api/v1/studies/{id}/. Thin views over the same services and selectors as
the pages. A stale ``version`` on a theme PATCH answers 409 with the theme as it is now."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import API_DEFAULT, StudyPermission
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.themes.models import (
    Comment,
    CommentKind,
    Decision,
    DigestEvery,
    ReactionValue,
    Theme,
    ThemeStatus,
)
from analysis.themes.selectors import board as board_selectors
from analysis.themes.selectors import comments as comment_selectors
from analysis.themes.selectors import notifications as notification_selectors
from analysis.themes.selectors import quotes as quote_selectors
from analysis.themes.selectors import themes as theme_selectors
from analysis.themes.services import board as board_services
from analysis.themes.services import comments as comment_services
from analysis.themes.services import common as service_limits
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import reports as report_services
from analysis.themes.services import themes as theme_services
from config.api import StrictFieldsMixin

BIG = 2**31 - 1


def _validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Serializers ------------------------------------------------------------------------------------


class ThemeSerializer(serializers.ModelSerializer[Theme]):
    codes = serializers.SerializerMethodField()
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    plain_status = serializers.CharField(read_only=True)
    updated_by = serializers.CharField(source="updated_by.display_name", read_only=True)

    class Meta:
        model = Theme
        fields = ["id", "parent", "name", "description", "plain_description", "status", "status_label",
                  "plain_status", "on_board", "position", "codes", "version", "created_at", "updated_at",
                  "updated_by"]
        read_only_fields = fields

    def get_codes(self, obj: Theme) -> list[dict[str, Any]]:
        return [{"id": pk, "name": name} for pk, name in obj.codes.order_by("name").values_list("pk", "name")]


class ThemeRowSerializer(serializers.Serializer[Any]):
    theme = ThemeSerializer()
    depth = serializers.IntegerField()
    participants = serializers.IntegerField()
    segments = serializers.IntegerField()
    quotes = serializers.IntegerField()
    open_comments = serializers.IntegerField()


class ThemeCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=service_limits.NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True, max_length=service_limits.TEXT_MAX)
    plain_description = serializers.CharField(required=False, allow_blank=True, max_length=service_limits.TEXT_MAX)
    status = serializers.ChoiceField(choices=ThemeStatus.choices, required=False)
    on_board = serializers.BooleanField(required=False)
    parent = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)  # type: ignore[assignment]
    codes = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                  max_length=10_000)


class ThemeUpdateSerializer(ThemeCreateSerializer):
    name = serializers.CharField(max_length=service_limits.NAME_MAX, required=False)
    position = serializers.IntegerField(required=False, min_value=0, max_value=BIG)
    version = serializers.IntegerField(min_value=1, max_value=BIG, help_text="The version you read; a stale one answers 409.")


class ThemeGroupCountSerializer(serializers.Serializer[Any]):
    group_id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # Field.label in the stubs
    participants = serializers.IntegerField()
    segments = serializers.IntegerField()


class ThemeDetailSerializer(serializers.Serializer[Any]):
    theme = ThemeSerializer()
    counts = ThemeGroupCountSerializer(many=True)


class ThemeSegmentSerializer(serializers.Serializer[Any]):
    coding_id = serializers.IntegerField()
    code_name = serializers.CharField()
    pseudonym = serializers.CharField()
    transcript_id = serializers.IntegerField()
    line = serializers.IntegerField()
    before = serializers.CharField()
    text = serializers.CharField()
    after = serializers.CharField()
    quotable = serializers.BooleanField()
    not_quotable_reason = serializers.CharField()


class ThemeSegmentPageSerializer(serializers.Serializer[Any]):
    group_id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # Field.label in the stubs
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    segments = ThemeSegmentSerializer(many=True)


class ThemeEditSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor.display_name")
    summary = serializers.CharField()
    changes = serializers.DictField()


class TeamQuoteSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="quote.pk")
    text = serializers.SerializerMethodField()
    group = serializers.CharField()
    pseudonym = serializers.CharField()
    content_note = serializers.CharField(source="quote.content_note")
    start = serializers.IntegerField(source="quote.start", help_text="Unicode code points, [start, end)")
    end = serializers.IntegerField(source="quote.end")
    shown_to_team = serializers.BooleanField()
    on_board = serializers.BooleanField()
    hidden_reason = serializers.CharField()
    board_reason = serializers.CharField()

    def get_text(self, obj: quote_selectors.QuoteView) -> str:
        return obj.text if obj.shown_to_team else ""  # consent withdrawn: the words are not shown


class QuoteCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    coding = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="a coded segment behind the theme")
    start = serializers.IntegerField(required=False, min_value=0, max_value=BIG, help_text="code points")
    end = serializers.IntegerField(required=False, min_value=0, max_value=BIG)
    text = serializers.CharField(required=False, max_length=100_000, help_text="or the trimmed words of the segment")
    content_note = serializers.CharField(required=False, allow_blank=True, max_length=service_limits.NOTE_MAX)


class QuoteUpdateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    start = serializers.IntegerField(required=False, min_value=0, max_value=BIG)
    end = serializers.IntegerField(required=False, min_value=0, max_value=BIG)
    text = serializers.CharField(required=False, max_length=100_000)
    content_note = serializers.CharField(required=False, allow_blank=True, max_length=service_limits.NOTE_MAX)


class BoardQuoteSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    text = serializers.CharField()
    group = serializers.CharField(help_text="the participant group only: never a pseudonym, site or attribute")
    content_note = serializers.CharField()


class BoardThemeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    parent = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]  # Field.parent in the stubs
    name = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    status_in_plain_words = serializers.CharField()
    quotes = BoardQuoteSerializer(many=True)
    reactions = serializers.DictField(child=serializers.IntegerField())
    my_reaction = serializers.CharField()


class BoardSerializer(serializers.Serializer[Any]):
    support_line = serializers.CharField()
    themes = BoardThemeSerializer(many=True)


class CommentSerializer(serializers.ModelSerializer[Comment]):
    author = serializers.CharField(source="author.display_name", read_only=True)
    mine = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    decided_by = serializers.CharField(source="decided_by.display_name", read_only=True, default="")
    # Blank until the team decides on a suggestion (and on plain comments): the schema must allow "".
    decision = serializers.ChoiceField(choices=Decision.choices, allow_blank=True,
                                       read_only=True)
    resolved = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "theme", "code", "quote", "parent", "author", "mine", "body", "kind", "suggested_name",
                  "decision", "decision_reason", "decided_by", "decided_at", "outcome", "resolved", "resolved_at",
                  "created_at", "edited_at", "deleted"]
        read_only_fields = fields

    def get_mine(self, obj: Comment) -> bool:
        return obj.author_id == self.context.get("user_id")

    def get_body(self, obj: Comment) -> str:
        return "" if obj.deleted_at else obj.body

    def get_resolved(self, obj: Comment) -> bool:
        return obj.resolved_at is not None

    def get_deleted(self, obj: Comment) -> bool:
        return obj.deleted_at is not None


class CommentCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    body = serializers.CharField(max_length=service_limits.COMMENT_MAX, help_text="plain text or simple Markdown")
    parent = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)  # type: ignore[assignment]
    quote = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=CommentKind.choices, default=CommentKind.COMMENT)
    suggested_name = serializers.CharField(required=False, allow_blank=True, max_length=service_limits.NAME_MAX)


class CommentUpdateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    body = serializers.CharField(max_length=service_limits.COMMENT_MAX)


class CommentResolveSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    resolved = serializers.BooleanField()


class SuggestionDecisionSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    accept = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=service_limits.COMMENT_MAX)


class CodeCommentCreateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    body = serializers.CharField(max_length=service_limits.COMMENT_MAX, help_text="plain text or simple Markdown")
    parent = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)  # type: ignore[assignment]


class DigestSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    every = serializers.ChoiceField(choices=DigestEvery.choices, help_text="off, daily or weekly")


class NotificationSerializer(serializers.Serializer[Any]):
    comment = serializers.IntegerField(source="comment.pk")
    author = serializers.CharField(source="comment.author.display_name")
    created_at = serializers.DateTimeField(source="comment.created_at")
    theme = serializers.IntegerField(source="comment.theme_id", allow_null=True)
    code = serializers.IntegerField(source="comment.code_id", allow_null=True)
    where = serializers.CharField()
    reply = serializers.BooleanField()
    new = serializers.BooleanField()


class NotificationsSerializer(serializers.Serializer[Any]):
    board = NotificationSerializer(many=True)
    codes = NotificationSerializer(many=True)
    waiting = serializers.SerializerMethodField()

    def get_waiting(self, obj: Any) -> list[int]:
        return [c.pk for c in obj.waiting]


class ReactionSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    value = serializers.ChoiceField(choices=[("", "none"), *ReactionValue.choices], allow_blank=True)


class BoardSettingsSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    support_line = serializers.CharField(allow_blank=True, max_length=service_limits.SUPPORT_MAX)


class ThemeConflictSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="Who changed the theme, and when; your change was not saved.")
    current = ThemeSerializer(help_text="The theme as it is now: start again from its version.")


def _conflict(exc: theme_services.ConflictError) -> Response:
    return Response({"detail": str(exc), "current": ThemeSerializer(exc.current).data},
                    status=status.HTTP_409_CONFLICT)


# Themes -----------------------------------------------------------------------------------------


class ThemeListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_ANALYSE, methods=("GET",)),
                          StudyPermission(Perm.THEME_PROPOSE, methods=("POST",))]

    @extend_schema(responses=ThemeRowSerializer(many=True),
                   summary="Every theme (depth-first) with participants and segments behind it in your scope")
    def get(self, request: Request, study_id: int) -> Response:
        rows = theme_selectors.theme_rows(user=request.user, study_id=study_id)
        return Response(ThemeRowSerializer(rows, many=True).data)

    @extend_schema(request=ThemeCreateSerializer, responses={201: ThemeSerializer},
                   summary="Create a theme (leads) or propose one (coders: always a candidate, off the board)")
    def post(self, request: Request, study_id: int) -> Response:
        d = _validated(ThemeCreateSerializer(data=request.data))
        theme = theme_services.theme_create(
            actor=acting_user(request), study_id=study_id, name=d["name"], description=d.get("description", ""),
            plain_description=d.get("plain_description", ""), status=d.get("status", ThemeStatus.CANDIDATE),
            on_board=d.get("on_board", False), parent_id=d.get("parent"), code_ids=d.get("codes", []),
            ip=client_ip(request))
        return Response(ThemeSerializer(theme).data, status=status.HTTP_201_CREATED)


class ThemeDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_ANALYSE, methods=("GET",)),
                          StudyPermission(Perm.THEME_EDIT, methods=("PATCH", "DELETE"))]

    @extend_schema(responses=ThemeDetailSerializer, summary="A theme with participants and segments per group")
    def get(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_ANALYSE)
        counts = theme_selectors.theme_group_counts(user=request.user, study_id=study_id, theme=theme)
        return Response({"theme": ThemeSerializer(theme).data, "counts": ThemeGroupCountSerializer(counts, many=True).data})

    @extend_schema(request=ThemeUpdateSerializer, responses={200: ThemeSerializer, 409: ThemeConflictSerializer})
    def patch(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_EDIT)
        d = _validated(ThemeUpdateSerializer(data=request.data, partial=True))
        version = d.pop("version", None)
        if version is None:
            raise serializers.ValidationError({"version": "Send the version you read."})
        try:
            theme = theme_services.theme_update(actor=acting_user(request), study_id=study_id, theme_id=theme_id,
                                          version=version, changes=d, ip=client_ip(request))
        except theme_services.ConflictError as exc:
            return _conflict(exc)
        return Response(ThemeSerializer(theme).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme_services.theme_delete(actor=acting_user(request), study_id=study_id, theme_id=theme_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThemeSegmentsAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_ANALYSE)]

    @extend_schema(
        parameters=[OpenApiParameter("group", int, description="participant group id (required)"),
                    OpenApiParameter("page", int)],
        responses=ThemeSegmentPageSerializer, summary="One page of the segments behind a theme from one participant group")
    def get(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_ANALYSE)
        try:
            group = int(request.query_params.get("group", ""))
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            raise serializers.ValidationError({"group": "Give a participant group id and a page number."}) from None
        if not (0 < group < 2**63 and 0 < page <= 10_000):
            raise serializers.ValidationError({"group": "Out of range."})
        result = theme_selectors.theme_segments_page(user=request.user, study_id=study_id, theme=theme, group_id=group,
                                               page=page)
        return Response(ThemeSegmentPageSerializer(result).data)


class ThemeHistoryAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_ANALYSE)]

    @extend_schema(responses=ThemeEditSerializer(many=True), summary="The theme's saved changes, newest first")
    def get(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_ANALYSE)
        return Response(ThemeEditSerializer(theme_selectors.theme_history(user=request.user, study_id=study_id, theme=theme),
                                       many=True).data)


class QuoteListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_ANALYSE, methods=("GET",)),
                          StudyPermission(Perm.QUOTE_CURATE, methods=("POST",))]

    @extend_schema(responses=TeamQuoteSerializer(many=True),
                   summary="The theme's curated quotes in your scope; hidden ones say why (consent, redaction)")
    def get(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_ANALYSE)
        views = quote_selectors.theme_quotes_for_team(user=request.user, study_id=study_id, theme=theme)
        return Response(TeamQuoteSerializer(views, many=True).data)

    @extend_schema(request=QuoteCreateSerializer, responses={201: TeamQuoteSerializer})
    def post(self, request: Request, study_id: int, theme_id: int) -> Response:
        d = _validated(QuoteCreateSerializer(data=request.data))
        quote = quote_services.quote_create(
            actor=acting_user(request), study_id=study_id, theme_id=theme_id, coding_id=d["coding"],
            start=d.get("start"), end=d.get("end"), text=d.get("text"), content_note=d.get("content_note", ""),
            ip=client_ip(request))
        view = next(v for v in quote_selectors.theme_quotes_for_team(user=request.user, study_id=study_id,
                                                                 theme=quote.theme) if v.quote.pk == quote.pk)
        return Response(TeamQuoteSerializer(view).data, status=status.HTTP_201_CREATED)


class QuoteDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.QUOTE_CURATE)]

    @extend_schema(request=QuoteUpdateSerializer, responses=TeamQuoteSerializer)
    def patch(self, request: Request, study_id: int, theme_id: int, quote_id: int) -> Response:
        d = _validated(QuoteUpdateSerializer(data=request.data))
        quote = quote_services.quote_update(
            actor=acting_user(request), study_id=study_id, theme_id=theme_id, quote_id=quote_id,
            content_note=d.get("content_note"), text=d.get("text"), start=d.get("start"), end=d.get("end"),
            ip=client_ip(request))
        view = next(v for v in quote_selectors.theme_quotes_for_team(user=request.user, study_id=study_id,
                                                                 theme=quote.theme) if v.quote.pk == quote.pk)
        return Response(TeamQuoteSerializer(view).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id: int, theme_id: int, quote_id: int) -> Response:
        quote_services.quote_remove(actor=acting_user(request), study_id=study_id, theme_id=theme_id, quote_id=quote_id,
                              ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# The board ----------------------------------------------------------------------------------------


class ThemeReportSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    format = serializers.ChoiceField(choices=[("md", "Markdown"), ("docx", "Word")])
    audience = serializers.ChoiceField(choices=[("team", "for the paper"), ("ppi", "plain-language summary")])


class ThemeReportAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.EXPORT)]

    @extend_schema(request=ThemeReportSerializer, responses={202: None},
                   summary="Start writing the themes report; follow the job at the returned job URL")
    def post(self, request: Request, study_id: int) -> Response:
        d = _validated(ThemeReportSerializer(data=request.data))
        job = report_services.themes_report_start(actor=acting_user(request), study_id=study_id, fmt=d["format"],
                                           audience=d["audience"], ip=client_ip(request))
        return Response({"job": job.pk, "url": f"/api/v1/studies/{study_id}/jobs/{job.pk}/"},
                        status=status.HTTP_202_ACCEPTED)


class BoardAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_VIEW)]

    @extend_schema(responses=BoardSerializer,
                   summary="The PPI board: shared themes in plain words with quotes labelled by participant group")
    def get(self, request: Request, study_id: int) -> Response:
        themes = board_selectors.board_themes(user=request.user, study_id=study_id)
        ids = [t.pk for t in themes]
        quotes = quote_selectors.board_quotes(user=request.user, study_id=study_id, theme_ids=ids)
        counts = board_selectors.reaction_counts(theme_ids=ids)
        mine = board_selectors.my_reactions(user=request.user, theme_ids=ids)
        data = {
            "support_line": board_selectors.support_line(study_id=study_id),
            "themes": [{
                "id": t.pk, "parent": t.parent_id, "name": t.name, "description": t.board_description,
                "status": t.status, "status_in_plain_words": t.plain_status,
                "quotes": [vars(q) for q in quotes.get(t.pk, [])], "reactions": counts[t.pk],
                "my_reaction": mine.get(t.pk, ""),
            } for t in themes],
        }
        response = Response(BoardSerializer(data).data)
        response["Cache-Control"] = "no-store"
        return response


class BoardSettingsAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_VIEW, methods=("GET",)),
                          StudyPermission(Perm.BOARD_SETTINGS, methods=("PUT",))]

    @extend_schema(responses=BoardSettingsSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        return Response({"support_line": board_selectors.support_line(study_id=study_id)})

    @extend_schema(request=BoardSettingsSerializer, responses=BoardSettingsSerializer)
    def put(self, request: Request, study_id: int) -> Response:
        d = _validated(BoardSettingsSerializer(data=request.data))
        row = board_services.board_settings_update(actor=acting_user(request), study_id=study_id,
                                             support_line=d["support_line"], ip=client_ip(request))
        return Response({"support_line": row.support_line})


class CommentListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_VIEW, methods=("GET",)),
                          StudyPermission(Perm.THEME_COMMENT, methods=("POST",))]

    @extend_schema(responses=CommentSerializer(many=True), summary="A theme's comments, oldest first (threads: parent)")
    def get(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme = theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id)
        rows = Comment.objects.filter(theme=theme).select_related("author", "decided_by").order_by("created_at", "id")
        return Response(CommentSerializer(rows, many=True, context={"user_id": request.user.pk}).data)

    @extend_schema(request=CommentCreateSerializer, responses={201: CommentSerializer})
    def post(self, request: Request, study_id: int, theme_id: int) -> Response:
        theme_selectors.theme_get(user=request.user, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_COMMENT)
        d = _validated(CommentCreateSerializer(data=request.data))
        comment = comment_services.comment_create(
            actor=acting_user(request), study_id=study_id, theme_id=theme_id, body=d["body"],
            parent_id=d.get("parent"), quote_id=d.get("quote"), kind=d["kind"],
            suggested_name=d.get("suggested_name", ""), ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data,
                        status=status.HTTP_201_CREATED)


class CommentDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_COMMENT)]

    @extend_schema(request=CommentUpdateSerializer, responses=CommentSerializer,
                   summary="Change your own comment (its earlier text is kept)")
    def patch(self, request: Request, study_id: int, comment_id: int) -> Response:
        comment_selectors.comment_get(user=request.user, study_id=study_id, comment_id=comment_id)
        d = _validated(CommentUpdateSerializer(data=request.data))
        comment = comment_services.comment_update(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                          body=d["body"], ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data)

    @extend_schema(responses={204: None}, summary="Delete a comment (its author, or a lead)")
    def delete(self, request: Request, study_id: int, comment_id: int) -> Response:
        comment_services.comment_delete(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentResolveAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.COMMENT_MODERATE)]

    @extend_schema(request=CommentResolveSerializer, responses=CommentSerializer, summary="Resolve or reopen a thread (leads)")
    def post(self, request: Request, study_id: int, comment_id: int) -> Response:
        d = _validated(CommentResolveSerializer(data=request.data))
        comment = comment_services.comment_resolve(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                           resolved=d["resolved"], ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data)


class SuggestionDecisionAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.COMMENT_MODERATE)]

    @extend_schema(request=SuggestionDecisionSerializer, responses=CommentSerializer,
                   summary="Accept or decline a suggestion (leads; a reason is needed to decline)")
    def post(self, request: Request, study_id: int, comment_id: int) -> Response:
        d = _validated(SuggestionDecisionSerializer(data=request.data))
        comment = comment_services.suggestion_decide(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                             accept=d["accept"], reason=d.get("reason", ""), ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data)


class ReactionAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_COMMENT)]

    @extend_schema(request=ReactionSerializer, responses=ReactionSerializer,
                   summary="Your reaction to a theme: rings_true, not_sure, not_true, or empty to take it back")
    def put(self, request: Request, study_id: int, theme_id: int) -> Response:
        d = _validated(ReactionSerializer(data=request.data))
        reaction = comment_services.reaction_set(actor=acting_user(request), study_id=study_id, theme_id=theme_id,
                                         value=d["value"])
        return Response({"value": reaction.value if reaction else ""})


# Comments on codes (the team) and notifications --------------------------------------------------


class CodeCommentListAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_VIEW, methods=("GET",)),
                          StudyPermission(Perm.CODE_COMMENT, methods=("POST",))]

    @extend_schema(responses=CommentSerializer(many=True),
                   summary="The team's comments on a code, oldest first (threads: parent)")
    def get(self, request: Request, study_id: int, code_id: int) -> Response:
        rows = comment_selectors.code_comments(user=request.user, study_id=study_id, code_id=code_id)
        return Response(CommentSerializer(rows, many=True, context={"user_id": request.user.pk}).data)

    @extend_schema(request=CodeCommentCreateSerializer, responses={201: CommentSerializer},
                   summary="Comment on a code, or reply to a comment on it (leads and coders)")
    def post(self, request: Request, study_id: int, code_id: int) -> Response:
        comment_services.code_comment_allowed(actor=acting_user(request), study_id=study_id, code_id=code_id)
        d = _validated(CodeCommentCreateSerializer(data=request.data))
        comment = comment_services.comment_create(
            actor=acting_user(request), study_id=study_id, code_id=code_id, body=d["body"],
            parent_id=d.get("parent"), ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data,
                        status=status.HTTP_201_CREATED)


class CodeCommentDetailAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_VIEW)]

    @extend_schema(request=CommentUpdateSerializer, responses=CommentSerializer,
                   summary="Change your own comment on a code (its earlier text is kept)")
    def patch(self, request: Request, study_id: int, code_id: int, comment_id: int) -> Response:
        comment_selectors.code_comment_get(user=request.user, study_id=study_id, code_id=code_id, comment_id=comment_id)
        d = _validated(CommentUpdateSerializer(data=request.data))
        comment = comment_services.comment_update(actor=acting_user(request), study_id=study_id,
                                                  comment_id=comment_id, body=d["body"], ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data)

    @extend_schema(responses={204: None}, summary="Delete a comment on a code (its author, or a lead)")
    def delete(self, request: Request, study_id: int, code_id: int, comment_id: int) -> Response:
        comment_selectors.code_comment_get(user=request.user, study_id=study_id, code_id=code_id, comment_id=comment_id)
        comment_services.comment_delete(actor=acting_user(request), study_id=study_id, comment_id=comment_id,
                                        ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodeCommentResolveAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.CODEBOOK_VIEW),
                          StudyPermission(Perm.COMMENT_MODERATE)]

    @extend_schema(request=CommentResolveSerializer, responses=CommentSerializer,
                   summary="Resolve or reopen a thread on a code (leads)")
    def post(self, request: Request, study_id: int, code_id: int, comment_id: int) -> Response:
        comment_selectors.code_comment_get(user=request.user, study_id=study_id, code_id=code_id, comment_id=comment_id)
        d = _validated(CommentResolveSerializer(data=request.data))
        comment = comment_services.comment_resolve(actor=acting_user(request), study_id=study_id,
                                                   comment_id=comment_id, resolved=d["resolved"], ip=client_ip(request))
        return Response(CommentSerializer(comment, context={"user_id": request.user.pk}).data)


class NotificationsAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_VIEW)]

    @extend_schema(responses=NotificationsSerializer,
                   summary="Latest comments by others on the board and (the team) on codes; suggestions waiting "
                           "(leads). Reading it does not mark them read: the notifications page does")
    def get(self, request: Request, study_id: int) -> Response:
        return Response(NotificationsSerializer(notification_selectors.notifications(user=request.user, study_id=study_id)).data)


class DigestAPI(APIView):
    permission_classes = [*API_DEFAULT, StudyPermission(Perm.THEME_VIEW)]

    @extend_schema(responses=DigestSerializer, summary="How often you get the e-mail summary")
    def get(self, request: Request, study_id: int) -> Response:
        return Response({"every": board_selectors.digest_choice(user=request.user, study_id=study_id)})

    @extend_schema(request=DigestSerializer, responses=DigestSerializer,
                   summary="Choose the e-mail summary: off, daily or weekly")
    def put(self, request: Request, study_id: int) -> Response:
        d = _validated(DigestSerializer(data=request.data))
        board_services.board_digest_choose(actor=acting_user(request), study_id=study_id, every=d["every"])
        return Response({"every": board_selectors.digest_choice(user=request.user, study_id=study_id)})
