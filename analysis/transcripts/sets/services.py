"""Writing transcript sets: create, rename or describe, add and remove transcripts, delete. Each function is
one transaction with its audit event. Who may change a set is ``policy.may_change_transcript_set`` (who made
it, or a lead); which transcripts a member may put in or take out is their visible list
(``transcripts_visible``): an id outside it is refused as "no such transcript", never confirmed to exist."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import policy
from accounts.models import Membership, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.transcripts.models import TranscriptSet, TranscriptSetMember
from analysis.transcripts.selectors import transcripts_visible

from . import selectors

NAME_MAX = 200
DESCRIPTION_MAX = 2_000
# Far above a large programme's 1,000 interviews; a bound so one request cannot ask for millions of rows.
MAX_IDS = 5_000


def _text(value: Any, *, field: str, limit: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Give text."})
    if "\x00" in value:
        raise ValidationError({field: "Text cannot contain NUL characters."})
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not value:
        raise ValidationError({field: "Give the set a name."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters (this has {len(value):,})."})
    return value


def _name_free(*, study_id: int, name: str, exclude_id: int | None = None) -> None:
    taken = TranscriptSet.objects.filter(study_id=study_id, name__iexact=name)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise ValidationError({"name": f"There is already a set called “{name}” in this study: choose another name."})


def _ids(values: Any) -> set[int]:
    if values is None:
        return set()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError({"transcript_ids": "Give a list of transcript ids."})
    values = list(values)
    if len(values) > MAX_IDS:
        raise ValidationError({"transcript_ids": f"At most {MAX_IDS:,} transcripts at a time."})
    out = set()
    for v in values:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise ValidationError({"transcript_ids": "Transcript ids are whole numbers."}) from None
        if not policy.id_ok(n) or n < 1:
            raise ValidationError({"transcript_ids": f"No such transcript: {v}."})
        out.add(n)
    return out


def _visible_ids(*, actor: User, study_id: int, ids: set[int]) -> set[int]:
    """``ids`` if every one is a transcript the actor may see; otherwise a ValidationError naming the first
    that is not, in the same words for one that does not exist and one outside their scope."""
    if not ids:
        return ids
    found = set(transcripts_visible(user=actor, study_id=study_id).filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(ids - found)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ValidationError({"transcript_ids": f"No such transcript: {missing[0]}{more}. "
                                                 "Nothing was changed."})
    return found


def _changeable(*, actor: User, study_id: int, set_id: Any) -> tuple[Membership, TranscriptSet]:
    """The set, locked for the change, if the actor may change it: 404 if they cannot see it, 403 if they
    may see but not change it."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
    found = selectors.set_get(user=actor, study_id=study_id, set_id=set_id)
    if not policy.may_change_transcript_set(membership=membership, author_id=found.created_by_id):
        raise PermissionDenied("Only who made this set, or a lead, can change it.")
    locked = TranscriptSet.objects.select_for_update().get(pk=found.pk)
    return membership, locked


def _add(*, actor: User, transcript_set: TranscriptSet, ids: set[int]) -> int:
    already = set(TranscriptSetMember.objects.filter(transcript_set=transcript_set, transcript_id__in=ids)
                  .values_list("transcript_id", flat=True))
    new = sorted(ids - already)
    now = timezone.now()
    TranscriptSetMember.objects.bulk_create(
        [TranscriptSetMember(transcript_set=transcript_set, transcript_id=t, added_by=actor, added_at=now) for t in new],
        batch_size=500)
    return len(new)


def _touch(transcript_set: TranscriptSet, *, members: bool) -> None:
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if members:
        changes["members_version"] = F("members_version") + 1
    TranscriptSet.objects.filter(pk=transcript_set.pk).update(**changes)
    transcript_set.refresh_from_db(fields=["updated_at", "members_version"])


def transcript_set_create(*, actor: User, study_id: int, name: Any, description: Any = "",
                          transcript_ids: Any = None, ip: str | None = None) -> TranscriptSet:
    """A new set, with the given transcripts (all must be ones the actor may see)."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
    clean_name = _text(name, field="name", limit=NAME_MAX, required=True)
    clean_description = _text(description, field="description", limit=DESCRIPTION_MAX, required=False)
    ids = _visible_ids(actor=actor, study_id=study_id, ids=_ids(transcript_ids))
    _name_free(study_id=study_id, name=clean_name)
    try:
        with transaction.atomic():
            created = TranscriptSet.objects.create(study_id=study_id, name=clean_name, description=clean_description,
                                                   created_by=actor)
            added = _add(actor=actor, transcript_set=created, ids=ids)
            audit_record(actor=actor, action="transcript_set.create", study=membership.study, obj=created, ip=ip,
                         details={"name": clean_name, "transcripts": added})
    except IntegrityError:
        # The same name committed a moment ago by someone else (the check above ran before it).
        raise ValidationError({"name": f"There is already a set called “{clean_name}” in this study: "
                                       "choose another name."}) from None
    return created


def transcript_set_update(*, actor: User, study_id: int, set_id: Any, name: Any = None, description: Any = None,
                          ip: str | None = None) -> TranscriptSet:
    """Rename the set or change its description (``None``: leave as it is)."""
    try:
        with transaction.atomic():
            membership, locked = _changeable(actor=actor, study_id=study_id, set_id=set_id)
            before = {"name": locked.name, "description": locked.description}
            if name is not None:
                locked.name = _text(name, field="name", limit=NAME_MAX, required=True)
                _name_free(study_id=study_id, name=locked.name, exclude_id=locked.pk)
            if description is not None:
                locked.description = _text(description, field="description", limit=DESCRIPTION_MAX, required=False)
            locked.updated_at = timezone.now()
            locked.save(update_fields=["name", "description", "updated_at"])
            audit_record(actor=actor, action="transcript_set.update", study=membership.study, obj=locked, ip=ip,
                         details={"before": before, "after": {"name": locked.name, "description": locked.description}})
    except IntegrityError:
        raise ValidationError({"name": "There is already a set with this name in this study: "
                                       "choose another name."}) from None
    return locked


@transaction.atomic
def transcript_set_add(*, actor: User, study_id: int, set_id: Any, transcript_ids: Any,
                       ip: str | None = None) -> int:
    """Put transcripts in the set; those already in it are left as they are. Returns how many were added."""
    membership, locked = _changeable(actor=actor, study_id=study_id, set_id=set_id)
    ids = _visible_ids(actor=actor, study_id=study_id, ids=_ids(transcript_ids))
    if not ids:
        raise ValidationError({"transcript_ids": "Choose at least one transcript to add."})
    added = _add(actor=actor, transcript_set=locked, ids=ids)
    if added:
        _touch(locked, members=True)
    audit_record(actor=actor, action="transcript_set.add", study=membership.study, obj=locked, ip=ip,
                 details={"name": locked.name, "asked": len(ids), "added": added})
    return added


@transaction.atomic
def transcript_set_remove(*, actor: User, study_id: int, set_id: Any, transcript_ids: Any,
                          ip: str | None = None) -> int:
    """Take transcripts out of the set (only ones the actor may see). Returns how many were removed."""
    membership, locked = _changeable(actor=actor, study_id=study_id, set_id=set_id)
    ids = _visible_ids(actor=actor, study_id=study_id, ids=_ids(transcript_ids))
    if not ids:
        raise ValidationError({"transcript_ids": "Choose at least one transcript to remove."})
    removed, _ = TranscriptSetMember.objects.filter(transcript_set=locked, transcript_id__in=ids).delete()
    if removed:
        _touch(locked, members=True)
    audit_record(actor=actor, action="transcript_set.remove", study=membership.study, obj=locked, ip=ip,
                 details={"name": locked.name, "asked": len(ids), "removed": removed})
    return removed


@transaction.atomic
def transcript_set_delete(*, actor: User, study_id: int, set_id: Any, ip: str | None = None) -> None:
    """Delete the set (the transcripts stay). Matrices asked by it keep the transcripts they counted."""
    membership, locked = _changeable(actor=actor, study_id=study_id, set_id=set_id)
    count = TranscriptSetMember.objects.filter(transcript_set=locked).count()
    audit_record(actor=actor, action="transcript_set.delete", study=membership.study, obj=locked, ip=ip,
                 details={"name": locked.name, "transcripts": count})
    locked.delete()
