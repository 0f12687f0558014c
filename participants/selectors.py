"""Reads for participants, consent, the consent dashboard and the sampling frame.

Each takes the acting user and asks the policy module: role for the permission, scope for rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import ParticipantGroup, Site
from accounts.policy import Perm

from .consent_rules import ACTIVE
from .models import (
    AttributeDefinition,
    ConsentEvent,
    ConsentForm,
    ConsentState,
    Participant,
    SamplingTarget,
)


def participant_list(
    *,
    user: Any,
    study_id: int,
    group_id: int | None = None,
    site_id: int | None = None,
    state: str | None = None,
    search: str | None = None,
) -> QuerySet[Participant]:
    qs = policy.filter_visible(
        user=user, study=study_id, perm=Perm.PARTICIPANT_VIEW,
        queryset=Participant.objects.filter(study_id=study_id).select_related("group", "site", "consent_form"),
    )
    if group_id:
        qs = qs.filter(group_id=group_id)
    if site_id:
        qs = qs.filter(site_id=site_id)
    if state:
        qs = qs.filter(consent_state=state)
    if search:
        qs = qs.filter(pseudonym__icontains=search.strip())
    return qs.order_by("pseudonym", "id")


def participant_get(*, user: Any, study_id: int, participant_id: int) -> Participant:
    return policy.get_visible_or_404(
        user=user, study=study_id, perm=Perm.PARTICIPANT_VIEW,
        queryset=Participant.objects.filter(study_id=study_id).select_related("group", "site", "consent_form"),
        pk=participant_id,
    )


def participant_by_pseudonym(*, user: Any, study_id: int, pseudonym: str) -> Participant:
    return policy.get_visible_or_404(
        user=user, study=study_id, perm=Perm.PARTICIPANT_VIEW,
        queryset=Participant.objects.filter(study_id=study_id), pseudonym__iexact=pseudonym,
    )


def consent_event_list(*, user: Any, study_id: int, participant_id: int | None = None) -> QuerySet[ConsentEvent]:
    qs = policy.filter_visible(
        user=user, study=study_id, perm=Perm.CONSENT_VIEW,
        queryset=ConsentEvent.objects.filter(study_id=study_id).select_related(
            "participant", "form", "recorded_by", "taken_by", "corrects"
        ),
    )
    if participant_id is not None:
        qs = qs.filter(participant_id=participant_id)
    return qs.order_by("participant__pseudonym", "date", "recorded_at", "id")


def consent_event_get(*, user: Any, study_id: int, event_id: int) -> ConsentEvent:
    event = consent_event_list(user=user, study_id=study_id).filter(pk=event_id).first()
    if event is None:
        raise Http404("No such consent event.")
    return event


def consent_form_list(*, user: Any, study_id: int) -> QuerySet[ConsentForm]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.CONSENT_VIEW)
    return ConsentForm.objects.filter(study_id=study_id).prefetch_related("items").order_by("effective_from", "id")


def consent_form_get(*, user: Any, study_id: int, form_id: int) -> ConsentForm:
    form = consent_form_list(user=user, study_id=study_id).filter(pk=form_id).first()
    if form is None:
        raise Http404("No such consent form.")
    return form


def attribute_list(*, user: Any, study_id: int) -> QuerySet[AttributeDefinition]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.PARTICIPANT_VIEW)
    return AttributeDefinition.objects.filter(study_id=study_id)


def _visible_sites(*, user: Any, study_id: int) -> list[Site]:
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.STUDY_VIEW)
    scoped = list(membership.scope_sites.all())
    return scoped or list(Site.objects.filter(study_id=study_id))


def _visible_groups(*, user: Any, study_id: int) -> list[ParticipantGroup]:
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.STUDY_VIEW)
    scoped = list(membership.scope_groups.all())
    return scoped or list(ParticipantGroup.objects.filter(study_id=study_id))


def needs_reconsent_q(*, study_id: int) -> Q:
    """Participants who consented on a version older than the newest version that asks for
    re-consent (and have not withdrawn)."""
    latest = (
        ConsentForm.objects.filter(study_id=study_id, reconsent_required=True).order_by("-effective_from", "-id").first()
    )
    if latest is None:
        return Q(pk__in=[])
    older = ConsentForm.objects.filter(study_id=study_id).filter(
        Q(effective_from__lt=latest.effective_from) | Q(effective_from=latest.effective_from, id__lt=latest.pk)
    )
    return Q(consent_state__in=sorted(ACTIVE), consent_form__in=older)


@dataclass
class Dashboard:
    states: list[tuple[str, str]]
    groups: list[ParticipantGroup]
    counts: dict[tuple[int, str], int]
    row_totals: dict[int, int]
    col_totals: dict[str, int]
    total: int
    missing: list[dict[str, Any]] = field(default_factory=list)
    reconsent_form: ConsentForm | None = None
    reconsent: list[Participant] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)


def consent_dashboard(*, user: Any, study_id: int) -> Dashboard:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.CONSENT_VIEW)
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.CONSENT_VIEW,
                               queryset=Participant.objects.filter(study_id=study_id))
    groups = _visible_groups(user=user, study_id=study_id)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for row in qs.values("group_id", "consent_state").annotate(n=Count("id")):
        counts[(row["group_id"], row["consent_state"])] = row["n"]
    states = list(ConsentState.choices)
    row_totals = {g.pk: sum(counts[(g.pk, s)] for s, _ in states) for g in groups}
    col_totals = {s: sum(counts[(g.pk, s)] for g in groups) for s, _ in states}
    dash = Dashboard(states=states, groups=groups, counts=dict(counts), row_totals=row_totals,
                     col_totals=col_totals, total=sum(row_totals.values()))
    # Items not agreed (no, or not answered) by participants whose consent stands.
    active = list(qs.filter(consent_state__in=sorted(ACTIVE)).select_related("group").order_by("pseudonym"))
    labels: dict[str, str] = {}
    for form in ConsentForm.objects.filter(study_id=study_id).prefetch_related("items"):
        for item in form.items.all():
            labels.setdefault(item.key, item.label)
    missing: dict[str, dict[str, Any]] = {}
    for p in active:
        for key, value in (p.consent_answers or {}).items():
            if value is not True:
                entry = missing.setdefault(key, {"key": key, "label": labels.get(key, key), "no": [], "unanswered": []})
                entry["no" if value is False else "unanswered"].append(p)
    dash.missing = sorted(missing.values(), key=lambda e: -(len(e["no"]) + len(e["unanswered"])))
    rq = needs_reconsent_q(study_id=study_id)
    dash.reconsent_form = (
        ConsentForm.objects.filter(study_id=study_id, reconsent_required=True).order_by("-effective_from", "-id").first()
    )
    dash.reconsent = list(qs.filter(rq).select_related("group", "site", "consent_form").order_by("pseudonym"))
    per_form = dict(qs.filter(consent_form__isnull=False).values_list("consent_form").annotate(n=Count("id")))
    dash.forms = [
        {"form": f, "participants": per_form.get(f.pk, 0)}
        for f in ConsentForm.objects.filter(study_id=study_id).order_by("effective_from", "id")
    ]
    return dash


@dataclass
class FrameCell:
    target: int | None
    consented: int
    interviewed: int
    withdrawn: int

    @property
    def shortfall(self) -> int | None:
        return None if self.target is None else max(0, self.target - self.consented)


@dataclass
class SamplingFrame:
    groups: list[ParticipantGroup]
    sites: list[Site]
    cells: dict[tuple[int, int], FrameCell]
    group_totals: dict[int, FrameCell]
    site_totals: dict[int, FrameCell]
    total: FrameCell
    unsited: int = 0


def sampling_frame(*, user: Any, study_id: int) -> SamplingFrame:
    """Targets per group × site against consented and interviewed participants.

    *Consented* = consent stands (consented or partially consented). *Interviewed* = the
    participant's interview date is set and not in the future, and their data is held (consent
    stands or withdrawn with data retained) — until transcripts exist this is the signal we have."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.SAMPLING_VIEW)
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.SAMPLING_VIEW,
                               queryset=Participant.objects.filter(study_id=study_id))
    groups = _visible_groups(user=user, study_id=study_id)
    sites = _visible_sites(user=user, study_id=study_id)
    targets = {
        (t.group_id, t.site_id): t.target
        for t in SamplingTarget.objects.filter(study_id=study_id)
    }
    today = timezone.localdate()
    held = sorted(ACTIVE | {ConsentState.WITHDRAWN_RETAIN})
    agg = qs.values("group_id", "site_id").annotate(
        consented=Count("id", filter=Q(consent_state__in=sorted(ACTIVE))),
        interviewed=Count("id", filter=Q(interview_date__lte=today, consent_state__in=held)),
        withdrawn=Count("id", filter=Q(consent_state__in=[ConsentState.WITHDRAWN_RETAIN, ConsentState.WITHDRAWN_DELETE])),
    )
    found = {(r["group_id"], r["site_id"]): r for r in agg}
    cells: dict[tuple[int, int], FrameCell] = {}
    for g in groups:
        for s in sites:
            r: Any = found.get((g.pk, s.pk), {})
            cells[(g.pk, s.pk)] = FrameCell(targets.get((g.pk, s.pk)), r.get("consented", 0),
                                            r.get("interviewed", 0), r.get("withdrawn", 0))

    def total(cs: list[FrameCell]) -> FrameCell:
        ts = [c.target for c in cs if c.target is not None]
        return FrameCell(sum(ts) if ts else None, sum(c.consented for c in cs), sum(c.interviewed for c in cs),
                         sum(c.withdrawn for c in cs))

    return SamplingFrame(
        groups=groups, sites=sites, cells=cells,
        group_totals={g.pk: total([cells[(g.pk, s.pk)] for s in sites]) for g in groups},
        site_totals={s.pk: total([cells[(g.pk, s.pk)] for g in groups]) for s in sites},
        total=total(list(cells.values())),
        unsited=sum(r["consented"] for k, r in found.items() if k[1] is None),
    )


@dataclass
class PurgePending:
    """A participant whose data deletion has not finished, and the state of its latest job."""

    participant: Participant
    job: Any  # jobs.models.Job | None


def purge_pending_list(*, user: Any, study_id: int) -> list[PurgePending]:
    """Withdrawals with deletion whose purge has not completed yet, for the study's admins (an alert
    until it is done: the purge is retried automatically, but people must see it is outstanding)."""
    from jobs.models import Job

    if not policy.has_perm(user=user, study=study_id, perm=Perm.CONSENT_MANAGE):
        return []
    waiting = list(
        policy.filter_visible(user=user, study=study_id, perm=Perm.CONSENT_MANAGE,
                              queryset=Participant.objects.filter(study_id=study_id))
        .filter(consent_state=ConsentState.WITHDRAWN_DELETE, purged_at__isnull=True).order_by("pseudonym")
    )
    if not waiting:
        return []
    latest: dict[int, Job] = {}
    for job in Job.objects.filter(study_id=study_id, kind="participant_purge").order_by("created_at", "id"):
        pid = job.params.get("participant_id")
        if isinstance(pid, int):
            latest[pid] = job
    return [PurgePending(participant=p, job=latest.get(p.pk)) for p in waiting]
