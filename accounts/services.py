"""Writes for studies, sites, memberships, tokens and the audit trail.

Keyword-only, typed, named ``<entity>_<action>``. Each service checks its own permission through
the policy module, so the browser, the API and tasks cannot disagree, and wraps its writes in one
transaction with the audit event that records them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from . import policy
from .models import AuditEvent, Membership, ParticipantGroup, Role, Site, Study, User
from .policy import Perm

DEFAULT_GROUPS = [("service_user", "Service user"), ("carer", "Carer"), ("staff", "Staff")]


def client_ip(request: HttpRequest | None) -> str | None:
    """The client address. Behind a reverse proxy set CHORUS_TRUSTED_PROXIES to the hop count."""
    if request is None:
        return None
    hops = getattr(settings, "CHORUS_TRUSTED_PROXIES", 0)
    if hops:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: Any,
    action: str,
    study: Study | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    actor_email: str = "",
) -> AuditEvent:
    is_user = getattr(actor, "is_authenticated", False)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_email=(actor.email if is_user else actor_email)[:254],
        action=action,
        study=study,
        object_type=object_type,
        object_id=str(object_id),
        ip=ip,
        details=details or {},
    )


# Studies -----------------------------------------------------------------------------------------


@transaction.atomic
def study_create(
    *, actor: User, name: str, description: str = "", site_names: Iterable[str] = (), ip: str | None = None,
    role: Role = Role.ADMIN, details: dict[str, Any] | None = None,
) -> Study:
    """A new study; its creator becomes its first member, as admin (or as lead when the study is made
    to receive a REFI-QDA project, which only a lead may import: interop.services.imports)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A study needs a name."})
    study = Study.objects.create(name=name, description=description.strip(), created_by=actor)
    for position, (key, label) in enumerate(DEFAULT_GROUPS):
        ParticipantGroup.objects.create(study=study, key=key, label=label, position=position)
    for site_name in site_names:
        if site_name.strip():
            _site_insert(study=study, name=site_name)
    membership = Membership.objects.create(user=actor, study=study, role=role)
    policy.membership_forget(user=actor)
    audit_record(actor=actor, action="study.create", study=study, obj=study, ip=ip,
                 details={"name": name, **(details or {})})
    audit_record(
        actor=actor, action="membership.create", study=study, obj=membership, ip=ip,
        details={"email": actor.email, "role": role, "sites": [], "groups": []},
    )
    return study


@transaction.atomic
def study_update(
    *, actor: User, study_id: int, name: str, description: str, ip: str | None = None
) -> Study:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.STUDY_EDIT)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A study needs a name."})
    before = {"name": study.name, "description": study.description}
    study.name, study.description = name, description.strip()
    study.save(update_fields=["name", "description"])
    audit_record(
        actor=actor, action="study.update", study=study, obj=study, ip=ip,
        details={"before": before, "after": {"name": study.name, "description": study.description}},
    )
    return study


# Sites -------------------------------------------------------------------------------------------


def _site_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A site needs a name."})
    limit = Site._meta.get_field("name").max_length or 200
    if len(name) > limit:  # PostgreSQL would refuse it with a DataError; SQLite would store it
        raise ValidationError({"name": f"A site name can have at most {limit} characters."})
    return name


def _site_insert(*, study: Study, name: str) -> Site:
    name = _site_name(name)
    if Site.objects.filter(study=study, name__iexact=name).exists():
        raise ValidationError({"name": f"This study already has a site called “{name}”."})
    try:
        with transaction.atomic():
            return Site.objects.create(study=study, name=name)
    except IntegrityError as exc:  # a concurrent create of the same name
        raise ValidationError({"name": f"This study already has a site called “{name}”."}) from exc


@transaction.atomic
def site_create(*, actor: User, study_id: int, name: str, ip: str | None = None) -> Site:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.SITE_MANAGE)
    site = _site_insert(study=study, name=name)
    audit_record(actor=actor, action="site.create", study=study, obj=site, ip=ip, details={"name": site.name})
    return site


@transaction.atomic
def site_update(*, actor: User, study_id: int, site_id: int, name: str, ip: str | None = None) -> Site:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.SITE_MANAGE)
    site = Site.objects.select_for_update().filter(study=study, pk=site_id).first()
    if site is None:
        raise Http404("No such site.")
    name = _site_name(name)
    if Site.objects.filter(study=study, name__iexact=name).exclude(pk=site.pk).exists():
        raise ValidationError({"name": f"This study already has a site called “{name}”."})
    before = site.name
    site.name = name
    site.save(update_fields=["name"])
    audit_record(
        actor=actor, action="site.update", study=study, obj=site, ip=ip, details={"before": before, "after": name}
    )
    return site


@transaction.atomic
def site_delete(*, actor: User, study_id: int, site_id: int, ip: str | None = None) -> None:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.SITE_MANAGE)
    site = Site.objects.filter(study=study, pk=site_id).first()
    if site is None:
        raise Http404("No such site.")
    # Removing a site from a scoped membership would silently widen that member's scope to all sites.
    if Membership.scope_sites.through.objects.filter(site_id=site.pk).exists():
        raise ValidationError("Members are scoped to this site. Change their scope before deleting it.")
    name = site.name
    try:
        with transaction.atomic():
            site.delete()
    except models.ProtectedError as exc:
        raise ValidationError("This site has participants. Move them to another site before deleting it.") from exc
    audit_record(
        actor=actor, action="site.delete", study=study, object_type="accounts.site", object_id=site_id,
        ip=ip, details={"name": name},
    )


# Memberships -------------------------------------------------------------------------------------


def _scope_objects(
    *, study: Study, site_ids: Iterable[int], group_ids: Iterable[int]
) -> tuple[list[Site], list[ParticipantGroup]]:
    site_ids, group_ids = set(site_ids), set(group_ids)
    sites = list(Site.objects.filter(study=study, pk__in=site_ids))
    groups = list(ParticipantGroup.objects.filter(study=study, pk__in=group_ids))
    errors: dict[str, str] = {}
    if len(sites) != len(site_ids):
        errors["scope_sites"] = "Choose sites of this study."
    if len(groups) != len(group_ids):
        errors["scope_groups"] = "Choose participant groups of this study."
    if errors:
        raise ValidationError(errors)
    return sites, groups


def _scope_repr(sites: Iterable[Site], groups: Iterable[ParticipantGroup]) -> dict[str, list[str]]:
    return {"sites": sorted(s.name for s in sites), "groups": sorted(g.key for g in groups)}


def _validate_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of: {', '.join(Role.values)}."})


def _invite(*, user: User, study: Study, request: HttpRequest | None) -> None:
    """E-mail a new account a link to set its password (Django's password-reset token)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    link = request.build_absolute_uri(path) if request else path
    send_mail(
        subject=f"You have been added to the study “{study.name}” on Chorus",
        message=(
            f"You have been added to “{study.name}” on Chorus.\n\n"
            f"Choose your password here (the link works once):\n{link}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )


@transaction.atomic
def membership_add(
    *,
    actor: User,
    study_id: int,
    email: str,
    role: str,
    site_ids: Iterable[int] = (),
    group_ids: Iterable[int] = (),
    full_name: str = "",
    request: HttpRequest | None = None,
) -> Membership:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.MEMBER_MANAGE)
    _validate_role(role)
    email = User.objects.normalize_email(email.strip()).lower()
    if not email or "@" not in email:
        raise ValidationError({"email": "Enter an e-mail address."})
    sites, groups = _scope_objects(study=study, site_ids=site_ids, group_ids=group_ids)
    user = User.objects.filter(email__iexact=email).first()
    created_user = user is None
    if user is None:
        user = User.objects.create_user(email=email, full_name=full_name.strip())
    if Membership.objects.filter(user=user, study=study).exists():
        raise ValidationError({"email": f"{email} is already a member of this study."})
    membership = Membership.objects.create(user=user, study=study, role=role)
    membership.scope_sites.set(sites)
    membership.scope_groups.set(groups)
    audit_record(
        actor=actor, action="membership.create", study=study, obj=membership, ip=client_ip(request),
        details={"email": email, "role": role, "new_account": created_user, **_scope_repr(sites, groups)},
    )
    if created_user:
        transaction.on_commit(lambda: _invite(user=user, study=study, request=request))
    return membership


def _ensure_an_admin_remains(*, study: Study, excluding: Membership) -> None:
    others = Membership.objects.filter(study=study, role=Role.ADMIN, user__is_active=True).exclude(pk=excluding.pk)
    if not others.exists():
        raise ValidationError({"role": "A study needs at least one admin. Make someone else admin first."})


@transaction.atomic
def membership_update(
    *,
    actor: User,
    study_id: int,
    membership_id: int,
    role: str,
    site_ids: Iterable[int] = (),
    group_ids: Iterable[int] = (),
    ip: str | None = None,
) -> Membership:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.MEMBER_MANAGE)
    _validate_role(role)
    membership = (
        Membership.objects.select_for_update().select_related("user").filter(study=study, pk=membership_id).first()
    )
    if membership is None:
        raise Http404("No such member.")
    sites, groups = _scope_objects(study=study, site_ids=site_ids, group_ids=group_ids)
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        _ensure_an_admin_remains(study=study, excluding=membership)
    before = {"role": membership.role, **_scope_repr(membership.scope_sites.all(), membership.scope_groups.all())}
    membership.role = role
    membership.save(update_fields=["role"])
    membership.scope_sites.set(sites)
    membership.scope_groups.set(groups)
    after = {"role": role, **_scope_repr(sites, groups)}
    if before != after:
        audit_record(
            actor=actor, action="membership.update", study=study, obj=membership, ip=ip,
            details={"email": membership.user.email, "before": before, "after": after},
        )
    policy.membership_forget(user=actor)
    return membership


@transaction.atomic
def membership_remove(*, actor: User, study_id: int, membership_id: int, ip: str | None = None) -> None:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.MEMBER_MANAGE)
    membership = (
        Membership.objects.select_for_update().select_related("user").filter(study=study, pk=membership_id).first()
    )
    if membership is None:
        raise Http404("No such member.")
    if membership.role == Role.ADMIN:
        _ensure_an_admin_remains(study=study, excluding=membership)
    details = {
        "email": membership.user.email, "role": membership.role,
        **_scope_repr(membership.scope_sites.all(), membership.scope_groups.all()),
    }
    membership.delete()
    audit_record(
        actor=actor, action="membership.delete", study=study, object_type="accounts.membership",
        object_id=membership_id, ip=ip, details=details,
    )
    policy.membership_forget(user=actor)


# API tokens --------------------------------------------------------------------------------------


@transaction.atomic
def token_regenerate(*, actor: User, ip: str | None = None) -> Token:
    Token.objects.filter(user=actor).delete()
    token = Token.objects.create(user=actor)
    audit_record(actor=actor, action="auth.token_create", ip=ip)
    return token


@transaction.atomic
def password_changed(*, user: User, how: str, ip: str | None = None) -> int:
    """After a password change or reset: the user's API tokens stop working (a token taken along with
    the old password must not outlive it), and the change is audited. Returns the tokens revoked."""
    revoked, _ = Token.objects.filter(user=user).delete()
    audit_record(actor=user, action=f"auth.password_{how}", ip=ip, details={"tokens_revoked": revoked})
    return revoked


@transaction.atomic
def token_revoke(*, actor: User, ip: str | None = None) -> None:
    deleted, _ = Token.objects.filter(user=actor).delete()
    if deleted:
        audit_record(actor=actor, action="auth.token_revoke", ip=ip)
