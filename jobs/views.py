"""Job pages: a job's status (polled by htmx while it runs) and its result file."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import policy
from accounts.policy import Perm
from accounts.services import client_ip

from . import selectors, services


@login_required
def job_detail(request: HttpRequest, study_id: int, job_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.JOB_VIEW)
    job = selectors.job_get(user=request.user, study_id=study.pk, job_id=job_id)
    template = "jobs/_job_status.html" if request.htmx else "jobs/job_detail.html"  # type: ignore[attr-defined]
    return render(request, template, {"study": study, "job": job})


@login_required
def job_download(request: HttpRequest, study_id: int, job_id: int) -> FileResponse:
    f, filename = services.job_download_open(
        user=request.user, study_id=study_id, job_id=job_id, ip=client_ip(request)
    )
    return FileResponse(f, as_attachment=True, filename=filename)
