"""Writes for purposive-sampling targets (set by the lead)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import policy
from accounts.models import ParticipantGroup, Site, User
from accounts.policy import Perm
from accounts.services import audit_record

from ..models import SamplingTarget

MAX_TARGET = 100_000


@transaction.atomic
def sampling_targets_set(
    *, actor: User, study_id: int, targets: Iterable[tuple[int, int, int | None]], ip: str | None = None
) -> list[SamplingTarget]:
    """Set targets as (group_id, site_id, target); a target of None or 0 removes that cell's target.
    Cells not mentioned keep their target."""
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.SAMPLING_MANAGE)
    groups = {g.pk: g for g in ParticipantGroup.objects.filter(study=study)}
    sites = {s.pk: s for s in Site.objects.filter(study=study)}
    errors: list[str] = []
    clean: list[tuple[ParticipantGroup, Site, int | None]] = []
    for group_id, site_id, target in targets:
        group, site = groups.get(group_id), sites.get(site_id)
        if group is None or site is None:
            errors.append("Targets must be for groups and sites of this study.")
            continue
        if target is not None and (not isinstance(target, int) or isinstance(target, bool) or not 0 <= target <= MAX_TARGET):
            errors.append(f"{group.label} at {site.name}: a target is a whole number from 0 to {MAX_TARGET}.")
            continue
        clean.append((group, site, target))
    if errors:
        raise ValidationError({"targets": sorted(set(errors))})
    changes: list[dict[str, object]] = []
    now = timezone.now()
    for group, site, target in clean:
        current = SamplingTarget.objects.filter(study=study, group=group, site=site).first()
        before = current.target if current else None
        after = target or None
        if before == after:
            continue
        if after is None and current is not None:
            current.delete()
        elif current is None:
            SamplingTarget.objects.create(study=study, group=group, site=site, target=after or 0, updated_by=actor,
                                          updated_at=now)
        else:
            current.target, current.updated_by, current.updated_at = after or 0, actor, now
            current.save()
        changes.append({"group": group.key, "site": site.name, "before": before, "after": after})
    if changes:
        audit_record(actor=actor, action="sampling.update", study=study, object_type="participants.samplingtarget",
                     ip=ip, details={"changes": changes})
    return list(SamplingTarget.objects.filter(study=study).select_related("group", "site"))
