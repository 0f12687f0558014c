"""Writes of themes, quotes, comments, reactions and board settings.

Keyword-only, typed, named ``<entity>_<action>``. Each service asks the policy module itself (so the
pages, the API, the demo and tasks cannot disagree), runs in one transaction, and records an audit
event for what a study must be able to account for: theme status changes, quote curation and
removal, suggestion decisions, comment resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Code
from analysis.themes.models import (
    Theme,
    ThemeEdit,
    ThemeStatus,
)
from analysis.themes.services.common import (
    TEXT_MAX,
    clean_id,
    clean_int,
    clean_name,
    clean_text,
    membership_for,
    theme_locked,
)

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


def _codes(*, study_id: int, code_ids: Iterable[Any]) -> list[Code]:
    ids = sorted({clean_id(c, field="codes") for c in code_ids})
    codes = list(Code.objects.filter(study_id=study_id, pk__in=ids))
    if len(codes) != len(ids):
        raise ValidationError({"codes": "One of these codes is not in this study's codebook."})
    return codes


def _parent(*, study_id: int, parent_id: Any, theme: Theme | None) -> Theme | None:
    if parent_id in (None, ""):
        return None
    pk = clean_id(parent_id, field="parent")
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
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_PROPOSE)
    if not policy.role_allows(membership.role, Perm.THEME_EDIT):
        status, on_board = ThemeStatus.CANDIDATE, False
    if status not in ThemeStatus.values:
        raise ValidationError({"status": "Choose candidate, reviewed or final."})
    parent = _parent(study_id=study_id, parent_id=parent_id, theme=None)
    codes = _codes(study_id=study_id, code_ids=code_ids)
    position = (Theme.objects.filter(study_id=study_id, parent=parent).aggregate(m=Max("position"))["m"] or 0) + 1
    theme = Theme(
        study_id=study_id, parent=parent, name=clean_name(name),
        description=clean_text(description, field="description", limit=TEXT_MAX),
        plain_description=clean_text(plain_description, field="plain_description", limit=TEXT_MAX),
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
            out[key] = clean_name(value)
        elif key in ("description", "plain_description"):
            out[key] = clean_text(value, field=key, limit=TEXT_MAX)
        elif key == "status":
            if value not in ThemeStatus.values:
                raise ValidationError({"status": "Choose candidate, reviewed or final."})
            out[key] = value
        elif key == "on_board":
            if not isinstance(value, bool):
                raise ValidationError({"on_board": "Must be true or false."})
            out[key] = value
        elif key == "position":
            out[key] = clean_int(value, field="position")
        elif key == "parent":
            out[key] = _parent(study_id=study_id, parent_id=value, theme=theme)
        elif key == "codes":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise ValidationError({"codes": "Must be a list of code ids."})
            out[key] = _codes(study_id=study_id, code_ids=value)
    return out


def theme_changes_apply(*, actor: User, theme: Theme, clean: dict[str, Any]) -> dict[str, list[Any]]:
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
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_EDIT)
    theme = theme_locked(study_id=study_id, theme_id=theme_id)
    clean = _changes_clean(study_id=study_id, theme=theme, changes=changes)
    if clean_int(version, field="version", low=1) != theme.version:
        raise ConflictError(theme)
    old_status = theme.status
    diff = theme_changes_apply(actor=actor, theme=theme, clean=clean)
    if diff:
        audit_record(actor=actor, action="theme.update", study=membership.study, obj=theme, ip=ip,
                     details={"name": theme.name, "changed": sorted(diff)})
    if theme.status != old_status:
        audit_record(actor=actor, action="theme.status", study=membership.study, obj=theme, ip=ip,
                     details={"name": theme.name, "from": old_status, "to": theme.status})
    return theme


@transaction.atomic
def theme_delete(*, actor: User, study_id: int, theme_id: Any, ip: str | None = None) -> None:
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_EDIT)
    theme = theme_locked(study_id=study_id, theme_id=theme_id)
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
