"""Job pages: the list of one's jobs, a job's status (polled by htmx while it runs), its result
file, and Cancel / Retry."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import policy
from accounts.policy import Perm
from accounts.services import client_ip

from . import selectors, services


@login_required
def job_list(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.JOB_VIEW)
    jobs = selectors.job_list_visible(user=request.user, study_id=study.pk)
    return render(request, "jobs/job_list.html", {"study": study, "jobs": jobs})


@login_required
def job_detail(request: HttpRequest, study_id: int, job_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.JOB_VIEW)
    job = selectors.job_get(user=request.user, study_id=study.pk, job_id=job_id)
    template = "jobs/_job_status.html" if request.htmx else "jobs/job_detail.html"  # type: ignore[attr-defined]
    can_manage = policy.has_perm(user=request.user, study=study.pk, perm=Perm.JOB_MANAGE)
    return render(request, template, {"study": study, "job": job, "can_manage": can_manage})


@login_required
def job_download(request: HttpRequest, study_id: int, job_id: int) -> FileResponse:
    f, filename = services.job_download_open(
        user=request.user, study_id=study_id, job_id=job_id, ip=client_ip(request)
    )
    return FileResponse(f, as_attachment=True, filename=filename)


@login_required
@require_POST
def job_cancel(request: HttpRequest, study_id: int, job_id: int) -> HttpResponse:
    try:
        job = services.job_cancel(actor=request.user, study_id=study_id, job_id=job_id,  # type: ignore[arg-type]
                                  ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The job was cancelled." if job.status == "cancelled"
                         else "The job will stop after the piece of work it is doing now.")
    return redirect("job-detail", study_id=study_id, job_id=job_id)


@login_required
@require_POST
def job_retry(request: HttpRequest, study_id: int, job_id: int) -> HttpResponse:
    try:
        services.job_retry(actor=request.user, study_id=study_id, job_id=job_id,  # type: ignore[arg-type]
                           ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The job will run again.")
    return redirect("job-detail", study_id=study_id, job_id=job_id)
