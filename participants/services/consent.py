"""Writes for consent forms and the append-only consent log, and the derivation of consent state.

The state of a participant is computed from their events by :func:`consent_derive` (pure), and
cached on the participant by :func:`consent_state_refresh` in the same transaction as every event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Membership, Study, User
from accounts.policy import Perm
from accounts.services import audit_record
from jobs.models import Job

from ..consent_rules import Item
from ..crypto import decrypt_bytes, encrypt_bytes
from ..models import (
    ConsentEvent,
    ConsentForm,
    ConsentItem,
    ConsentState,
    EventKind,
    EventSource,
    Participant,
    WithdrawalScope,
)
from ..values import ValueProblem, attribute_key, parse_yes_no
from .participants import participant_for_write

STANDARD_ITEMS: list[tuple[str, str, bool]] = [
    (Item.TAKE_PART, "I agree to take part in this study.", True),
    (Item.AUDIO_RECORDING, "I agree to my interview being audio-recorded.", False),
    (Item.TRANSCRIPTION, "I agree to my interview being transcribed.", True),
    (Item.ANONYMISED_QUOTES, "I agree to anonymised quotes from my interview being used in reports and publications.", False),
    (Item.SHARE_TEAM_PPI, "I agree to my anonymised data being shared with the study team and PPI co-designers.", False),
    (Item.DATA_ARCHIVING, "I agree to my anonymised data being archived for future research.", False),
    (Item.FUTURE_CONTACT, "I agree to being contacted about future research.", False),
]
STANDARD_LABELS = {key: label for key, label, _ in STANDARD_ITEMS}
SIGNED_FORM_MAX_BYTES_DEFAULT = 10 * 1024 * 1024


def signed_form_max_bytes() -> int:
    return int(getattr(settings, "CHORUS_SIGNED_FORM_MAX_BYTES", SIGNED_FORM_MAX_BYTES_DEFAULT))


# Derivation -------------------------------------------------------------------------------------


@dataclass
class Ev:
    """What derivation needs to know about one event (saved, or proposed by an import)."""

    ref: Any
    pk: int | None
    kind: str
    date: dt.date
    form_id: int | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    corrects_id: int | None = None
    voids: bool = False
    seq: tuple[Any, ...] = ()

    @classmethod
    def of(cls, e: ConsentEvent) -> Ev:
        return cls(
            ref=e, pk=e.pk, kind=e.kind, date=e.date, form_id=e.form_id, answers=dict(e.answers or {}),
            scope=e.withdrawal_scope, corrects_id=e.corrects_id, voids=e.voids, seq=(e.recorded_at, e.pk or 0),
        )


@dataclass
class Derived:
    state: str = ConsentState.NONE
    form_id: int | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    consent_date: dt.date | None = None
    withdrawn_on: dt.date | None = None
    problems: list[tuple[Any, str]] = field(default_factory=list)


def consent_derive(events: Sequence[Ev]) -> Derived:
    """The consent state from a participant's events. Corrections replace (or void) the event they
    correct; the latest correction of an event wins. Events are applied in date order; an event
    that does not fit (a withdrawal before any consent, a second first consent…) is reported in
    ``problems`` and skipped."""
    corrections: dict[int, Ev] = {}
    for corr in sorted((e for e in events if e.kind == EventKind.CORRECTION), key=lambda e: e.seq):
        if corr.corrects_id is not None:
            corrections[corr.corrects_id] = corr
    effective: list[Ev] = []
    for e in events:
        if e.kind == EventKind.CORRECTION:
            continue
        c: Ev | None = corrections.get(e.pk) if e.pk is not None else None
        if c is None:
            effective.append(e)
        elif not c.voids:
            effective.append(Ev(
                ref=e.ref, pk=e.pk, kind=e.kind, date=c.date, form_id=c.form_id or e.form_id,
                answers=c.answers if e.kind != EventKind.WITHDRAWAL else e.answers,
                scope=c.scope or e.scope, seq=e.seq,
            ))
    d = Derived()
    for e in sorted(effective, key=lambda e: (e.date, e.seq)):
        if e.kind in (EventKind.CONSENT, EventKind.RECONSENT):
            if d.state == ConsentState.WITHDRAWN_DELETE:
                d.problems.append((e.ref, "The participant withdrew and asked for their data to be deleted; that is final."))
                continue
            if e.kind == EventKind.CONSENT and d.state != ConsentState.NONE:
                d.problems.append((e.ref, f"The participant already consented on {d.consent_date}; record a re-consent instead."))
                continue
            if e.kind == EventKind.RECONSENT and d.state == ConsentState.NONE:
                d.problems.append((e.ref, "There is no earlier consent to renew; record a consent instead."))
                continue
            d.answers = dict(e.answers)
            d.form_id = e.form_id
            d.consent_date = e.date
            d.withdrawn_on = None
            d.state = ConsentState.CONSENTED if all(v is True for v in d.answers.values()) else ConsentState.PARTIAL
        elif e.kind == EventKind.WITHDRAWAL:
            if d.state == ConsentState.NONE:
                d.problems.append((e.ref, "There is no consent to withdraw on this date."))
                continue
            if d.state == ConsentState.WITHDRAWN_DELETE:
                d.problems.append((e.ref, "The participant has already withdrawn with deletion of their data."))
                continue
            if d.state == ConsentState.WITHDRAWN_RETAIN and e.scope == WithdrawalScope.RETAIN_DATA:
                d.problems.append((e.ref, "The participant has already withdrawn."))
                continue
            d.state = (
                ConsentState.WITHDRAWN_DELETE if e.scope == WithdrawalScope.DELETE_DATA
                else ConsentState.WITHDRAWN_RETAIN
            )
            d.withdrawn_on = e.date
    return d


def consent_state_refresh(*, participant: Participant) -> tuple[str, str]:
    """Recompute and store the participant's consent state from the log. Returns (before, after).
    Raises ValidationError when the log does not make sense (the caller's transaction rolls back)."""
    events = [Ev.of(e) for e in ConsentEvent.objects.filter(participant=participant)]
    d = consent_derive(events)
    if d.problems:
        raise ValidationError([msg for _, msg in d.problems])
    before = participant.consent_state
    Participant.objects.filter(pk=participant.pk).update(
        consent_state=d.state, consent_form_id=d.form_id, consent_answers=d.answers,
        consent_date=d.consent_date, withdrawn_on=d.withdrawn_on, updated_at=timezone.now(),
    )
    participant.consent_state, participant.consent_form_id = d.state, d.form_id
    participant.consent_answers, participant.consent_date, participant.withdrawn_on = (
        d.answers, d.consent_date, d.withdrawn_on,
    )
    return before, d.state


def consent_fingerprint(
    *, pseudonym: str, kind: str, date: dt.date, form_version: str = "", scope: str = "",
    answers: dict[str, Any] | None = None, corrects_id: int | None = None, voids: bool = False,
) -> str:
    """The content of an event, hashed: re-importing an event already recorded changes nothing."""
    payload = json.dumps(
        [pseudonym.lower(), kind, date.isoformat(), form_version.lower(), scope, sorted((answers or {}).items()),
         corrects_id, voids],
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# Consent forms ----------------------------------------------------------------------------------


@dataclass
class ItemSpec:
    key: str
    label: str
    mandatory: bool = False


def _clean_items(items: Iterable[ItemSpec | dict[str, Any]]) -> list[ItemSpec]:
    out: list[ItemSpec] = []
    seen: set[str] = set()
    errors: list[str] = []
    for raw in items:
        spec = raw if isinstance(raw, ItemSpec) else ItemSpec(
            key=str(raw.get("key") or ""), label=str(raw.get("label") or ""), mandatory=bool(raw.get("mandatory"))
        )
        key = attribute_key(spec.key or spec.label)
        label = spec.label.strip() or STANDARD_LABELS.get(key, "")
        if not key or not label:
            errors.append("Every item needs a statement (label).")
            continue
        if len(label) > 300:
            errors.append(f"Item “{key}”: the statement is longer than 300 characters.")
        if key in seen:
            errors.append(f"The item “{key}” appears twice.")
        seen.add(key)
        out.append(ItemSpec(key=key, label=label, mandatory=spec.mandatory or key == Item.TAKE_PART))
    if Item.TAKE_PART not in seen:
        out.insert(0, ItemSpec(key=Item.TAKE_PART, label=STANDARD_LABELS[Item.TAKE_PART], mandatory=True))
    if errors:
        raise ValidationError({"items": errors})
    return out


def _form_insert(
    *, study: Study, actor: User, version: str, title: str, effective_from: dt.date,
    reconsent_required: bool, items: list[ItemSpec],
) -> ConsentForm:
    version = version.strip()
    if not version or len(version) > 20:
        raise ValidationError({"version": "A form version needs a name of at most 20 characters, e.g. 1.1."})
    if ConsentForm.objects.filter(study=study, version__iexact=version).exists():
        raise ValidationError({"version": f"Version {version} already exists; forms cannot be changed once created."})
    try:
        with transaction.atomic():
            form = ConsentForm.objects.create(
                study=study, version=version, title=title.strip()[:200], effective_from=effective_from,
                reconsent_required=reconsent_required, created_by=actor,
            )
    except IntegrityError as exc:
        raise ValidationError({"version": f"Version {version} already exists."}) from exc
    ConsentItem.objects.bulk_create(
        ConsentItem(form=form, key=s.key, label=s.label, mandatory=s.mandatory, position=i)
        for i, s in enumerate(items)
    )
    return form


@transaction.atomic
def consent_form_create(
    *,
    actor: User,
    study_id: int,
    version: str,
    effective_from: dt.date,
    items: Iterable[ItemSpec | dict[str, Any]],
    title: str = "",
    reconsent_required: bool = False,
    ip: str | None = None,
) -> ConsentForm:
    study = policy.study_get_for_user(user=actor, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    clean = _clean_items(items)
    form = _form_insert(
        study=study, actor=actor, version=version, title=title, effective_from=effective_from,
        reconsent_required=reconsent_required, items=clean,
    )
    audit_record(
        actor=actor, action="consent_form.create", study=study, obj=form, ip=ip,
        details={"version": form.version, "items": [s.key for s in clean],
                 "mandatory": [s.key for s in clean if s.mandatory], "reconsent_required": reconsent_required},
    )
    return form


# Consent events ---------------------------------------------------------------------------------


def normalise_answers(*, form: ConsentForm, answers: dict[str, Any]) -> dict[str, bool | None]:
    """One answer per item of the form: yes/no, or None when not answered. Mandatory items are
    the conditions of taking part, so a consent implies yes to them."""
    items = list(form.items.all())
    keys = {i.key for i in items}
    errors: list[str] = []
    unknown = sorted(set(answers) - keys)
    if unknown:
        errors.append(f"Form version {form.version} has no item {', '.join(unknown)}.")
    out: dict[str, bool | None] = {}
    for item in items:
        try:
            value = parse_yes_no(answers.get(item.key))
        except ValueProblem as exc:
            errors.append(f"{item.key}: {exc}")
            continue
        if item.mandatory:
            if value is False:
                errors.append(
                    f"“{item.key}” is a condition of taking part on version {form.version}: a participant who "
                    "declines it has not consented, so record no consent event."
                )
            value = True
        out[item.key] = value
    if errors:
        raise ValidationError({"answers": errors})
    return out


def _check_date(date: dt.date | None, *, label: str = "date") -> dt.date:
    if date is None:
        raise ValidationError({label: "Enter the date."})
    if date > timezone.localdate():
        raise ValidationError({label: "The date is in the future."})
    return date


def _taken_by(*, study: Study, taken_by_id: int | None) -> User | None:
    if not taken_by_id:
        return None
    m = Membership.objects.filter(study=study, user_id=taken_by_id).select_related("user").first()
    if m is None:
        raise ValidationError({"taken_by": "Choose a member of this study."})
    return m.user


def _form_of(*, study: Study, form_id: int | None) -> ConsentForm:
    form = ConsentForm.objects.filter(study=study, pk=form_id).first() if form_id else None
    if form is None:
        raise ValidationError({"form": "Choose a consent form version of this study."})
    return form


def _event_audit(*, actor: User, event: ConsentEvent, participant: Participant, before: str, after: str,
                 ip: str | None, action: str) -> None:
    audit_record(
        actor=actor, action=action, study=participant.study, obj=event, ip=ip,
        details={
            "pseudonym": participant.pseudonym, "kind": event.kind, "date": event.date.isoformat(),
            "form_version": event.form.version if event.form else "", "answers": event.answers,
            "withdrawal_scope": event.withdrawal_scope, "corrects": event.corrects_id, "voids": event.voids,
            "state_before": before, "state_after": after, "source": event.source,
        },
    )


def _closed(participant: Participant) -> None:
    if participant.consent_state == ConsentState.WITHDRAWN_DELETE or participant.purged_at is not None:
        raise ValidationError("This participant withdrew and asked for their data to be deleted; that is final.")


def _after_event(*, actor: User, participant: Participant, event: ConsentEvent, ip: str | None, action: str) -> Job | None:
    before, after = consent_state_refresh(participant=participant)
    _event_audit(actor=actor, event=event, participant=participant, before=before, after=after, ip=ip, action=action)
    if after == ConsentState.WITHDRAWN_DELETE and before != ConsentState.WITHDRAWN_DELETE:
        from .purge import participant_purge_start

        return participant_purge_start(actor=actor, participant=participant, ip=ip)
    return None


@transaction.atomic
def consent_event_record(
    *,
    actor: User,
    study_id: int,
    participant_id: int,
    form_id: int | None,
    date: dt.date | None,
    answers: dict[str, Any],
    kind: str = EventKind.CONSENT,
    method: str = "",
    taken_by_id: int | None = None,
    note: str = "",
    signed_form: bytes | None = None,
    source: str = EventSource.MANUAL,
    ip: str | None = None,
) -> ConsentEvent:
    """Record a consent or re-consent with an answer per item of the form."""
    participant = participant_for_write(actor=actor, study_id=study_id, participant_id=participant_id,
                                        perm=Perm.CONSENT_MANAGE)
    _closed(participant)
    if kind not in (EventKind.CONSENT, EventKind.RECONSENT):
        raise ValidationError({"kind": "Record consent or re-consent here; withdrawals and corrections have their own form."})
    study = participant.study
    form = _form_of(study=study, form_id=form_id)
    date = _check_date(date)
    if date < form.effective_from:
        raise ValidationError({"date": f"Form version {form.version} came into use on {form.effective_from}, after this date."})
    clean = normalise_answers(form=form, answers=answers)
    if signed_form is not None:
        validate_signed_form(signed_form)
    event = ConsentEvent.objects.create(
        study=study, participant=participant, kind=kind, form=form, date=date, method=method.strip()[:100],
        taken_by=_taken_by(study=study, taken_by_id=taken_by_id), answers=clean, note=note.strip()[:500],
        source=source, recorded_by=actor,
        import_key=consent_fingerprint(pseudonym=participant.pseudonym, kind=kind, date=date,
                                       form_version=form.version, answers=clean),
    )
    _after_event(actor=actor, participant=participant, event=event, ip=ip, action="consent.record")
    if signed_form is not None:
        _attach(event=event, data=signed_form)
    return event


@transaction.atomic
def participant_withdraw(
    *,
    actor: User,
    study_id: int,
    participant_id: int,
    scope: str,
    date: dt.date | None,
    method: str = "",
    note: str = "",
    source: str = EventSource.MANUAL,
    ip: str | None = None,
) -> tuple[ConsentEvent, Job | None]:
    """Record a withdrawal. ``retain_data`` freezes the participant's data; ``delete_data`` starts the
    purge job (returned) once the transaction commits. Deletion is final."""
    participant = participant_for_write(actor=actor, study_id=study_id, participant_id=participant_id,
                                        perm=Perm.CONSENT_MANAGE)
    _closed(participant)
    if scope not in WithdrawalScope.values:
        raise ValidationError({"scope": "Choose whether the data already collected is retained or deleted."})
    date = _check_date(date)
    event = ConsentEvent.objects.create(
        study=participant.study, participant=participant, kind=EventKind.WITHDRAWAL, date=date,
        method=method.strip()[:100], withdrawal_scope=scope, note=note.strip()[:500], source=source,
        recorded_by=actor,
        import_key=consent_fingerprint(pseudonym=participant.pseudonym, kind=EventKind.WITHDRAWAL, date=date,
                                       scope=scope),
    )
    job = _after_event(actor=actor, participant=participant, event=event, ip=ip, action="consent.withdraw")
    return event, job


@transaction.atomic
def consent_event_correct(
    *,
    actor: User,
    study_id: int,
    participant_id: int,
    event_id: int,
    note: str,
    voids: bool = False,
    date: dt.date | None = None,
    form_id: int | None = None,
    answers: dict[str, Any] | None = None,
    method: str = "",
    scope: str = "",
    ip: str | None = None,
) -> tuple[ConsentEvent, Job | None]:
    """Record a correction of an earlier event: its replacement content, or ``voids`` when it was
    entered in error. The original stays in the log. A withdrawal with deletion cannot be corrected."""
    participant = participant_for_write(actor=actor, study_id=study_id, participant_id=participant_id,
                                        perm=Perm.CONSENT_MANAGE)
    _closed(participant)
    target = ConsentEvent.objects.filter(participant=participant, pk=event_id).select_related("form").first()
    if target is None:
        raise Http404("No such consent event.")
    if target.kind == EventKind.CORRECTION:
        raise ValidationError("Correct the original event, not a correction.")
    if not note.strip():
        raise ValidationError({"note": "Say why the event is corrected."})
    study = participant.study
    form: ConsentForm | None = None
    clean: dict[str, Any] = {}
    if voids:
        date = target.date
        scope = ""
    else:
        date = _check_date(date or target.date)
        if target.kind == EventKind.WITHDRAWAL:
            scope = scope or target.withdrawal_scope
            if scope not in WithdrawalScope.values:
                raise ValidationError({"scope": "Choose retain_data or delete_data."})
        else:
            scope = ""
            form = _form_of(study=study, form_id=form_id or target.form_id)
            if date < form.effective_from:
                raise ValidationError({"date": f"Form version {form.version} came into use on {form.effective_from}."})
            clean = normalise_answers(form=form, answers=answers if answers is not None else target.answers)
    event = ConsentEvent.objects.create(
        study=study, participant=participant, kind=EventKind.CORRECTION, corrects=target, voids=voids,
        date=date, form=form, answers=clean, withdrawal_scope=scope, method=method.strip()[:100],
        note=note.strip()[:500], recorded_by=actor,
        import_key=consent_fingerprint(pseudonym=participant.pseudonym, kind=EventKind.CORRECTION, date=date,
                                       form_version=form.version if form else "", scope=scope, answers=clean,
                                       corrects_id=target.pk, voids=voids),
    )
    job = _after_event(actor=actor, participant=participant, event=event, ip=ip, action="consent.correct")
    return event, job


# Signed forms -----------------------------------------------------------------------------------


def validate_signed_form(data: bytes) -> None:
    limit = signed_form_max_bytes()
    if len(data) > limit:
        raise ValidationError({"signed_form": f"The file is larger than {limit // (1024 * 1024)} MB."})
    if not data.startswith(b"%PDF-"):
        raise ValidationError({"signed_form": "The file is not a PDF (it does not start with %PDF-)."})


def _attach(*, event: ConsentEvent, data: bytes) -> None:
    validate_signed_form(data)
    if event.signed_form:
        raise ValidationError({"signed_form": "This event already has a signed form; the log is append-only."})
    event.signed_form.save("signed.pdf.enc", ContentFile(encrypt_bytes(data)), save=False)
    event.signed_form_sha256 = hashlib.sha256(data).hexdigest()
    ConsentEvent.objects.filter(pk=event.pk).update(
        signed_form=event.signed_form.name, signed_form_sha256=event.signed_form_sha256
    )


@transaction.atomic
def consent_signed_form_attach(
    *, actor: User, study_id: int, event_id: int, data: bytes, ip: str | None = None
) -> ConsentEvent:
    event = _event_for_admin(actor=actor, study_id=study_id, event_id=event_id)
    _closed(event.participant)
    _attach(event=event, data=data)
    audit_record(
        actor=actor, action="consent.signed_form_upload", study=event.participant.study, obj=event, ip=ip,
        details={"pseudonym": event.participant.pseudonym, "sha256": event.signed_form_sha256, "bytes": len(data)},
    )
    return event


def _event_for_admin(*, actor: User, study_id: int, event_id: int) -> ConsentEvent:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.CONSENT_MANAGE)
    event = ConsentEvent.objects.select_related("participant", "participant__study").filter(
        study_id=study_id, pk=event_id
    ).first()
    if event is None or not policy.in_scope(
        membership=membership, site_id=event.participant.site_id, group_id=event.participant.group_id
    ):
        raise Http404("No such consent event.")
    return event


@transaction.atomic
def consent_signed_form_read(*, actor: User, study_id: int, event_id: int, ip: str | None = None) -> bytes:
    """The decrypted PDF, for an admin; every read is audited."""
    event = _event_for_admin(actor=actor, study_id=study_id, event_id=event_id)
    if not event.signed_form:
        raise Http404("No signed form.")
    with event.signed_form.open("rb") as fh:
        data = decrypt_bytes(fh.read())
    audit_record(
        actor=actor, action="consent.signed_form_view", study=event.participant.study, obj=event, ip=ip,
        details={"pseudonym": event.participant.pseudonym},
    )
    return data
