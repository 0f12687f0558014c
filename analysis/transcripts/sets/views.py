"""Transcript-set pages: the list with the new-set form, a set's page (its transcripts as the member may see
them, with removal), rename, delete (a confirmation page), and adding a selection from the transcript list.
Thin: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.policy import Perm, acting_user
from accounts.services import client_ip
from analysis.transcripts import selectors as transcript_selectors
from config.web import form_errors_apply

from . import selectors, services
from .forms import SetForm

PER_PAGE = 50


def _int(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if policy.id_ok(n) else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@login_required
@require_http_methods(["GET", "POST"])
def set_list(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    form = SetForm(request.POST or None)
    if request.method == "POST":
        policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
        if form.is_valid():
            d = form.cleaned_data
            try:
                created = services.transcript_set_create(actor=acting_user(request), study_id=study_id,
                                                         name=d["name"], description=d["description"],
                                                         ip=client_ip(request))
            except ValidationError as exc:
                form_errors_apply(form, exc)
            else:
                messages.success(request, f"Transcript set “{created.name}” made. Add transcripts to it from the "
                                          "transcript list.")
                return redirect("transcript-set-detail", study_id=study_id, set_id=created.pk)
    return render(request, "transcripts/set_list.html", {
        "study": membership.study, "form": form, "sets": selectors.sets_list(user=request.user, study_id=study_id),
        "scoped": policy.is_scoped(membership),
    }, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET"])
def set_detail(request: HttpRequest, study_id: int, set_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    transcript_set = selectors.set_get(user=request.user, study_id=study_id, set_id=set_id)
    qs = selectors.set_transcripts(user=request.user, study_id=study_id, transcript_set=transcript_set)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "transcripts/set_detail.html", {
        "study": membership.study, "set": transcript_set, "page": page,
        "may_change": selectors.may_change(user=request.user, study_id=study_id, transcript_set=transcript_set),
        "scoped": policy.is_scoped(membership),
    })


@login_required
@require_http_methods(["GET", "POST"])
def set_edit(request: HttpRequest, study_id: int, set_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
    transcript_set = selectors.set_get(user=request.user, study_id=study_id, set_id=set_id)
    if not selectors.may_change(user=request.user, study_id=study_id, transcript_set=transcript_set):
        raise PermissionDenied("Only who made this set, or a lead, can change it.")
    form = SetForm(request.POST or None, initial={"name": transcript_set.name,
                                                  "description": transcript_set.description})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.transcript_set_update(actor=acting_user(request), study_id=study_id, set_id=transcript_set.pk,
                                           name=d["name"], description=d["description"], ip=client_ip(request))
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Transcript set saved.")
            return redirect("transcript-set-detail", study_id=study_id, set_id=transcript_set.pk)
    return render(request, "transcripts/set_edit.html", {
        "study": membership.study, "set": transcript_set, "form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def set_delete(request: HttpRequest, study_id: int, set_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
    transcript_set = selectors.set_get(user=request.user, study_id=study_id, set_id=set_id)
    if request.method == "POST":
        services.transcript_set_delete(actor=acting_user(request), study_id=study_id, set_id=transcript_set.pk,
                                       ip=client_ip(request))
        messages.success(request, f"Transcript set “{transcript_set.name}” deleted. Its transcripts are unchanged.")
        return redirect("transcript-set-list", study_id=study_id)
    if not selectors.may_change(user=request.user, study_id=study_id, transcript_set=transcript_set):
        raise PermissionDenied("Only who made this set, or a lead, can delete it.")
    return render(request, "transcripts/set_delete.html", {"study": membership.study, "set": transcript_set})


@login_required
@require_POST
def set_remove(request: HttpRequest, study_id: int, set_id: int) -> HttpResponse:
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
    try:
        removed = services.transcript_set_remove(actor=acting_user(request), study_id=study_id, set_id=set_id,
                                                 transcript_ids=request.POST.getlist("transcripts"),
                                                 ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{_plural(removed, 'transcript')} taken out of the set.")
    return redirect("transcript-set-detail", study_id=study_id, set_id=set_id)


@login_required
@require_POST
def set_add(request: HttpRequest, study_id: int) -> HttpResponse:
    """From the transcript list: the ticked transcripts, or every one matching its filter, into an existing set
    (``action=add``) or a new one (``action=new``)."""
    policy.membership_require(user=request.user, study_id=study_id, perm=Perm.TRANSCRIPT_SET_EDIT)
    group_id, site_id = _int(request.POST.get("group")), _int(request.POST.get("site"))
    if request.POST.get("which") == "matching":
        ids: list[Any] = list(transcript_selectors.transcript_list(
            user=request.user, study_id=study_id, group_id=group_id, site_id=site_id).values_list("pk", flat=True))
    else:
        ids = request.POST.getlist("transcripts")
    back = reverse("transcript-list", kwargs={"study_id": study_id})
    back += "?" + urlencode({k: v for k, v in (("group", group_id), ("site", site_id)) if v})
    if not ids:
        messages.error(request, "Tick the transcripts to put in a set first, or choose all matching the filter.")
        return redirect(back)
    actor, ip = acting_user(request), client_ip(request)
    try:
        if request.POST.get("action") == "new":
            created = services.transcript_set_create(actor=actor, study_id=study_id, name=request.POST.get("new_name"),
                                                     transcript_ids=ids, ip=ip)
            messages.success(request, f"Transcript set “{created.name}” made with {_plural(len(ids), 'transcript')}.")
            return redirect("transcript-set-detail", study_id=study_id, set_id=created.pk)
        set_id = _int(request.POST.get("set"))
        if set_id is None:
            raise ValidationError({"set": "Choose the set to add to."})
        added = services.transcript_set_add(actor=actor, study_id=study_id, set_id=set_id, transcript_ids=ids, ip=ip)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    already = len(set(map(str, ids))) - added
    messages.success(request, f"{_plural(added, 'transcript')} added to the set"
                              + (f" ({already} already in it)." if already else "."))
    return redirect("transcript-set-detail", study_id=study_id, set_id=set_id)
