"""A matrix job on a real Celery worker (PostgreSQL and Redis; skipped otherwise), in the style of
``tests/test_job_faults.py``: the worker is killed with ``kill -9`` in the middle of a matrix and the
sweep's takeover completes it with one result; Cancel pressed on the matrix page while it runs stops it
at its next checkpoint with nothing stored.

"Mid-matrix" is exact: the test holds a lock on the matrix's row, so the worker computes every number
and then waits to store them; the test kills it (or presses Cancel) there.
"""

from __future__ import annotations

from typing import Any

import pytest

from analysis.matrices.models import Matrix
from analysis.matrices.services import matrix_request
from jobs.models import Job, JobStatus
from tests import test_job_faults as faults
from tests.test_job_faults import Locker, _sweep_once_the_lease_expires, _wait

from .conftest import Small

pytestmark = [pytest.mark.job, pytest.mark.fault]
# The real-worker fixtures of the job fault tests: a queue of the test's own, workers to kill, a lock holder.
fault_queue, make_worker, locker = faults.fault_queue, faults.make_worker, faults.locker


def _ask(cast: Any, **raw: Any) -> Matrix:
    m, created = matrix_request(actor=cast.users["lead"], study_id=cast.study.pk, raw=raw)
    assert created
    return m


@pytest.mark.parametrize("raw", [{"columns": "themes"}, {"rows": "codes"}], ids=["theme-x-group", "cooccurrence"])
def test_worker_killed_mid_matrix_is_taken_over_and_stores_one_result(
        cast: Any, small: Small, make_worker: Any, locker: Locker, raw: dict[str, str]) -> None:
    worker = make_worker()
    worker.start()
    matrix = _ask(cast, **raw)
    locker.execute("SELECT id FROM matrices_matrix WHERE id = %s FOR UPDATE", [matrix.pk])
    blocked_on = locker.wait_until_worker_blocked(on="matrices_matrix")
    assert "matrices_matrix" in blocked_on
    job = Job.objects.get(pk=matrix.job_id)
    assert job.status == JobStatus.RUNNING
    assert 0 < job.progress_done < job.progress_total  # every number computed, none stored yet
    worker.kill()
    locker.release()
    matrix.refresh_from_db()
    assert matrix.result is None  # nothing half-stored

    worker.start()
    assert _sweep_once_the_lease_expires(job.pk)["taken_over"] == 1
    job = _wait(job.pk, lambda j: j.is_finished)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2
    matrix.refresh_from_db()
    assert matrix.result is not None
    assert Matrix.objects.filter(study=cast.study).count() == 1
    assert Job.objects.filter(kind="matrix").count() == 1
    if raw.get("rows") == "codes":
        names = [c["label"] for c in matrix.result["columns"]]
        i, j = names.index("Loss of non-verbal cues"), names.index("Technology problems")
        assert matrix.result["cells"][i][j]["segments"] == 1  # SU01: "phoned me every week", coded with both


def test_cancel_on_the_matrix_page_stops_a_running_matrix_with_nothing_stored(
        cast: Any, small: Small, clients: Any, make_worker: Any, locker: Locker) -> None:
    worker = make_worker()
    worker.start()
    matrix = _ask(cast, rows="site")
    locker.execute("SELECT id FROM matrices_matrix WHERE id = %s FOR UPDATE", [matrix.pk])
    locker.wait_until_worker_blocked(on="matrices_matrix")
    url = f"/studies/{cast.study.pk}/matrices/{matrix.pk}/"
    page = clients["lead"].get(url).content.decode()
    assert "Cancel this matrix" in page
    assert "<progress" in page
    r = clients["lead"].post(url + "cancel/", follow=True)
    assert "will stop at its next step" in r.content.decode()
    locker.release()
    job = _wait(matrix.job_id, lambda j: j.is_finished)  # type: ignore[arg-type]
    assert job.status == JobStatus.CANCELLED
    matrix.refresh_from_db()
    assert matrix.result is None
    page = clients["lead"].get(url).content.decode()
    assert "Cancelled" in page
    assert "Cancel this matrix" not in page
