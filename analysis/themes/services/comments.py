"""Threaded comments and suggestions on themes, and reactions to themes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Code
from analysis.themes.models import (
    Comment,
    CommentKind,
    CommentRevision,
    Decision,
    Reaction,
    ReactionValue,
    Theme,
)
from analysis.themes.selectors import comments as comment_selectors
from analysis.themes.selectors import quotes as quote_selectors
from analysis.themes.selectors import themes as theme_selectors
from analysis.themes.services.common import (
    COMMENT_MAX,
    NAME_MAX,
    TEXT_MAX,
    clean_id,
    clean_name,
    clean_text,
    membership_for,
)
from analysis.themes.services.themes import theme_changes_apply, theme_create

# Comments ---------------------------------------------------------------------------------------


def _theme_readable(*, actor: User, study_id: int, theme_id: Any) -> Theme:
    theme = theme_selectors.theme_get(user=actor, study_id=study_id, theme_id=theme_id, perm=Perm.THEME_COMMENT)
    return Theme.objects.select_for_update().get(pk=theme.pk)


def _code_commentable(*, actor: User, study_id: int, code_id: Any) -> Code:
    """The code, for a member who may comment on it. Someone who may not read the codebook (a PPI
    co-designer) is told nothing, not even that the code exists (404); a reader who may not comment, 403."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.STUDY_VIEW)
    if not policy.role_allows(membership.role, Perm.CODEBOOK_VIEW):
        raise Http404("No such code.")
    code = Code.objects.select_for_update().filter(study_id=study_id, pk=clean_id(code_id, field="code")).first()
    if code is None:
        raise Http404("No such code.")
    membership_for(actor=actor, study_id=study_id, perm=Perm.CODE_COMMENT)
    return code


def code_comment_allowed(*, actor: User, study_id: int, code_id: Any) -> None:
    """Raise as :func:`comment_create` would for who may comment on which code (before any input check)."""
    with transaction.atomic():
        _code_commentable(actor=actor, study_id=study_id, code_id=code_id)


@transaction.atomic
def comment_create(
    *, actor: User, study_id: int, body: Any, theme_id: Any = None, code_id: Any = None, parent_id: Any = None,
    quote_id: Any = None, kind: str = CommentKind.COMMENT, suggested_name: Any = "", ip: str | None = None,
) -> Comment:
    """A comment (or a reply) on a theme, by anyone on the board, or on a code, by the team. Suggestions
    and comments about a quote are for themes only."""
    if (theme_id in (None, "")) == (code_id in (None, "")):
        raise ValidationError({"target": "A comment is about one theme or one code."})
    on_code = code_id not in (None, "")
    if on_code:
        code: Code | None = _code_commentable(actor=actor, study_id=study_id, code_id=code_id)
        theme: Theme | None = None
        membership = membership_for(actor=actor, study_id=study_id, perm=Perm.CODE_COMMENT)
    else:
        membership = membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_COMMENT)
        theme, code = _theme_readable(actor=actor, study_id=study_id, theme_id=theme_id), None
    text = clean_text(body, field="body", limit=COMMENT_MAX, required=True, label="A comment")
    if kind not in CommentKind.values:
        raise ValidationError({"kind": "Choose a comment or one of the suggestions."})
    if on_code and kind != CommentKind.COMMENT:
        raise ValidationError({"kind": "Suggestions are made on a theme; on a code, write a comment."})
    if on_code and quote_id not in (None, ""):
        raise ValidationError({"quote": "Quotes belong to themes, not codes."})
    parent = None
    if parent_id not in (None, ""):
        parent = Comment.objects.filter(theme=theme, code=code, pk=clean_id(parent_id, field="parent")).first()
        if parent is None:
            raise Http404(f"No such comment on this {'code' if on_code else 'theme'}.")
        if parent.deleted_at is not None:
            raise ValidationError({"parent": "This comment was deleted: you cannot reply to it."})
        parent = parent if parent.parent_id is None else parent.parent  # threads are one level deep
        if kind != CommentKind.COMMENT:
            raise ValidationError({"kind": "A reply is a comment; make a suggestion as a new comment."})
    quote = None
    if quote_id not in (None, "") and theme is not None:
        shown = quote_selectors.quotes_shown(user=actor, study_id=study_id, theme=theme)
        quote = shown.filter(pk=clean_id(quote_id, field="quote")).first()
        if quote is None:
            raise Http404("No such quote on this theme.")
    name = ""
    if kind in (CommentKind.RENAME, CommentKind.NEW_THEME):
        name = clean_name(suggested_name, field="suggested_name")
    elif suggested_name not in (None, ""):
        clean_text(suggested_name, field="suggested_name", limit=NAME_MAX)
    comment = Comment.objects.create(
        study_id=study_id, theme=theme, code=code, quote=quote, parent=parent, author=actor, body=text, kind=kind,
        suggested_name=name, decision="" if kind == CommentKind.COMMENT else Decision.OPEN,
    )
    if kind != CommentKind.COMMENT and theme is not None:
        audit_record(actor=actor, action="suggestion.create", study=membership.study, obj=comment, ip=ip,
                     details={"theme": theme.name, "kind": kind})
    return comment


def _comment_locked(*, actor: User, study_id: int, comment_id: Any) -> Comment:
    """A comment the actor may read (404 otherwise: another study's, a code's for a board-only member)."""
    try:
        pk = int(comment_id)
    except (TypeError, ValueError):
        raise Http404("No such comment.") from None
    if not 0 < pk < 2**63:
        raise Http404("No such comment.")
    readable = comment_selectors.comments_readable(user=actor, study_id=study_id)
    # of=self: the theme and code are outer joins (either may be empty), which PostgreSQL cannot lock.
    comment = readable.select_for_update(of=("self",)).filter(pk=pk).select_related("theme", "code").first()
    if comment is None:
        raise Http404("No such comment.")
    return comment


def _details(comment: Comment) -> dict[str, str]:
    return {"code": comment.target_name} if comment.code_id else {"theme": comment.target_name}


@transaction.atomic
def comment_update(*, actor: User, study_id: int, comment_id: Any, body: Any, ip: str | None = None) -> Comment:
    """Only the author changes their words; the text before each edit is kept."""
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.STUDY_VIEW)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if not policy.may_edit_comment(membership=membership, author_id=comment.author_id,
                                   on_code=comment.code_id is not None):
        raise PermissionDenied("Only the person who wrote a comment can change it.")
    if comment.deleted_at is not None:
        raise ValidationError({"body": "This comment was deleted."})
    text = clean_text(body, field="body", limit=COMMENT_MAX, required=True, label="A comment")
    if text != comment.body:
        CommentRevision.objects.create(comment=comment, body=comment.body)
        comment.body, comment.edited_at = text, timezone.now()
        comment.save(update_fields=["body", "edited_at"])
    return comment


@transaction.atomic
def comment_delete(*, actor: User, study_id: int, comment_id: Any, ip: str | None = None) -> Comment:
    """The comment stays in its thread as “deleted”, without its words or their history."""
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.STUDY_VIEW)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if not policy.may_delete_comment(membership=membership, author_id=comment.author_id,
                                     on_code=comment.code_id is not None):
        raise PermissionDenied("Only its author or a lead can delete a comment.")
    if comment.deleted_at is None:
        CommentRevision.objects.filter(comment=comment).delete()
        comment.body, comment.deleted_at = "", timezone.now()
        comment.save(update_fields=["body", "deleted_at"])
        if comment.author_id != actor.pk:
            audit_record(actor=actor, action="comment.delete", study=membership.study, obj=comment, ip=ip,
                         details=_details(comment))
    return comment


@transaction.atomic
def comment_resolve(
    *, actor: User, study_id: int, comment_id: Any, resolved: bool, ip: str | None = None,
) -> Comment:
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.STUDY_VIEW)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    membership_for(actor=actor, study_id=study_id, perm=Perm.COMMENT_MODERATE)
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
                 obj=comment, ip=ip, details=_details(comment))
    return comment


# Code dependents (registered in apps.py): a code's comments follow it ----------------------------


def code_comments_count(code_ids: list[int]) -> int:
    return Comment.objects.filter(code_id__in=code_ids).count()


def code_comments_move_for_merge(source_id: int, target_id: int) -> int:
    """A merge hands the source code's threads to the target, replies and history with them."""
    return Comment.objects.filter(code_id=source_id).update(code_id=target_id)


@transaction.atomic
def suggestion_decide(
    *, actor: User, study_id: int, comment_id: Any, accept: bool, reason: Any = "", ip: str | None = None,
) -> Comment:
    """Accept or decline a suggestion. Accepting a new name renames the theme; accepting a new theme
    creates it as a candidate. The outcome is written in the board's words for the person who suggested it."""
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.COMMENT_MODERATE)
    comment = _comment_locked(actor=actor, study_id=study_id, comment_id=comment_id)
    if not comment.is_suggestion:
        raise ValidationError({"comment": "This comment is not a suggestion."})
    if comment.deleted_at is not None:
        raise ValidationError({"comment": "This suggestion was deleted."})
    if comment.decision != Decision.OPEN:
        raise ValidationError({"comment": "This suggestion has already been decided."})
    if not isinstance(accept, bool):
        raise ValidationError({"accept": "Must be true or false."})
    why = clean_text(reason, field="reason", limit=COMMENT_MAX, required=not accept, label="A reason")
    theme = Theme.objects.select_for_update().get(pk=comment.theme_id or 0)  # suggestions are on themes
    if accept:
        if comment.kind == CommentKind.RENAME:
            old = theme.name
            theme_changes_apply(actor=actor, theme=theme, clean={"name": clean_name(comment.suggested_name)})
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


@transaction.atomic
def reaction_set(*, actor: User, study_id: int, theme_id: Any, value: Any) -> Reaction | None:
    """One reaction per person and theme; an empty value takes it back."""
    membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_COMMENT)
    theme = _theme_readable(actor=actor, study_id=study_id, theme_id=theme_id)
    if value in (None, ""):
        Reaction.objects.filter(theme=theme, user=actor).delete()
        return None
    if value not in ReactionValue.values:
        raise ValidationError({"value": "Choose rings true, not sure or doesn’t ring true."})
    reaction, _ = Reaction.objects.update_or_create(
        theme=theme, user=actor, defaults={"value": value, "updated_at": timezone.now()})
    return reaction
