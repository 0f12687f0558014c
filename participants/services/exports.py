"""Participants CSV export: pseudonymised (never the identifiable fields), scoped, formula-safe,
built by a Celery job."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from jobs.csv import csv_bytes
from jobs.models import Job
from jobs.services import job_attach_file, job_create, job_progress, job_run

from ..consent_rules import DataUse, data_use_allowed
from ..models import AttributeDefinition
from ..purgers import PARTICIPANTS_EXPORT_KIND


def participants_export_allowed(*, user: Any, study_id: int) -> bool:
    return policy.has_perm(user=user, study=study_id, perm=Perm.PARTICIPANT_EXPORT)


@transaction.atomic
def participants_export_start(*, actor: User, study_id: int, ip: str | None = None) -> Job:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.PARTICIPANT_VIEW)
    if not participants_export_allowed(user=actor, study_id=study.pk):
        raise PermissionDenied("Your role in this study does not allow exporting participants.")
    job = job_create(study=study, kind=PARTICIPANTS_EXPORT_KIND, created_by=actor, perm=Perm.PARTICIPANT_EXPORT,
                     task="participants.participants_export")
    audit_record(actor=actor, action="participants.export", study=study, obj=job, ip=ip)
    return job


def participants_export_run(*, job_id: int) -> Job | None:
    from ..selectors import participant_list

    def work(job: Job) -> dict[str, Any]:
        # The job asks the policy again as its creator: scope and role as of now.
        if not participants_export_allowed(user=job.created_by, study_id=job.study_id):
            raise PermissionDenied("No longer allowed to export participants.")
        qs = participant_list(user=job.created_by, study_id=job.study_id).select_related("consent_form")
        attrs = list(AttributeDefinition.objects.filter(study_id=job.study_id).values_list("key", flat=True))
        item_keys: list[str] = []
        for p in qs:
            for k in p.consent_answers or {}:
                if k not in item_keys:
                    item_keys.append(k)
        header = ["participant_id", "group", "site", "interview_date", "consent_state", "consent_form_version",
                  "consent_date", "withdrawn_on", *[f"consent_{k}" for k in item_keys],
                  "may_code", "may_quote", "may_archive", *attrs]
        total = qs.count()
        job_progress(job_id=job.pk, done=0, total=total)
        rows = []
        yn = {True: "yes", False: "no", None: ""}
        for p in qs:
            rows.append([
                p.pseudonym, p.group.key, p.site.name if p.site else "",
                p.interview_date.isoformat() if p.interview_date else "", p.consent_state,
                p.consent_form.version if p.consent_form else "", p.consent_date.isoformat() if p.consent_date else "",
                p.withdrawn_on.isoformat() if p.withdrawn_on else "",
                *[yn[(p.consent_answers or {}).get(k)] for k in item_keys],
                *[yn[data_use_allowed(participant=p, use=u)] for u in (DataUse.CODING, DataUse.QUOTING, DataUse.ARCHIVING)],
                *[(p.attributes or {}).get(k, "") for k in attrs],
            ])
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        job_attach_file(job=job, name=f"participants-study{job.study_id}-{stamp}.csv", content=csv_bytes(header, rows))
        job_progress(job_id=job.pk, done=total)
        return {"participants": total}

    return job_run(job_id=job_id, work=work)
