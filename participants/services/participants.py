"""Writes for participants and their typed attributes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import ParticipantGroup, Site, Study, User
from accounts.policy import Perm
from accounts.services import audit_record

from ..crypto import decrypt_text, encrypt_text
from ..models import AttributeDefinition, AttributeKind, Participant
from ..values import RESERVED_KEYS, ValueProblem, attribute_key, attribute_value, parse_date, parse_pseudonym

NAME_MAX = 200
CONTACT_MAX = 1000


# Attributes -------------------------------------------------------------------------------------


@transaction.atomic
def attribute_create(
    *, actor: User, study_id: int, label: str, kind: str, key: str = "", choices: list[str] | None = None,
    ip: str | None = None,
) -> AttributeDefinition:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    return _attribute_insert(study=study, actor=actor, label=label, kind=kind, key=key, choices=choices, ip=ip)


def _attribute_insert(
    *, study: Study, actor: User, label: str, kind: str, key: str = "", choices: list[str] | None = None,
    ip: str | None = None,
) -> AttributeDefinition:
    label = label.strip()
    key = attribute_key(key or label)
    errors: dict[str, str] = {}
    if not label:
        errors["label"] = "An attribute needs a label."
    if not key:
        errors["key"] = "An attribute needs a key of letters and digits."
    elif key in RESERVED_KEYS:
        errors["key"] = f"“{key}” is a built-in participant field; choose another key."
    if kind not in AttributeKind.values:
        errors["kind"] = f"Type must be one of: {', '.join(AttributeKind.values)}."
    clean_choices = [c.strip() for c in (choices or []) if c and c.strip()]
    if kind == AttributeKind.CHOICE and not clean_choices:
        errors["choices"] = "A choice attribute needs its choices."
    if key and AttributeDefinition.objects.filter(study=study, key=key).exists():
        errors["key"] = f"This study already has an attribute “{key}”."
    if errors:
        raise ValidationError(errors)
    position = AttributeDefinition.objects.filter(study=study).count()
    try:
        with transaction.atomic():
            definition = AttributeDefinition.objects.create(
                study=study, key=key, label=label, kind=kind,
                choices=clean_choices if kind == AttributeKind.CHOICE else [], position=position,
            )
    except IntegrityError as exc:
        raise ValidationError({"key": f"This study already has an attribute “{key}”."}) from exc
    audit_record(
        actor=actor, action="attribute.create", study=study, obj=definition, ip=ip,
        details={"key": key, "kind": kind},
    )
    return definition


@transaction.atomic
def attribute_delete(*, actor: User, study_id: int, attribute_id: int, ip: str | None = None) -> None:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    definition = AttributeDefinition.objects.filter(study=study, pk=attribute_id).first()
    if definition is None:
        raise Http404("No such attribute.")
    if Participant.objects.filter(study=study, attributes__has_key=definition.key).exists():
        raise ValidationError("Participants have values for this attribute; it cannot be deleted.")
    key = definition.key
    definition.delete()
    audit_record(
        actor=actor, action="attribute.delete", study=study, object_type="participants.attributedefinition",
        object_id=attribute_id, ip=ip, details={"key": key},
    )


def clean_attributes(*, study: Study, values: dict[str, Any]) -> dict[str, Any]:
    """Typed, validated attribute values keyed by definition key (empty values dropped)."""
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(study=study)}
    out: dict[str, Any] = {}
    errors: list[str] = []
    for key, raw in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append(f"“{key}” is not an attribute of this study.")
            continue
        try:
            value = attribute_value(definition, raw)
        except ValueProblem as exc:
            errors.append(str(exc))
            continue
        if value is not None:
            out[key] = value
    if errors:
        raise ValidationError({"attributes": errors})
    return out


# Participants -----------------------------------------------------------------------------------


def _resolve_group_site(*, study: Study, group_id: int | None, site_id: int | None) -> tuple[ParticipantGroup, Site | None]:
    errors: dict[str, str] = {}
    group = ParticipantGroup.objects.filter(study=study, pk=group_id).first() if group_id else None
    if group is None:
        errors["group"] = "Choose a participant group of this study."
    site = None
    if site_id:
        site = Site.objects.filter(study=study, pk=site_id).first()
        if site is None:
            errors["site"] = "Choose a site of this study."
    if errors:
        raise ValidationError(errors)
    assert group is not None
    return group, site


def _clean_identifiable(name: str | None, contact: str | None) -> None:
    errors = {}
    if name is not None and len(name) > NAME_MAX:
        errors["name"] = f"At most {NAME_MAX} characters."
    if contact is not None and len(contact) > CONTACT_MAX:
        errors["contact"] = f"At most {CONTACT_MAX} characters."
    if errors:
        raise ValidationError(errors)


def _check_pseudonym(*, study: Study, pseudonym: str, exclude_pk: int | None = None) -> str:
    try:
        pseudonym = parse_pseudonym(pseudonym)
    except ValueProblem as exc:
        raise ValidationError({"pseudonym": str(exc)}) from exc
    clash = Participant.objects.filter(study=study, pseudonym__iexact=pseudonym)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"pseudonym": f"This study already has a participant “{pseudonym}”."})
    return pseudonym


def _clean_interview_date(value: dt.date | str | None) -> dt.date | None:
    try:
        return parse_date(value)
    except ValueProblem as exc:
        raise ValidationError({"interview_date": str(exc)}) from exc


@transaction.atomic
def participant_create(
    *,
    actor: User,
    study_id: int,
    pseudonym: str,
    group_id: int | None,
    site_id: int | None = None,
    attributes: dict[str, Any] | None = None,
    interview_date: dt.date | str | None = None,
    name: str = "",
    contact: str = "",
    ip: str | None = None,
) -> Participant:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.PARTICIPANT_MANAGE)
    group, site = _resolve_group_site(study=study, group_id=group_id, site_id=site_id)
    pseudonym = _check_pseudonym(study=study, pseudonym=pseudonym)
    attrs = clean_attributes(study=study, values=attributes or {})
    name, contact = name.strip(), contact.strip()
    _clean_identifiable(name, contact)
    try:
        with transaction.atomic():
            participant = Participant.objects.create(
                study=study, pseudonym=pseudonym, group=group, site=site, attributes=attrs,
                interview_date=_clean_interview_date(interview_date),
                name_encrypted=encrypt_text(name), contact_encrypted=encrypt_text(contact), created_by=actor,
            )
    except IntegrityError as exc:
        raise ValidationError({"pseudonym": f"This study already has a participant “{pseudonym}”."}) from exc
    audit_record(
        actor=actor, action="participant.create", study=study, obj=participant, ip=ip,
        details={
            "pseudonym": pseudonym, "group": group.key, "site": site.name if site else "",
            "identifiable_recorded": sorted(k for k, v in (("name", name), ("contact", contact)) if v),
        },
    )
    return participant


def participant_for_write(*, actor: User, study_id: int, participant_id: int, perm: Perm) -> Participant:
    """A participant the actor may write (role and scope), locked for the transaction."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=perm)
    participant = (
        Participant.objects.select_for_update(of=("self",)).select_related("group", "site")
        .filter(study_id=study_id, pk=participant_id).first()
    )
    if participant is None or not policy.in_scope(
        membership=membership, site_id=participant.site_id, group_id=participant.group_id
    ):
        raise Http404("No such participant.")
    return participant


@transaction.atomic
def participant_update(
    *,
    actor: User,
    study_id: int,
    participant_id: int,
    pseudonym: str,
    group_id: int | None,
    site_id: int | None,
    attributes: dict[str, Any],
    interview_date: dt.date | str | None,
    name: str | None = None,
    contact: str | None = None,
    ip: str | None = None,
) -> Participant:
    """Replace the participant's editable fields. ``name``/``contact`` None = leave unchanged;
    "" = clear."""
    participant = participant_for_write(
        actor=actor, study_id=study_id, participant_id=participant_id, perm=Perm.PARTICIPANT_MANAGE
    )
    if participant.purged_at is not None:
        raise ValidationError("This participant withdrew and their data was deleted; the record is closed.")
    study = participant.study
    group, site = _resolve_group_site(study=study, group_id=group_id, site_id=site_id)
    pseudonym = _check_pseudonym(study=study, pseudonym=pseudonym, exclude_pk=participant.pk)
    attrs = clean_attributes(study=study, values=attributes)
    _clean_identifiable(name, contact)
    new_date = _clean_interview_date(interview_date)
    changed: list[str] = []
    before = {"pseudonym": participant.pseudonym, "group": participant.group.key,
              "site": participant.site.name if participant.site else ""}
    for field, value in (("pseudonym", pseudonym), ("group", group), ("site", site),
                         ("attributes", attrs), ("interview_date", new_date)):
        if getattr(participant, field) != value:
            setattr(participant, field, value)
            changed.append(field)
    for field, value in (("name", name), ("contact", contact)):
        if value is None:
            continue
        current = decrypt_text(getattr(participant, f"{field}_encrypted"))
        if current != value.strip():
            setattr(participant, f"{field}_encrypted", encrypt_text(value.strip()))
            changed.append(field)
    if not changed:
        return participant
    participant.updated_at = timezone.now()
    try:
        with transaction.atomic():
            participant.save()
    except IntegrityError as exc:
        raise ValidationError({"pseudonym": f"This study already has a participant “{pseudonym}”."}) from exc
    # Field names only: values of identifiable fields never go into the audit trail.
    audit_record(
        actor=actor, action="participant.update", study=study, obj=participant, ip=ip,
        details={"pseudonym": participant.pseudonym, "changed": changed, "before": before,
                 "after": {"pseudonym": participant.pseudonym, "group": group.key,
                           "site": site.name if site else ""}},
    )
    return participant


@transaction.atomic
def participant_identifiable_read(
    *, actor: User, study_id: int, participant_id: int, ip: str | None = None
) -> dict[str, str]:
    """Decrypt a participant's name and contact details for an admin; every read is audited."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.PARTICIPANT_VIEW)
    if not policy.role_allows(membership.role, Perm.PARTICIPANT_IDENTIFIABLE):
        raise PermissionDenied("Only study admins may see identifiable fields.")
    participant = policy.get_visible_or_404(
        user=actor, study=study_id, perm=Perm.PARTICIPANT_IDENTIFIABLE,
        queryset=Participant.objects.filter(study_id=study_id), pk=participant_id,
    )
    audit_record(
        actor=actor, action="participant.identifiable_view", study=participant.study, obj=participant, ip=ip,
        details={"pseudonym": participant.pseudonym},
    )
    return {"name": decrypt_text(participant.name_encrypted), "contact": decrypt_text(participant.contact_encrypted)}
