"""Job lifecycle. Services create a job and enqueue its task on commit; the task calls
``job_run`` which moves the job through running → done/failed and records progress."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Study, User
from accounts.policy import Perm

from .models import Job, JobStatus

log = logging.getLogger(__name__)


def job_create(
    *, study: Study, kind: str, created_by: User, perm: Perm, params: dict[str, Any] | None = None,
    enqueue: Callable[[int], Any],
) -> Job:
    """Create a queued job and hand its id to ``enqueue`` once the surrounding transaction commits.
    ``perm`` is what its creator must still hold to see it and download its result."""
    job = Job.objects.create(
        study=study, kind=kind, created_by=created_by, required_perm=perm.value, params=params or {}
    )
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def job_progress(*, job_id: int, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"progress_done": done}
    if total is not None:
        fields["progress_total"] = total
    Job.objects.filter(pk=job_id).update(**fields)


class JobError(Exception):
    """A failure to show the user as it is (bad input, not a bug)."""


def job_run(*, job_id: int, work: Callable[[Job], dict[str, Any]]) -> Job | None:
    """Run ``work`` for a queued job. A job already started (a redelivered message) is left alone."""
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = Job.objects.get(pk=job_id)
    try:
        result = work(job)
    except JobError as exc:
        Job.objects.filter(pk=job_id).update(status=JobStatus.FAILED, error=str(exc), finished_at=timezone.now())
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        Job.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED,
            error="The job failed unexpectedly. The error has been logged; please tell your administrator.",
            finished_at=timezone.now(),
        )
    else:
        Job.objects.filter(pk=job_id).update(status=JobStatus.DONE, result=result, finished_at=timezone.now())
    return Job.objects.get(pk=job_id)


def job_attach_file(*, job: Job, name: str, content: bytes) -> None:
    job.result_file.save(name, ContentFile(content), save=False)
    Job.objects.filter(pk=job.pk).update(result_file=job.result_file.name)


def job_download_open(*, user: Any, study_id: int, job_id: int, ip: str | None) -> tuple[File[bytes], str]:
    """Open a job's result file for its reader and record the download in the audit trail (the page
    and the API both call this, so every download is audited the same way)."""
    from accounts.services import audit_record

    from .selectors import job_get

    job = job_get(user=user, study_id=study_id, job_id=job_id)
    if not job.result_file:
        raise Http404("This job has no file.")
    audit_record(actor=user, action="export.download", study=job.study, obj=job, ip=ip, details={"kind": job.kind})
    return job.result_file.open("rb"), (job.result_file.name or "download").rsplit("/", 1)[-1]
