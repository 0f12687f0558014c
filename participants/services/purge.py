"""The purge job: a withdrawal with ``delete_data`` removes the participant's data everywhere
(through the purger registry in ``participants.purgers``) and leaves an audit tombstone."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from jobs.models import Job, JobStatus
from jobs.services import JobError, job_create, job_run, job_send_now

from ..models import ConsentEvent, ConsentState, EventKind, Participant, WithdrawalScope
from ..purgers import purgers
from .participants import participant_for_write

PURGE_KIND = "participant_purge"


def participant_purge_start(*, actor: User, participant: Participant, ip: str | None = None) -> Job:
    """Queue the purge of a participant who withdrew with deletion (called inside the withdrawal's
    transaction; the task is sent when it commits)."""
    job = job_create(
        study=participant.study, kind=PURGE_KIND, created_by=actor, perm=Perm.CONSENT_MANAGE,
        params={"participant_id": participant.pk},
        task="participants.participant_purge", must_finish=True,
    )
    audit_record(
        actor=actor, action="participant.purge_start", study=participant.study, obj=participant, ip=ip,
        details={"pseudonym": participant.pseudonym, "job": job.pk},
    )
    return job


@transaction.atomic
def participant_purge_retry(*, actor: User, study_id: int, participant_id: int, ip: str | None = None) -> Job:
    """Start the purge again: a new job when the last one failed, else send the unfinished one now."""
    from django.core.exceptions import ValidationError

    participant = participant_for_write(actor=actor, study_id=study_id, participant_id=participant_id,
                                        perm=Perm.CONSENT_MANAGE)
    if participant.consent_state != ConsentState.WITHDRAWN_DELETE:
        raise ValidationError("Only a participant who withdrew with deletion of data is purged.")
    if participant.purged_at is not None:
        raise ValidationError("This participant's data has already been deleted.")
    active = Job.objects.filter(kind=PURGE_KIND, params__participant_id=participant.pk,
                                status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).order_by("-created_at").first()
    if active is not None:
        # Never "already under way" for ever: a purge waiting out its backoff, or whose worker died,
        # is sent again now (a live one ignores the extra message).
        job_send_now(job=active)
        return active
    return participant_purge_start(actor=actor, participant=participant, ip=ip)


def participant_purge_run(*, job_id: int) -> Job | None:
    def work(job: Job) -> dict[str, Any]:
        with transaction.atomic():
            participant = (
                Participant.objects.select_for_update(of=("self",)).select_related("study")
                .filter(pk=job.params.get("participant_id"), study_id=job.study_id).first()
            )
            if participant is None:
                raise JobError("The participant no longer exists.")
            if participant.consent_state != ConsentState.WITHDRAWN_DELETE:
                raise JobError("The participant has not withdrawn with deletion of data; nothing was purged.")
            if participant.purged_at is not None:
                return {"participant": participant.pseudonym, "note": "already purged"}
            removed: dict[str, int] = {}
            for purger in purgers():
                for key, count in purger(participant=participant).items():
                    removed[key] = removed.get(key, 0) + int(count)
            now = timezone.now()
            Participant.objects.filter(pk=participant.pk).update(purged_at=now, updated_at=now)
            withdrawal = (
                ConsentEvent.objects.filter(participant=participant, kind__in=[EventKind.WITHDRAWAL, EventKind.CORRECTION],
                                            withdrawal_scope=WithdrawalScope.DELETE_DATA)
                .select_related("recorded_by").order_by("-recorded_at").first()
            )
            # The tombstone: who, when, which scope, what was removed. Pseudonym only, no data.
            audit_record(
                actor=job.created_by, action="participant.purge", study=participant.study, obj=participant,
                details={
                    "pseudonym": participant.pseudonym,
                    "withdrawn_on": participant.withdrawn_on.isoformat() if participant.withdrawn_on else "",
                    "scope": WithdrawalScope.DELETE_DATA,
                    "withdrawal_recorded_by": withdrawal.recorded_by.email if withdrawal else "",
                    "purged_at": now.isoformat(), "job": job.pk, "removed": removed,
                },
            )
        return {"participant": participant.pseudonym, **{f"removed: {k}": v for k, v in removed.items()}}

    return job_run(job_id=job_id, work=work)
