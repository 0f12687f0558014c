"""Matrix pages: ask for a matrix, watch its job, read the heatmap, click through a cell, export.
Thin: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from accounts import policy
from accounts.models import User
from accounts.policy import Perm, acting_user
from accounts.services import audit_record, client_ip
from analysis.coding.models import Coding
from analysis.transcripts.selectors import transcripts_visible
from analysis.transcripts.sets.selectors import set_names, sets_list
from config.web import form_errors_apply
from participants.models import AttributeDefinition

from . import engine, exports, selectors, services, words
from .forms import MatrixForm
from .models import Matrix

MEASURES = [("participants", "Participants with a coded segment"), ("segments", "Coded segments"),
            ("share", "Share of the row's participants"), ("characters", "Coded characters")]
FORMATS = ("csv", "xlsx", "svg", "png")


def measures_of(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The measures a matrix can show: co-occurrence has its own three."""
    return list(exports.measure_labels(result or {}).items())


def _coders(study_id: int) -> list[tuple[int, str]]:
    ids = Coding.objects.filter(study_id=study_id).values("coder_id")
    return [(u.pk, u.display_name) for u in User.objects.filter(pk__in=ids).order_by("email")]


def _transcripts(user: Any, study_id: int) -> list[tuple[int, str]]:
    """The transcripts the member may count, labelled by pseudonym and title, for the transcript filter."""
    qs = transcripts_visible(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW).select_related("participant")
    return [(t.pk, f"{t.participant.pseudonym}: {t.title}" if t.title else t.participant.pseudonym)
            for t in qs.order_by("participant__pseudonym", "title", "pk")]


def _transcript_sets(user: Any, study_id: int) -> list[tuple[int, str]]:
    """The study's transcript sets for the matrix form, each with the number of its transcripts the member may
    count (a scoped coder's number counts their scope only)."""
    out = []
    for s in sets_list(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW):
        n = int(s.visible_count)  # type: ignore[attr-defined]
        out.append((s.pk, f"{s.name} ({n} transcript{'' if n == 1 else 's'})"))
    return out


# The request's names (the API's) of the form's fields: an error about them shows on the field, never
# under a name like "column_ids" that the person never saw.
_FORM_FIELDS = {"transcript_set_id": "transcript_set", "transcript_ids": "transcripts", "site_ids": "sites",
                "group_ids": "groups"}


def _on_form_fields(exc: ValidationError, raw: dict[str, Any]) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    names = {**_FORM_FIELDS, "column_ids": "themes" if raw.get("columns") == "themes" else "codes"}
    return ValidationError({names.get(k, k): v for k, v in exc.error_dict.items()})


def _describe(spec: selectors.Spec, study_id: int) -> str:
    cols = "Themes" if spec.columns == "themes" else "Codes"
    rows = {"group": "participant groups", "site": "sites", "participant": "participants",
            "attribute": f"“{_attribute_label(study_id, spec.attribute)}”" + (f" in bands ({spec.bands})" if spec.bands else ""),
            "codes": "codes (co-occurrence)"}[spec.rows]
    coder = {"all": "all coders", "agreed": "agreed segments"}.get(spec.coder)
    if coder is None:
        coder = dict(_coders(study_id)).get(int(spec.coder), "one coder")
    extra = []
    if spec.site_ids:
        extra.append(f"{len(spec.site_ids)} site(s)")
    if spec.group_ids:
        extra.append(f"{len(spec.group_ids)} group(s)")
    if spec.transcript_set_id is not None:
        name = set_names(study_id=study_id, set_ids=[spec.transcript_set_id]).get(spec.transcript_set_id)
        n = len(spec.transcript_ids)
        extra.append((f"transcript set “{name}”" if name else "a transcript set since deleted")
                     + f": {n} transcript{'' if n == 1 else 's'}")
    elif spec.transcript_ids:
        extra.append(f"{len(spec.transcript_ids)} transcript(s)")
    if spec.skip_interviewer:
        extra.append("interviewer turns left out")
    return f"{cols} × {rows}, {coder}" + (f" ({', '.join(extra)})" if extra else "")


@login_required
@require_http_methods(["GET", "POST"])
def matrix_list(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    initial = {"transcript_set": request.GET.get("transcript_set", "")}  # "Ask for a matrix of this set"
    form = MatrixForm(request.POST or None, study_id=study_id, coders=_coders(study_id),
                      transcripts=_transcripts(request.user, study_id),
                      transcript_sets=_transcript_sets(request.user, study_id), initial=initial)
    if request.method == "POST":
        policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_RUN)
        if form.is_valid():
            raw = form.raw()
            try:
                matrix, created = services.matrix_request(actor=acting_user(request), study_id=study_id,
                                                          raw=raw, ip=client_ip(request))
            except ValidationError as exc:
                form_errors_apply(form, _on_form_fields(exc, raw))
            else:
                if not created:
                    messages.info(request, "The same matrix on the same data was ready: here it is.")
                return redirect("matrix-detail", study_id=study_id, matrix_id=matrix.pk)
    mine = [(m, _describe(selectors.spec_of(m), study_id))
            for m in selectors.matrices_mine(user=request.user, study_id=study_id)[:30]]
    return render(request, "matrices/matrix_list.html", {
        "study": membership.study, "form": form, "mine": mine})


def _measure(request: HttpRequest, result: dict[str, Any] | None = None) -> str:
    allowed = [m for m, _ in measures_of(result)]
    m = request.GET.get("measure", allowed[0])
    return m if m in allowed else allowed[0]


@login_required
@require_http_methods(["GET"])
def matrix_detail(request: HttpRequest, study_id: int, matrix_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    matrix = selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)
    if request.htmx and (matrix.job is None or matrix.job.is_finished):  # type: ignore[attr-defined]
        # The polled status saw the job end: reload the whole page (heatmap, or the error and Ask again).
        return HttpResponseClientRefresh()
    measure = _measure(request, matrix.result)
    ctx: dict[str, Any] = {
        "study": membership.study, "matrix": matrix, "job": matrix.job, "measure": measure,
        "measures": measures_of(matrix.result),
        "description": _describe(selectors.spec_of(matrix), study_id),
    }
    if matrix.result is not None:
        spec = selectors.spec_of(matrix)
        ctx["stale"] = selectors.matrix_is_stale(matrix=matrix)
        ctx["table"] = _heat_table(matrix.result, measure, row_heading=_row_heading(spec, study_id))
        ctx["caption"] = _caption(dict(ctx["measures"]).get(measure, ""), cooccurrence=ctx["table"].get("cooccurrence", False))
        ctx["sentences"] = words.reporting_sentences(matrix.result, rows=selectors.spec_of(matrix).rows)
    return render(request, "matrices/matrix_detail.html", ctx)


def _fmt(value: Any, measure: str) -> str:
    if value is None:
        return "–"
    return f"{value:.0%}" if measure == "share" else f"{value:,}"


def _row_heading(spec: selectors.Spec, study_id: int) -> str:
    """What the rows are, for the table's first column (it said "Row")."""
    if spec.rows == "attribute":
        return _attribute_label(study_id, spec.attribute)
    return {"group": "Participant group", "site": "Site", "participant": "Participant", "codes": "Code"}.get(
        spec.rows, "Row")


def _attribute_label(study_id: int, key: str) -> str:
    """The attribute's label as the study names it ("Age band"), not its key ("age_band")."""
    label = AttributeDefinition.objects.filter(study_id=study_id, key=key).values_list("label", flat=True).first()
    return label or key


def _caption(label: str, *, cooccurrence: bool) -> str:
    what = "overlapping passages" if cooccurrence else "segments"
    text = (f"{label}. Darker cells hold larger numbers, and every cell prints its number; select a number to read "
            f"the {what} behind it.")
    if cooccurrence:
        text += (" The table is symmetric; the diagonal is each code on its own. Colours are scaled to the pairs of "
                 "codes: the diagonal's larger numbers all take the darkest colour and are striped and outlined.")
    return text


def _heat_table(result: dict[str, Any], measure: str, row_heading: str = "Row") -> dict[str, Any]:
    """Each cell's number, its colour bin (a CSS class) and its row/column index for the click-through;
    each cell carries its column's label too, so a link's accessible name says which cell it is."""
    peak = exports.heat_peak(result, measure)
    cooc = exports.is_cooccurrence(result)
    labels = [c["label"] for c in result["columns"]]
    rows = []
    for i, r in enumerate(result["rows"]):
        cells = [{"text": _fmt(c[measure], measure), "bin": exports.heat_bin(c[measure], peak), "col": j,
                  "column": labels[j], "segments": c["segments"], "diagonal": cooc and i == j}
                 for j, c in enumerate(result["cells"][i])]
        totals = result["row_totals"][i] if result["row_totals"] else None
        rows.append({"label": r["label"], "index": i, "base": result["row_bases"][i], "cells": cells,
                     "total": _fmt(totals[measure], measure) if totals else "",
                     "total_segments": totals["segments"] if totals else 0})
    if exports.is_cooccurrence(result):
        return {"columns": [{"label": c["label"], "index": j} for j, c in enumerate(result["columns"])], "rows": rows,
                "cooccurrence": True, "row_heading": "Code"}
    return {"columns": [{"label": c["label"], "index": j} for j, c in enumerate(result["columns"])], "rows": rows,
            "row_heading": row_heading,
            "column_totals": [{"text": _fmt(t[measure], measure), "col": j, "segments": t["segments"],
                               "label": labels[j]} for j, t in enumerate(result["column_totals"])],
            "total": _fmt(result["total"][measure], measure), "total_segments": result["total"]["segments"],
            "base": sum(result["row_bases"])}


@login_required
@require_POST
def matrix_refresh(request: HttpRequest, study_id: int, matrix_id: int) -> HttpResponse:
    matrix, _ = services.matrix_refresh(actor=acting_user(request), study_id=study_id, matrix_id=matrix_id,
                                        ip=client_ip(request))
    return redirect("matrix-detail", study_id=study_id, matrix_id=matrix.pk)


@login_required
@require_POST
def matrix_cancel(request: HttpRequest, study_id: int, matrix_id: int) -> HttpResponse:
    try:
        job = services.matrix_cancel(actor=acting_user(request), study_id=study_id, matrix_id=matrix_id,
                                     ip=client_ip(request))
    except ValidationError as exc:
        done = selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id).job
        if done is not None and done.status == "done":
            # A small matrix often finishes between the page showing Cancel and the click: not an error.
            messages.info(request, "The matrix was finished before the cancel reached it: here it is.")
        else:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The matrix was cancelled." if job.status == "cancelled"
                         else "The matrix will stop at its next step.")
    return redirect("matrix-detail", study_id=study_id, matrix_id=matrix_id)


@login_required
@require_http_methods(["GET"])
def matrix_cell(request: HttpRequest, study_id: int, matrix_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    matrix = selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)
    row, col = request.GET.get("row", "total"), request.GET.get("column", "total")
    try:
        if matrix.result is None:
            raise ValidationError("This matrix has not been computed yet.")
        page = engine.cell_segments(user=request.user, study_id=study_id, matrix=matrix, row=row, column=col,
                                       page=request.GET.get("page", 1))
    except ValidationError as exc:
        return render(request, "matrices/matrix_cell.html", {
            "study": membership.study, "matrix": matrix, "error": " ".join(exc.messages)}, status=400)
    base = f"?row={row}&column={col}&page="
    return render(request, "matrices/matrix_cell.html", {
        "study": membership.study, "matrix": matrix, "cell": page, "numbers": _cell_numbers(matrix.result, row, col),
        "prev_url": base + str(page.page - 1) if page.page > 1 else "",
        "next_url": base + str(page.page + 1) if page.page < page.pages else "",
        "pairs": any(s.other_code for s in page.segments)})


def _cell_numbers(result: dict[str, Any] | None, row: str, col: str) -> list[tuple[str, str]]:
    """The stored numbers of the clicked cell, each with its measure's label: the heatmap showed one of
    them, and the page lists segments, so "3" participants beside "4 segments" needs saying."""
    if not result or any(v != "total" and not v.isdigit() for v in (row, col)):
        return []
    try:
        if row == "total" and col == "total":
            found = result["total"]
        elif row == "total":
            found = result["column_totals"][int(col)]
        elif col == "total":
            found = (result["row_totals"] or [])[int(row)]
        else:
            found = result["cells"][int(row)][int(col)]
    except (KeyError, IndexError, TypeError, ValueError):
        return []
    return [(label, _fmt(found.get(key), key)) for key, label in measures_of(result) if key in found]


@login_required
@require_http_methods(["GET"])
def matrix_export(request: HttpRequest, study_id: int, matrix_id: int, fmt: str) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.EXPORT)
    matrix = selectors.matrix_get(user=request.user, study_id=study_id, matrix_id=matrix_id)
    if matrix.result is None or fmt not in FORMATS:
        return render(request, "matrices/matrix_cell.html", {
            "study": membership.study, "matrix": matrix,
            "error": "This matrix has not been computed yet." if matrix.result is None
            else "Choose CSV, XLSX, SVG or PNG."}, status=400)
    measure = _measure(request, matrix.result)
    content, ctype = export_content(matrix, fmt, measure)
    audit_record(actor=request.user, action="matrix.export", study=membership.study, obj=matrix,
                 ip=client_ip(request), details={"format": fmt})
    response = HttpResponse(content, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(matrix, fmt, measure)}"'
    return response


def export_filename(matrix: Matrix, fmt: str, measure: str) -> str:
    """matrix-3-participants.csv: a CSV or a picture holds one measure and has no room to say which,
    so its name does (the workbook holds them all)."""
    return f"matrix-{matrix.pk}.{fmt}" if fmt == "xlsx" else f"matrix-{matrix.pk}-{measure}.{fmt}"


def export_content(matrix: Matrix, fmt: str, measure: str) -> tuple[bytes, str]:
    result = matrix.result or {}
    if fmt == "csv":
        return (exports.matrix_csv(result, measure, row_heading=_row_heading(selectors.spec_of(matrix), matrix.study_id)),
                "text/csv; charset=utf-8")
    if fmt == "xlsx":
        spec = selectors.spec_of(matrix)
        sentences = words.reporting_sentences(result, rows=spec.rows)
        return (exports.matrix_xlsx(result, tuple(dict(measures_of(result))), sentences=sentences,
                                    row_heading=_row_heading(spec, matrix.study_id)),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    # The picture's title says what the matrix is, as its page's heading does ("Matrix 3" said nothing in a slide).
    title = _describe(selectors.spec_of(matrix), matrix.study_id)
    if fmt == "png":
        return exports.matrix_png(result, measure, title=title), "image/png"
    return exports.matrix_svg(result, measure, title=title), "image/svg+xml"
