"""Writes to the codebook: create, update (optimistic locking), move, merge, delete.

Keyword-only, typed, named ``<entity>_<action>``. Each service asks the policy module itself (so the
pages, the API, imports and tasks cannot disagree), runs in one transaction and records an audit
event with what changed.

Versions: ``Code.version`` guards a code's own fields and its parent. Every write to them bumps it;
``code_update`` names the version the client read and a stale one raises :class:`ConflictError`
carrying the current row. Re-numbering siblings' positions does not bump their versions (nobody's
edit of a sibling's definition should conflict with a reorder), and those writes touch only
``position``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Study, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.colours import colour_normalise, palette_next
from analysis.coding.dependents import code_dependents
from analysis.coding.models import Code

NAME_MAX = 200
TEXT_MAX = 20_000
PATH_SEPARATOR = "::"
TEXT_FIELDS = ("description", "inclusion_criteria", "exclusion_criteria", "example")
EDITABLE_FIELDS = ("name", *TEXT_FIELDS, "colour", "is_codable")


class ConflictError(Exception):
    """The code changed since the client read it. ``current`` is the row as it is now."""

    def __init__(self, current: Code) -> None:
        self.current = current
        who = current.updated_by.display_name if current.updated_by_id else "Someone"
        at = timezone.localtime(current.updated_at).strftime("%H:%M")
        super().__init__(
            f"{who} changed this code at {at} (now version {current.version}); your change was not saved."
        )


@dataclass
class DeleteImpact:
    """What deleting a code removes: the code, its descendants, and rows that point at any of them."""

    code_ids: list[int]
    names: list[str]
    dependents: dict[str, int] = field(default_factory=dict)

    @property
    def descendants(self) -> int:
        return len(self.code_ids) - 1

    @property
    def codings(self) -> int:
        return self.dependents.get("codings", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "codes": len(self.code_ids), "descendants": self.descendants, "codings": self.codings,
            "dependents": dict(self.dependents), "names": self.names,
        }


@dataclass
class MergeResult:
    target: Code
    merged_codes: list[str]
    moved: dict[str, int]


# Validation helpers ------------------------------------------------------------------------------


def code_name_clean(name: Any) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": "A code needs a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"A code name has at most {NAME_MAX} characters."})
    if PATH_SEPARATOR in name:
        raise ValidationError({"name": "A code name cannot contain “::” (other tools read it as a path separator)."})
    return name


def _clean_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({k: "This field cannot be changed here." for k in sorted(unknown)})
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            out[key] = code_name_clean(value)
        elif key in TEXT_FIELDS:
            text = str(value or "").strip()
            if len(text) > TEXT_MAX:
                raise ValidationError({key: f"At most {TEXT_MAX} characters."})
            out[key] = text
        elif key == "colour":
            try:
                out[key] = colour_normalise(str(value or ""))
            except ValueError as exc:
                raise ValidationError({"colour": str(exc)}) from exc
        elif key == "is_codable":
            if not isinstance(value, bool):
                raise ValidationError({"is_codable": "Must be true or false."})
            out[key] = value
    return out


def _study_for_edit(*, actor: User, study_id: int) -> Study:
    return policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.CODEBOOK_EDIT)


def _code_locked(*, study: Study, code_id: Any) -> Code:
    try:
        pk = int(code_id)
    except (TypeError, ValueError):
        raise Http404("No such code.") from None
    code = Code.objects.select_for_update().filter(study=study, pk=pk).first() if policy.id_ok(pk) else None
    if code is None:
        raise Http404("No such code.")
    return code


def _lock_codes(ids: list[int], *, study: Study | None = None) -> None:
    """Lock every code a delete or merge removes, before any transcript: a coding being written
    holds its code ``FOR KEY SHARE`` and then locks its transcript (coding_services._codes_load), so
    taking codes first here too makes the two wait for each other rather than deadlock."""
    codes = Code.objects.select_for_update().filter(pk__in=sorted(set(ids)))
    list((codes.filter(study=study) if study is not None else codes).order_by("pk").values_list("pk"))


def _parent(*, study: Study, parent_id: Any) -> Code | None:
    if parent_id in (None, ""):
        return None
    try:
        pk = int(parent_id)
    except (TypeError, ValueError):
        raise ValidationError({"parent": "Choose a code of this study as the parent."}) from None
    parent = Code.objects.filter(study=study, pk=pk).first() if policy.id_ok(pk) else None
    if parent is None:
        raise ValidationError({"parent": "Choose a code of this study as the parent."})
    return parent


def _name_taken(*, study: Study, parent_id: int | None, name: str, exclude_pk: int | None = None) -> bool:
    qs = Code.objects.filter(study=study, parent_id=parent_id, name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _name_error(name: str, parent: Code | None) -> ValidationError:
    where = f"under “{parent.name}”" if parent else "at the top level"
    return ValidationError({"name": f"There is already a code called “{name}” {where}."})


def _next_position(*, study: Study, parent_id: int | None) -> int:
    top = Code.objects.filter(study=study, parent_id=parent_id).aggregate(m=Max("position"))["m"]
    return 0 if top is None else top + 1


def code_descendant_ids(*, study: Study, code_id: int) -> list[int]:
    """The code's descendants (not the code), breadth first, from one query over the study."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Code.objects.filter(study=study).values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    out: list[int] = []
    queue = list(children.get(code_id, []))
    while queue:
        pk = queue.pop(0)
        out.append(pk)
        queue.extend(children.get(pk, []))
    return out


def _snapshot(code: Code) -> dict[str, Any]:
    return {"name": code.name, "parent": code.parent_id, "version": code.version}


# Services ----------------------------------------------------------------------------------------


@transaction.atomic
def code_create(
    *,
    actor: User,
    study_id: int,
    name: str,
    parent_id: int | None = None,
    description: str = "",
    inclusion_criteria: str = "",
    exclusion_criteria: str = "",
    example: str = "",
    colour: str | None = None,
    is_codable: bool = True,
    guid: uuid.UUID | None = None,
    ip: str | None = None,
) -> Code:
    study = _study_for_edit(actor=actor, study_id=study_id)
    return _code_insert(
        actor=actor, study=study, parent_id=parent_id, guid=guid, ip=ip, proposed=False,
        changes={"name": name, "description": description, "inclusion_criteria": inclusion_criteria,
                 "exclusion_criteria": exclusion_criteria, "example": example, "is_codable": is_codable,
                 **({"colour": colour} if colour else {})},
    )


@transaction.atomic
def code_propose(*, actor: User, study_id: int, name: Any, parent_id: int | None = None, ip: str | None = None) -> Code:
    """A new code defined from the coding page. A lead's is an ordinary code; a coder's is marked
    proposed (policy: coders propose codes), usable at once and reviewed by a lead in the codebook."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    if not policy.may_propose_code(membership=membership):
        raise PermissionDenied("Your role cannot define codes.")
    if policy.role_allows(membership.role, Perm.CODEBOOK_EDIT):
        return code_create(actor=actor, study_id=study_id, name=name, parent_id=parent_id, ip=ip)
    return _code_insert(actor=actor, study=membership.study, parent_id=parent_id, guid=None, ip=ip, proposed=True,
                        changes={"name": name})


def _code_insert(
    *, actor: User, study: Study, parent_id: int | None, changes: Mapping[str, Any], guid: uuid.UUID | None,
    ip: str | None, proposed: bool,
) -> Code:
    parent = _parent(study=study, parent_id=parent_id)
    fields = _clean_changes(changes)
    if "colour" not in fields:
        fields["colour"] = palette_next(list(Code.objects.filter(study=study).values_list("colour", flat=True)))
    parent_pk = parent.pk if parent else None
    if _name_taken(study=study, parent_id=parent_pk, name=fields["name"]):
        raise _name_error(fields["name"], parent)
    now = timezone.now()
    try:
        with transaction.atomic():
            code = Code.objects.create(
                study=study, parent=parent, position=_next_position(study=study, parent_id=parent_pk),
                created_by=actor, updated_by=actor, created_at=now, updated_at=now,
                guid=guid or uuid.uuid4(), proposed=proposed, **fields,
            )
    except IntegrityError as exc:  # a concurrent create of the same name
        raise _name_error(fields["name"], parent) from exc
    audit_record(
        actor=actor, action="code.propose" if proposed else "code.create", study=study, obj=code, ip=ip,
        details={"name": code.name, "parent": parent_pk},
    )
    return code


@transaction.atomic
def code_update(
    *, actor: User, study_id: int, code_id: int, version: int, changes: Mapping[str, Any], ip: str | None = None
) -> Code:
    """Change a code's fields. ``version`` is the version the client read; if the code has moved on
    since, nothing is written and :class:`ConflictError` carries the current code."""
    study = _study_for_edit(actor=actor, study_id=study_id)
    code = _code_locked(study=study, code_id=code_id)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationError({"version": "Send the version of the code you edited."})
    if code.version != version:
        raise ConflictError(Code.objects.select_related("updated_by").get(pk=code.pk))
    fields = _clean_changes(changes)
    if "name" in fields and _name_taken(
        study=study, parent_id=code.parent_id, name=fields["name"], exclude_pk=code.pk
    ):
        raise _name_error(fields["name"], code.parent)
    before = {k: getattr(code, k) for k in fields}
    changed = {k: v for k, v in fields.items() if before[k] != v}
    if not changed:
        return code
    now = timezone.now()
    try:
        with transaction.atomic():
            # The version condition makes the write itself the check: on SQLite, where
            # select_for_update is a no-op, a concurrent save still cannot slip in between.
            # A lead's edit of a proposed code is its review: it is no longer marked proposed.
            written = Code.objects.filter(pk=code.pk, version=version).update(
                **changed, version=version + 1, updated_by=actor, updated_at=now, proposed=False
            )
    except IntegrityError as exc:
        raise _name_error(str(changed.get("name", code.name)), code.parent) from exc
    if not written:
        raise ConflictError(Code.objects.select_related("updated_by").get(pk=code.pk))
    code.refresh_from_db()
    audit_record(
        actor=actor, action="code.update", study=study, obj=code, ip=ip,
        details={"before": {k: before[k] for k in changed}, "after": changed, "version": code.version},
    )
    return code


@transaction.atomic
def code_move(
    *,
    actor: User,
    study_id: int,
    code_id: int,
    parent_id: int | None,
    position: int | None = None,
    version: int | None = None,
    ip: str | None = None,
) -> Code:
    """Put a code under another parent (None = top level), at ``position`` among its new siblings
    (default: last). A code cannot move under itself or one of its descendants."""
    study = _study_for_edit(actor=actor, study_id=study_id)
    code = _code_locked(study=study, code_id=code_id)
    if version is not None and code.version != version:
        raise ConflictError(Code.objects.select_related("updated_by").get(pk=code.pk))
    parent = _parent(study=study, parent_id=parent_id)
    if parent is not None and (
        parent.pk == code.pk or parent.pk in code_descendant_ids(study=study, code_id=code.pk)
    ):
        raise ValidationError({"parent": "A code cannot move under itself or one of its own sub-codes."})
    parent_pk = parent.pk if parent else None
    if _name_taken(study=study, parent_id=parent_pk, name=code.name, exclude_pk=code.pk):
        raise _name_error(code.name, parent)
    if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
        raise ValidationError({"position": "A position is a whole number from 0."})
    before = _snapshot(code)
    siblings = list(Code.objects.filter(study=study, parent_id=parent_pk).exclude(pk=code.pk).order_by("position", "pk"))
    at = len(siblings) if position is None else min(position, len(siblings))
    order = [*siblings[:at], code, *siblings[at:]]
    for i, sibling in enumerate(order):
        if sibling.pk != code.pk and sibling.position != i:
            Code.objects.filter(pk=sibling.pk).update(position=i)
    parent_changed = code.parent_id != parent_pk
    try:
        with transaction.atomic():
            Code.objects.filter(pk=code.pk).update(
                parent=parent, position=at, updated_by=actor, updated_at=timezone.now(),
                version=code.version + 1 if parent_changed else code.version,
            )
    except IntegrityError as exc:
        raise _name_error(code.name, parent) from exc
    code.refresh_from_db()
    audit_record(
        actor=actor, action="code.move", study=study, obj=code, ip=ip,
        details={"before": before, "after": {**_snapshot(code), "position": at}},
    )
    return code


def _merge_into(*, study: Study, source: Code, target: Code, actor: User, merged: list[str], moved: dict[str, int]) -> None:
    target_children = {c.name.lower(): c for c in Code.objects.filter(study=study, parent=target)}
    for child in list(Code.objects.filter(study=study, parent=source).order_by("position", "pk")):
        twin = target_children.get(child.name.lower())
        if twin is not None:
            _merge_into(study=study, source=child, target=twin, actor=actor, merged=merged, moved=moved)
        else:
            Code.objects.filter(pk=child.pk).update(
                parent=target, position=_next_position(study=study, parent_id=target.pk),
                version=child.version + 1, updated_by=actor, updated_at=timezone.now(),
            )
    for dependent in code_dependents():
        moved[dependent.key] = moved.get(dependent.key, 0) + dependent.merge(source.pk, target.pk)
    merged.append(source.name)
    source.delete()


@transaction.atomic
def code_merge(
    *, actor: User, study_id: int, source_id: int, target_id: int, ip: str | None = None
) -> MergeResult:
    """Merge ``source`` into ``target``: dependants registered in :mod:`analysis.coding.dependents` (codings)
    move to the target with duplicates collapsed, sub-codes move under the target (a sub-code whose
    name the target already has is merged into that one, recursively), then the source is deleted.
    The target keeps its own name, definition and colour."""
    study = _study_for_edit(actor=actor, study_id=study_id)
    # Both codes in id order first, so two merges of the same pair in opposite directions wait for
    # each other instead of deadlocking.
    pair = [i for i in (source_id, target_id) if isinstance(i, int) or str(i).isdigit()]
    _lock_codes([int(i) for i in pair if policy.id_ok(int(i))], study=study)
    source = _code_locked(study=study, code_id=source_id)
    try:
        target = _code_locked(study=study, code_id=target_id)
    except Http404:
        raise ValidationError({"target": "Choose a code of this study to merge into."}) from None
    if source.pk == target.pk:
        raise ValidationError({"target": "A code cannot be merged into itself."})
    source_descendants = code_descendant_ids(study=study, code_id=source.pk)
    if target.pk in source_descendants:
        raise ValidationError({"target": "A code cannot be merged into one of its own sub-codes."})
    # The sub-codes too (the two codes are locked already), before the dependents lock any transcript.
    _lock_codes([*source_descendants, *code_descendant_ids(study=study, code_id=target.pk)])
    details_source = {"id": source.pk, "name": source.name, "guid": str(source.guid)}
    merged: list[str] = []
    moved: dict[str, int] = {}
    _merge_into(study=study, source=source, target=target, actor=actor, merged=merged, moved=moved)
    target.refresh_from_db()
    audit_record(
        actor=actor, action="code.merge", study=study, obj=target, ip=ip,
        details={"source": details_source, "target": {"id": target.pk, "name": target.name},
                 "merged_codes": merged, "moved": moved},
    )
    return MergeResult(target=target, merged_codes=merged, moved=moved)


def code_delete_impact(*, study: Study, code: Code) -> DeleteImpact:
    ids = [code.pk, *code_descendant_ids(study=study, code_id=code.pk)]
    names = list(Code.objects.filter(pk__in=ids).order_by("name").values_list("name", flat=True))
    return DeleteImpact(
        code_ids=ids, names=names, dependents={d.key: d.count(ids) for d in code_dependents()}
    )


@transaction.atomic
def code_delete(
    *, actor: User, study_id: int, code_id: int, confirm: bool, ip: str | None = None
) -> DeleteImpact:
    """Delete a code with its sub-codes and everything that points at them. Refuses unless
    ``confirm`` is true; the caller shows :func:`code_delete_impact` first."""
    study = _study_for_edit(actor=actor, study_id=study_id)
    code = _code_locked(study=study, code_id=code_id)
    impact = code_delete_impact(study=study, code=code)
    if confirm is not True:
        raise ValidationError(
            {"confirm": "Confirm the delete: it removes this code, "
                        f"{impact.descendants} sub-code(s) and {impact.codings} coding(s)."}
        )
    _lock_codes(impact.code_ids)  # with its sub-codes, before the dependents lock any transcript
    for dependent in code_dependents():
        if dependent.delete is not None:
            dependent.delete(impact.code_ids)
    details = {"name": code.name, "guid": str(code.guid), **impact.as_dict()}
    code.delete()
    audit_record(
        actor=actor, action="code.delete", study=study, object_type="coding.code", object_id=code_id,
        ip=ip, details=details,
    )
    return impact
