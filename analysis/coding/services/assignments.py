"""Blind double coding: assigning, marking done, and the agreement report job (its figures are
read by :mod:`analysis.coding.selectors.assignments`).

A lead assigns a transcript to two coders. Until both mark it done, neither sees the other's
codings on it (coding_selectors.hidden_coders applies it to the page, the API and the live feed).
Agreement is computed only on complete assignments; the study-wide report runs as a Celery job.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Membership, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Assignment
from analysis.coding.selectors.assignments import agreement_compute
from analysis.transcripts.selectors import transcripts_visible
from jobs.models import Job
from jobs.services import job_create, job_progress, job_run


def _member_coder(*, study_id: int, user_id: Any, transcript_id: int) -> User:
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        raise ValidationError("Choose two coders of this study.") from None
    m = Membership.objects.filter(study_id=study_id, user_id=uid, user__is_active=True).select_related("user").first()
    if m is None or not policy.may_double_code(m.role):
        raise ValidationError("Choose two members of this study who can code.")
    if not transcripts_visible(user=m.user, study_id=study_id, perm=Perm.CODING_WRITE).filter(pk=transcript_id).exists():
        raise ValidationError(f"{m.user.display_name} cannot see this transcript (outside their scope).")
    return m.user


@transaction.atomic
def assignment_create(
    *, actor: User, study_id: int, transcript_id: Any, coder_a_id: Any, coder_b_id: Any, ip: str | None = None
) -> Assignment:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.ASSIGNMENT_MANAGE)
    try:
        tid = int(transcript_id)
    except (TypeError, ValueError):
        raise Http404("No such transcript.") from None
    if not transcripts_visible(user=actor, study_id=study_id).filter(pk=tid).exists():
        raise Http404("No such transcript.")
    a = _member_coder(study_id=study_id, user_id=coder_a_id, transcript_id=tid)
    b = _member_coder(study_id=study_id, user_id=coder_b_id, transcript_id=tid)
    if a.pk == b.pk:
        raise ValidationError("Choose two different coders.")
    if Assignment.objects.filter(transcript_id=tid).exists():
        raise ValidationError("This transcript is already assigned for double coding.")
    assignment = Assignment.objects.create(study=study, transcript_id=tid, coder_a=a, coder_b=b, created_by=actor)
    audit_record(actor=actor, action="coding.assign", study=study, obj=assignment, ip=ip,
                 details={"transcript": tid, "coders": [a.email, b.email]})
    return assignment


@transaction.atomic
def assignment_mark_done(*, actor: User, study_id: int, transcript_id: Any, done: bool = True) -> Assignment:
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.CODING_WRITE)
    a = Assignment.objects.select_for_update().filter(study_id=study_id, transcript_id=transcript_id).first()
    if a is None or not transcripts_visible(user=actor, study_id=study_id).filter(pk=a.transcript_id).exists():
        raise Http404("No such assignment.")
    stamp = timezone.now() if done else None
    if actor.pk == a.coder_a_id:
        a.done_a = stamp
    elif actor.pk == a.coder_b_id:
        a.done_b = stamp
    else:
        raise PermissionDenied("Only the two assigned coders can mark their coding done.")
    if not done and a.complete:
        raise ValidationError("Both coders are done; the codings are no longer blind.")
    a.save(update_fields=["done_a", "done_b"])
    return a


@transaction.atomic
def agreement_report_start(*, actor: User, study_id: int, ip: str | None = None) -> Job:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.AGREEMENT_VIEW)
    job = job_create(study=study, kind="agreement_report", created_by=actor, perm=Perm.AGREEMENT_VIEW, params={},
                     task="coding.agreement_report")
    audit_record(actor=actor, action="coding.agreement_report", study=study, obj=job, ip=ip, details={})
    return job


def agreement_report_run(*, job_id: int) -> Job | None:
    def work(job: Job) -> dict[str, Any]:
        job_progress(job_id=job.pk, done=0, total=1)
        # The job re-asks the policy as its creator: a member removed since gets nothing.
        result = agreement_compute(user=job.created_by, study_id=job.study_id)
        job_progress(job_id=job.pk, done=1)
        return result

    return job_run(job_id=job_id, work=work)


AGREEMENT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def agreement_report_export(*, actor: User, study_id: int, job_id: int, fmt: str, ip: str | None = None
                            ) -> tuple[bytes, str, str]:
    """A finished agreement report job's tables as CSV or XLSX: (content, filename, content type).
    Only its creator, while they may still read agreement; the download is audited like any export."""
    from analysis.coding.agreement_report import agreement_csv, agreement_xlsx
    from jobs.models import JobStatus
    from jobs.selectors import job_get

    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.AGREEMENT_VIEW)
    job = job_get(user=actor, study_id=study_id, job_id=job_id)
    if job.kind != "agreement_report" or job.status != JobStatus.DONE or fmt not in AGREEMENT_FORMATS:
        raise Http404("No such report.")
    content = agreement_csv(job.result) if fmt == "csv" else agreement_xlsx(job.result)
    audit_record(actor=actor, action="export.download", study=study, obj=job, ip=ip,
                 details={"kind": job.kind, "format": fmt})
    stamp = (job.finished_at or job.created_at).strftime("%Y-%m-%d")
    return content, f"agreement-{stamp}.{fmt}", AGREEMENT_FORMATS[fmt]
