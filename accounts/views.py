"""Pages for signing in, studies, sites, members and the audit log. Thin: they parse input, call
a service or selector, and render. Permission answers come from the policy module."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.authtoken.models import Token

from config.web import form_errors_apply

from . import exports, policy, security, selectors, services
from .audit_display import audit_rows
from .forms import (
    AuditFilterForm,
    EmailAuthenticationForm,
    MembershipAddForm,
    MembershipEditForm,
    SiteForm,
    StudyCreateForm,
    StudyForm,
)
from .models import Membership, Role
from .policy import Perm, acting_user
from .services import client_ip


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.password_changed(user=form.user, how="change", ip=client_ip(self.request))
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.password_changed(user=form.user, how="reset", ip=client_ip(self.request))
        return response


def home(request: HttpRequest) -> HttpResponse:
    return redirect("study-list" if request.user.is_authenticated else "login")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.token_revoke(actor=acting_user(request), ip=client_ip(request))
            messages.success(request, "Your API token was revoked.")
            return redirect("account")
        new_key = services.token_regenerate(actor=acting_user(request), ip=client_ip(request)).key
    has_token = Token.objects.filter(user=acting_user(request)).exists()
    memberships = Membership.objects.filter(user=acting_user(request)).select_related("study")
    return render(
        request, "accounts/account.html",
        {"new_key": new_key, "has_token": has_token, "memberships": memberships},
    )


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = selectors.study_list(user=request.user)
    roles = {  # the role's label ("PPI co-designer"), not its key ("ppi")
        sid: Role(role).label
        for sid, role in Membership.objects.filter(user=acting_user(request)).values_list("study_id", "role")
    }
    return render(request, "accounts/study_list.html", {"studies": studies, "roles": roles})


@login_required
@require_http_methods(["GET", "POST"])
def study_create(request: HttpRequest) -> HttpResponse:
    form = StudyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_create(
                actor=acting_user(request),
                name=form.cleaned_data["name"], description=form.cleaned_data["description"],
                site_names=form.site_names(), ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Study “{study.name}” created. You are its admin.")
            return redirect("study-detail", study_id=study.pk)
    return render(request, "accounts/study_create.html", {"form": form})


@login_required
def study_detail(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id)
    study = membership.study
    return render(request, "accounts/study_detail.html", {
        "study": study, "membership": membership,
        "member_count": selectors.member_count(user=request.user, study_id=study.pk),
        "sites": study.sites.all(), "groups": study.groups.all(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def study_settings(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.STUDY_EDIT)
    form = StudyForm(request.POST or None, initial={"name": study.name, "description": study.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.study_update(
                actor=acting_user(request), study_id=study.pk, name=form.cleaned_data["name"],
                description=form.cleaned_data["description"], ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, "Study details saved.")
            return redirect("study-settings", study_id=study.pk)
    return render(
        request, "accounts/study_settings.html",
        {"study": study, "form": form, "site_form": SiteForm(), "sites": study.sites.all(),
         "groups": study.groups.all()},
    )


@login_required
@require_POST
def site_create(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.SITE_MANAGE)
    form = SiteForm(request.POST)
    if form.is_valid():
        try:
            site = services.site_create(
                actor=acting_user(request), study_id=study.pk, name=form.cleaned_data["name"],
                ip=client_ip(request),
            )
            messages.success(request, f"Site “{site.name}” added.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Enter a site name.")
    return redirect("study-settings", study_id=study.pk)


@login_required
@require_POST
def site_update(request: HttpRequest, study_id: int, site_id: int) -> HttpResponse:
    form = SiteForm(request.POST)
    policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.SITE_MANAGE)
    if form.is_valid():
        try:
            services.site_update(
                actor=acting_user(request), study_id=study_id, site_id=site_id,
                name=form.cleaned_data["name"], ip=client_ip(request),
            )
            messages.success(request, "Site renamed.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Enter a site name.")
    return redirect("study-settings", study_id=study_id)


@login_required
@require_POST
def site_delete(request: HttpRequest, study_id: int, site_id: int) -> HttpResponse:
    try:
        services.site_delete(actor=acting_user(request), study_id=study_id, site_id=site_id, ip=client_ip(request))
        messages.success(request, "Site deleted.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("study-settings", study_id=study_id)


@login_required
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest, study_id: int) -> HttpResponse:
    membership = policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MEMBER_VIEW)
    study = membership.study
    # Only a member who may manage members gets the form (and may post it).
    form = MembershipAddForm(request.POST or None, study=study) if policy.has_perm(
        user=request.user, study=study, perm=Perm.MEMBER_MANAGE) else None
    if request.method == "POST":
        policy.membership_require(user=request.user, study_id=study_id, perm=Perm.MEMBER_MANAGE)
        assert form is not None
        if form.is_valid():
            try:
                added = services.membership_add(
                    actor=acting_user(request), study_id=study.pk,
                    email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                    full_name=form.cleaned_data["full_name"],
                    site_ids=[s.pk for s in form.cleaned_data["scope_sites"]],
                    group_ids=[g.pk for g in form.cleaned_data["scope_groups"]], request=request,
                )
            except ValidationError as exc:
                form_errors_apply(form, exc)
            else:
                messages.success(request, f"{added.user.email} added as {added.get_role_display()}.")
                return redirect("member-list", study_id=study.pk)
    members = selectors.membership_list(user=request.user, study_id=study.pk)
    return render(
        request, "accounts/member_list.html",
        {"study": study, "members": members, "form": form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, study_id: int, membership_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.MEMBER_MANAGE)
    member = selectors.membership_get(user=request.user, study_id=study.pk, membership_id=membership_id)
    initial = {
        "role": member.role, "scope_sites": list(member.scope_sites.all()),
        "scope_groups": list(member.scope_groups.all()),
    }
    form = MembershipEditForm(request.POST or None, study=study, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(
                actor=acting_user(request), study_id=study.pk, membership_id=member.pk,
                role=form.cleaned_data["role"], site_ids=[s.pk for s in form.cleaned_data["scope_sites"]],
                group_ids=[g.pk for g in form.cleaned_data["scope_groups"]], ip=client_ip(request),
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Saved {member.user.email}.")
            return redirect("member-list", study_id=study.pk)
    return render(request, "accounts/member_edit.html", {"study": study, "member": member, "form": form})


@login_required
@require_POST
def member_remove(request: HttpRequest, study_id: int, membership_id: int) -> HttpResponse:
    try:
        services.membership_remove(
            actor=acting_user(request), study_id=study_id, membership_id=membership_id, ip=client_ip(request)
        )
        messages.success(request, "Member removed from the study.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("member-list", study_id=study_id)


def _audit_filter_form(request: HttpRequest, study_id: int, data: Any) -> AuditFilterForm:
    return AuditFilterForm(
        data or None,
        actors=selectors.audit_actors(user=request.user, study_id=study_id),
        actions=selectors.audit_actions(user=request.user, study_id=study_id),
    )


@login_required
def audit_log(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.AUDIT_VIEW)
    form = _audit_filter_form(request, study.pk, request.GET)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    events = selectors.audit_event_list(user=request.user, study_id=study.pk, **{
        "actor_id": filters.get("actor"), "action": filters.get("action"),
        "date_from": filters.get("date_from"), "date_to": filters.get("date_to"),
    })
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    rows = audit_rows(user=request.user, study_id=study.pk, events=list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    template = "accounts/_audit_table.html" if request.htmx else "accounts/audit_log.html"  # type: ignore[attr-defined]
    return render(
        request, template,
        {"study": study, "form": form, "page": page, "rows": rows, "query": query.urlencode(), "filters": filters},
    )


@login_required
@require_POST
def audit_export(request: HttpRequest, study_id: int) -> HttpResponse:
    study = policy.study_get_for_user(user=request.user, study_id=study_id, perm=Perm.AUDIT_VIEW)
    form = _audit_filter_form(request, study.pk, request.POST)
    filters = {}
    if form.is_valid():
        filters = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in form.cleaned_data.items() if v}
    job = exports.audit_export_start(actor=acting_user(request), study_id=study.pk, filters=filters, ip=client_ip(request))
    return redirect("job-detail", study_id=study.pk, job_id=job.pk)


def _is_api(request: HttpRequest) -> bool:
    # API views answer their own errors in JSON; this covers what never reaches one (an unknown
    # path, a non-integer id), so an API client always gets JSON.
    return request.path.startswith("/api/")


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's request limits (too many files, a body too large, an unreadable upload) say which limit
    and what to do, instead of a bare "Bad Request (400)"."""
    from config.input_guard import bad_request, request_limit_message

    known = request_limit_message(exception) if exception is not None else None
    status, message = known or (400, "The request could not be understood. Go back and try again.")
    return bad_request(request, message, status=status)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    match = getattr(request, "resolver_match", None)
    if match is not None and policy.denial_hides_object(user=request.user, kwargs=match.kwargs):
        return error_404(request)
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return render(request, "500.html", status=500)


@csrf_exempt  # browsers post reports without a CSRF token; the endpoint changes nothing
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    if not policy.may_report_csp_violation(user=request.user):
        raise PermissionDenied
    client = client_ip(request) or "unknown"
    if not security.csp_report_rate_allows(client=client):
        return HttpResponse("Too many reports.", status=429, content_type="text/plain")
    try:
        body = security.csp_report_read(stream=request, content_length=request.META.get("CONTENT_LENGTH"))
        violations = security.csp_report_parse(body=body)
    except security.ReportRejected as e:
        return HttpResponse(f"Not a violation report: {e.reason}.", status=e.status, content_type="text/plain")
    security.csp_report_log(violations=violations, client=client)
    return HttpResponse(status=204)
