"""Pages for participants, consent, imports, the consent dashboard and the sampling frame.

Thin: parse a form, call a service or selector, render. The policy module answers every
permission question; scope is applied by the selectors (out of scope = 404).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import client_ip
from config.web import form_errors_apply

from . import selectors, services
from .consent_rules import DataUse, data_uses_allowed
from .forms import (
    AttributeForm,
    ConsentEventForm,
    ConsentFormCreateForm,
    CorrectionForm,
    FilterForm,
    ImportOptionsForm,
    ImportUploadForm,
    ParticipantForm,
    WithdrawForm,
)
from .models import ConsentState, EventKind, ImportKind

USE_LABELS = {
    DataUse.ANALYSIS: "Data held and counted in analysis",
    DataUse.TRANSCRIPT_ADD: "New transcripts may be added",
    DataUse.CODING: "New coding",
    DataUse.QUOTING: "Quotes in reports",
    DataUse.PPI_SHARING: "Quotes on the PPI theme board",
    DataUse.ARCHIVING: "Included in archive exports",
    DataUse.FUTURE_CONTACT: "May be contacted about future research",
}


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]




def _perms(request: HttpRequest, study_id: int) -> frozenset[Perm]:
    return policy.perms_for(user=request.user, study=study_id)


# Participants -----------------------------------------------------------------------------------


@login_required
def participant_list(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.PARTICIPANT_VIEW)
    form = FilterForm(request.GET or None, study=study)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        filters = {"search": d.get("search") or None, "group_id": d["group"].pk if d.get("group") else None,
                   "site_id": d["site"].pk if d.get("site") else None, "state": d.get("state") or None}
    qs = selectors.participant_list(user=request.user, study_id=study.pk, **filters)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    perms = _perms(request, study.pk)
    return render(request, "participants/participant_list.html", {
        "study": study, "form": form, "page": page, "query": query.urlencode(), "filtered": any(filters.values()),
        "can_manage": Perm.PARTICIPANT_MANAGE in perms,
        "can_export": services.participants_export_allowed(user=request.user, study_id=study.pk),
        "attributes": selectors.attribute_list(user=request.user, study_id=study.pk),
    })


@sensitive_post_parameters("name", "contact")
@sensitive_variables("form")
@login_required
@require_http_methods(["GET", "POST"])
def participant_create(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    form = ParticipantForm(request.POST or None, study=study)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            p = services.participant_create(
                actor=_actor(request), study_id=study.pk, pseudonym=d["pseudonym"], group_id=d["group"].pk,
                site_id=d["site"].pk if d["site"] else None, attributes=form.attributes(),
                interview_date=d["interview_date"], name=d["name"], contact=d["contact"], ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Participant {p.pseudonym} added.")
            return redirect("participant-detail", study_id=study.pk, participant_id=p.pk)
    return render(request, "participants/participant_form.html", {"study": study, "form": form, "participant": None})


@login_required
def participant_detail(request: HttpRequest, study_id: int, participant_id: int) -> HttpResponse:
    p = selectors.participant_get(user=request.user, study_id=study_id, participant_id=participant_id)
    perms = _perms(request, study_id)
    events = list(selectors.consent_event_list(user=request.user, study_id=study_id, participant_id=p.pk)) \
        if Perm.CONSENT_VIEW in perms else []
    corrected = {e.corrects_id: e for e in events if e.kind == EventKind.CORRECTION}
    items: list[tuple[str, str, Any]] = []
    if p.consent_form is not None:
        for item in p.consent_form.items.all():
            items.append((item.label, item.key, (p.consent_answers or {}).get(item.key)))
    uses = [(USE_LABELS[u], ok) for u, ok in data_uses_allowed(participant=p).items()]
    attributes = [(d.label, (p.attributes or {}).get(d.key)) for d in
                  selectors.attribute_list(user=request.user, study_id=study_id)]
    from jobs.models import Job

    purge_jobs = Job.objects.filter(study_id=study_id, kind="participant_purge", params__participant_id=p.pk,
                                    created_by=_actor(request)) if Perm.CONSENT_MANAGE in perms else Job.objects.none()
    transcripts: list[Any] = []
    if Perm.TRANSCRIPT_VIEW in perms:
        from analysis.transcripts.selectors import transcript_list

        membership = policy.membership_get(user=request.user, study_id=study_id)
        transcripts = [(t, policy.may_code_transcript(membership=membership, participant=p))
                       for t in transcript_list(user=request.user, study_id=study_id, participant_id=p.pk)]
    return render(request, "participants/participant_detail.html", {
        "study": p.study, "p": p, "transcripts": transcripts, "events": events, "corrected": corrected, "items": items, "uses": uses,
        "attributes": attributes, "perms": perms,
        "can_manage": Perm.PARTICIPANT_MANAGE in perms, "can_consent": Perm.CONSENT_MANAGE in perms,
        "can_identifiable": Perm.PARTICIPANT_IDENTIFIABLE in perms,
        "closed": p.consent_state == ConsentState.WITHDRAWN_DELETE,
        "withdrawn": p.consent_state in (ConsentState.WITHDRAWN_RETAIN, ConsentState.WITHDRAWN_DELETE),
        "has_identifiable": bool(p.name_encrypted or p.contact_encrypted),
        "purge_job": purge_jobs.order_by("-created_at").first(),
        "pending": [row for row in selectors.purge_pending_list(user=request.user, study_id=study_id)
                    if row.participant.pk == p.pk],
    })


@sensitive_variables("identifiable")
@login_required
@require_POST
def participant_identifiable(request: HttpRequest, study_id: int, participant_id: int) -> HttpResponse:
    identifiable = services.participant_identifiable_read(
        actor=_actor(request), study_id=study_id, participant_id=participant_id, ip=client_ip(request)
    )
    p = selectors.participant_get(user=request.user, study_id=study_id, participant_id=participant_id)
    template = "participants/_identifiable.html" if request.htmx else "participants/identifiable_page.html"  # type: ignore[attr-defined]
    response = render(request, template, {"study": p.study, "p": p, "identifiable": identifiable})
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("name", "contact")
@sensitive_variables("form", "initial")
@login_required
@require_http_methods(["GET", "POST"])
def participant_edit(request: HttpRequest, study_id: int, participant_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    p = selectors.participant_get(user=request.user, study_id=study.pk, participant_id=participant_id)
    initial: dict[str, Any] = {"pseudonym": p.pseudonym, "group": p.group, "site": p.site,
                               "interview_date": p.interview_date}
    initial.update({f"attr_{k}": v for k, v in (p.attributes or {}).items()})
    form = ParticipantForm(request.POST or None, study=study, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.participant_update(
                actor=_actor(request), study_id=study.pk, participant_id=p.pk, pseudonym=d["pseudonym"],
                group_id=d["group"].pk, site_id=d["site"].pk if d["site"] else None, attributes=form.attributes(),
                interview_date=d["interview_date"], name=d["name"] or None, contact=d["contact"] or None,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Participant saved.")
            return redirect("participant-detail", study_id=study.pk, participant_id=p.pk)
    return render(request, "participants/participant_form.html", {
        "study": study, "form": form, "participant": p,
        "has_name": bool(p.name_encrypted), "has_contact": bool(p.contact_encrypted),
    })


@login_required
@require_POST
def participants_export(request: HttpRequest, study_id: int) -> HttpResponse:
    job = services.participants_export_start(actor=_actor(request), study_id=study_id, ip=client_ip(request))
    return redirect("job-detail", study_id=study_id, job_id=job.pk)


@login_required
@require_http_methods(["GET", "POST"])
def attribute_list(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    form = AttributeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            a = services.attribute_create(actor=_actor(request), study_id=study.pk, label=d["label"], key=d["key"],
                                          kind=d["kind"], choices=form.choice_list(), ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Attribute “{a.label}” added.")
            return redirect("attribute-list", study_id=study.pk)
    return render(request, "participants/attribute_list.html", {
        "study": study, "form": form, "attributes": selectors.attribute_list(user=request.user, study_id=study.pk),
    })


@login_required
@require_POST
def attribute_delete(request: HttpRequest, study_id: int, attribute_id: int) -> HttpResponse:
    try:
        services.attribute_delete(actor=_actor(request), study_id=study_id, attribute_id=attribute_id,
                                  ip=client_ip(request))
        messages.success(request, "Attribute deleted.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("attribute-list", study_id=study_id)


# Consent events ---------------------------------------------------------------------------------


def _upload_bytes(form: Form, field: str) -> bytes | None:
    f = form.cleaned_data.get(field)
    if not f:
        return None
    from .services.consent import signed_form_max_bytes

    if f.size > signed_form_max_bytes():
        raise ValidationError({field: f"The file is larger than {signed_form_max_bytes() // 1_048_576} MB."})
    return bytes(f.read())


@login_required
@require_http_methods(["GET", "POST"])
def consent_record(request: HttpRequest, study_id: int, participant_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    p = selectors.participant_get(user=request.user, study_id=study.pk, participant_id=participant_id)
    forms = list(selectors.consent_form_list(user=request.user, study_id=study.pk))
    if not forms:
        messages.error(request, "Define a consent form first.")
        return redirect("consent-form-create", study_id=study.pk)
    chosen = request.POST.get("consent_form") or request.GET.get("consent_form")
    cform = next((f for f in forms if str(f.pk) == chosen), forms[-1])
    kind = EventKind.CONSENT if p.consent_state == ConsentState.NONE else EventKind.RECONSENT
    form = ConsentEventForm(request.POST or None, request.FILES or None, study=study, form=cform,
                            initial={"taken_by": request.user.pk})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.consent_event_record(
                actor=_actor(request), study_id=study.pk, participant_id=p.pk, form_id=cform.pk, date=d["date"],
                answers=form.answers(), kind=kind, method=d["method"], taken_by_id=d["taken_by"], note=d["note"],
                signed_form=_upload_bytes(form, "signed_form"), ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"{'Consent' if kind == EventKind.CONSENT else 'Re-consent'} recorded for {p.pseudonym}.")
            return redirect("participant-detail", study_id=study.pk, participant_id=p.pk)
    return render(request, "participants/consent_record.html", {
        "study": study, "p": p, "form": form, "forms": forms, "cform": cform, "kind": kind,
    })


@login_required
@require_http_methods(["GET", "POST"])
def participant_withdraw(request: HttpRequest, study_id: int, participant_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    p = selectors.participant_get(user=request.user, study_id=study.pk, participant_id=participant_id)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, job = services.participant_withdraw(
                actor=_actor(request), study_id=study.pk, participant_id=p.pk, scope=d["scope"], date=d["date"],
                method=d["method"], note=d["note"], ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            if job is not None:
                messages.warning(request, f"Withdrawal recorded. {p.pseudonym}'s data is being deleted.")
                return redirect("job-detail", study_id=study.pk, job_id=job.pk)
            messages.success(request, f"Withdrawal recorded. {p.pseudonym}'s data is kept and frozen.")
            return redirect("participant-detail", study_id=study.pk, participant_id=p.pk)
    return render(request, "participants/withdraw.html", {"study": study, "p": p, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def consent_correct(request: HttpRequest, study_id: int, participant_id: int, event_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    p = selectors.participant_get(user=request.user, study_id=study.pk, participant_id=participant_id)
    event = selectors.consent_event_get(user=request.user, study_id=study.pk, event_id=event_id)
    if event.participant_id != p.pk or event.kind == EventKind.CORRECTION:
        raise Http404("No such consent event.")
    form = CorrectionForm(request.POST or None, event=event)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, job = services.consent_event_correct(
                actor=_actor(request), study_id=study.pk, participant_id=p.pk, event_id=event.pk, note=d["note"],
                voids=d["voids"], date=d.get("date"), answers=form.answers() if form.items else None,
                method=d.get("method") or "", scope=d.get("scope") or "", ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            if job is not None:
                return redirect("job-detail", study_id=study.pk, job_id=job.pk)
            messages.success(request, "Correction recorded.")
            return redirect("participant-detail", study_id=study.pk, participant_id=p.pk)
    return render(request, "participants/consent_correct.html", {"study": study, "p": p, "event": event, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def consent_signed_form(request: HttpRequest, study_id: int, participant_id: int, event_id: int) -> HttpResponse:
    """GET: the decrypted PDF (admin, audited). POST: attach one."""
    policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    event = selectors.consent_event_get(user=request.user, study_id=study_id, event_id=event_id)
    if event.participant_id != participant_id:
        raise Http404("No such consent event.")
    if request.method == "POST":
        upload = request.FILES.get("signed_form")
        try:
            if upload is None:
                raise ValidationError("Choose a PDF file.")
            from .services.consent import signed_form_max_bytes

            if upload.size and upload.size > signed_form_max_bytes():
                raise ValidationError(f"The file is larger than {signed_form_max_bytes() // 1_048_576} MB.")
            services.consent_signed_form_attach(actor=_actor(request), study_id=study_id, event_id=event.pk,
                                                data=upload.read(), ip=client_ip(request))
            messages.success(request, "Signed form attached.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("participant-detail", study_id=study_id, participant_id=participant_id)
    data = services.consent_signed_form_read(actor=_actor(request), study_id=study_id, event_id=event.pk,
                                             ip=client_ip(request))
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="consent-{event.participant.pseudonym}-{event.date}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def participant_purge_retry(request: HttpRequest, study_id: int, participant_id: int) -> HttpResponse:
    try:
        job = services.participant_purge_retry(actor=_actor(request), study_id=study_id, participant_id=participant_id,
                                               ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("participant-detail", study_id=study_id, participant_id=participant_id)
    return redirect("job-detail", study_id=study_id, job_id=job.pk)


# Consent forms ----------------------------------------------------------------------------------


@login_required
def consent_form_list(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_VIEW)
    return render(request, "participants/consent_form_list.html", {
        "study": study, "forms": selectors.consent_form_list(user=request.user, study_id=study.pk),
        "can_manage": Perm.CONSENT_MANAGE in _perms(request, study.pk),
    })


@login_required
@require_http_methods(["GET", "POST"])
def consent_form_create(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    form = ConsentFormCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            f = services.consent_form_create(
                actor=_actor(request), study_id=study.pk, version=d["version"], title=d["title"],
                effective_from=d["effective_from"], reconsent_required=d["reconsent_required"], items=form.items(),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Consent form version {f.version} created.")
            return redirect("consent-form-list", study_id=study.pk)
    return render(request, "participants/consent_form_create.html", {"study": study, "form": form})


# Dashboard and sampling -------------------------------------------------------------------------


@login_required
def consent_dashboard(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.CONSENT_VIEW)
    dash = selectors.consent_dashboard(user=request.user, study_id=study.pk)
    rows = [(g, [dash.counts.get((g.pk, s), 0) for s, _ in dash.states], dash.row_totals[g.pk]) for g in dash.groups]
    return render(request, "participants/consent_dashboard.html", {
        "study": study, "dash": dash, "rows": rows,
        "col_totals": [dash.col_totals[s] for s, _ in dash.states],
        "can_manage": Perm.CONSENT_MANAGE in _perms(request, study.pk),
        "pending": selectors.purge_pending_list(user=request.user, study_id=study.pk),
    })


@login_required
@require_http_methods(["GET", "POST"])
def sampling_frame(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.SAMPLING_VIEW)
    can_manage = Perm.SAMPLING_MANAGE in _perms(request, study.pk)
    errors: list[str] = []
    if request.method == "POST":
        policy.membership_require(user=request.user, study_id=study.pk, perm=Perm.SAMPLING_MANAGE)
        targets: list[tuple[int, int, int | None]] = []
        for key, value in request.POST.items():
            if not key.startswith("t_"):
                continue
            try:
                _, gid, sid = key.split("_")
                text = str(value)
                number = int(text) if text.strip() else None
            except ValueError:
                errors.append(f"“{value[:20]}” is not a whole number.")
                continue
            targets.append((int(gid), int(sid), number))
        if not errors:
            try:
                services.sampling_targets_set(actor=_actor(request), study_id=study.pk, targets=targets,
                                              ip=client_ip(request))
            except ValidationError as exc:
                errors.extend(exc.messages)
            else:
                messages.success(request, "Sampling targets saved.")
                return redirect("sampling-frame", study_id=study.pk)
    frame = selectors.sampling_frame(user=request.user, study_id=study.pk)
    rows = [(g, [(s, frame.cells[(g.pk, s.pk)]) for s in frame.sites], frame.group_totals[g.pk]) for g in frame.groups]
    return render(request, "participants/sampling_frame.html", {
        "study": study, "frame": frame, "rows": rows, "can_manage": can_manage, "errors": errors,
        "editing": can_manage and (request.GET.get("edit") == "1" or bool(errors)),
        "site_totals": [frame.site_totals[s.pk] for s in frame.sites],
    })


# Imports ----------------------------------------------------------------------------------------


def _import_view(request: HttpRequest, study_id: int, *, kind: str) -> HttpResponse:
    perm = Perm.PARTICIPANT_MANAGE if kind == ImportKind.PARTICIPANTS else Perm.CONSENT_MANAGE
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=perm)
    upload_form = ImportUploadForm()
    report = None
    batch_id = None
    options = ImportOptionsForm()
    file_error = ""
    if request.method == "POST":
        try:
            if "file" in request.FILES:
                upload_form = ImportUploadForm(request.POST, request.FILES)
                if not upload_form.is_valid():
                    raise ValidationError("Choose a CSV file.")
                f = upload_form.cleaned_data["file"]
                data = f.read()
                batch = services.import_batch_create(actor=_actor(request), study_id=study.pk, kind=kind,
                                                     data=data, filename=f.name or "")
                opts: dict[str, Any] = {}
                action = "preview"
            else:
                options = ImportOptionsForm(request.POST)
                if not options.is_valid():
                    raise ValidationError("Upload the file again.")
                batch, data = services.import_batch_get(actor=_actor(request), study_id=study.pk,
                                                        batch_id=options.cleaned_data["batch"], kind=kind)
                opts = options.cleaned_data
                action = request.POST.get("action", "preview")
            batch_id = batch.pk
            encoding = None
            if opts.get("confirm_encoding"):
                encoding = request.POST.get("encoding") or None
            common: dict[str, Any] = {
                "actor": _actor(request), "study_id": study.pk, "data": data, "filename": batch.filename,
                "commit": action == "commit", "import_valid_rows": bool(opts.get("import_valid_rows")),
                "encoding": encoding, "ip": client_ip(request),
            }
            if kind == ImportKind.PARTICIPANTS:
                report = services.participants_import(**common, create_sites=bool(opts.get("create_missing")))
            else:
                report = services.consent_import(**common, create_forms=bool(opts.get("create_missing")),
                                                 confirm_deletions=bool(opts.get("confirm_deletions")))
            if report.committed:
                services.import_batch_done(batch=batch, report=report)
                messages.success(request, _import_summary(report))
                if report.deletions:
                    messages.warning(request, "Deletion of data was started for: " + ", ".join(report.deletions) + ".")
                return redirect("participant-list" if kind == ImportKind.PARTICIPANTS else "consent-dashboard",
                                study_id=study.pk)
            options = ImportOptionsForm(initial={"batch": batch_id, **opts})
        except ValidationError as exc:
            file_error = " ".join(exc.messages)
    return render(request, "participants/import.html", {
        "study": study, "kind": kind, "upload_form": upload_form, "report": report, "batch_id": batch_id,
        "options": options, "file_error": file_error, **_error_context(report, kind),
    })


def _error_context(report: services.ImportReport | None, kind: str) -> dict[str, Any]:
    if report is None:
        return {"error_groups": [], "single_errors": [], "shown_errors": [], "has_choices": False}
    groups = report.error_groups
    singles = [g["error"] for g in groups if not g["cause"]]
    has_choices = bool(
        report.encoding_notice or report.deletions or report.errors
        or (report.new_sites if kind == ImportKind.PARTICIPANTS else report.new_forms)
    )
    return {"error_groups": groups, "single_errors": singles, "shown_errors": singles[:200], "has_choices": has_choices}


def _import_summary(report: services.ImportReport) -> str:
    noun = "participants" if report.kind == ImportKind.PARTICIPANTS else "consent events"
    parts = [f"{report.create} new {noun}"]
    if report.kind == ImportKind.PARTICIPANTS:
        parts.append(f"{report.update} updated")
    parts.append(f"{report.unchanged} already in Chorus")
    if report.error_rows:
        parts.append(f"{report.error_rows} rows with errors left out")
    return "Imported: " + ", ".join(parts) + "."


@login_required
@require_http_methods(["GET", "POST"])
def participants_import(request: HttpRequest, study_id: int) -> HttpResponse:
    return _import_view(request, study_id, kind=ImportKind.PARTICIPANTS)


@login_required
@require_http_methods(["GET", "POST"])
def consent_import(request: HttpRequest, study_id: int) -> HttpResponse:
    return _import_view(request, study_id, kind=ImportKind.CONSENT)


