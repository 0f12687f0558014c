"""Codebook pages. Thin: parse a form, call a service or selector, render. The policy module
answers who may do what (leads edit; admins, leads and coders view; others 403/404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts import policy
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.colours import palette_next
from analysis.coding.dependents import code_dependents, code_panels
from analysis.coding.forms import (
    CodebookImportForm,
    CodeCreateForm,
    CodeDeleteForm,
    CodeEditForm,
    CodeMergeForm,
    CodeMoveForm,
    code_initial,
)
from analysis.coding.models import Code
from analysis.coding.selectors import codebook as selectors
from analysis.coding.selectors import retrieval
from analysis.coding.services import codebook as services
from analysis.coding.services import codebook_files
from analysis.coding.services import codebook_import as importing
from config.web import form_errors_apply


def _tree(request: HttpRequest, study_id: int) -> tuple[list[Code], list[selectors.CodeNode]]:
    codes = list(selectors.code_list(user=request.user, study_id=study_id))
    return codes, selectors.code_tree(codes)


def _context(request: HttpRequest, study_id: int, **extra: Any) -> dict[str, Any]:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_VIEW)
    perms = policy.perms_for(user=request.user, study=membership.study_id)
    return {
        "study": membership.study, "can_edit": Perm.CODEBOOK_EDIT in perms, "can_export": Perm.EXPORT in perms,
        **extra,
    }


@login_required
@require_GET
def codebook(request: HttpRequest, study_id: int) -> HttpResponse:
    context = _context(request, study_id)
    codes, roots = _tree(request, study_id)
    stats = retrieval.code_stats_readable(user=request.user, study_id=study_id)
    if stats is not None:
        for node in selectors.code_tree_flat(roots):
            node.stats = stats.get(node.code.pk, retrieval.CodeStats())
    return render(request, "coding/codebook.html", {
        **context, "roots": roots, "code_count": len(codes), "show_counts": stats is not None,
    })


@login_required
@require_GET
def code_detail(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    context = _context(request, study_id)
    code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
    _, roots = _tree(request, study_id)
    node = next(n for n in selectors.code_tree_flat(roots) if n.code.pk == code.pk)
    stats = retrieval.code_stats_readable(user=request.user, study_id=study_id)
    if stats is not None:
        node.stats = stats.get(code.pk, retrieval.CodeStats())
    panels = [p for p in (panel(request, study_id, code) for panel in code_panels()) if p is not None]
    return render(request, "coding/code_detail.html", {**context, "code": code, "node": node, "panels": panels})


def _form_values(form: Form) -> dict[str, Any]:
    data = form.cleaned_data
    return {k: data[k] for k in services.EDITABLE_FIELDS if k in data}


@login_required
@require_http_methods(["GET", "POST"])
def code_create(request: HttpRequest, study_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    context = _context(request, study_id)
    codes, roots = _tree(request, study_id)
    parent = request.GET.get("parent", "")
    form = CodeCreateForm(
        request.POST or None, roots=roots,
        initial={"parent": parent, "colour": palette_next([c.colour for c in codes]), "is_codable": True},
    )
    if request.method == "POST" and form.is_valid():
        try:
            code = services.code_create(
                actor=acting_user(request), study_id=study_id, parent_id=form.cleaned_data["parent"] or None,
                ip=client_ip(request), **_form_values(form),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Code “{code.name}” created.")
            return redirect(reverse("codebook", kwargs={"study_id": study_id}) + f"#code-{code.pk}")
    return render(request, "coding/code_form.html", {**context, "form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def code_edit(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    context = _context(request, study_id)
    code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
    form = CodeEditForm(request.POST or None, initial=code_initial(code), current_colour=code.colour)
    conflict: Code | None = None
    conflict_message = ""
    if request.method == "POST" and form.is_valid():
        try:
            code = services.code_update(
                actor=acting_user(request), study_id=study_id, code_id=code.pk,
                version=form.cleaned_data["version"], changes=_form_values(form), ip=client_ip(request),
            )
        except services.ConflictError as exc:
            conflict, conflict_message = exc.current, str(exc)
            # Keep the user's values; take the current version so "Save my version" re-applies them.
            data = request.POST.copy()
            data["version"] = str(conflict.version)
            form = CodeEditForm(data, initial=code_initial(conflict), current_colour=conflict.colour)
            form.is_valid()
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Code “{code.name}” saved.")
            return redirect("code-detail", study_id=study_id, code_id=code.pk)
    return render(
        request, "coding/code_form.html",
        {**context, "form": form, "code": code, "conflict": conflict, "conflict_message": conflict_message,
         "conflict_at": timezone.localtime(conflict.updated_at) if conflict else None},
        status=409 if conflict else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def code_move(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    context = _context(request, study_id)
    code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
    _, roots = _tree(request, study_id)
    exclude = {code.pk, *services.code_descendant_ids(study=code.study, code_id=code.pk)}
    form = CodeMoveForm(request.POST or None, roots=roots, exclude=exclude, initial={"parent": code.parent_id or ""})
    if request.method == "POST" and form.is_valid():
        try:
            services.code_move(
                actor=acting_user(request), study_id=study_id, code_id=code.pk,
                parent_id=int(form.cleaned_data["parent"]) if form.cleaned_data["parent"] else None,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Code “{code.name}” moved.")
            return redirect(reverse("codebook", kwargs={"study_id": study_id}) + f"#code-{code.pk}")
    return render(request, "coding/code_move.html", {**context, "form": form, "code": code})


@login_required
@require_http_methods(["GET", "POST"])
def code_merge(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    context = _context(request, study_id)
    code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
    _, roots = _tree(request, study_id)
    exclude = {code.pk, *services.code_descendant_ids(study=code.study, code_id=code.pk)}
    form = CodeMergeForm(request.POST or None, roots=roots, exclude=exclude)
    impact = services.code_delete_impact(study=code.study, code=code)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.code_merge(
                actor=acting_user(request), study_id=study_id, source_id=code.pk,
                target_id=int(form.cleaned_data["target"]), ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            moved = result.moved.get("codings", 0)
            messages.success(
                request, f"“{code.name}” merged into “{result.target.name}”; {moved} coding(s) moved."
            )
            return redirect("code-detail", study_id=study_id, code_id=result.target.pk)
    return render(request, "coding/code_merge.html", {**context, "form": form, "code": code, "impact": impact})


@login_required
@require_http_methods(["GET", "POST"])
def code_delete(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    context = _context(request, study_id)
    code = selectors.code_get(user=request.user, study_id=study_id, code_id=code_id)
    impact = services.code_delete_impact(study=code.study, code=code)
    form = CodeDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.code_delete(
                actor=acting_user(request), study_id=study_id, code_id=code.pk,
                confirm=form.cleaned_data["confirm"], ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Code “{code.name}” deleted.")
            return redirect("codebook", study_id=study_id)
    # What else goes with it, as the apps that depend on codes name it ("2 comments", "1 theme link").
    others = [(d.label, impact.dependents[d.key]) for d in code_dependents()
              if d.key != "codings" and impact.dependents.get(d.key)]
    return render(request, "coding/code_delete.html", {**context, "form": form, "code": code, "impact": impact,
                                                       "others": others})





@login_required
@require_http_methods(["GET", "POST"])
def codebook_import(request: HttpRequest, study_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.CODEBOOK_EDIT)
    context = _context(request, study_id)
    user = acting_user(request)
    form = CodebookImportForm()
    plan = token = None
    commit_errors: list[str] = []
    status = 200
    if request.method == "POST" and request.POST.get("token"):
        try:
            parsed = importing.parsed_unsign(token=request.POST["token"], study_id=study_id, user_id=user.pk)
            plan = importing.codebook_import_commit(actor=user, study_id=study_id, parsed=parsed, ip=client_ip(request))
        except ValidationError as exc:
            commit_errors, plan, status = exc.messages, None, 400
        else:
            s = plan.summary()
            messages.success(
                request, f"Codebook imported: {s['create']} created, {s['update']} updated, {s['unchanged']} unchanged."
            )
            return redirect("codebook", study_id=study_id)
    elif request.method == "POST":
        form = CodebookImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                parsed = codebook_files.codebook_upload_parse(upload=upload)
                plan = importing.codebook_import_preview(actor=user, study_id=study_id, parsed=parsed)
            except ValidationError as exc:
                form.add_error("file", exc.messages)
                status = 400
            else:
                token = importing.parsed_sign(parsed=parsed, study_id=study_id, user_id=user.pk)
        else:
            status = 400
    return render(
        request, "coding/codebook_import.html", {**context, "form": form, "plan": plan, "token": token, "commit_errors": commit_errors},
        status=status,
    )


@login_required
@require_GET
def codebook_export(request: HttpRequest, study_id: int, fmt: str) -> HttpResponse:
    if fmt not in codebook_files.FORMATS:
        raise Http404("No such export format.")
    try:
        f = codebook_files.codebook_export(actor=acting_user(request), study_id=study_id, fmt=fmt, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("codebook", study_id=study_id)
    response = HttpResponse(f.content, content_type=f.content_type)
    response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
    return response
