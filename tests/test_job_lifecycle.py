"""Every job reaches done, failed with a message, or cancelled: the lease, the sweep, Cancel, Retry,
backoff for a purge, and 503 when the job queue does not answer.

These run the real job services and tasks in-process (any database). A worker's death is the state it
leaves behind (a running job whose lease owner is gone); tests/test_job_faults.py kills real workers
on PostgreSQL and Redis.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from jobs import services as job_services
from jobs.models import Job, JobStatus
from participants import selectors as participant_selectors
from participants import services as participant_services

from .factories import make_form, make_participant
from .helpers import celery_pools_reset
from .participants.test_purge import _seed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_in_process() -> Iterator[None]:
    """These tests run each task in this process, in the test's transaction, also when REDIS_URL is
    set (where the suite otherwise sends them to a real worker, which could not see this data)."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def _export(cast: Any) -> Job:
    from accounts.exports import audit_export_start

    return audit_export_start(actor=cast.users["admin"], study_id=cast.study.pk, filters={})


def _as_if_a_worker_died(job: Job, *, owner: str = "gone-host:4242:abcd", expired: bool = True,
                         attempts: int = 1) -> None:
    """The state a worker leaves when it is killed mid-job: running, its lease held by it."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=now, attempts=attempts, lease_owner=owner,
        lease_expires_at=now + dt.timedelta(seconds=-5 if expired else 300), progress_done=1, progress_total=3,
    )


def _run(job: Job) -> Job | None:
    from accounts.exports import audit_export_run

    return audit_export_run(job_id=job.pk)


def test_a_job_runs_with_a_lease_and_releases_it(cast: Any) -> None:
    job = _export(cast)
    done = _run(job)
    assert done is not None
    assert done.status == JobStatus.DONE
    assert (done.attempts, done.lease_owner, done.lease_expires_at) == (1, "", None)
    assert _run(job) is None  # a redelivered message for a finished job does nothing


def test_a_job_whose_worker_died_is_taken_over_when_its_message_comes_back(cast: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job)
    done = _run(job)
    assert done is not None
    assert done.status == JobStatus.DONE, done.error
    assert done.attempts == 2
    assert done.progress_done == done.progress_total == done.result["rows"]


def test_a_job_alive_elsewhere_is_left_alone(cast: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job, expired=False)
    assert _run(job) is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner) == (JobStatus.RUNNING, 1, "gone-host:4242:abcd")


def test_a_pool_child_killed_on_this_machine_is_taken_over_at_once(cast: Any) -> None:
    # Its lease has not expired, but its process is gone: no need to wait.
    pid = 2**22 + 12345  # above Linux's pid_max default: no such process
    job = _export(cast)
    _as_if_a_worker_died(job, owner=f"{socket.gethostname()}:{pid}:x", expired=False)
    done = _run(job)
    assert done is not None
    assert done.status == JobStatus.DONE


def test_a_live_process_on_this_machine_keeps_its_job(cast: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job, owner=f"{socket.gethostname()}:{os.getpid()}:x", expired=False)
    assert _run(job) is None


def test_the_sweep_takes_over_a_job_whose_worker_died(cast: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job)
    counts = job_services.jobs_sweep()
    assert counts["taken_over"] == 1
    job.refresh_from_db()
    # Eager tasks: the sweep's message ran the job here and now.
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2


def test_the_sweep_fails_a_job_out_of_attempts_with_a_message(cast: Any, settings: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job, attempts=settings.CHORUS_JOB_MAX_ATTEMPTS)
    assert job_services.jobs_sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "started 3 times" in job.error
    assert "Retry" in job.error
    assert job.finished_at is not None
    assert job.lease_owner == ""


def test_the_sweep_sends_a_stale_queued_job_again(cast: Any, settings: Any) -> None:
    job = _export(cast)  # in a test transaction its message is never sent: a lost message
    old = timezone.now() - dt.timedelta(seconds=settings.CHORUS_JOB_STALE_QUEUED_SECONDS + 5)
    Job.objects.filter(pk=job.pk).update(enqueued_at=old, created_at=old)
    assert job_services.jobs_sweep()["resent"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_the_sweep_leaves_fresh_and_finished_jobs_alone(cast: Any) -> None:
    fresh = _export(cast)
    Job.objects.filter(pk=fresh.pk).update(enqueued_at=timezone.now())
    finished = _export(cast)
    Job.objects.filter(pk=finished.pk).update(status=JobStatus.DONE)
    assert job_services.jobs_sweep() == {"resent": 0, "taken_over": 0, "failed": 0, "cancelled": 0}
    assert Job.objects.get(pk=fresh.pk).status == JobStatus.QUEUED


def test_cancel_a_queued_job_and_its_message_does_nothing(cast: Any) -> None:
    job = _export(cast)
    r = job_services.job_cancel(actor=cast.users["admin"], study_id=cast.study.pk, job_id=job.pk)
    assert r.status == JobStatus.CANCELLED
    assert r.is_finished
    assert _run(job) is None
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert AuditEvent.objects.filter(action="job.cancel", object_id=str(job.pk)).count() == 1


def test_cancel_a_running_job_stops_it_at_its_next_checkpoint(cast: Any) -> None:
    job = _export(cast)
    seen: list[int] = []

    def work(j: Job) -> dict[str, Any]:
        for i in range(1, 4):
            job_services.job_progress(job_id=j.pk, done=i, total=3)
            seen.append(i)
            if i == 1:  # someone presses Cancel while the first unit is being done
                job_services.job_cancel(actor=cast.users["admin"], study_id=cast.study.pk, job_id=j.pk)
        return {"rows": 3}

    result = job_services.job_run(job_id=job.pk, work=work)
    assert result is not None
    assert result.status == JobStatus.CANCELLED
    assert seen == [1]
    # The checkpoint after the first unit recorded its progress, then stopped: no result.
    assert result.progress_done == 2
    assert result.result == {}


def test_cancel_of_a_running_job_whose_worker_died_is_finished_by_the_sweep(cast: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job, expired=False)
    r = job_services.job_cancel(actor=cast.users["admin"], study_id=cast.study.pk, job_id=job.pk)
    assert r.status == JobStatus.RUNNING
    assert r.cancel_requested_at is not None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert job_services.jobs_sweep()["cancelled"] == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED


def test_cancel_is_refused_for_a_finished_job(cast: Any) -> None:
    from django.core.exceptions import ValidationError

    job = _export(cast)
    _run(job)
    with pytest.raises(ValidationError, match="already finished"):
        job_services.job_cancel(actor=cast.users["admin"], study_id=cast.study.pk, job_id=job.pk)


def test_retry_a_failed_job(cast: Any, settings: Any) -> None:
    job = _export(cast)
    _as_if_a_worker_died(job, attempts=settings.CHORUS_JOB_MAX_ATTEMPTS)
    job_services.jobs_sweep()
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    r = job_services.job_retry(actor=cast.users["admin"], study_id=cast.study.pk, job_id=job.pk)
    assert (r.status, r.attempts, r.error) == (JobStatus.QUEUED, 0, "")
    assert _run(job) is not None
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.attempts == 1
    assert AuditEvent.objects.filter(action="job.retry", object_id=str(job.pk)).count() == 1


def test_retry_and_cancel_from_the_pages(cast: Any, clients: Any, settings: Any) -> None:
    job = _export(cast)
    page = clients["admin"].get(f"/studies/{cast.study.pk}/jobs/{job.pk}/").content.decode()
    assert "Cancel this job" in page
    assert "Retry" not in page
    r = clients["admin"].post(f"/studies/{cast.study.pk}/jobs/{job.pk}/cancel/", follow=True)
    assert "The job was cancelled." in r.content.decode()
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED

    failed = _export(cast)
    _as_if_a_worker_died(failed, attempts=settings.CHORUS_JOB_MAX_ATTEMPTS)
    job_services.jobs_sweep()
    page = clients["admin"].get(f"/studies/{cast.study.pk}/jobs/{failed.pk}/").content.decode()
    assert "started 3 times" in page
    assert ">Retry</button>" in page
    assert "Cancel this job" not in page
    r = clients["admin"].post(f"/studies/{cast.study.pk}/jobs/{failed.pk}/retry/", follow=True)
    assert "The job will run again." in r.content.decode()
    assert Job.objects.get(pk=failed.pk).status == JobStatus.QUEUED

    listing = clients["admin"].get(f"/studies/{cast.study.pk}/jobs/").content.decode()
    assert "Audit log export" in listing
    assert "Cancelled" in listing
    assert "Queued" in listing
    # Another member sees none of the admin's jobs.
    assert "Audit log export" not in clients["lead"].get(f"/studies/{cast.study.pk}/jobs/").content.decode()


def test_retry_and_cancel_through_the_api(cast: Any, api: Any, settings: Any) -> None:
    job = _export(cast)
    base = f"/api/v1/studies/{cast.study.pk}/jobs/"
    listed = api["admin"].get(base).json()
    assert [j["id"] for j in listed] == [job.pk]
    assert listed[0]["can_cancel"] is True
    r = api["admin"].post(f"{base}{job.pk}/cancel/")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    r = api["admin"].post(f"{base}{job.pk}/cancel/")
    assert r.status_code == 400
    assert "already finished" in str(r.json())
    r = api["admin"].post(f"{base}{job.pk}/retry/")
    assert r.status_code == 400
    assert "Only a failed job" in str(r.json())
    failed = _export(cast)
    _as_if_a_worker_died(failed, attempts=settings.CHORUS_JOB_MAX_ATTEMPTS)
    job_services.jobs_sweep()
    assert api["lead"].post(f"{base}{failed.pk}/retry/").status_code == 404
    r = api["admin"].post(f"{base}{failed.pk}/retry/")
    assert r.status_code == 202
    assert r.json()["status"] == "queued"


# Purges must finish ---------------------------------------------------------------------------------


def flaky_purger(*, participant: Any) -> dict[str, int]:
    """A purger whose storage fails the first time (a network share away for a moment)."""
    flaky_purger.calls += 1  # type: ignore[attr-defined]
    if flaky_purger.calls == 1:  # type: ignore[attr-defined]
        raise OSError("the file share did not answer")
    return {"things": 1}


@pytest.fixture
def flaky(settings: Any) -> Iterator[None]:
    flaky_purger.calls = 0  # type: ignore[attr-defined]
    settings.CHORUS_PURGERS = [*settings.CHORUS_PURGERS, "tests.test_job_lifecycle.flaky_purger"]
    return


def test_a_failed_purge_is_retried_with_backoff_and_admins_see_it_until_done(
    cast: Any, clients: Any, flaky: None, django_capture_on_commit_callbacks: Any,
) -> None:
    p, _keep, _event = _seed(cast)
    with django_capture_on_commit_callbacks(execute=False):
        _, job = participant_services.participant_withdraw(
            actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="delete_data",
            date=dt.date(2020, 7, 1),
        )
    assert job.must_finish
    participant_services.participant_purge_run(job_id=job.pk)
    job.refresh_from_db()
    # Not failed: queued again with backoff, everything rolled back, and the reason shown.
    assert job.status == JobStatus.QUEUED, job.error
    assert job.not_before is not None
    assert job.not_before > timezone.now() + dt.timedelta(seconds=20)
    assert "tried again automatically" in job.error
    assert participant_services.participant_purge_run(job_id=job.pk) is None  # too early: waits
    p.refresh_from_db()
    assert p.purged_at is None
    assert p.attributes == {"story": "purge-attr-7731"}

    pending = participant_selectors.purge_pending_list(user=cast.users["admin"], study_id=cast.study.pk)
    assert [(row.participant.pseudonym, row.job.pk) for row in pending] == [("SU42", job.pk)]
    for url in (f"/studies/{cast.study.pk}/consent/", f"/studies/{cast.study.pk}/participants/{p.pk}/"):
        html = clients["admin"].get(url).content.decode()
        assert "deletion of data has not finished yet" in html.lower(), url
        assert "trying again at" in html, url
    # Only the admins, who manage consent, get the alert.
    assert participant_selectors.purge_pending_list(user=cast.users["lead"], study_id=cast.study.pk) == []
    assert "not finished yet" not in clients["lead"].get(f"/studies/{cast.study.pk}/consent/").content.decode()

    # The purge cannot be cancelled.
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="cannot be cancelled"):
        job_services.job_cancel(actor=cast.users["admin"], study_id=cast.study.pk, job_id=job.pk)

    # Backoff over: the sweep sends it and it completes.
    Job.objects.filter(pk=job.pk).update(not_before=timezone.now() - dt.timedelta(seconds=1))
    assert job_services.jobs_sweep()["resent"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    p.refresh_from_db()
    assert p.purged_at is not None
    assert p.attributes == {}
    assert participant_selectors.purge_pending_list(user=cast.users["admin"], study_id=cast.study.pk) == []
    assert "not finished yet" not in clients["admin"].get(f"/studies/{cast.study.pk}/consent/").content.decode()


def test_a_purge_is_never_given_up(cast: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    p, _keep, _event = _seed(cast)
    with django_capture_on_commit_callbacks(execute=False):
        _, job = participant_services.participant_withdraw(
            actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="delete_data",
            date=dt.date(2020, 7, 1),
        )
    _as_if_a_worker_died(job, attempts=settings.CHORUS_JOB_MAX_ATTEMPTS + 5)
    assert job_services.jobs_sweep()["taken_over"] == 1
    job.refresh_from_db()
    # Backing off (it has failed often), not failed.
    assert job.status == JobStatus.QUEUED
    assert job.not_before is not None
    Job.objects.filter(pk=job.pk).update(not_before=timezone.now())
    job_services.jobs_sweep()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert Job.objects.get(pk=job.pk).attempts == settings.CHORUS_JOB_MAX_ATTEMPTS + 6


def test_run_the_deletion_again_sends_a_waiting_purge_now(
    cast: Any, clients: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    p, _keep, _event = _seed(cast)
    with django_capture_on_commit_callbacks(execute=False):
        _, job = participant_services.participant_withdraw(
            actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="delete_data",
            date=dt.date(2020, 7, 1),
        )
    Job.objects.filter(pk=job.pk).update(not_before=timezone.now() + dt.timedelta(minutes=30), attempts=2)
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["admin"].post(f"/studies/{cast.study.pk}/participants/{p.pk}/purge/")
    assert r.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert Job.objects.filter(kind="participant_purge").count() == 1  # the same job, not a second one


# The job queue is down -----------------------------------------------------------------------------


@pytest.fixture
def broker_down() -> Iterator[None]:
    """The Celery app pointed at a port where nothing listens, not running tasks in-process."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    celery_pools_reset(app)
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        celery_pools_reset(app)


def test_starting_a_job_with_the_queue_down_is_a_clear_503_and_writes_nothing(
    cast: Any, clients: Any, api: Any, broker_down: None,
) -> None:
    jobs, audits = Job.objects.count(), AuditEvent.objects.count()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/audit/export/", {"action": ""})
    assert r.status_code == 503
    html = r.content.decode()
    assert "Jobs are unavailable for the moment" in html
    assert "try again in a few minutes" in html
    assert r["Retry-After"] == "60"
    r = api["admin"].post(f"/api/v1/studies/{cast.study.pk}/audit-events/export/", {}, format="json")
    assert r.status_code == 503
    assert r.json() == {"detail": job_services.UNAVAILABLE}
    assert (Job.objects.count(), AuditEvent.objects.count()) == (jobs, audits)


def test_a_withdrawal_with_the_queue_down_is_recorded_and_its_purge_waits(
    cast: Any, broker_down: None, django_capture_on_commit_callbacks: Any,
) -> None:
    form = make_form(cast)
    p = make_participant(cast, "SU77")
    participant_services.consent_event_record(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                              form_id=form.pk, date=dt.date(2020, 6, 1), answers={})
    with django_capture_on_commit_callbacks(execute=True):
        _, job = participant_services.participant_withdraw(
            actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="delete_data",
            date=dt.date(2020, 7, 1),
        )
    job.refresh_from_db()
    # Recorded, not sent (the broker is down), and the sweep's to send once it is back.
    assert job.status == JobStatus.QUEUED
    assert job.enqueued_at is None
    assert participant_selectors.purge_pending_list(user=cast.users["admin"], study_id=cast.study.pk)


def test_a_job_id_beyond_64_bits_is_not_found(cast: Any, clients: Any, api: Any) -> None:
    huge, sid = 2**70, cast.study.pk
    assert clients["admin"].get(f"/studies/{sid}/jobs/{huge}/").status_code == 404
    assert clients["admin"].post(f"/studies/{sid}/jobs/{huge}/cancel/").status_code == 404
    assert api["admin"].post(f"/api/v1/studies/{sid}/jobs/{huge}/retry/").status_code == 404
    assert api["admin"].get(f"/api/v1/studies/{sid}/jobs/{huge}/").status_code == 404


def test_jobs_from_before_leases_get_the_task_that_runs_them() -> None:
    """Migration 0003 names the task of every job created by older code, so the sweep can take over
    one that old code left running; the names must be tasks the workers know."""
    import importlib

    from config.celery import app

    app.loader.import_default_modules()  # what a worker does at start: every app's tasks.py
    migration = importlib.import_module("jobs.migrations.0003_job_lease_and_recovery")
    assert set(migration.TASKS.values()) <= set(app.tasks)


def test_a_checkpoint_inside_the_works_own_transaction_only_reads(cast: Any) -> None:
    """A project import writes in one transaction: its checkpoints must not lock the job's row (the
    lease thread and Cancel would wait for the whole import), yet must still see a Cancel."""
    from django.db import transaction

    job = _export(cast)

    def work(j: Job) -> dict[str, Any]:
        with transaction.atomic():
            job_services.job_progress(job_id=j.pk, done=1, total=2)
            assert Job.objects.get(pk=j.pk).progress_done == 0  # nothing written
            Job.objects.filter(pk=j.pk).update(cancel_requested_at=timezone.now())  # someone presses Cancel
            job_services.job_progress(job_id=j.pk, done=2, total=2)
        return {"rows": 2}

    result = job_services.job_run(job_id=job.pk, work=work)
    assert result is not None
    assert result.status == JobStatus.CANCELLED
