"""Pages for coding: the coding page and its live stream, memos, code retrieval, double coding.
Thin: parse input, call a service or selector (what a page shows is gathered in selectors/pages.py),
render. The coding page's writes go through the API (api/codings.py) from
analysis/coding/static/coding/coder.js."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import policy
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding import live
from analysis.coding.models import DisagreementOutcome
from analysis.coding.selectors import codebook as selectors
from analysis.coding.selectors import codings as coding_selectors
from analysis.coding.selectors import disagreements as disagreement_selectors
from analysis.coding.selectors import pages, retrieval
from analysis.coding.services import assignments
from analysis.coding.services import disagreements as disagreement_services
from analysis.coding.services import memos as memo_services
from analysis.coding.services.codings import CodingFrozen
from analysis.transcripts.services import transcripts as transcript_services


@login_required
@require_GET
def coding_page(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    user = acting_user(request)
    page = pages.coding_page(user=user, study_id=study_id, transcript_id=transcript_id)
    transcript_services.transcript_read_audit(actor=user, transcript=page.transcript, via="coding",
                                              ip=client_ip(request))
    return render(request, "coding/coding_page.html", {
        "study": page.membership.study, "transcript": page.transcript, "participant": page.transcript.participant,
        "turns": page.turns, "config": page.config, "can_code": page.can_code, "frozen": page.frozen,
        "assignment": page.assignment, "is_assigned": page.is_assigned,
    })


# Live updates: Server-Sent Events (the stream itself is in analysis/coding/live.py) -----------------------


@login_required
@require_GET
def coding_stream(request: HttpRequest, study_id: int, transcript_id: int) -> StreamingHttpResponse:
    """The transcript's coding changes as Server-Sent Events. EventSource reconnects after the
    stream closes (~25 s) and sends Last-Event-ID, so nothing is lost or repeated."""
    user = acting_user(request)
    t = coding_selectors.transcript_for_coding(user=user, study_id=study_id, transcript_id=transcript_id)
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    try:
        after = max(0, int(raw))
    except ValueError:
        after = 0
    response = StreamingHttpResponse(
        live.coding_events_stream(user=user, transcript_id=t.pk, after=after), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


# Memos ----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def memo_list(request: HttpRequest, study_id: int) -> HttpResponse:
    user = acting_user(request)
    errors: list[str] = []
    if request.method == "POST":
        try:
            memo_services.memo_create(
                actor=user, study_id=study_id, title=request.POST.get("title"), body=request.POST.get("body"),
                transcript_id=request.POST.get("transcript") or None, code_id=request.POST.get("code") or None,
                coding_id=request.POST.get("coding") or None,
            )
            messages.success(request, "Memo saved.")
            return redirect("memo-list", study_id=study_id)
        except ValidationError as exc:
            errors = exc.messages
        except CodingFrozen as exc:
            errors = [str(exc)]
    q, target = request.GET.get("q", ""), request.GET.get("target", "")
    page = pages.memo_page(user=user, study_id=study_id, query=q, target=target,
                           coding_id=request.GET.get("coding") or request.POST.get("coding"))
    return render(request, "coding/memo_list.html", {
        "study": page.membership.study, "memos": page.memos, "q": q, "target": target, "errors": errors,
        "codes": page.codes, "transcripts": page.transcripts,
        "form": request.POST if request.method == "POST" else {}, "about_coding": page.about_coding,
        "about_coding_text": page.about_coding_text,
    })


@login_required
@require_http_methods(["GET", "POST"])
def memo_edit(request: HttpRequest, study_id: int, memo_id: int) -> HttpResponse:
    user = acting_user(request)
    errors: list[str] = []
    if request.method == "POST":
        try:
            memo_services.memo_update(actor=user, study_id=study_id, memo_id=memo_id,
                                      title=request.POST.get("title"), body=request.POST.get("body"))
            messages.success(request, "Memo saved.")
            return redirect(reverse("memo-list", args=[study_id]) + f"#memo-{memo_id}")
        except ValidationError as exc:
            errors = exc.messages
    memo = coding_selectors.memo_changeable(user=user, study_id=study_id, memo_id=memo_id)
    return render(request, "coding/memo_edit.html", {
        "study": memo.study, "memo": memo, "errors": errors,
        "form": request.POST if request.method == "POST" else {"title": memo.title, "body": memo.body},
    })


@login_required
@require_http_methods(["GET", "POST"])
def memo_delete(request: HttpRequest, study_id: int, memo_id: int) -> HttpResponse:
    """GET asks for confirmation (no script needed); POST deletes."""
    user = acting_user(request)
    if request.method == "POST":
        memo_services.memo_delete(actor=user, study_id=study_id, memo_id=memo_id)
        messages.success(request, "Memo deleted.")
        return redirect("memo-list", study_id=study_id)
    memo = coding_selectors.memo_changeable(user=user, study_id=study_id, memo_id=memo_id)
    return render(request, "coding/memo_delete.html", {"study": memo.study, "memo": memo})


# Code retrieval (constant comparison) ---------------------------------------------------------------


def _page_number(value: Any) -> int:
    try:
        return max(1, min(int(value), 10**9))
    except (TypeError, ValueError):
        return 1


@login_required
@require_GET
def code_segments(request: HttpRequest, study_id: int, code_id: int) -> HttpResponse:
    """A code's segments, one page at a time with the total: side by side by participant group
    (each column paged on its own) or as one list."""
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    user = acting_user(request)
    code = selectors.code_get(user=user, study_id=study_id, code_id=code_id)
    view = "list" if request.GET.get("view") == "list" else "groups"
    subcodes = request.GET.get("subcodes") == "1"
    number = _page_number(request.GET.get("page"))
    base = retrieval.segments_queryset(user=user, study_id=study_id, code=code, subcodes=subcodes)
    if view == "groups":  # each group's column reads its own page
        groups, ids = retrieval.segment_group_totals(user=user, study_id=study_id, code=code, base=base), None
    else:
        groups, ids = retrieval.segment_totals_and_ids(base=base, number=number, page_size=retrieval.PAGE_SIZE)
    per_column = retrieval.PAGE_SIZE // max(1, min(len(groups), 5)) if view == "groups" else retrieval.PAGE_SIZE
    columns, page = [], None
    if view == "groups":
        for g in groups:
            columns.append((g, retrieval.segments_page(user=user, study_id=study_id, code=code, number=number,
                                                       page_size=per_column, group_id=g.group_id, subcodes=subcodes,
                                                       groups=groups, base=base)))
        pages = max([p.pages for _, p in columns], default=1)
    else:
        page = retrieval.segments_page(user=user, study_id=study_id, code=code, number=number, subcodes=subcodes,
                                       groups=groups, base=base, ids=ids)
        pages = page.pages
    number = min(number, pages)
    return render(request, "coding/code_segments.html", {
        "study": membership.study, "code": code, "view": view, "groups": groups, "columns": columns, "page": page,
        "number": number, "pages": pages, "total": sum(g.segments for g in groups), "subcodes": subcodes,
        "has_children": selectors.code_has_children(code=code),
    })


# Double coding -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def double_coding(request: HttpRequest, study_id: int) -> HttpResponse:
    user = acting_user(request)
    pages.double_coding_require(user=user, study_id=study_id)
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "assign":
                assignments.assignment_create(
                    actor=user, study_id=study_id, transcript_id=request.POST.get("transcript"),
                    coder_a_id=request.POST.get("coder_a"), coder_b_id=request.POST.get("coder_b"),
                    ip=client_ip(request),
                )
                messages.success(request, "Transcript assigned for double coding.")
            elif action in ("done", "undone"):
                assignments.assignment_mark_done(actor=user, study_id=study_id,
                                                 transcript_id=request.POST.get("transcript"), done=action == "done")
                messages.success(request, "Marked done." if action == "done" else "Marked not done.")
            elif action == "report":
                job = assignments.agreement_report_start(actor=user, study_id=study_id, ip=client_ip(request))
                return redirect("job-detail", study_id=study_id, job_id=job.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("double-coding", study_id=study_id)
    page = pages.double_coding_page(user=user, study_id=study_id)
    return render(request, "coding/double_coding.html", {
        "study": page.membership.study, "rows": page.rows, "report": page.report, "coders": page.coders,
        "transcripts": page.transcripts,
    })


@login_required
@require_GET
def agreement_report_download(request: HttpRequest, study_id: int, job_id: int, fmt: str) -> HttpResponse:
    content, filename, content_type = assignments.agreement_report_export(
        actor=acting_user(request), study_id=study_id, job_id=job_id, fmt=fmt, ip=client_ip(request))
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def disagreements(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    """Side by side: each code's spans by coder A and by coder B, disagreements marked."""
    c = pages.comparison(user=acting_user(request), study_id=study_id, transcript_id=transcript_id,
                         status=request.GET.get("status", "all"))
    return render(request, "coding/disagreements.html", {
        "study": c.membership.study, "transcript": c.transcript, "a": c.assignment, "blind": c.blind,
        "rows": c.rows, "report": c.report, "listing": c.listing, "status": c.status,
        "outcomes": DisagreementOutcome.choices,
        "status_choices": [("all", "All"), ("open", "Open"), ("resolved", "Resolved")],
    })


def _disagreement_answer(request: HttpRequest, study_id: int, transcript_id: int, key: str,
                         errors: list[str] | None = None) -> HttpResponse:
    """After a comment or a resolution: the row (htmx, with the counts out of band) or a redirect."""
    if request.headers.get("HX-Request") != "true":
        for e in errors or []:
            messages.error(request, e)
        return redirect(reverse("coding-disagreements", args=[study_id, transcript_id]) + f"#d-{key}")
    user = acting_user(request)
    listing = disagreement_selectors.disagreements_list(user=user, study_id=study_id, transcript_id=transcript_id)
    item = next((i for i in listing.items if i.key == key), None)
    if item is None:
        raise Http404("No such disagreement.")
    # The figures change with a resolution: they travel out of band with the row, so the page never
    # shows a kappa computed from codings that are no longer there.
    report = pages.agreement_if_readable(user=user, study_id=study_id, transcript_ids=[listing.transcript.pk])
    return render(request, "coding/_disagreement.html", {
        "study": listing.membership.study, "transcript": listing.transcript, "a": listing.assignment, "d": item,
        "listing": listing, "outcomes": DisagreementOutcome.choices, "errors": errors or [], "oob": True,
        "report": report,
    })  # errors too: htmx swaps only 2xx answers, and the row shows them in an alert


@login_required
@require_POST
def disagreement_comment(request: HttpRequest, study_id: int, transcript_id: int, key: str) -> HttpResponse:
    user = acting_user(request)
    try:
        disagreement_services.disagreement_comment(actor=user, study_id=study_id, transcript_id=transcript_id, key=key,
                                           body=request.POST.get("body"), ip=client_ip(request))
    except ValidationError as exc:
        return _disagreement_answer(request, study_id, transcript_id, key, exc.messages)
    except disagreement_selectors.DisagreementsClosed as exc:
        return HttpResponse(str(exc), status=409)
    if request.headers.get("HX-Request") != "true":
        messages.success(request, "Comment added.")
    return _disagreement_answer(request, study_id, transcript_id, key)


@login_required
@require_POST
def disagreement_resolve(request: HttpRequest, study_id: int, transcript_id: int, key: str) -> HttpResponse:
    """Resolve: htmx asks for confirmation in the browser (``hx-confirm``) and sends ``confirmed``;
    a plain form post without it answers a confirmation page first."""
    user = acting_user(request)
    outcome, note = request.POST.get("outcome", ""), request.POST.get("note", "")
    if request.POST.get("confirmed") != "1":
        item = disagreement_selectors.disagreement_get(user=user, study_id=study_id, transcript_id=transcript_id, key=key,
                                                     write=True)
        labels = dict(DisagreementOutcome.choices)
        if outcome not in labels:
            return _disagreement_answer(request, study_id, transcript_id, key, ["Choose an outcome."])
        return render(request, "coding/disagreement_confirm.html", {
            "study": item.code.study, "transcript_id": transcript_id, "d": item, "outcome": outcome,
            "transcript": coding_selectors.transcript_for_coding(user=user, study_id=study_id,
                                                                 transcript_id=transcript_id),
            "outcome_label": labels[outcome], "note": note,
        })
    try:
        disagreement_services.disagreement_resolve(actor=user, study_id=study_id, transcript_id=transcript_id, key=key,
                                           outcome=outcome, note=note, ip=client_ip(request))
    except ValidationError as exc:
        return _disagreement_answer(request, study_id, transcript_id, key, exc.messages)
    except disagreement_selectors.DisagreementsClosed as exc:
        return HttpResponse(str(exc), status=409)
    except (disagreement_services.DisagreementConflict, CodingFrozen) as exc:
        return _disagreement_answer(request, study_id, transcript_id, key, [str(exc)])
    if request.headers.get("HX-Request") != "true":
        messages.success(request, "Disagreement resolved.")
    return _disagreement_answer(request, study_id, transcript_id, key)

