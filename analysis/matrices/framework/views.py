"""Framework chart pages: the list and the new-chart form, the chart (a table: participants × themes), a
cell's editor with its supporting segments beside it, delete, export. Thin over services and selectors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts import policy
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from config.web import form_errors_apply

from . import exports, selectors, services
from .forms import CellForm, ChartForm
from .models import FrameworkChart

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
@require_http_methods(["GET", "POST"])
def framework_list(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    form = ChartForm(request.POST or None, study_id=study_id)
    if request.method == "POST":
        policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_RUN)
        if form.is_valid():
            d = form.cleaned_data
            try:
                chart = services.framework_chart_create(
                    actor=acting_user(request), study_id=study_id, name=d["name"], theme_ids=d["themes"],
                    group_ids=d["groups"], site_ids=d["sites"], ip=client_ip(request))
            except ValidationError as exc:
                form_errors_apply(form, exc)
            else:
                messages.success(request, f"Framework chart “{chart.name}” created.")
                return redirect("framework-detail", study_id=study_id, chart_id=chart.pk)
    charts = selectors.charts_list(user=request.user, study_id=study_id)
    return render(request, "matrices/framework_list.html", {
        "study": membership.study, "form": form, "charts": charts}, status=400 if form.errors else 200)


def _chart_ctx(request: HttpRequest, study_id: int, chart_id: int) -> tuple[dict[str, Any], FrameworkChart]:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    chart = selectors.chart_get(user=request.user, study_id=study_id, chart_id=chart_id)
    return {
        "study": membership.study, "chart": chart,
        "can_delete": policy.may_delete_chart(membership=membership, author_id=chart.created_by_id),
    }, chart


@login_required
@require_http_methods(["GET"])
def framework_detail(request: HttpRequest, study_id: int, chart_id: int) -> HttpResponse:
    ctx, chart = _chart_ctx(request, study_id, chart_id)
    ctx["grid"] = selectors.chart_grid(user=request.user, study_id=study_id, chart=chart)
    ctx["export_by_job"] = len(ctx["grid"].rows) > services.SYNC_MAX_ROWS
    return render(request, "matrices/framework_detail.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def framework_delete(request: HttpRequest, study_id: int, chart_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_RUN)
    ctx, chart = _chart_ctx(request, study_id, chart_id)
    if request.method == "POST":
        services.framework_chart_delete(actor=acting_user(request), study_id=study_id, chart_id=chart.pk,
                                        ip=client_ip(request))
        messages.success(request, f"Framework chart “{chart.name}” deleted.")
        return redirect("framework-list", study_id=study_id)
    if not ctx["can_delete"]:
        raise PermissionDenied("Only who made this chart, or a lead, can delete it.")
    return render(request, "matrices/framework_delete.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def framework_cell(request: HttpRequest, study_id: int, chart_id: int, participant_id: int, theme_id: int) -> HttpResponse:
    ctx, chart = _chart_ctx(request, study_id, chart_id)
    view = selectors.cell_get(user=request.user, study_id=study_id, chart=chart, participant_id=participant_id,
                              theme_id=theme_id)
    form = CellForm(request.POST or None, initial={"summary": view.summary, "version": view.version})
    conflict = None
    status = 200
    if request.method == "POST":
        policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_RUN)
        if form.is_valid():
            try:
                services.framework_cell_write(
                    actor=acting_user(request), study_id=study_id, chart_id=chart.pk, participant_id=view.participant.pk,
                    theme_id=view.theme.pk, version=form.cleaned_data["version"], summary=form.cleaned_data["summary"])
            except services.CellConflict as exc:
                conflict, status = exc, 409
                data = request.POST.copy()
                data["version"] = str(exc.current.version)  # "Save my text" then overwrites knowingly
                form = CellForm(data)
                form.is_valid()
            except ValidationError as exc:
                form_errors_apply(form, exc)
                status = 400
            else:
                messages.success(request, f"Summary for {view.participant.pseudonym} · {view.theme.name} saved.")
                url = reverse("framework-detail", args=[study_id, chart.pk])
                return redirect(f"{url}#cell-{view.participant.pk}-{view.theme.pk}")
        else:
            status = 400
    try:
        page = selectors.cell_segments(user=request.user, study_id=study_id, view=view, page=request.GET.get("page", 1))
    except ValidationError:
        page = selectors.cell_segments(user=request.user, study_id=study_id, view=view, page=1)
    return render(request, "matrices/framework_cell.html", {
        **ctx, "view": view, "form": form, "conflict": conflict, "segments": page,
        "prev_page": page.page - 1 if page.page > 1 else None,
        "next_page": page.page + 1 if page.page < page.pages else None,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def framework_export(request: HttpRequest, study_id: int, chart_id: int, fmt: str) -> HttpResponse | FileResponse:
    """GET: the file now (charts of up to ``SYNC_MAX_ROWS`` participants); POST: a job that makes it."""
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.EXPORT)
    chart = selectors.chart_get(user=request.user, study_id=study_id, chart_id=chart_id)
    if fmt not in services.EXPORT_FORMATS:
        raise BadRequest("Choose XLSX or CSV.")
    if request.method == "POST":
        job = services.framework_export_start(actor=acting_user(request), study_id=study_id, chart_id=chart.pk,
                                              fmt=fmt, ip=client_ip(request))
        messages.success(request, "The file is being made: it will be ready to download on this page.")
        return redirect("job-detail", study_id=study_id, job_id=job.pk)
    if export_too_large(request, chart):
        raise BadRequest("This chart is large: make the file with the button on the chart page (a job).")
    return export_response(request, chart, fmt)


def export_too_large(request: Any, chart: FrameworkChart) -> bool:
    return selectors.chart_participants(user=request.user, study_id=chart.study_id, chart=chart).count() \
        > services.SYNC_MAX_ROWS


def export_response(request: Any, chart: FrameworkChart, fmt: str) -> HttpResponse | FileResponse:
    """Shared by the page and the API: the file, streamed, with its audit event."""
    data = exports.chart_data(user=request.user, study_id=chart.study_id, chart=chart, references=fmt == "xlsx")
    services.framework_export_record(actor=acting_user(request), chart=chart, fmt=fmt, rows=len(data.grid.rows),
                                     ip=client_ip(request))
    filename = f"framework-chart-{chart.pk}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(exports.chart_csv(data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(exports.chart_xlsx(data, chart_name=chart.name), as_attachment=True, filename=filename,
                        content_type=XLSX)
