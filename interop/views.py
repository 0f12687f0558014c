"""Pages for REFI-QDA projects: import (upload, preview with choices, start, progress) and export
(selection, preview of who is left out and why, start). Thin: parse input, call a service, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.models import ParticipantGroup
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from interop.forms import ExportForm, ProjectTargetForm
from interop.models import ProjectImport, ProjectImportStatus
from interop.services import exports, imports


@login_required
@require_http_methods(["GET", "POST"])
def project_import(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.PROJECT_IMPORT)
    form = ProjectTargetForm()
    if request.method == "POST":
        form = ProjectTargetForm(request.POST, request.FILES)
        if form.is_valid():
            f = form.cleaned_data["project_file"]
            if f.size > imports.MAX_QDPX_BYTES:
                form.add_error("project_file", "The file is too large.")
            else:
                try:
                    if form.cleaned_data.get("target") == "new":
                        record = imports.project_import_new_study(
                            actor=acting_user(request), name=form.cleaned_data["new_study_name"], filename=f.name,
                            data=f.read(), ip=client_ip(request))
                    else:
                        record = imports.project_import_preview(actor=acting_user(request), study_id=study.pk,
                                                                filename=f.name, data=f.read(), ip=client_ip(request))
                except ValidationError as exc:
                    for m in exc.messages:
                        form.add_error(None, m)
                else:
                    return redirect("project-import-detail", study_id=record.study_id, import_id=record.pk)
    recent = ProjectImport.objects.filter(study=study, created_by=acting_user(request))[:10]
    return render(request, "interop/project_import.html", {"study": study, "form": form, "recent": recent})


def _choices_from_post(post: Any, preview: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"users": {}, "user_names": {}, "codes": {}, "participants": {}, "transcripts": {}}
    for u in preview.get("users", []):
        if f"user-{u['guid']}" in post:
            out["users"][u["guid"]] = post[f"user-{u['guid']}"]
        name = post.get(f"username-{u['guid']}", "").strip()
        if name:
            out["user_names"][u["guid"]] = name
    for key in ("group_variable", "site_variable", "default_group"):
        if key in post:
            out[key] = post[key]
    for c in preview.get("code_conflicts", []):
        if f"code-{c['guid']}" in post:
            out["codes"][c["guid"]] = post[f"code-{c['guid']}"]
    for p in preview.get("participants", []):
        k = p["pseudonym"].lower()
        if f"participant-{k}" in post:
            out["participants"][k] = post[f"participant-{k}"]
    for t in preview.get("transcripts", []):
        if f"transcript-{t['guid']}" in post:
            out["transcripts"][t["guid"]] = post[f"transcript-{t['guid']}"]
    return out


@login_required
@require_http_methods(["GET", "POST"])
def project_import_detail(request: HttpRequest, study_id: int, import_id: int) -> HttpResponse:
    record = imports.project_import_get(user=request.user, study_id=study_id, import_id=import_id)
    if request.method == "POST":
        try:
            imports.project_import_choose(actor=acting_user(request), study_id=study_id, import_id=record.pk,
                                          choices=_choices_from_post(request.POST, record.preview))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Your choices are saved and the preview below is updated.")
        return redirect("project-import-detail", study_id=study_id, import_id=record.pk)
    preview = record.preview
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.PROJECT_IMPORT)
    members = imports._members(membership.study)
    transcripts = preview.get("transcripts", [])
    context = {
        "study": membership.study, "record": record, "p": preview, "job": record.job,
        "members": [{"value": f"member:{m.user_id}", "label": f"{m.user.display_name} ({m.get_role_display()})"}
                    for m in members],
        "groups": ParticipantGroup.objects.filter(study_id=study_id),
        "adding": sum(1 for t in transcripts if t["action"] == "create"),
        "blocked": [t for t in transcripts if t["action"] == "blocked"],
        "skipped": [t for t in transcripts if t["action"] == "skip"],
        "conflicts": [t for t in transcripts if t["conflict"]],
        "existing_participants": [p for p in preview.get("participants", []) if p["action"] == "existing"],
        "new_participants": [p for p in preview.get("participants", []) if p["action"] == "create"],
        "is_preview": record.status == ProjectImportStatus.PREVIEW,
    }
    return render(request, "interop/project_import_detail.html", context)


@login_required
@require_POST
def project_import_start(request: HttpRequest, study_id: int, import_id: int) -> HttpResponse:
    try:
        imports.project_import_start(actor=acting_user(request), study_id=study_id, import_id=import_id,
                                     ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("project-import-detail", study_id=study_id, import_id=import_id)


@login_required
@require_POST
def project_import_cancel(request: HttpRequest, study_id: int, import_id: int) -> HttpResponse:
    try:
        imports.project_import_cancel(actor=acting_user(request), study_id=study_id, import_id=import_id,
                                      ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("project-import-detail", study_id=study_id, import_id=import_id)
    messages.success(request, "The import was cancelled and its file deleted. Nothing was imported.")
    return redirect("project-import", study_id=study_id)


@login_required
@require_http_methods(["GET", "POST"])
def project_export(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.PROJECT_EXPORT)
    data = request.POST if request.method == "POST" else (request.GET if request.GET else None)
    form = ExportForm(data, study_id=study.pk)
    preview = None
    if data is not None and form.is_valid():
        d = form.cleaned_data
        sel = exports.selection_clean(
            study_id=study.pk, sites=[s.pk for s in d["sites"]], groups=[g.pk for g in d["groups"]],
            codes=[c.pk for c in d["codes"]], coders=[m.user_id for m in d["coders"]])
        if request.method == "POST":
            job = exports.project_export_start(actor=acting_user(request), study_id=study.pk, sel=sel,
                                               ip=client_ip(request))
            return redirect("job-detail", study_id=study.pk, job_id=job.pk)
        preview = exports.project_export_preview(actor=acting_user(request), study_id=study.pk, sel=sel)
    elif data is None:
        preview = exports.project_export_preview(
            actor=acting_user(request), study_id=study.pk, sel=exports.Selection([], [], [], []))
    return render(request, "interop/project_export.html", {"study": study, "form": form, "preview": preview,
                                                           "query": request.GET.urlencode()})
