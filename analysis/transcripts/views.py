"""Pages for transcripts: list, upload with preview, reading view, search, corrections and history.
Thin: parse input, call a service or selector, render."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape  # django.utils.html.escape is this, behind a lazy-string wrapper (600 calls a page)
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.coding.selectors.retrieval import transcripts_progress
from analysis.transcripts import selectors
from analysis.transcripts.forms import ReplaceAllForm, ReplaceForm, SearchForm, UploadForm
from analysis.transcripts.importers import max_file_bytes
from analysis.transcripts.models import ImportStatus, ItemStatus
from analysis.transcripts.services import imports, redaction
from analysis.transcripts.services import transcripts as transcript_services
from analysis.transcripts.sets.selectors import sets_changeable
from config.input_guard import format_bytes
from participants.consent_rules import DataUse, data_use_allowed


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _messages_of(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@dataclass(frozen=True)
class _ListRow:
    """One row of the transcript list as the page prints it. Words, links and dates are made here because the
    same built with template tags and filters (three URL tags, two date filters and a dozen lookups a row) was
    most of the page's time: 50 rows, 35 of its 55 ms of CPU."""

    pk: int
    name: str
    detail_url: str
    code_url: str
    group: str
    site: str
    interview: str
    length: str
    history_url: str
    edits: str
    version: int
    codings: str
    coders: str
    double_coding: str
    last_coded: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


_PK = 2**62  # a stand-in id: each row's links are formatted from one reverse() per page, not three per row


def _link_formats(study_id: int) -> dict[str, str]:
    return {name: reverse(name, args=[study_id, _PK]).replace(str(_PK), "{}")
            for name in ("transcript-detail", "coding-page", "transcript-history")}


def _day(d: Any) -> str:
    """``dateformat.format(d, "j M Y")``, without building a DateFormat twice per row."""
    return f"{d.day} {MONTHS_3[d.month].title()} {d.year:04d}"


def _list_row(*, links: dict[str, str], t: Any, turns: int, p: Any, codable: bool) -> _ListRow:
    participant = t.participant
    interview = _day(t.interview_date) if t.interview_date else "date not recorded"
    last = timezone.localtime(p.last_activity) if p.last_activity else None
    return _ListRow(
        pk=t.pk, name=t.title or participant.pseudonym,
        detail_url=links["transcript-detail"].format(t.pk),
        code_url=links["coding-page"].format(t.pk) if codable else "",
        group=participant.group.label, site=(participant.site.name if participant.site else "") or "—",
        interview=interview + (f", {t.interview_mode}" if t.interview_mode else ""),
        length=_plural(turns, "turn"),
        history_url=links["transcript-history"].format(t.pk) if t.version > 1 else "",
        edits=_plural(t.version - 1, "edit"), version=t.version,
        codings=str(p.codings) if p.codings else "Not coded yet",
        coders=", ".join(p.coders) or "—",
        double_coding=capfirst(p.double_coding) if p.double_coding else "No",
        last_coded=f"{_day(last)}, {last.hour:02d}:{last.minute:02d}" if last else "—",  # "j M Y, H:i"
    )


@dataclass(frozen=True)
class _ListRowHtml:
    """A row's markup, escaped as the template's variables would be: the template still decides the row's
    checkbox (``study_perms``) and lays out the table, but fifty rows of twenty variables and conditions
    each were ~40% of the page's rendering (1,000 interviews: 65 ms of Python per page)."""

    pick: SafeString
    cells: SafeString


def _list_row_html(r: _ListRow, counter: int) -> _ListRowHtml:
    name = escape(r.name)
    code = (f'\n      · <a href="{escape(r.code_url)}" class="code-link">Code<span class="visually-hidden"> {name}</span></a>'
            if r.code_url else "")
    history = f'<a href="{escape(r.history_url)}">{escape(r.edits)}</a> (version {r.version})' if r.history_url else "None"
    return _ListRowHtml(
        pick=mark_safe(  # noqa: S308 (every value escaped above or here)
            f'<td><input type="checkbox" name="transcripts" value="{r.pk}" id="pick-{counter}"><label for="pick-{counter}" '
            f'class="visually-hidden">Choose {name}</label></td>'),
        cells=mark_safe(  # noqa: S308 (every value escaped above or here)
            f'<td><a href="{escape(r.detail_url)}">{name}</a>{code}</td>\n    <td>{escape(r.group)}</td>\n'
            f'    <td>{escape(r.site)}</td>\n    <td>{escape(r.interview)}</td>\n    <td>{escape(r.length)}</td>\n'
            f'    <td>{history}</td>\n    <td>{escape(r.codings)}</td>\n'
            f'    <td class="progress-coders">{escape(r.coders)}</td>\n    <td>{escape(r.double_coding)}</td>\n'
            f'    <td>{escape(r.last_coded)}</td>'),
    )


@login_required
def transcript_list(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    study = membership.study
    group_id, site_id = _int(request.GET.get("group")), _int(request.GET.get("site"))
    qs = selectors.transcript_list(user=request.user, study_id=study_id, group_id=group_id, site_id=site_id)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ids = [t.pk for t in page]
    turns = selectors.transcript_turn_counts(transcript_ids=ids)
    progress = transcripts_progress(user=request.user, study_id=study_id, transcript_ids=ids)
    links = _link_formats(study_id)
    rows = [_list_row_html(_list_row(links=links, t=t, turns=turns[t.pk], p=progress[t.pk],
                                     codable=policy.may_code_transcript(membership=membership, participant=t.participant)),
                           counter)
            for counter, t in enumerate(page, start=1)]
    return render(request, "transcripts/transcript_list.html", {
        "rows": rows,
        "study": study, "page": page, "groups": study.groups.all(), "sites": study.sites.all(),
        "group_id": group_id, "site_id": site_id,
        "scoped": policy.is_scoped(membership),
        "sets": sets_changeable(user=request.user, study_id=study_id),
    })


@login_required
@require_http_methods(["GET", "POST"])
def transcript_upload(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_UPLOAD)
    form = UploadForm()
    project = False  # a .qdpx was sent here: point to the project import page
    if request.method == "POST":
        # Refuse an oversized upload from its declared length, before reading the body.
        length = _int(request.META.get("CONTENT_LENGTH")) or 0
        if length > max_file_bytes() * 2:
            messages.error(request, f"The upload is too large ({format_bytes(length)}). The limit is "
                                    f"{format_bytes(max_file_bytes())} per file; upload fewer files at a time.")
            return redirect("transcript-upload", study_id=study.pk)
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            uploads = [imports.Upload(f.name, f.read()) for f in form.cleaned_data["transcript_files"]]
            try:
                batch = imports.import_preview(
                    actor=acting_user(request), study_id=study.pk, uploads=uploads,
                    encoding=form.cleaned_data["encoding"] or None, ip=client_ip(request),
                )
            except ValidationError as exc:
                if any(e.code == "qdpx" for e in exc.error_list):
                    project = True
                else:
                    form.add_error(None, exc.messages)
            else:
                return redirect("transcript-import", study_id=study.pk, batch_id=batch.pk)
    return render(request, "transcripts/transcript_upload.html", {
        "study": study, "form": form, "limit": format_bytes(max_file_bytes()), "project": project,
        "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        "can_import_project": policy.has_perm(user=request.user, study=study.pk, perm=Perm.PROJECT_IMPORT),
    })


@login_required
def import_detail(request: HttpRequest, study_id: int, batch_id: int) -> HttpResponse:
    batch = imports.import_get(user=request.user, study_id=study_id, batch_id=batch_id)
    items = list(batch.items.select_related("participant", "participant__group", "participant__site", "transcript"))
    context = {
        "study": batch.study, "batch": batch, "items": items, "job": batch.job,
        "ready": sum(1 for i in items if i.status == ItemStatus.READY),
        "refused": sum(1 for i in items if i.status in (ItemStatus.REFUSED, ItemStatus.FAILED)),
        "imported": sum(1 for i in items if i.status == ItemStatus.IMPORTED),
        "running": batch.status == ImportStatus.QUEUED and batch.job is not None and not batch.job.is_finished,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "transcripts/_import_items.html", context)
    return render(request, "transcripts/import_detail.html", context)


@login_required
@require_POST
def import_commit(request: HttpRequest, study_id: int, batch_id: int) -> HttpResponse:
    try:
        imports.import_commit(actor=acting_user(request), study_id=study_id, batch_id=batch_id, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    return redirect("transcript-import", study_id=study_id, batch_id=batch_id)


@login_required
@require_POST
def import_cancel(request: HttpRequest, study_id: int, batch_id: int) -> HttpResponse:
    try:
        imports.import_cancel(actor=acting_user(request), study_id=study_id, batch_id=batch_id, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
        return redirect("transcript-import", study_id=study_id, batch_id=batch_id)
    messages.success(request, "The upload was cancelled; none of its files were kept.")
    return redirect("transcript-list", study_id=study_id)


@login_required
def transcript_detail(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    transcript = selectors.transcript_get(user=request.user, study_id=study_id, transcript_id=transcript_id)
    at = _int(request.GET.get("at"))
    mark_len = _int(request.GET.get("len")) or 0
    if at is not None and not (0 <= at < len(transcript.text)):
        at = None
    page = selectors.reading_page(
        transcript=transcript, number=_int(request.GET.get("page")), at=at, mark_len=max(0, min(mark_len, 500)),
        whole=len(transcript.text) <= selectors.WHOLE_MAX_CHARS,
    )
    via = "search" if request.GET.get("from") == "search" else "web"
    transcript_services.transcript_read_audit(
        actor=acting_user(request), transcript=transcript, via=via, ip=client_ip(request),
        details={"page": page.number, **({"at": at} if at is not None else {})},
    )
    frozen = not data_use_allowed(participant=transcript.participant, use=DataUse.CODING)
    return render(request, "transcripts/transcript_detail.html", {
        "study": membership.study, "transcript": transcript, "page": page, "participant": transcript.participant,
        "frozen": frozen,
        "edit_count": transcript.version - 1, "at": at,
        "may_code": policy.may_code_transcript(membership=membership, participant=transcript.participant),
        "page_links": range(1, page.count + 1),
        "replace_form": ReplaceForm(initial={"version": transcript.version}),
    })


@login_required
@require_POST
def transcript_replace(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    form = ReplaceForm(request.POST)
    back = reverse("transcript-detail", kwargs={"study_id": study_id, "transcript_id": transcript_id})
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_EDIT)
    if not form.is_valid():
        messages.error(request, "Select the text to replace first, then enter the replacement.")
        return redirect(back)
    d = form.cleaned_data
    try:
        result = redaction.transcript_replace(
            actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, start=d["start"], end=d["end"],
            expected=d["expected"], replacement=d["replacement"], base_version=d["version"], ip=client_ip(request),
        )
    except (ValidationError, redaction.EditConflict) as exc:
        messages.error(request, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
        return redirect(f"{back}?at={d['start']}")
    _report_message(request, result)
    return redirect(f"{back}?at={d['start']}&len={len(d['replacement'])}")


def _report_message(request: HttpRequest, result: redaction.EditResult) -> None:
    lost = {label: r["lost"] for label, r in result.edit.report.items() if r.get("lost")}
    changed = sum(len(r.get("changed", [])) for label, r in result.edit.report.items()
                  if not label.endswith("TranscriptTurn"))
    text = f"{result.edit.summary}. The transcript is now version {result.edit.version}."
    if changed:
        text += f" {changed} coded or quoted passage(s) now cover the new text."
    messages.success(request, text)
    for label, ids in lost.items():
        if label.endswith("TranscriptTurn"):
            messages.warning(request, f"{len(ids)} speaker turn(s) had all their words removed.")
        else:
            messages.warning(request, f"{len(ids)} {label} item(s) were entirely inside the removed text and now "
                                      "point at an empty span: review them in the history.")


@login_required
@require_http_methods(["GET", "POST"])
def transcript_replace_all(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_EDIT)
    transcript = selectors.transcript_get(
        user=request.user, study_id=study_id, transcript_id=transcript_id, perm=Perm.TRANSCRIPT_EDIT
    )
    form = ReplaceAllForm(request.POST or None, initial={"version": transcript.version, "whole_word": True})
    preview = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if request.POST.get("confirm") == "1":
            try:
                result = redaction.transcript_replace_all(
                    actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, find=d["find"],
                    replacement=d["replacement"], match_case=d["match_case"], whole_word=d["whole_word"],
                    base_version=d["version"], ip=client_ip(request),
                )
            except (ValidationError, redaction.EditConflict) as exc:
                form.add_error(None, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
            else:
                _report_message(request, result)
                return redirect("transcript-history", study_id=study_id, transcript_id=transcript_id)
        else:
            count, samples = redaction.replace_all_preview(
                text=transcript.text, find=d["find"], match_case=d["match_case"], whole_word=d["whole_word"],
            )
            preview = {"count": count, "samples": samples}
    return render(request, "transcripts/transcript_replace_all.html", {
        "study": transcript.study, "transcript": transcript, "form": form, "preview": preview,
    })


@login_required
def transcript_history(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    transcript = selectors.transcript_get(user=request.user, study_id=study_id, transcript_id=transcript_id)
    edits = selectors.transcript_edits(user=request.user, study_id=study_id, transcript_id=transcript_id)
    return render(request, "transcripts/transcript_history.html", {
        "study": membership.study, "transcript": transcript, "edits": edits,
    })


@login_required
@require_POST
def transcript_revert(request: HttpRequest, study_id: int, transcript_id: int, edit_id: int) -> HttpResponse:
    try:
        result = redaction.transcript_edit_revert(
            actor=acting_user(request), study_id=study_id, transcript_id=transcript_id, edit_id=edit_id,
            base_version=_int(request.POST.get("version")), ip=client_ip(request),
        )
    except (ValidationError, redaction.EditConflict) as exc:
        messages.error(request, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        _report_message(request, result)
    return redirect("transcript-history", study_id=study_id, transcript_id=transcript_id)


@login_required
def transcript_original(request: HttpRequest, study_id: int, transcript_id: int) -> HttpResponseBase:
    transcript = selectors.transcript_get(
        user=request.user, study_id=study_id, transcript_id=transcript_id, perm=Perm.TRANSCRIPT_ORIGINAL
    )
    handle = transcript_services.transcript_original_open(
        actor=acting_user(request), transcript=transcript, via="original_download", ip=client_ip(request))
    return FileResponse(handle, as_attachment=True, filename=transcript.original_name or "original")


@login_required
def transcript_search(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    study = membership.study
    form = SearchForm(request.GET or None, groups=study.groups.all(), sites=study.sites.all(),
                      backend=selectors.search_backend())
    result = None
    page_number = max(1, _int(request.GET.get("page")) or 1)
    per_page = 20
    if form.is_valid() and form.cleaned_data["q"].strip():
        d = form.cleaned_data
        result = selectors.transcript_search(
            user=request.user, study_id=study_id, query=d["q"], group_id=d["group"], site_id=d["site"],
            role=d["role"] or None, limit=per_page, offset=(page_number - 1) * per_page,
        )
        transcript_services.transcript_search_audit(
            actor=acting_user(request), study_id=study_id, query=d["q"],
            filters={"group": d["group"], "site": d["site"], "role": d["role"], "page": page_number},
            total=result.total, transcript_ids=[h.transcript_id for h in result.hits], ip=client_ip(request),
        )
    query_string = request.GET.copy()
    query_string.pop("page", None)
    codable = {h.transcript_id for h in result.hits} if result else set()
    if codable:
        participants = {t.pk: t.participant for t in selectors.transcripts_visible(user=request.user, study_id=study_id)
                        .filter(pk__in=codable).select_related("participant").defer("text", "newlines")}
        codable = {tid for tid, p in participants.items() if policy.may_code_transcript(membership=membership, participant=p)}
    return render(request, "transcripts/search.html", {
        "study": study, "codable": codable, "form": form, "result": result, "page_number": page_number,
        "has_next": bool(result and result.total > page_number * per_page),
        "first_index": (page_number - 1) * per_page, "query_string": query_string.urlencode(),
    })
