"""Reads for studies, members and the audit trail. Each takes the acting user and asks the policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet

from . import policy
from .models import AuditEvent, Membership, ParticipantGroup, Site, Study
from .policy import Perm


def study_list(*, user: Any) -> QuerySet[Study]:
    return policy.studies_visible(user=user).annotate(member_count=Count("memberships", distinct=True))


def site_list(*, user: Any, study_id: int) -> QuerySet[Site]:
    study = policy.study_get_for_user(user=user, study_id=study_id)
    return Site.objects.filter(study=study)


def group_list(*, user: Any, study_id: int) -> QuerySet[ParticipantGroup]:
    study = policy.study_get_for_user(user=user, study_id=study_id)
    return ParticipantGroup.objects.filter(study=study)


def membership_list(*, user: Any, study_id: int) -> QuerySet[Membership]:
    study = policy.study_get_for_user(user=user, study_id=study_id, perm=Perm.MEMBER_VIEW)
    return (
        Membership.objects.filter(study=study)
        .select_related("user")
        .prefetch_related("scope_sites", "scope_groups")
        .order_by("role", "user__email")
    )


def member_count(*, user: Any, study_id: int) -> int | None:
    """How many members the study has, for a member who may see the member list (None otherwise)."""
    if not policy.has_perm(user=user, study=study_id, perm=Perm.MEMBER_VIEW):
        return None
    return Membership.objects.filter(study_id=study_id).count()


def membership_get(*, user: Any, study_id: int, membership_id: int) -> Membership:
    return policy.get_visible_or_404(
        user=user, study=study_id, perm=Perm.MEMBER_VIEW,
        queryset=Membership.objects.filter(study_id=study_id).select_related("user"), pk=membership_id,
    )


def _study_audit_events(study: Study) -> QuerySet[AuditEvent]:
    """A study's own events, and the sign-in events (which belong to no study) of its members, so
    the data manager can see who signed in, and failed to, with access to this study's data."""
    members = Membership.objects.filter(study=study)
    auth_of_members = Q(study__isnull=True, action__startswith="auth.") & (
        Q(actor_id__in=members.values("user_id")) | Q(actor__isnull=True, actor_email__in=members.values("user__email"))
    )
    return AuditEvent.objects.filter(Q(study=study) | auth_of_members)


def audit_event_list(
    *,
    user: Any,
    study_id: int,
    actor_id: int | None = None,
    action: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    study = policy.study_get_for_user(user=user, study_id=study_id, perm=Perm.AUDIT_VIEW)
    qs = _study_audit_events(study).select_related("actor")
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if action:
        # "membership" matches every membership.* action; "membership.update" matches just that one.
        qs = qs.filter(action=action) if "." in action else qs.filter(action__startswith=f"{action}.")
    if date_from:
        qs = qs.filter(at__date__gte=date_from)
    if date_to:
        qs = qs.filter(at__date__lte=date_to)
    return qs.order_by("-at", "-id")


def audit_actions(*, user: Any, study_id: int) -> list[str]:
    study = policy.study_get_for_user(user=user, study_id=study_id, perm=Perm.AUDIT_VIEW)
    return sorted(set(_study_audit_events(study).values_list("action", flat=True).distinct()))


def audit_actors(*, user: Any, study_id: int) -> list[tuple[int, str]]:
    study = policy.study_get_for_user(user=user, study_id=study_id, perm=Perm.AUDIT_VIEW)
    rows = (
        _study_audit_events(study).filter(actor__isnull=False)
        .values_list("actor_id", "actor__email")
        .distinct()
        .order_by("actor__email")
    )
    return [(pk, email) for pk, email in rows]
