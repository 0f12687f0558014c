"""Audit log export: a CSV built by a Celery job, so a long trail never blocks a request."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobs.csv import csv_bytes
from jobs.models import Job
from jobs.services import job_attach_file, job_create, job_progress, job_run

from . import policy, selectors
from .models import User
from .policy import Perm
from .services import audit_record


@transaction.atomic
def audit_export_start(
    *, actor: User, study_id: int, filters: dict[str, Any], ip: str | None = None
) -> Job:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.AUDIT_VIEW)
    job = job_create(
        study=study, kind="audit_export", created_by=actor, perm=Perm.AUDIT_VIEW, params={"filters": filters},
        task="accounts.audit_export",
    )
    audit_record(actor=actor, action="audit.export", study=study, obj=job, ip=ip, details={"filters": filters})
    return job


def _parse_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def audit_export_run(*, job_id: int) -> Job | None:
    def work(job: Job) -> dict[str, Any]:
        f = job.params.get("filters", {})
        # The job re-asks the policy as its creator: a member removed since cannot export.
        events = selectors.audit_event_list(
            user=job.created_by, study_id=job.study_id, actor_id=f.get("actor") or None,
            action=f.get("action") or None, date_from=_parse_date(f.get("date_from")),
            date_to=_parse_date(f.get("date_to")),
        )
        total = events.count()
        job_progress(job_id=job.pk, done=0, total=total)
        rows = []
        for i, e in enumerate(events.iterator(chunk_size=2000), start=1):
            rows.append([
                e.at.isoformat(), e.actor_email, e.action, e.object_type, e.object_id, e.ip or "",
                _details_text(e.details),
            ])
            if i % 2000 == 0:
                job_progress(job_id=job.pk, done=i)
        content = csv_bytes(["time", "user", "action", "object_type", "object_id", "ip", "details"], rows)
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        job_attach_file(job=job, name=f"audit-study{job.study_id}-{stamp}.csv", content=content)
        job_progress(job_id=job.pk, done=total)
        return {"rows": total}

    return job_run(job_id=job_id, work=work)


def _details_text(details: dict[str, Any]) -> str:
    import json

    return json.dumps(details, ensure_ascii=False, sort_keys=True) if details else ""
