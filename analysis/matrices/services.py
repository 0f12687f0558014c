"""Asking for a matrix and computing it in a job.

``matrix_request`` reuses a fresh identical result (same member, same normalised request, same data
version) instead of computing again; two identical requests at once meet on a unique constraint and
share one row and one job. The job (``jobs``) computes in the member's scope as it is when it runs.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record

from . import engine, selectors
from .models import Matrix

JOB_KIND = "matrix"


def matrix_request(*, actor: User, study_id: int, raw: dict[str, Any], ip: str | None = None,
                   again: bool = False) -> tuple[Matrix, bool]:
    """The matrix for this request: ``(matrix, created)``. A fresh identical one is reused (``created``
    is False); otherwise a new one is queued. Raises ValidationError for a malformed request. ``again``: the
    request is a stored matrix's (a refresh): its transcript set is looked up afresh, and if the set has been
    deleted the transcripts it held then are counted again."""
    from jobs.services import job_create

    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.MATRIX_RUN)
    spec = selectors.spec_parse(_by_set(actor=actor, study_id=study.pk, raw=raw, again=again))
    selectors.spec_check(study_id=study.pk, spec=spec)
    version = selectors.data_version(study_id=study.pk)
    lookup = {"study": study, "created_by": actor, "key": spec.key, "data_version": version}
    existing = Matrix.objects.filter(**lookup).select_related("job").first()
    if existing is not None and existing.result is None and existing.job is not None and existing.job.is_finished:
        # Cancelled or failed before it stored a result: the same row computes again with a new job.
        return _matrix_requeue(actor=actor, study=study, matrix=existing, ip=ip), True
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            matrix = Matrix.objects.create(spec=spec.as_dict(), **lookup)
            job = job_create(study=study, kind=JOB_KIND, created_by=actor, perm=Perm.MATRIX_VIEW,
                             params={"matrix_id": matrix.pk}, task="matrices.compute")
            Matrix.objects.filter(pk=matrix.pk).update(job=job)
            matrix.job = job
            audit_record(actor=actor, action="matrix.request", study=study, obj=matrix, ip=ip,
                         details={"columns": spec.columns, "rows": spec.rows})
    except IntegrityError:
        # The same request committed a moment ago (another tab, a double click): use its row.
        return Matrix.objects.get(**lookup), False
    return matrix, True


def _by_set(*, actor: User, study_id: int, raw: dict[str, Any], again: bool) -> dict[str, Any]:
    """A request "by a transcript set" with the set's transcripts (those the member may count) written into it,
    as they are now: the matrix records the ids it counted (see ``selectors.Spec.transcript_set_id``)."""
    set_id = raw.get("transcript_set_id")
    if set_id in (None, ""):
        return raw
    if raw.get("transcript_ids") and not again:
        raise ValidationError({"transcript_set_id": "Choose a transcript set or single transcripts, not both."})
    selectors.spec_parse({"transcript_set_id": set_id})  # a malformed id is a 400 like any other field
    ids = selectors.set_transcripts_now(user=actor, study_id=study_id, set_id=int(set_id))
    if ids is None and again:
        return raw
    if ids is None:
        raise ValidationError({"transcript_set_id": "No such transcript set in this study."})
    if not ids:
        # An empty filter would mean "every transcript": the opposite of what was asked.
        raise ValidationError({"transcript_set_id": "This transcript set has no transcripts you can count."})
    return {**raw, "transcript_ids": ids}


def _matrix_requeue(*, actor: User, study: Any, matrix: Matrix, ip: str | None) -> Matrix:
    from jobs.services import job_create

    with transaction.atomic():
        locked = Matrix.objects.select_for_update(of=("self",)).select_related("job").get(pk=matrix.pk)
        if locked.job is None or not locked.job.is_finished:
            return locked  # another request queued it a moment ago
        job = job_create(study=study, kind=JOB_KIND, created_by=actor, perm=Perm.MATRIX_VIEW,
                         params={"matrix_id": matrix.pk}, task="matrices.compute")
        Matrix.objects.filter(pk=matrix.pk).update(job=job)
        locked.job = job
        audit_record(actor=actor, action="matrix.request", study=study, obj=locked, ip=ip,
                     details={"columns": locked.spec.get("columns"), "rows": locked.spec.get("rows"), "again": True})
    return locked


def matrix_refresh(*, actor: User, study_id: int, matrix_id: Any, ip: str | None = None) -> tuple[Matrix, bool]:
    """The same request again, against today's data (a stale matrix's one-click refresh)."""
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.MATRIX_RUN)
    matrix = selectors.matrix_get(user=actor, study_id=study_id, matrix_id=matrix_id)
    return matrix_request(actor=actor, study_id=study_id, raw=dict(matrix.spec), ip=ip, again=True)


def matrix_cancel(*, actor: User, study_id: int, matrix_id: Any, ip: str | None = None) -> Any:
    """Cancel the matrix's job: at once while queued, at the next checkpoint while running."""
    from jobs.services import job_cancel

    matrix = selectors.matrix_get(user=actor, study_id=study_id, matrix_id=matrix_id)
    if matrix.job_id is None:
        from django.core.exceptions import ValidationError

        raise ValidationError("This matrix has no job to cancel.")
    return job_cancel(actor=actor, study_id=study_id, job_id=matrix.job_id, ip=ip)


def matrix_compute_run(*, job_id: int) -> Any:
    """The job's work: compute as the member who asked, in their scope today, and store the result."""
    from jobs.services import job_progress, job_run

    def work(job: Any) -> dict[str, Any]:
        matrix = Matrix.objects.get(pk=job.params["matrix_id"])
        spec = selectors.spec_of(matrix)
        steps = engine.matrix_steps(spec) + 1  # the engine's statements, then storing the result
        job_progress(job_id=job.pk, done=0, total=steps)
        policy.membership_forget(user=job.created_by)

        def checkpoint(done: int) -> None:
            # Between statements: the progress bar moves, and Cancel (or a takeover) stops the work here.
            job_progress(job_id=job.pk, done=done)

        result = engine.matrix_compute(user=job.created_by, study_id=job.study_id, spec=spec, checkpoint=checkpoint)
        # Stored whole or not at all: a worker killed before the commit leaves no result, and the one that takes
        # over stores the one result. The last checkpoint is inside the transaction, so a Cancel pressed while the
        # result was being written still wins and nothing is kept.
        with transaction.atomic():
            Matrix.objects.filter(pk=matrix.pk).update(result=selectors.result_json(result),
                                                       computed_at=timezone.now())
            job_progress(job_id=job.pk, done=steps)
        return {"rows": len(result.rows), "columns": len(result.columns), "segments": result.total.get("segments", 0)}

    return job_run(job_id=job_id, work=work)
