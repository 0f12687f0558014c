"""Writes of themes, quotes, comments, reactions and board settings.

Keyword-only, typed, named ``<entity>_<action>``. Each service asks the policy module itself (so the
pages, the API, the demo and tasks cannot disagree), runs in one transaction, and records an audit
event for what a study must be able to account for: theme status changes, quote curation and
removal, suggestion decisions, comment resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Membership, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Code
from analysis.themes import selectors
from analysis.themes.models import (
    BoardSettings,
    Comment,
    CommentKind,
    CommentRevision,
    Decision,
    Quote,
    Reaction,
    ReactionValue,
    Theme,
    ThemeEdit,
    ThemeStatus,
)
from participants.consent_rules import DataUse, data_use_allowed

NAME_MAX = 200
TEXT_MAX = 20_000
COMMENT_MAX = 10_000
NOTE_MAX = 200
SUPPORT_MAX = 1_000
MAX_INT = 2**31 - 1
REPORT_KIND = "themes_report"
THEME_FIELDS = ("name", "description", "plain_description", "status", "on_board", "position", "parent", "codes")


class ConflictError(Exception):
    """The theme changed since the client read it. ``current`` is the theme as it is now."""

    def __init__(self, current: Theme) -> None:
        self.current = current
        at = timezone.localtime(current.updated_at).strftime("%H:%M")
        super().__init__(
            f"{current.updated_by.display_name} changed this theme at {at} (now version {current.version}); "
            "your change was not saved."
        )


# Validation -------------------------------------------------------------------------------------


def _text(value: Any, *, field: str, limit: int, required: bool = False, label: str = "This") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    if "\x00" in value:
        raise ValidationError({field: "Text cannot contain NUL characters."})
    value = value.strip()
    if required and not value:
        raise ValidationError({field: f"{label} cannot be empty."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters (this has {len(value):,})."})
    return value


def _name(value: Any, field: str = "name") -> str:
    name = " ".join(_text(value, field=field, limit=NAME_MAX * 2, required=True, label="A name").split())
    if len(name) > NAME_MAX:
        raise ValidationError({field: f"A name has at most {NAME_MAX} characters."})
    return name


def _id(value: Any, *, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a whole number."})
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Must be a whole number."}) from None
    if not 0 < out < 2**63:
        raise ValidationError({field: "No such item."})
    return out


def _int(value: Any, *, field: str, low: int = 0, high: int = MAX_INT) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a whole number."})
    try:
        out = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({field: "Must be a whole number."}) from None
    if not low <= out <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return out


def _membership(*, actor: User, study_id: int, perm: Perm) -> Membership:
    return policy.membership_require(user=actor, study_id=study_id, perm=perm)


def _theme_locked(*, study_id: int, theme_id: Any) -> Theme:
    try:
        pk = int(theme_id)
    except (TypeError, ValueError):
        raise Http404("No such theme.") from None
    theme = Theme.objects.select_for_update().filter(study_id=study_id, pk=pk).first() if 0 < pk < 2**63 else None
    if theme is None:
        raise Http404("No such theme.")
    return theme


def _codes(*, study_id: int, code_ids: Iterable[Any]) -> list[Code]:
    ids = sorted({_id(c, field="codes") for c in code_ids})
    codes = list(Code.objects.filter(study_id=study_id, pk__in=ids))
    if len(codes) != len(ids):
        raise ValidationError({"codes": "One of these codes is not in this study's codebook."})
    return codes


def _parent(*, study_id: int, parent_id: Any, theme: Theme | None) -> Theme | None:
    if parent_id in (None, ""):
        return None
    pk = _id(parent_id, field="parent")
    parent = Theme.objects.filter(study_id=study_id, pk=pk).first()
    if parent is None:
        raise ValidationError({"parent": "No such theme in this study."})
    if theme is not None:
        node: Theme | None = parent
        seen = set()
        while node is not None and node.pk not in seen:  # no theme may sit inside itself
            if node.pk == theme.pk:
                raise ValidationError({"parent": "A theme cannot be a sub-theme of itself or of its own sub-theme."})
            seen.add(node.pk)
            node = node.parent
    return parent


def _save_unique(obj: Theme) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "This study already has a theme with this name."}) from exc


# Themes -----------------------------------------------------------------------------------------


@transaction.atomic
def theme_create(
    *, actor: User, study_id: int, name: str, description: str = "", plain_description: str = "",
    status: str = ThemeStatus.CANDIDATE, on_board: bool = False, parent_id: int | None = None,
    code_ids: Iterable[int] = (), ip: str | None = None,
) -> Theme:
    """A lead creates a theme; a coder proposes one (always a candidate, not yet on the board)."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.THEME_PROPOSE)
    if not policy.role_allows(membership.role, Perm.THEME_EDIT):
        status, on_board = ThemeStatus.CANDIDATE, False
    if status not in ThemeStatus.values:
        raise ValidationError({"status": "Choose candidate, reviewed or final."})
    parent = _parent(study_id=study_id, parent_id=parent_id, theme=None)
    codes = _codes(study_id=study_id, code_ids=code_ids)
    position = (Theme.objects.filter(study_id=study_id, parent=parent).aggregate(m=Max("position"))["m"] or 0) + 1
    theme = Theme(
        study_id=study_id, parent=parent, name=_name(name),
        description=_text(description, field="description", limit=TEXT_MAX),
        plain_description=_text(plain_description, field="plain_description", limit=TEXT_MAX),
        status=status, on_board=bool(on_board), position=position, created_by=actor, updated_by=actor,
    )
    _save_unique(theme)
    theme.codes.set(codes)
    ThemeEdit.objects.create(theme=theme, version=1, actor=actor, summary="Created", changes={})
    audit_record(actor=actor, action="theme.create", study=membership.study, obj=theme, ip=ip,
                 details={"name": theme.name, "status": theme.status, "codes": [c.name for c in codes]})
    return theme


def _changes_clean(*, study_id: int, theme: Theme, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(THEME_FIELDS)
    if unknown:
        raise ValidationError({k: "This field cannot be changed here." for k in sorted(unknown)})
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            out[key] = _name(value)
        elif key in ("description", "plain_description"):
            out[key] = _text(value, field=key, limit=TEXT_MAX)
        elif key == "status":
            if value not in ThemeStatus.values:
                raise ValidationError({"status": "Choose candidate, reviewed or final."})
            out[key] = value
        elif key == "on_board":
            if not isinstance(value, bool):
                raise ValidationError({"on_board": "Must be true or false."})
            out[key] = value
        elif key == "position":
            out[key] = _int(value, field="position")
        elif key == "parent":
            out[key] = _parent(study_id=study_id, parent_id=value, theme=theme)
        elif key == "codes":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise ValidationError({"codes": "Must be a list of code ids."})
            out[key] = _codes(study_id=study_id, code_ids=value)
    return out


def _apply(*, actor: User, theme: Theme, clean: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply cleaned changes to a locked theme; return what changed as ``{field: [before, after]}``."""
    diff: dict[str, list[Any]] = {}
    for key, value in clean.items():
        if key == "codes":
            before = sorted(theme.codes.values_list("name", flat=True))
            after = sorted(c.name for c in value)
            if before != after:
                theme.codes.set(value)
                diff["codes"] = [before, after]
        elif key == "parent":
            if theme.parent_id != (value.pk if value else None):
                diff["parent"] = [theme.parent.name if theme.parent else "", value.name if value else ""]
                theme.parent = value
        elif getattr(theme, key) != value:
            diff[key] = [getattr(theme, key), value]
            setattr(theme, key, value)
    if diff:
        theme.version += 1
        theme.updated_by, theme.updated_at = actor, timezone.now()
        _save_unique(theme)
        ThemeEdit.objects.create(theme=theme, version=theme.version, actor=actor,
                                 summary=_summary(diff), changes=diff)
    return diff


_LABELS = {"name": "name", "description": "description", "plain_description": "plain-language description",
           "status": "status", "on_board": "shown on the board", "position": "order", "parent": "parent theme",
           "codes": "codes"}


def _summary(diff: Mapping[str, Any]) -> str:
    return ("Changed " + ", ".join(_LABELS.get(k, k) for k in diff))[:300]


@transaction.atomic
def theme_update(
    *, actor: User, study_id: int, theme_id: Any, version: int, changes: Mapping[str, Any], ip: str | None = None,
) -> Theme:
    """Change a theme. ``version`` is the one the editor read; a stale one raises :class:`ConflictError`."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.THEME_EDIT)
    theme = _theme_locked(study_id=study_id, theme_id=theme_id)
    clean = _changes_clean(study_id=study_id, theme=theme, changes=changes)
    if _int(version, field="version", low=1) != theme.version:
        raise ConflictError(theme)
    old_status = theme.status
    diff = _apply(actor=actor, theme=theme, clean=clean)
    if diff:
        audit_record(actor=actor, action="theme.update", study=membership.study, obj=theme, ip=ip,
                     details={"name": theme.name, "changed": sorted(diff)})
    if theme.status != old_status:
        audit_record(actor=actor, action="theme.status", study=membership.study, obj=theme, ip=ip,
                     details={"name": theme.name, "from": old_status, "to": theme.status})
    return theme


@transaction.atomic
def theme_delete(*, actor: User, study_id: int, theme_id: Any, ip: str | None = None) -> None:
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.THEME_EDIT)
    theme = _theme_locked(study_id=study_id, theme_id=theme_id)
    details = {"name": theme.name, "quotes": theme.quotes.count(), "comments": theme.comments.count()}
    audit_record(actor=actor, action="theme.delete", study=membership.study, obj=theme, ip=ip, details=details)
    theme.delete()


# Code dependents (registered in apps.py) -------------------------------------------------------


def theme_codes_count(code_ids: list[int]) -> int:
    return Theme.codes.through.objects.filter(code_id__in=code_ids).count()


def theme_codes_move_for_merge(source_id: int, target_id: int) -> int:
    through = Theme.codes.through.objects
    already = set(through.filter(code_id=target_id).values_list("theme_id", flat=True))
    through.filter(code_id=source_id, theme_id__in=already).delete()
    return through.filter(code_id=source_id).update(code_id=target_id)


# Quotes -----------------------------------------------------------------------------------------


def _span_in_segment(*, segment_text: str, seg_start: int, seg_end: int, start: Any, end: Any,
                     text: Any) -> tuple[int, int]:
    """The quote's ``[start, end)``: given directly (code points) or as the trimmed text, which must be a
    continuous part of the segment (a quote is trimmed, never rewritten)."""
    if text not in (None, ""):
        wanted = _text(text, field="text", limit=len(segment_text) + 1, required=True, label="The quote")
        at = segment_text.find(wanted)
        if at < 0:
            raise ValidationError({"text": "A quote can only be shortened at its start or end: "
                                           "this text is not a continuous part of the coded segment."})
        return seg_start + at, seg_start + at + len(wanted)
    if start in (None, "") and end in (None, ""):
        return seg_start, seg_end
    s = _int(seg_start if start in (None, "") else start, field="start")
    e = _int(seg_end if end in (None, "") else end, field="end")
    if not seg_start <= s < e <= seg_end:
        raise ValidationError({"start": "A quote must lie inside its coded segment and contain some text."})
    return s, e


@transaction.atomic
def quote_create(
    *, actor: User, study_id: int, theme_id: Any, coding_id: Any, start: Any = None, end: Any = None,
    text: Any = None, content_note: str = "", ip: str | None = None,
) -> Quote:
    """Curate a quote for a theme from one of the theme's coded segments that the lead can see."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    theme = _theme_locked(study_id=study_id, theme_id=theme_id)
    coding = selectors.theme_coding_get(user=actor, study_id=study_id, theme=theme, coding_id=coding_id)
    from analysis.transcripts.models import Transcript

    # Locked like a correction locks it, so a redaction cannot move the text under the new span.
    transcript = Transcript.objects.select_for_update().select_related("participant").get(pk=coding.transcript_id)
    coding.refresh_from_db(fields=["start", "end", "lost"])
    if coding.lost:
        raise ValidationError({"coding": "The text of this segment was deleted."})
    participant = transcript.participant
    if not data_use_allowed(participant=participant, use=DataUse.QUOTING):
        raise ValidationError({"coding": selectors.quote_hidden_reason(participant, use=DataUse.QUOTING)})
    s, e = _span_in_segment(segment_text=transcript.text[coding.start:coding.end], seg_start=coding.start,
                            seg_end=coding.end, start=start, end=end, text=text)
    position = (Quote.objects.filter(theme=theme).aggregate(m=Max("position"))["m"] or 0) + 1
    quote = Quote.objects.create(
        study_id=study_id, theme=theme, transcript=transcript, coding=coding, start=s, end=e,
        content_note=_text(content_note, field="content_note", limit=NOTE_MAX), position=position,
        created_by=actor,
    )
    audit_record(actor=actor, action="quote.add", study=membership.study, obj=quote, ip=ip,
                 details={"theme": theme.name, "participant": participant.pseudonym, "characters": e - s,
                          "content_note": quote.content_note})
    return quote


def _quote_locked(*, actor: User, study_id: int, theme_id: Any, quote_id: Any) -> Quote:
    theme = _theme_locked(study_id=study_id, theme_id=theme_id)
    visible = selectors.quotes_in_scope(user=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    try:
        pk = int(quote_id)
    except (TypeError, ValueError):
        raise Http404("No such quote.") from None
    quote = visible.select_for_update().filter(theme=theme, pk=pk).first() if 0 < pk < 2**63 else None
    if quote is None:
        raise Http404("No such quote.")
    return quote


@transaction.atomic
def quote_update(
    *, actor: User, study_id: int, theme_id: Any, quote_id: Any, content_note: Any = None, text: Any = None,
    start: Any = None, end: Any = None, ip: str | None = None,
) -> Quote:
    """Change a quote's content note, or trim it again within the segment it came from."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    quote = _quote_locked(actor=actor, study_id=study_id, theme_id=theme_id, quote_id=quote_id)
    changed: dict[str, Any] = {}
    if content_note is not None:
        note = _text(content_note, field="content_note", limit=NOTE_MAX)
        if note != quote.content_note:
            changed["content_note"] = [quote.content_note, note]
            quote.content_note = note
    if text not in (None, "") or start not in (None, "") or end not in (None, ""):
        from analysis.transcripts.models import Transcript

        transcript = Transcript.objects.select_for_update().get(pk=quote.transcript_id)
        seg_start, seg_end = quote.start, quote.end
        if quote.coding_id:
            from analysis.coding.models import Coding

            coding = Coding.objects.filter(pk=quote.coding_id, lost=False).first()
            if coding is not None:
                seg_start, seg_end = coding.start, coding.end
        s, e = _span_in_segment(segment_text=transcript.text[seg_start:seg_end], seg_start=seg_start,
                                seg_end=seg_end, start=start, end=end, text=text)
        if (s, e) != (quote.start, quote.end):
            changed["characters"] = [quote.end - quote.start, e - s]
            quote.start, quote.end, quote.lost = s, e, False
    if changed:
        quote.updated_at = timezone.now()
        quote.save()
        audit_record(actor=actor, action="quote.update", study=membership.study, obj=quote, ip=ip,
                     details={"theme": quote.theme.name, **{k: v for k, v in changed.items()}})
    return quote


@transaction.atomic
def quote_remove(*, actor: User, study_id: int, theme_id: Any, quote_id: Any, ip: str | None = None) -> None:
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    quote = _quote_locked(actor=actor, study_id=study_id, theme_id=theme_id, quote_id=quote_id)
    audit_record(actor=actor, action="quote.remove", study=membership.study, obj=quote, ip=ip,
                 details={"theme": quote.theme.name})
    quote.delete()


def quotes_purge(*, participant: Any) -> dict[str, int]:
    """Purger (settings.CHORUS_PURGERS): a participant who withdrew with deletion leaves no quote, no
    comment on one of their quotes, and no comment that repeats the words of one of their quotes."""
    quotes = Quote.objects.filter(transcript__participant=participant)
    texts = [
        t for t in quotes.annotate(
            words=Substr("transcript__text", F("start") + 1, F("end") - F("start"))
        ).values_list("words", flat=True) if t and len(t.strip()) >= 12
    ]
    on_quotes = Comment.objects.filter(quote__in=quotes.values("pk"))
    removed = {"quote_comments": on_quotes.count()}
    on_quotes.delete()
    quoting = 0
    for comment in Comment.objects.filter(study_id=participant.study_id, deleted_at__isnull=True).exclude(body=""):
        body = " ".join(comment.body.split())
        if any(" ".join(t.split()) in body for t in texts):
            CommentRevision.objects.filter(comment=comment).delete()
            Comment.objects.filter(pk=comment.pk).update(body="", deleted_at=timezone.now())
            quoting += 1
    removed["comments_quoting"] = quoting
    removed["quotes"] = quotes.count()
    quotes.delete()
    removed["theme_reports"] = _reports_drop(study_id=participant.study_id)
    return {k: v for k, v in removed.items() if v}  # the purge report lists what was there


def _reports_drop(*, study_id: int) -> int:
    """Report files of the study may hold a withdrawn participant's words: remove them (the job rows stay)."""
    from jobs.models import Job

    dropped = 0
    for job in Job.objects.filter(study_id=study_id, kind=REPORT_KIND).exclude(result_file=""):
        job.result_file.storage.delete(str(job.result_file.name))
        dropped += 1
    Job.objects.filter(study_id=study_id, kind=REPORT_KIND).exclude(result_file="").update(result_file="")
    return dropped


# Comments ---------------------------------------------------------------------------------------


def _theme_readable(*, actor: User, study_id: int, theme_id: Any) -> Theme:
    theme = selectors.theme_get(user=actor, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_COMMENT)
    return Theme.objects.select_for_update().get(pk=theme.pk)


@transaction.atomic
def comment_create(
    *, actor: User, study_id: int, theme_id: Any, body: Any, parent_id: Any = None, quote_id: Any = None,
    kind: str = CommentKind.COMMENT, suggested_name: Any = "", ip: str | None = None,
) -> Comment:
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.THEME_COMMENT)
    theme = _theme_readable(actor=actor, study_id=study_id, theme_id=theme_id)
    text = _text(body, field="body", limit=COMMENT_MAX, required=True, label="A comment")
    if kind not in CommentKind.values:
        raise ValidationError({"kind": "Choose a comment or one of the suggestions."})
    parent = None
    if parent_id not in (None, ""):
        parent = Comment.objects.filter(theme=theme, pk=_id(parent_id, field="parent")).first()
        if parent is None:
            raise Http404("No such comment on this theme.")
        if parent.deleted_at is not None:
            raise ValidationError({"parent": "This comment was deleted: you cannot reply to it."})
        parent = parent if parent.parent_id is None else parent.parent  # threads are one level deep
        if kind != CommentKind.COMMENT:
            raise ValidationError({"kind": "A reply is a comment; make a suggestion as a new comment."})
    quote = None
    if quote_id not in (None, ""):
        shown = selectors.quotes_shown(user=actor, study_id=study_id, theme=theme)
        quote = shown.filter(pk=_id(quote_id, field="quote")).first()
        if quote is None:
            raise Http404("No such quote on this theme.")
    name = ""
    if kind in (CommentKind.RENAME, CommentKind.NEW_THEME):
        name = _name(suggested_name, field="suggested_name")
    elif suggested_name not in (None, ""):
        _text(suggested_name, field="suggested_name", limit=NAME_MAX)
    comment = Comment.objects.create(
        study_id=study_id, theme=theme, quote=quote, parent=parent, author=actor, body=text, kind=kind,
        suggested_name=name, decision="" if kind == CommentKind.COMMENT else Decision.OPEN,
    )
    if kind != CommentKind.COMMENT:
        audit_record(actor=actor, action="suggestion.create", study=membership.study, obj=comment, ip=ip,
                     details={"theme": theme.name, "kind": kind})
    return comment


def _comment_locked(*, actor: User, study_id: int, comment_id: Any) -> Comment:
    try:
        pk = int(comment_id)
    except (TypeError, ValueError):
        raise Http404("No such comment.") from None
    if not 0 < pk < 2**63:
        raise Http404("No such comment.")
    readable = selectors.themes_readable(user=actor, study_id=study_id, perm=Perm.THEME_COMMENT).values("pk")
    comment = Comment.objects.select_for_update().filter(study_id=study_id, theme__in=readable, pk=pk).first()
    if comment is None:
        raise Http404("No such comment.")
    return comment


@transaction.atomic
def comment_update(*, actor: User, study_id: int, comment_id: Any, body: Any, ip: str | None = None) -> Comment:
    """Only the author changes their words; the text before each edit is kept."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.THEME_COMMENT)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if not policy.may_edit_comment(membership=membership, author_id=comment.author_id):
        raise PermissionDenied("Only the person who wrote a comment can change it.")
    if comment.deleted_at is not None:
        raise ValidationError({"body": "This comment was deleted."})
    text = _text(body, field="body", limit=COMMENT_MAX, required=True, label="A comment")
    if text != comment.body:
        CommentRevision.objects.create(comment=comment, body=comment.body)
        comment.body, comment.edited_at = text, timezone.now()
        comment.save(update_fields=["body", "edited_at"])
    return comment


@transaction.atomic
def comment_delete(*, actor: User, study_id: int, comment_id: Any, ip: str | None = None) -> Comment:
    """The comment stays in its thread as “deleted”, without its words or their history."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.THEME_COMMENT)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if not policy.may_delete_comment(membership=membership, author_id=comment.author_id):
        raise PermissionDenied("Only its author or a lead can delete a comment.")
    if comment.deleted_at is None:
        CommentRevision.objects.filter(comment=comment).delete()
        comment.body, comment.deleted_at = "", timezone.now()
        comment.save(update_fields=["body", "deleted_at"])
        if comment.author_id != actor.pk:
            audit_record(actor=actor, action="comment.delete", study=membership.study, obj=comment, ip=ip,
                         details={"theme": comment.theme.name})
    return comment


@transaction.atomic
def comment_resolve(
    *, actor: User, study_id: int, comment_id: Any, resolved: bool, ip: str | None = None,
) -> Comment:
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.COMMENT_MODERATE)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if comment.parent_id is not None:
        raise ValidationError({"comment": "Resolve the thread from its first comment."})
    if not isinstance(resolved, bool):
        raise ValidationError({"resolved": "Must be true or false."})
    if resolved == (comment.resolved_at is not None):
        return comment
    comment.resolved_at = timezone.now() if resolved else None
    comment.resolved_by = actor if resolved else None
    comment.save(update_fields=["resolved_at", "resolved_by"])
    audit_record(actor=actor, action="comment.resolve" if resolved else "comment.reopen", study=membership.study,
                 obj=comment, ip=ip, details={"theme": comment.theme.name})
    return comment


@transaction.atomic
def suggestion_decide(
    *, actor: User, study_id: int, comment_id: Any, accept: bool, reason: Any = "", ip: str | None = None,
) -> Comment:
    """Accept or decline a suggestion. Accepting a new name renames the theme; accepting a new theme
    creates it as a candidate. The outcome is written in the board's words for the person who suggested it."""
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.COMMENT_MODERATE)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if not comment.is_suggestion:
        raise ValidationError({"comment": "This comment is not a suggestion."})
    if comment.deleted_at is not None:
        raise ValidationError({"comment": "This suggestion was deleted."})
    if comment.decision != Decision.OPEN:
        raise ValidationError({"comment": "This suggestion has already been decided."})
    if not isinstance(accept, bool):
        raise ValidationError({"accept": "Must be true or false."})
    why = _text(reason, field="reason", limit=COMMENT_MAX, required=not accept, label="A reason")
    theme = Theme.objects.select_for_update().get(pk=comment.theme_id)
    if accept:
        if comment.kind == CommentKind.RENAME:
            old = theme.name
            _apply(actor=actor, theme=theme, clean={"name": _name(comment.suggested_name)})
            outcome = f"The team renamed this theme from “{old}” to “{theme.name}” after this suggestion."
        elif comment.kind == CommentKind.NEW_THEME:
            new = theme_create(actor=actor, study_id=study_id, name=comment.suggested_name,
                               plain_description=comment.body[:TEXT_MAX], ip=ip)
            outcome = f"The team added a new theme, “{new.name}”, after this suggestion."
        elif comment.kind == CommentKind.MERGE:
            outcome = "The team agreed to join this theme with another after this suggestion."
        else:
            outcome = "The team agreed to split this theme after this suggestion."
    else:
        outcome = "The team decided not to make this change."
    now = timezone.now()
    comment.decision = Decision.ACCEPTED if accept else Decision.DECLINED
    comment.decision_reason, comment.decided_by, comment.decided_at = why, actor, now
    comment.outcome = outcome[:300]
    comment.resolved_at, comment.resolved_by = now, actor
    comment.save()
    audit_record(actor=actor, action="suggestion.decide", study=membership.study, obj=comment, ip=ip,
                 details={"theme": theme.name, "kind": comment.kind, "decision": comment.decision, "reason": why})
    return comment


# Reactions, visits and settings -----------------------------------------------------------------


@transaction.atomic
def board_digest_choose(*, actor: User, study_id: int, digest: bool) -> None:
    """Each member chooses whether to get the board's e-mail digest (off until they ask for it)."""
    from analysis.themes.models import BoardVisit

    _membership(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    if not isinstance(digest, bool):
        raise ValidationError({"digest": "Must be true or false."})
    visit, _ = BoardVisit.objects.get_or_create(user=actor, study_id=study_id)
    if visit.digest != digest:
        BoardVisit.objects.filter(pk=visit.pk).update(digest=digest, digest_sent_at=timezone.now() if digest else None)


def board_digests_send(*, now: Any = None) -> int:
    """E-mail each member who asked for it what is new since their last digest (numbers and theme names,
    never a comment's or quote's words: e-mail leaves the system). Returns how many were sent."""
    from django.conf import settings as django_settings
    from django.core.mail import send_mail
    from django.urls import reverse

    from analysis.themes.models import BoardVisit

    now = now or timezone.now()
    sent = 0
    for visit in BoardVisit.objects.filter(digest=True, user__is_active=True).select_related("user", "study"):
        since = visit.digest_sent_at or visit.seen_at
        news = selectors.board_news_since(user=visit.user, study_id=visit.study_id, since=since)
        if news is None or not (news.new_comments or news.open_suggestions):
            continue
        lines = [f"What is new on the theme board of “{visit.study.name}”:", ""]
        lines += [f"- {n} new comment{'s' if n != 1 else ''} on “{name}”" for name, n in news.by_theme]
        if news.open_suggestions:
            lines += [f"- {news.open_suggestions} suggestion(s) waiting for a decision"]
        base = getattr(django_settings, "CHORUS_BASE_URL", "").rstrip("/")
        lines += ["", f"Read them: {base}{reverse('board', kwargs={'study_id': visit.study_id})}", "",
                  "You asked for this summary on the board; you can stop it there."]
        send_mail(subject=f"Chorus: new on the theme board of {visit.study.name}", message="\n".join(lines),
                  from_email=None, recipient_list=[visit.user.email])
        BoardVisit.objects.filter(pk=visit.pk).update(digest_sent_at=now)
        sent += 1
    return sent


def board_visit_record(*, actor: User, study_id: int) -> Any:
    """Note that the member has just opened the board; returns when they had last done so (or None)."""
    from analysis.themes.models import BoardVisit

    _membership(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    now = timezone.now()
    visit, created = BoardVisit.objects.get_or_create(user=actor, study_id=study_id, defaults={"seen_at": now})
    if created:
        return None
    before = visit.seen_at
    BoardVisit.objects.filter(pk=visit.pk).update(seen_at=now)
    return before



@transaction.atomic
def reaction_set(*, actor: User, study_id: int, theme_id: Any, value: Any) -> Reaction | None:
    """One reaction per person and theme; an empty value takes it back."""
    _membership(actor=actor, study_id=study_id, perm=Perm.THEME_COMMENT)
    theme = _theme_readable(actor=actor, study_id=study_id, theme_id=theme_id)
    if value in (None, ""):
        Reaction.objects.filter(theme=theme, user=actor).delete()
        return None
    if value not in ReactionValue.values:
        raise ValidationError({"value": "Choose rings true, not sure or doesn’t ring true."})
    reaction, _ = Reaction.objects.update_or_create(
        theme=theme, user=actor, defaults={"value": value, "updated_at": timezone.now()})
    return reaction


@transaction.atomic
def board_settings_update(*, actor: User, study_id: int, support_line: Any, ip: str | None = None) -> BoardSettings:
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.BOARD_SETTINGS)
    text = _text(support_line, field="support_line", limit=SUPPORT_MAX)
    settings_row, _ = BoardSettings.objects.select_for_update().get_or_create(study_id=study_id)
    if settings_row.support_line != text:
        settings_row.support_line, settings_row.updated_by, settings_row.updated_at = text, actor, timezone.now()
        settings_row.save()
        audit_record(actor=actor, action="board.settings", study=membership.study, obj=settings_row, ip=ip,
                     details={"support_line": text})
    return settings_row


# The report ---------------------------------------------------------------------------------------


def themes_report_start(*, actor: User, study_id: int, fmt: Any, audience: Any, ip: str | None = None) -> Any:
    """Start the report job (leads: an export). ``fmt`` is md or docx; ``audience`` team or ppi."""
    from analysis.themes.report import AUDIENCES, FORMATS
    from analysis.themes.tasks import themes_report_task
    from jobs.services import job_create

    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.EXPORT)
    if fmt not in FORMATS:
        raise ValidationError({"format": "Choose md (Markdown) or docx (Word)."})
    if audience not in AUDIENCES:
        raise ValidationError({"audience": "Choose team or ppi."})
    job = job_create(study=study, kind=REPORT_KIND, created_by=actor, perm=Perm.EXPORT,
                     params={"format": fmt, "audience": audience},
                     task=themes_report_task)
    audit_record(actor=actor, action="themes.report", study=study, obj=job, ip=ip,
                 details={"format": fmt, "audience": audience})
    return job


def themes_report_run(*, job_id: int) -> Any:
    from analysis.themes import report
    from jobs.services import job_attach_file, job_progress, job_run

    def work(job: Any) -> dict[str, Any]:
        fmt, audience = job.params.get("format"), job.params.get("audience")
        job_progress(job_id=job.pk, done=0, total=1)
        # As its creator sees the study now: a member removed since gets nothing, consent is read today.
        policy.membership_forget(user=job.created_by)
        title, themes = report.report_content(user=job.created_by, study=job.study, audience=audience)
        slug = "ppi-summary" if audience == "ppi" else "themes"
        if fmt == "docx":
            job_attach_file(job=job, name=f"{slug}.docx",
                            content=report.report_docx(title, themes, audience=audience))
        else:
            job_attach_file(job=job, name=f"{slug}.md",
                            content=report.report_markdown(title, themes, audience=audience).encode("utf-8"))
        job_progress(job_id=job.pk, done=1)
        return {"themes": len(themes), "quotes": sum(len(t.quotes) for t in themes)}

    return job_run(job_id=job_id, work=work)
