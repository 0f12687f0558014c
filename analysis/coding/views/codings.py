"""Pages for coding: the coding page and its live stream, memos, code retrieval, double coding.
Thin: parse input, call a service or selector, render. The coding page's writes go through the API
(coding/coding_api.py) from analysis/coding/static/coding/coder.js."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import policy
from accounts.models import Membership
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding import live
from analysis.coding.models import Assignment, Code, Coding, DisagreementOutcome
from analysis.coding.selectors import assignments as assignment_selectors
from analysis.coding.selectors import codebook as selectors
from analysis.coding.selectors import codings as coding_selectors
from analysis.coding.selectors import disagreements as disagreement_selectors
from analysis.coding.selectors import retrieval
from analysis.coding.services import assignments
from analysis.coding.services import disagreements as disagreement_services
from analysis.coding.services import memos as memo_services
from analysis.coding.services.codings import CodingFrozen
from analysis.transcripts import selectors as transcript_selectors
from analysis.transcripts.services import transcripts as transcript_services
from participants.consent_rules import DataUse, data_use_allowed


def _codes_json(study_id: int) -> list[dict[str, Any]]:
    codes = list(Code.objects.filter(study_id=study_id).order_by("position", "id").only(
        "id", "parent_id", "name", "colour", "is_codable", "description", "position"))
    flat = selectors.code_tree_flat(selectors.code_tree(codes))
    return [{"id": n.code.pk, "name": n.code.name, "path": " › ".join(n.path), "colour": n.code.colour,
             "text": n.code.label_colour, "codable": n.code.is_codable, "depth": n.depth,
             "description": n.code.description} for n in flat]


@login_required
@require_GET
def coding_page(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    user = acting_user(request)
    transcript = coding_selectors.transcript_for_coding(user=user, study_id=study_id, transcript_id=transcript_id)
    rows = coding_selectors.transcript_coding_rows(user=user, study_id=study_id, transcript=transcript)
    frozen = not data_use_allowed(participant=transcript.participant, use=DataUse.CODING)
    can_code = policy.may_code_transcript(membership=membership, participant=transcript.participant)
    assignment = Assignment.objects.filter(transcript=transcript).select_related("coder_a", "coder_b").first()
    coders = {r["coder"]: r["coder_name"] for r in rows}
    coders.setdefault(user.pk, user.display_name)
    transcript_services.transcript_read_audit(actor=user, transcript=transcript, via="coding", ip=client_ip(request))
    config = {
        "study": study_id, "transcript": transcript.pk, "version": transcript.version, "me": user.pk,
        "meName": user.display_name, "canCode": can_code, "canMemo": policy.role_allows(membership.role, Perm.MEMO_WRITE) and not frozen,
        "isLead": policy.role_allows(membership.role, Perm.WORK_OF_OTHERS_EDIT),
        "newCodeApi": reverse("api-code-propose", args=[study_id])
        if can_code and policy.may_propose_code(membership=membership) else None,
        "api": reverse("api-coding-list", args=[study_id, transcript.pk]),
        "memoApi": reverse("api-memo-list", args=[study_id]),
        "memoPage": reverse("memo-list", args=[study_id]),
        "stream": reverse("coding-stream", args=[study_id, transcript.pk]),
        "feed": coding_selectors.feed_head(transcript_id=transcript.pk),
        "codings": rows, "codes": _codes_json(study_id),
        "coders": [{"id": k, "name": v} for k, v in sorted(coders.items(), key=lambda kv: kv[1])],
    }
    return render(request, "coding/coding_page.html", {
        "study": membership.study, "transcript": transcript, "participant": transcript.participant,
        "turns": transcript_selectors.reading_all(transcript=transcript), "config": config, "can_code": can_code, "frozen": frozen,
        "assignment": assignment, "is_assigned": assignment is not None and user.pk in (assignment.coder_a_id, assignment.coder_b_id),
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
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    user = acting_user(request)
    can_write = policy.role_allows(membership.role, Perm.MEMO_WRITE)
    errors: list[str] = []
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("Your role cannot write memos.")
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
    about_coding = None
    if request.GET.get("coding") or request.POST.get("coding"):
        try:
            about_coding = coding_selectors.codings_visible(user=user, study_id=study_id).select_related(
                "code", "transcript__participant").get(pk=int(request.GET.get("coding") or request.POST.get("coding") or 0))
        except (ValueError, OverflowError, Coding.DoesNotExist):
            about_coding = None
    memos = coding_selectors.memo_entries(user=user, study_id=study_id, query=q, target=target)
    return render(request, "coding/memo_list.html", {
        "study": membership.study, "memos": memos, "q": q, "target": target, "can_write": can_write,
        "errors": errors, "codes": Code.objects.filter(study_id=study_id).order_by("name"),
        "transcripts": transcript_selectors.transcript_list(user=user, study_id=study_id),
        "form": request.POST if request.method == "POST" else {}, "about_coding": about_coding,
        "about_coding_text": about_coding.transcript.text[about_coding.start:about_coding.end] if about_coding else "",
    })


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
    groups = retrieval.segment_group_totals(user=user, study_id=study_id, code=code, subcodes=subcodes)
    per_column = retrieval.PAGE_SIZE // max(1, min(len(groups), 5)) if view == "groups" else retrieval.PAGE_SIZE
    columns, page = [], None
    if view == "groups":
        for g in groups:
            columns.append((g, retrieval.segments_page(user=user, study_id=study_id, code=code, number=number,
                                                       page_size=per_column, group_id=g.group_id, subcodes=subcodes)))
        pages = max([p.pages for _, p in columns], default=1)
    else:
        page = retrieval.segments_page(user=user, study_id=study_id, code=code, number=number, subcodes=subcodes)
        pages = page.pages
    number = min(number, pages)
    return render(request, "coding/code_segments.html", {
        "study": membership.study, "code": code, "view": view, "groups": groups, "columns": columns, "page": page,
        "number": number, "pages": pages, "total": sum(g.segments for g in groups), "subcodes": subcodes,
        "has_children": Code.objects.filter(parent=code).exists(),
        "can_export": policy.role_allows(membership.role, Perm.CODING_EXPORT),
    })


# Double coding -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def double_coding(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    user = acting_user(request)
    if not policy.double_coding_visible(membership.role):
        raise PermissionDenied("Your role does not take part in double coding.")
    can_manage = policy.role_allows(membership.role, Perm.ASSIGNMENT_MANAGE)
    can_agree = policy.role_allows(membership.role, Perm.AGREEMENT_VIEW)
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
    rows = list(assignment_selectors.assignments_visible(user=user, study_id=study_id).order_by("transcript__participant__pseudonym"))
    report = assignment_selectors.agreement_compute(user=user, study_id=study_id) if can_agree else None
    per_t = {r["transcript"]: r for r in report["transcripts"]} if report else {}
    coders = Membership.objects.filter(study_id=study_id, role__in=policy.roles_double_coding(), user__is_active=True).select_related("user")
    assigned = {a.transcript_id for a in rows}
    return render(request, "coding/double_coding.html", {
        "study": membership.study, "rows": [(a, per_t.get(a.transcript_id)) for a in rows],
        "report": report, "can_manage": can_manage, "can_agree": can_agree,
        "coders": [m.user for m in coders],
        "transcripts": [t for t in transcript_selectors.transcript_list(user=user, study_id=study_id) if t.pk not in assigned],
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
    user = acting_user(request)
    membership, a = disagreement_selectors.disagreements_access(user=user, study_id=study_id,
                                                               transcript_id=transcript_id, write=False)
    t = coding_selectors.transcript_for_coding(user=user, study_id=study_id, transcript_id=transcript_id)
    if not a.complete:
        return render(request, "coding/disagreements.html", {"study": membership.study, "transcript": t, "a": a, "blind": True})
    codings = coding_selectors.transcript_codings(user=user, study_id=study_id, transcript=t).filter(
        coder_id__in=[a.coder_a_id, a.coder_b_id])
    text = t.text
    by_code: dict[int, dict[str, Any]] = {}
    for c in codings:
        row = by_code.setdefault(c.code_id, {"code": c.code, "a": [], "b": []})
        row["a" if c.coder_id == a.coder_a_id else "b"].append(c)
    rows = []
    for row in sorted(by_code.values(), key=lambda r: r["code"].name):
        spans_a = {(c.start, c.end) for c in row["a"]}
        spans_b = {(c.start, c.end) for c in row["b"]}
        items = []
        for s, e in sorted(spans_a | spans_b):
            items.append({"start": s, "end": e, "text": text[s:e][:600], "a": (s, e) in spans_a, "b": (s, e) in spans_b})
        rows.append({"code": row["code"], "items": items,
                     "agree": sum(1 for i in items if i["a"] and i["b"]), "total": len(items)})
    report = assignment_selectors.agreement_compute(user=user, study_id=study_id, transcript_ids=[t.pk]) \
        if policy.role_allows(membership.role, Perm.AGREEMENT_VIEW) else None
    status = request.GET.get("status", "all")
    listing = disagreement_selectors.disagreements_list(user=user, study_id=study_id, transcript_id=t.pk,
                                               status=status if status in disagreement_selectors.STATUSES else "all")
    return render(request, "coding/disagreements.html", {
        "study": membership.study, "transcript": t, "a": a, "rows": rows, "report": report, "blind": False,
        "listing": listing, "status": status if status in disagreement_selectors.STATUSES else "all",
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
    report = assignment_selectors.agreement_compute(user=user, study_id=study_id, transcript_ids=[listing.transcript.pk]) \
        if policy.role_allows(listing.membership.role, Perm.AGREEMENT_VIEW) else None
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

