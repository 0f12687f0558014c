"""The coded-material export page: choose the format and filters, start the job, follow it on the
job page. Thin: the service checks the filters and the permission."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import policy
from accounts.models import Membership
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.models import Code
from analysis.coding.selectors.codebook import code_tree, code_tree_flat
from analysis.coding.services import exports
from analysis.transcripts import selectors as transcript_selectors
from analysis.transcripts.sets.selectors import sets_list


def _form_data(request: HttpRequest) -> dict[str, Any]:
    src = request.POST if request.method == "POST" else request.GET
    data: dict[str, Any] = {k: src.getlist(k[:-1]) for k in exports.FILTERS}
    data["format"] = src.get("format", "")
    data["subcodes"] = src.get("subcodes", "1" if request.method == "GET" else "0")
    data["sheet_per_code"] = src.get("sheet_per_code", "0")
    data["transcript_set"] = src.get("transcript_set", "")
    return data


@login_required
@require_http_methods(["GET", "POST"])
def coding_export(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODING_EXPORT)
    user = acting_user(request)
    data = _form_data(request)
    errors: list[str] = []
    if request.method == "POST":
        try:
            req = exports.export_request_parse(study_id=study_id, data=exports.export_transcript_set_apply(
                user=user, study_id=study_id, data=data))
            job = exports.coded_export_start(actor=user, study_id=study_id, request=req, ip=client_ip(request))
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("job-detail", study_id=study_id, job_id=job.pk)
    codes = list(Code.objects.filter(study_id=study_id).order_by("position", "id"))
    study = membership.study
    chosen = {k: {str(v) for v in data[k]} for k in exports.FILTERS}
    coders = Membership.objects.filter(study_id=study_id, role__in=["lead", "coder"]).select_related("user").order_by(
        "user__full_name", "user__email")
    return render(request, "coding/coding_export.html", {
        "study": study, "errors": errors, "data": data, "chosen": chosen,
        "codes": code_tree_flat(code_tree(codes)), "groups": study.groups.all(), "sites": study.sites.all(),
        "coders": [m.user for m in coders],
        "transcripts": transcript_selectors.transcript_list(user=user, study_id=study_id),
        "transcript_sets": sets_list(user=user, study_id=study_id, perm=Perm.CODING_EXPORT),
    }, status=400 if errors else 200)
