"""Job lifecycle: every job reaches done, failed (with a message) or cancelled, whatever happens to
its worker, its message or its database connection.

* ``job_create`` stores a queued job and sends its Celery task once the transaction commits. It
  first checks that the broker answers: with Redis down, starting a job is refused with
  :class:`JobsUnavailable` (a 503) and nothing is written.
* ``job_run`` (called by the task) claims the job with a *lease* that the worker renews while it is
  alive. A job whose lease has expired is taken over by the next delivery of its message or by
  ``jobs_sweep``; after ``CHORUS_JOB_MAX_ATTEMPTS`` starts it fails with a message. A job that
  ``must_finish`` (a purge) is retried with backoff for as long as it takes.
* ``job_progress`` is the checkpoint between units of work: it renews the lease and stops the work
  when someone pressed Cancel (``JobCancelled``) or another worker took the job over.
* ``jobs_sweep`` (Celery beat, every ``CHORUS_JOB_SWEEP_SECONDS``) sends stale queued jobs again and
  takes over running jobs whose worker died.

The work itself must be idempotent or resume: it may run again after a crash.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Study, User
from accounts.policy import Perm

from .models import FINISHED, Job, JobStatus

log = logging.getLogger(__name__)

UNEXPECTED = "The job failed unexpectedly. The error has been logged; please tell your administrator."
UNAVAILABLE = "Jobs are unavailable for the moment: the job queue is not answering. Please try again in a few minutes."


class JobError(Exception):
    """A failure to show the user as it is (bad input, not a bug)."""


class JobsUnavailable(Exception):
    """The broker does not answer: no job can be started now (answered as a 503)."""

    def __init__(self, message: str = UNAVAILABLE) -> None:
        super().__init__(message)
        self.message = message


class JobCancelled(Exception):
    """Raised at a checkpoint when Cancel was pressed; the work stops between units."""


class JobLeaseLost(Exception):
    """Raised at a checkpoint when another worker has taken the job over (this one was presumed dead)."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.CHORUS_JOB_LEASE_SECONDS)


def _backoff(attempts: int) -> timedelta:
    base = settings.CHORUS_JOB_BACKOFF_SECONDS
    return timedelta(seconds=min(settings.CHORUS_JOB_BACKOFF_MAX_SECONDS, base * 2 ** max(0, attempts - 1)))


# Sending ------------------------------------------------------------------------------------------


def _celery() -> Any:
    from config.celery import app

    return app


def broker_require() -> None:
    """Raise :class:`JobsUnavailable` unless the broker answers now (a no-op for eager tasks)."""
    app = _celery()
    if app.conf.task_always_eager:
        return
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2,
                                   timeout=settings.CHORUS_BROKER_CHECK_SECONDS)
    except Exception as exc:  # kombu wraps every transport's error differently
        log.warning("the job queue does not answer: %s", exc)
        raise JobsUnavailable() from exc


def job_send(*, job_id: int, task_name: str, countdown: float | None = None) -> bool:
    """Send a job's task. A send that fails is logged, not raised: the job stays queued and
    ``jobs_sweep`` sends it again once the broker is back."""
    app = _celery()
    try:
        if app.conf.task_always_eager:
            if task_name not in app.tasks:
                app.loader.import_default_modules()
            app.tasks[task_name].apply_async(args=[job_id], countdown=countdown)
        else:
            # By name: this process need not have imported the task's module (a Retry after a restart).
            app.send_task(task_name, args=[job_id], countdown=countdown)
    except Exception:
        if app.conf.task_always_eager:
            raise  # in-process tasks: the error is the job's, and tests must see it
        log.warning("could not send job %s (%s); the sweep will send it again", job_id, task_name, exc_info=True)
        return False
    Job.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    return True


def job_create(
    *, study: Study, kind: str, created_by: User, perm: Perm, task: Any, params: dict[str, Any] | None = None,
    must_finish: bool = False,
) -> Job:
    """Create a queued job and send the Celery task named ``task`` (``"coding.agreement_report"``) with
    its id once the surrounding transaction commits. ``perm`` is what its creator must still hold to
    see it and its result.

    By name, so a service never imports its app's ``tasks`` module (which imports the service to run
    it): no import cycle, and the web process need not load the task code at all. A task object is
    still accepted (its ``name`` is used) until every app sends by name.

    Raises :class:`JobsUnavailable` when the broker does not answer, except for a job that
    ``must_finish``: that one is recorded anyway (a withdrawal must not be refused because Redis is
    down) and the sweep sends it once the broker is back."""
    if not must_finish:
        broker_require()
    job = Job.objects.create(
        study=study, kind=kind, created_by=created_by, required_perm=perm.value, params=params or {},
        task_name=task if isinstance(task, str) else task.name, must_finish=must_finish,
    )
    transaction.on_commit(lambda: job_send(job_id=job.pk, task_name=job.task_name))
    return job


# Running ------------------------------------------------------------------------------------------

_running = threading.local()


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """True when the lease belongs to a process of this machine that no longer exists (a pool child
    killed by the kernel): its job can be taken over at once instead of when the lease expires."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _claim(job_id: int, owner: str) -> Job | None:
    """Take the job for ``owner``, or answer None when there is nothing to do for this message."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED:
            return None
        if job.status == JobStatus.RUNNING and job.lease_expires_at and job.lease_expires_at > now \
                and not _owner_is_dead(job.lease_owner):
            return None  # alive elsewhere: this is a duplicate message
        if job.status == JobStatus.QUEUED and job.not_before and job.not_before > now + timedelta(seconds=1):
            return None  # backing off: a later send (or the sweep) starts it
        if job.cancel_requested_at is not None:
            _finish(job, status=JobStatus.CANCELLED, error="")
            return None
        if not job.must_finish and job.attempts >= settings.CHORUS_JOB_MAX_ATTEMPTS:
            _finish(job, status=JobStatus.FAILED, error=_gave_up(job))
            return None
        if job.status == JobStatus.RUNNING:
            log.warning("job %s (%s): taking over from %s, whose lease expired", job.pk, job.kind, job.lease_owner)
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.lease_owner = owner
        job.lease_expires_at = now + _lease()
        job.started_at = job.started_at or now
        job.not_before = None
        job.save(update_fields=["status", "attempts", "lease_owner", "lease_expires_at", "started_at", "not_before"])
        return job


def _gave_up(job: Job) -> str:
    return (
        f"The job was started {job.attempts} times and its worker stopped each time before it finished "
        "(restarted, or out of memory). Nothing half-done was kept. Press Retry to try again; if it keeps "
        "failing, tell your administrator."
    )


def _finish(job: Job, *, status: str, error: str = "", result: dict[str, Any] | None = None,
            owner: str | None = None) -> bool:
    """Move a job to a final state; with ``owner``, only if that worker still holds the lease."""
    qs = Job.objects.filter(pk=job.pk)
    if owner is not None:
        qs = qs.filter(lease_owner=owner)
    fields: dict[str, Any] = {"status": status, "error": error, "finished_at": timezone.now(), "lease_owner": "",
                              "lease_expires_at": None, "not_before": None}
    if result is not None:
        fields["result"] = result
    return bool(qs.update(**fields))


@contextmanager
def _heartbeat(job_id: int, owner: str) -> Iterator[None]:
    """Renew the lease from a thread while the work runs, so one long unit of work (a report over a
    whole study) is not mistaken for a dead worker. SQLite (the embedded default: one worker) and work
    inside a caller's transaction (tests) rely on the checkpoints instead."""
    if connection.vendor == "sqlite" or connection.in_atomic_block:
        yield
        return
    stop = threading.Event()
    interval = max(0.5, settings.CHORUS_JOB_LEASE_SECONDS / 3)

    def beat() -> None:
        from django.db import connection as thread_connection

        try:
            while not stop.wait(interval):
                try:
                    renewed = Job.objects.filter(pk=job_id, lease_owner=owner, status=JobStatus.RUNNING).update(
                        lease_expires_at=timezone.now() + _lease()
                    )
                except Exception:
                    log.warning("job %s: could not renew its lease", job_id, exc_info=True)
                    thread_connection.close()
                    continue
                if not renewed:
                    return
        finally:
            thread_connection.close()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def job_run(*, job_id: int, work: Callable[[Job], dict[str, Any]]) -> Job | None:
    """Run ``work`` for a job this worker can claim (queued, or running with an expired lease).
    A duplicate message for a job alive elsewhere, finished, or backing off does nothing."""
    owner = _owner()
    try:
        job = _claim(job_id, owner)
    except (OperationalError, InterfaceError):
        _claim_failed(job_id)
        return None
    if job is None:
        return None
    # The transaction depth the work starts at: a checkpoint inside a transaction of the work only reads.
    owners: dict[int, tuple[str, int]] = _running.__dict__.setdefault("owners", {})
    owners[job_id] = (owner, len(connection.atomic_blocks))
    try:
        with _heartbeat(job_id, owner):
            result = work(job)
    except JobError as exc:
        _finish(job, status=JobStatus.FAILED, error=str(exc), owner=owner)
    except JobCancelled:
        _finish(job, status=JobStatus.CANCELLED, owner=owner)
    except SoftTimeLimitExceeded:
        hours = settings.CHORUS_JOB_TIME_LIMIT / 3600
        message = f"The job took longer than {hours:g} hours and was stopped."
        if job.must_finish:
            _job_retry_later(job, owner=owner, error=message + " It is tried again automatically.")
        else:
            _finish(job, status=JobStatus.FAILED, error=message, owner=owner)
    except JobLeaseLost:
        log.warning("job %s (%s): another worker took it over; this one stops", job_id, job.kind)
        return None
    except (OperationalError, InterfaceError):
        # The database went away or timed out: not the job's fault. Try again later (the same
        # attempt budget as a dead worker); if the database is still away, the lease expires
        # and the sweep takes over.
        log.warning("job %s (%s): database error; will try again", job_id, job.kind, exc_info=True)
        if not connection.in_atomic_block:
            connection.close()
        try:
            _job_retry_later(job, owner=owner, error="")
        except Exception:
            log.warning("job %s: database still unavailable; the sweep will take it over", job_id)
        return None
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        if job.must_finish:
            _job_retry_later(job, owner=owner, error="The last attempt failed unexpectedly (the error has been "
                                                      "logged). It is tried again automatically.")
        else:
            _finish(job, status=JobStatus.FAILED, error=UNEXPECTED, owner=owner)
    else:
        _finish(job, status=JobStatus.DONE, result=result, owner=owner)
    finally:
        owners.pop(job_id, None)
    return Job.objects.get(pk=job_id)


def _claim_failed(job_id: int) -> None:
    """The database went away while the job was being taken (its session cut mid-commit): nothing ran
    and the job is still queued, but this message is spent. Send it again after a backoff, so the job
    does not wait for the sweep; if the database is still away, the sweep sends it once it is back."""
    log.warning("job %s: database error while taking the job; will try again", job_id, exc_info=True)
    if not connection.in_atomic_block:
        connection.close()
    try:
        task_name = Job.objects.filter(pk=job_id).values_list("task_name", flat=True).first()
        if task_name:
            job_send(job_id=job_id, task_name=task_name, countdown=_backoff(1).total_seconds())
    except (OperationalError, InterfaceError):
        log.warning("job %s: database still unavailable; the sweep will send it again", job_id)


def _job_retry_later(job: Job, *, owner: str, error: str) -> None:
    if not job.must_finish and job.attempts >= settings.CHORUS_JOB_MAX_ATTEMPTS:
        _finish(job, status=JobStatus.FAILED, error=_gave_up(job), owner=owner)
        return
    delay = _backoff(job.attempts)
    released = Job.objects.filter(pk=job.pk, lease_owner=owner).update(
        status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None, not_before=timezone.now() + delay,
        error=error,
    )
    if released:
        job_send(job_id=job.pk, task_name=job.task_name, countdown=delay.total_seconds())


def job_progress(*, job_id: int, done: int, total: int | None = None) -> None:
    """Record progress, renew the lease, and stop the work if it was cancelled or taken over.

    Between units of work it writes. Inside a transaction of the work (a project import is one) it
    only reads: a write there would lock the job's row until the work commits, holding up the lease
    thread and anyone pressing Cancel, and nobody could see that progress before the commit anyway."""
    fields: dict[str, Any] = {"progress_done": done}
    if total is not None:
        fields["progress_total"] = total
    running = getattr(_running, "owners", {}).get(job_id)
    if running is None:
        Job.objects.filter(pk=job_id).update(**fields)
        return
    owner, depth = running
    if len(connection.atomic_blocks) > depth:
        state = Job.objects.filter(pk=job_id).values_list("lease_owner", "cancel_requested_at").first()
        if state is None or state[0] != owner:
            raise JobLeaseLost()
        if state[1] is not None:
            raise JobCancelled()
        return
    fields["lease_expires_at"] = timezone.now() + _lease()
    if not Job.objects.filter(pk=job_id, lease_owner=owner).update(**fields):
        raise JobLeaseLost()
    if Job.objects.filter(pk=job_id, cancel_requested_at__isnull=False).exists():
        raise JobCancelled()


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


# People: Cancel and Retry ---------------------------------------------------------------------------


@transaction.atomic
def job_cancel(*, actor: User, study_id: int, job_id: int, ip: str | None = None) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next checkpoint."""
    from accounts.services import audit_record

    from .selectors import job_get

    policy.membership_require(user=actor, study_id=study_id, perm=Perm.JOB_MANAGE)
    job = job_get(user=actor, study_id=study_id, job_id=job_id)
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.must_finish:
        raise ValidationError("This job cannot be cancelled: it carries out a participant's withdrawal.")
    if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise ValidationError(f"This job has already finished ({job.get_status_display().lower()}).")
    now = timezone.now()
    if job.status == JobStatus.QUEUED:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED, cancel_requested_at=now, finished_at=now,
                                             not_before=None)
    else:
        Job.objects.filter(pk=job.pk).update(cancel_requested_at=now)
    audit_record(actor=actor, action="job.cancel", study=job.study, obj=job, ip=ip,
                 details={"kind": job.kind, "status": job.status})
    return Job.objects.get(pk=job.pk)


@transaction.atomic
def job_retry(*, actor: User, study_id: int, job_id: int, ip: str | None = None) -> Job:
    """Run a failed job again, from where its work can resume (an import continues with the files
    not yet imported)."""
    from accounts.services import audit_record

    from .selectors import job_get

    policy.membership_require(user=actor, study_id=study_id, perm=Perm.JOB_MANAGE)
    job = job_get(user=actor, study_id=study_id, job_id=job_id)
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.FAILED:
        raise ValidationError("Only a failed job can be tried again.")
    if not job.task_name:
        raise ValidationError("This job cannot be tried again; start it again from its page.")
    broker_require()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.QUEUED, attempts=0, error="", finished_at=None, not_before=None, cancel_requested_at=None,
        lease_owner="", lease_expires_at=None,
    )
    task_name = job.task_name
    transaction.on_commit(lambda: job_send(job_id=job.pk, task_name=task_name))
    audit_record(actor=actor, action="job.retry", study=job.study, obj=job, ip=ip, details={"kind": job.kind})
    return Job.objects.get(pk=job.pk)


def job_send_now(*, job: Job) -> None:
    """Send an unfinished job again at once, ending any backoff (a person pressed "Run again")."""
    broker_require()
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(not_before=None)
    task_name = job.task_name
    transaction.on_commit(lambda: job_send(job_id=job.pk, task_name=task_name))


# The sweep ----------------------------------------------------------------------------------------


def jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Recover jobs whose message or worker was lost: send stale queued jobs again; take over running
    jobs whose lease expired (send them again, or fail them once out of attempts); finish jobs
    cancelled while their worker was away. Safe to run anywhere, any number of times at once."""
    now = now or timezone.now()
    stale_queued = now - timedelta(seconds=settings.CHORUS_JOB_STALE_QUEUED_SECONDS)
    counts = {"resent": 0, "taken_over": 0, "failed": 0, "cancelled": 0}
    to_send: list[tuple[int, str]] = []
    with transaction.atomic():
        expired = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.RUNNING).filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))
        )
        for job in expired:
            if job.cancel_requested_at is not None and not job.must_finish:
                _finish(job, status=JobStatus.CANCELLED)
                counts["cancelled"] += 1
            elif not job.task_name:
                _finish(job, status=JobStatus.FAILED, error="This job stopped and cannot be resumed; start it again.")
                counts["failed"] += 1
            elif not job.must_finish and job.attempts >= settings.CHORUS_JOB_MAX_ATTEMPTS:
                _finish(job, status=JobStatus.FAILED, error=_gave_up(job))
                counts["failed"] += 1
            else:
                log.warning("sweep: job %s (%s) lost its worker %s; sending it again", job.pk, job.kind,
                            job.lease_owner)
                delay = _backoff(job.attempts) if job.must_finish and job.attempts > 1 else timedelta(0)
                Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None,
                                                     not_before=now + delay if delay else None)
                counts["taken_over"] += 1
                if not delay:
                    to_send.append((job.pk, job.task_name))
        queued = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.QUEUED).exclude(task_name="")
            # Never sent (the broker was down when it was created), sent long ago and not started
            # (the message was lost), or its backoff is over.
            .filter(Q(enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=10))
                    | Q(enqueued_at__lt=stale_queued, not_before__isnull=True) | Q(not_before__lte=now))
            .exclude(pk__in=[pk for pk, _ in to_send])
        )
        for job in queued:
            to_send.append((job.pk, job.task_name))
            counts["resent"] += 1
        Job.objects.filter(pk__in=[pk for pk, _ in to_send]).update(enqueued_at=now, not_before=None)
    # Sent once committed: a fast worker must find the job queued, not still marked running.
    for pk, task_name in to_send:
        job_send(job_id=pk, task_name=task_name)
    if any(counts.values()):
        log.info("jobs sweep: %s", counts)
    return counts
