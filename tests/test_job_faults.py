"""Faults with a real Celery worker on PostgreSQL and Redis: the worker is killed (``kill -9``, as the
kernel's out-of-memory killer or a deploy does) in the middle of an import, a purge and an agreement
report, a pool child dies, the database drops the worker's connections. Each job still completes,
with no duplicate and nothing half-done.

"Mid-job" is made exact without touching the application: the test holds a database lock the job
needs next (a participant row, a transcript row, a table), waits until the worker is blocked on it,
and kills the worker there.

Run with DATABASE_URL (PostgreSQL) and REDIS_URL set; skipped otherwise. Each test starts its own
worker on a queue of its own (so the suite's shared worker never takes its messages).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from analysis.transcripts.models import ItemStatus, Transcript, TranscriptImport
from analysis.transcripts.services import imports
from analysis.transcripts.services.imports import Upload
from jobs import services as job_services
from jobs.models import Job, JobStatus

pytestmark = [pytest.mark.job, pytest.mark.fault]

LEASE = 3  # seconds: the worker's lease, short so a dead worker is noticed quickly
APP_NAME = "chorus-fault-worker"


def _require_pg_and_redis() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("fault tests need PostgreSQL (set DATABASE_URL): a real worker must share the test database")
    if not settings.REDIS_URL:
        pytest.skip("fault tests need Redis (set REDIS_URL) to run a real Celery worker")


class Worker:
    """A Celery worker process on its own queue, which the test can kill -9 and start again."""

    def __init__(self, queue: str, log_dir: Path, pool: str = "solo") -> None:
        self.queue, self.pool, self.log_dir = queue, pool, log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _env(self) -> dict[str, str]:
        db = connection.settings_dict
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "CHORUS_JOB_LEASE_SECONDS": str(LEASE),
            "CHORUS_JOB_BACKOFF_SECONDS": "1",
            # What the worker itself sends (a retry after backoff) stays on this test's queue.
            "CHORUS_CELERY_QUEUE": self.queue,
            "PGAPPNAME": APP_NAME,  # so the test can find the worker's database sessions
        }

    def start(self) -> None:
        self.starts += 1
        log_path = self.log_dir / f"worker-{self.starts}.log"
        self.log_path = log_path
        log = log_path.open("wb")
        args = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue, "--pool", self.pool,
                "-n", f"fault{self.starts}-{uuid.uuid4().hex[:6]}@%h", "--without-heartbeat", "--without-gossip",
                "--without-mingle", "-l", "INFO"]
        if self.pool == "prefork":
            args += ["--concurrency", "1"]
        self.proc = subprocess.Popen(args, env=self._env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited early; see {log_path}")
            if b"ready." in log_path.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the worker did not start within 60 s; see {log_path}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fault_queue(transactional_db: None) -> Iterator[str]:
    """Route every task to a queue of this test's own, emptied first."""
    _require_pg_and_redis()
    from config.celery import app

    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-fault-{uuid.uuid4().hex[:6]}"
    saved = app.conf.task_routes
    app.conf.task_routes = {"*": {"queue": queue}}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    try:
        yield queue
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
        app.conf.task_routes = saved
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)


@pytest.fixture
def make_worker(fault_queue: str, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def make(pool: str = "solo") -> Worker:
        w = Worker(fault_queue, tmp_path, pool=pool)
        workers.append(w)
        return w

    yield make
    for w in workers:
        w.stop()


class Locker:
    """A second database session held by the test, to block the worker at a chosen point."""

    def __init__(self) -> None:
        import psycopg

        db = connection.settings_dict
        self.conn = psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or "127.0.0.1",
                                    port=db["PORT"] or 5432, autocommit=False)

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.execute(sql, params)

    def release(self) -> None:
        self.conn.rollback()

    def wait_until_worker_blocked(self, timeout: float = 60, on: str = "") -> str:
        """The query the worker is waiting on a lock with; with ``on``, one naming that table (on a busy
        machine the worker can wait a moment on a row the test is still committing, the job's own)."""
        deadline = time.monotonic() + timeout
        with connection.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(
                    "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s "
                    "AND wait_event_type = 'Lock' AND strpos(query, %s) > 0", [APP_NAME, on],
                )
                row = cur.fetchone()
                if row:
                    return str(row[0])
                time.sleep(0.1)
        raise AssertionError("the worker never blocked on the test's lock")

    def terminate_worker_sessions(self) -> int:
        with connection.cursor() as cur:
            # Only this database's: a parallel test process (xdist) has workers of the same name on its own.
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name = %s", [APP_NAME])
            return int(cur.fetchone()[0])

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def locker(transactional_db: None) -> Iterator[Locker]:
    _require_pg_and_redis()
    lk = Locker()
    yield lk
    lk.close()


def _wait(job_id: int, done: Callable[[Job], bool], timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stayed {Job.objects.get(pk=job_id).status} for {timeout} s")


def _sweep_once_the_lease_expires(job_id: int) -> dict[str, int]:
    job = Job.objects.get(pk=job_id)
    assert job.status == JobStatus.RUNNING, "a killed worker leaves its job running"
    assert job.lease_expires_at is not None
    wait = (job.lease_expires_at - timezone.now()).total_seconds() + 0.2
    if wait > 0:
        time.sleep(wait)
    return job_services.jobs_sweep()


# Transcript import ----------------------------------------------------------------------------------

FILES = 6


def _start_import(cast: Any) -> tuple[TranscriptImport, list[Any]]:
    from .factories import participant_row as make_participant

    people = [make_participant(cast, f"SU{i:02d}", "service_user", cast.north) for i in range(1, FILES + 1)]
    uploads = [Upload(f"{p.pseudonym}.txt", f"Interviewer: How was it?\n{p.pseudonym}: Line {i} 👍 of my story.\n"
                      .encode()) for i, p in enumerate(people)]
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk, uploads=uploads)
    assert batch.items.filter(status=ItemStatus.READY).count() == FILES
    return batch, people


def _assert_imported_once(cast: Any, batch: TranscriptImport, people: list[Any]) -> None:
    batch.refresh_from_db()
    assert batch.status == "done"
    assert sorted(batch.items.values_list("status", flat=True)) == ["imported"] * FILES
    for p in people:  # exactly one transcript each, complete with its turns: no duplicate, nothing half-imported
        transcripts = list(Transcript.objects.filter(participant=p))
        assert len(transcripts) == 1, p.pseudonym
        assert transcripts[0].turns.count() == 2, p.pseudonym
        assert transcripts[0].title == f"Interview {p.pseudonym}"


def test_worker_killed_mid_import_resumes_without_duplicates(cast: Any, make_worker: Any, locker: Locker) -> None:
    batch, people = _start_import(cast)
    # The worker will wait for SU04 (transcript_create locks the participant) after importing three.
    locker.execute("SELECT id FROM participants_participant WHERE id = %s FOR UPDATE", [people[3].pk])
    worker = make_worker()
    worker.start()
    batch = imports.import_commit(actor=cast.users["lead"], study_id=cast.study.pk, batch_id=batch.pk)
    assert batch.job_id is not None
    locker.wait_until_worker_blocked(on="participants_participant")
    assert Transcript.objects.filter(study=cast.study).count() == 3
    worker.kill()
    locker.release()
    job = Job.objects.get(pk=batch.job_id)
    assert (job.status, job.progress_done, job.progress_total) == (JobStatus.RUNNING, 3, FILES)

    worker.start()
    assert _sweep_once_the_lease_expires(job.pk)["taken_over"] == 1
    job = _wait(job.pk, lambda j: j.is_finished)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    assert job.result == {"imported": FILES, "not imported": 0}
    _assert_imported_once(cast, batch, people)


def test_pool_child_killed_mid_import_is_requeued_and_taken_over_at_once(
    cast: Any, make_worker: Any, locker: Locker,
) -> None:
    """WorkerLostError: the prefork parent puts the message back (reject on worker lost), and the
    new child takes over at once because the lease's process is gone; no sweep needed."""
    batch, people = _start_import(cast)
    locker.execute("SELECT id FROM participants_participant WHERE id = %s FOR UPDATE", [people[2].pk])
    worker = make_worker(pool="prefork")
    worker.start()
    batch = imports.import_commit(actor=cast.users["lead"], study_id=cast.study.pk, batch_id=batch.pk)
    locker.wait_until_worker_blocked(on="participants_participant")
    owner = Job.objects.get(pk=batch.job_id).lease_owner
    child = int(owner.split(":")[1])
    assert worker.proc is not None
    assert child != worker.proc.pid
    os.kill(child, signal.SIGKILL)
    locker.release()
    job = _wait(batch.job_id, lambda j: j.is_finished, timeout=60)  # type: ignore[arg-type]
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    _assert_imported_once(cast, batch, people)
    assert "WorkerLostError" in worker.log_path.read_text(errors="replace")


def test_cancel_a_running_import_stops_after_the_current_file(
    cast: Any, clients: Any, make_worker: Any, locker: Locker,
) -> None:
    batch, people = _start_import(cast)
    locker.execute("SELECT id FROM participants_participant WHERE id = %s FOR UPDATE", [people[1].pk])
    worker = make_worker()
    worker.start()
    batch = imports.import_commit(actor=cast.users["lead"], study_id=cast.study.pk, batch_id=batch.pk)
    locker.wait_until_worker_blocked(on="participants_participant")
    r = clients["lead"].post(f"/studies/{cast.study.pk}/jobs/{batch.job_id}/cancel/", follow=True)
    assert "will stop after the piece of work it is doing now" in r.content.decode()
    locker.release()
    job = _wait(batch.job_id, lambda j: j.is_finished)  # type: ignore[arg-type]
    assert job.status == JobStatus.CANCELLED
    batch.refresh_from_db()
    statuses = dict(batch.items.values_list("filename", "status"))
    # The file being imported when Cancel was pressed finished; the rest were not started.
    assert [statuses[f"SU{i:02d}.txt"] for i in range(1, FILES + 1)] == ["imported"] * 2 + ["failed"] * 4
    assert Transcript.objects.filter(study=cast.study).count() == 2
    assert "cancelled" in batch.items.filter(status="failed").first().message  # type: ignore[union-attr]


def test_database_connection_lost_mid_import_is_retried(cast: Any, make_worker: Any, locker: Locker) -> None:
    """The database drops the worker's sessions (a restart, a failover): the job is tried again
    after a short backoff, by the same worker, and completes."""
    batch, people = _start_import(cast)
    locker.execute("SELECT id FROM participants_participant WHERE id = %s FOR UPDATE", [people[3].pk])
    worker = make_worker()
    worker.start()
    batch = imports.import_commit(actor=cast.users["lead"], study_id=cast.study.pk, batch_id=batch.pk)
    locker.wait_until_worker_blocked(on="participants_participant")
    assert locker.terminate_worker_sessions() >= 1
    locker.release()
    job = _wait(batch.job_id, lambda j: j.is_finished)  # type: ignore[arg-type]
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    _assert_imported_once(cast, batch, people)


def test_database_connection_lost_while_taking_the_job_is_sent_again(
    cast: Any, make_worker: Any, locker: Locker,
) -> None:
    """The worker's session is cut while it takes the job (waiting on the job's row): the message is
    spent, nothing ran, and the worker sends it again itself instead of leaving it to the sweep."""
    batch, people = _start_import(cast)
    worker = make_worker()
    batch = imports.import_commit(actor=cast.users["lead"], study_id=cast.study.pk, batch_id=batch.pk)
    locker.execute("SELECT id FROM jobs_job WHERE id = %s FOR UPDATE", [batch.job_id])
    worker.start()
    locker.wait_until_worker_blocked(on="jobs_job")
    assert locker.terminate_worker_sessions() >= 1
    locker.release()
    job = _wait(batch.job_id, lambda j: j.is_finished)  # type: ignore[arg-type]
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 1  # the cut claim never counted as an attempt
    _assert_imported_once(cast, batch, people)
    assert "while taking the job" in worker.log_path.read_text(errors="replace")


# Purge --------------------------------------------------------------------------------------------------


def test_worker_killed_mid_purge_purges_everything_on_takeover(cast: Any, make_worker: Any, locker: Locker) -> None:
    from accounts.models import AuditEvent
    from participants import services as participant_services
    from participants.models import Participant

    from .factories import SU01_TEXT, add_transcript
    from .participants.test_purge import MARKERS, _seed, rows_containing

    p, keep, _event = _seed(cast)
    transcript = add_transcript(cast, p, SU01_TEXT.replace("SU01", "SU42"))
    # The purge deletes codings and memos first, then waits for this transcript row: mid-purge.
    locker.execute("SELECT id FROM transcripts_transcript WHERE id = %s FOR UPDATE", [transcript.pk])
    worker = make_worker()
    worker.start()
    _, job = participant_services.participant_withdraw(
        actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, scope="delete_data",
        date=dt.date(2020, 7, 1),
    )
    assert job is not None
    blocked_on = locker.wait_until_worker_blocked(on="transcripts_transcript")
    assert "transcripts_" in blocked_on
    worker.kill()
    locker.release()
    # Nothing half-deleted: the interrupted purge's transaction rolled back as a whole.
    p.refresh_from_db()
    assert p.purged_at is None
    assert p.attributes == {"story": "purge-attr-7731"}
    assert Transcript.objects.filter(participant=p).count() == 1
    assert not AuditEvent.objects.filter(action="participant.purge").exists()

    worker.start()
    assert _sweep_once_the_lease_expires(job.pk)["taken_over"] == 1
    job = _wait(job.pk, lambda j: j.is_finished)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    p = Participant.objects.get(pk=p.pk)
    assert p.purged_at is not None
    assert Transcript.objects.filter(participant=p).count() == 0
    for marker in MARKERS:
        assert rows_containing(marker) == [], marker
    assert AuditEvent.objects.filter(action="participant.purge").count() == 1  # one tombstone, no duplicate
    assert Participant.objects.get(pk=keep.pk).attributes == {"story": "someone else"}


# Reports and exports ------------------------------------------------------------------------------------


def _start_agreement_report(cast: Any) -> Job:
    from analysis.coding.services.assignments import agreement_report_start

    return agreement_report_start(actor=cast.users["lead"], study_id=cast.study.pk)


def _start_participants_export(cast: Any) -> Job:
    from participants.services.exports import participants_export_start

    from .factories import participant_row

    participant_row(cast, "SU01", "service_user", cast.north)
    return participants_export_start(actor=cast.users["admin"], study_id=cast.study.pk)


def _start_audit_export(cast: Any) -> Job:
    from accounts.exports import audit_export_start

    return audit_export_start(actor=cast.users["admin"], study_id=cast.study.pk, filters={})


def _start_coded_export(cast: Any) -> Job:
    from analysis.coding.services.exports import ExportRequest, coded_export_start

    return coded_export_start(actor=cast.users["lead"], study_id=cast.study.pk, request=ExportRequest(fmt="xlsx"))


@pytest.mark.parametrize(
    ("start", "table", "result_keys"),
    [
        (_start_agreement_report, "coding_assignment", {"transcripts", "codes", "overall"}),
        (_start_participants_export, "participants_participant", {"participants"}),
        (_start_audit_export, "accounts_auditevent", {"rows"}),
        (_start_coded_export, "coding_coding", {"Codings exported"}),
    ],
    ids=["agreement_report", "participants_export", "audit_export", "coded_export"],
)
def test_worker_killed_mid_report_or_export_reruns_it(
    cast: Any, make_worker: Any, locker: Locker, start: Callable[[Any], Job], table: str, result_keys: set[str],
) -> None:
    job = start(cast)  # queued; no worker yet
    # The job will wait for this table, which it reads: the worker is killed while computing.
    locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    worker = make_worker()
    worker.start()
    locker.wait_until_worker_blocked(on=table)
    worker.kill()
    locker.release()
    worker.start()
    assert _sweep_once_the_lease_expires(job.pk)["taken_over"] == 1
    job = _wait(job.pk, lambda j: j.is_finished)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    assert set(job.result) >= result_keys
    assert Job.objects.filter(kind=job.kind).count() == 1
    if job.kind != "agreement_report":
        assert job.result_file  # the export's file, written once by the worker that finished


def test_a_lost_message_is_sent_again_by_the_sweep(cast: Any, make_worker: Any, settings: Any) -> None:
    """Redis restarted without persistence: the queued job's message is gone."""
    from accounts.exports import audit_export_start
    from config.celery import app

    job = audit_export_start(actor=cast.users["admin"], study_id=cast.study.pk, filters={})
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.amqp.router.route({}, "accounts.audit_export")["queue"].name)
    worker = make_worker()
    worker.start()
    time.sleep(1)
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
    later = timezone.now() + dt.timedelta(seconds=settings.CHORUS_JOB_STALE_QUEUED_SECONDS + 1)
    assert job_services.jobs_sweep(now=later)["resent"] == 1
    job = _wait(job.pk, lambda j: j.is_finished)
    assert job.status == JobStatus.DONE, job.error
