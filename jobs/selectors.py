from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from accounts import policy
from accounts.policy import Perm

from .models import Job


def job_list(*, user: Any, study_id: int) -> QuerySet[Job]:
    """Jobs are private to who started them: a job's result can hold data of that user's scope."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.JOB_VIEW)
    return Job.objects.filter(study_id=study_id, created_by=user)


def job_get(*, user: Any, study_id: int, job_id: int) -> Job:
    jobs = job_list(user=user, study_id=study_id)
    if not policy.id_ok(job_id):
        raise Http404("No such job.")
    job = jobs.filter(pk=job_id).first()
    if job is None or not policy.has_perm(user=user, study=study_id, perm=Perm(job.required_perm)):
        raise Http404("No such job.")
    return job


def job_list_visible(*, user: Any, study_id: int, limit: int = 200) -> list[Job]:
    """The user's jobs in a study, newest first, leaving out those whose permission they no longer hold."""
    perms = policy.perms_for(user=user, study=study_id)
    return [job for job in job_list(user=user, study_id=study_id)[:limit] if job.required_perm in perms]
