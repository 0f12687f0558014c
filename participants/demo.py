"""Demo data for participants and consent: `manage.py demo_data` runs :func:`load` (idempotent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from accounts.models import Study, User

from . import services
from .models import AttributeDefinition, ConsentForm, ConsentState, EventKind, Participant
from .services.consent import STANDARD_ITEMS

# pseudonym, group, site, age band, mode, interview date, consent answers (None = no consent yet)
YES = {"audio_recording": "yes", "anonymised_quotes": "yes", "share_team_ppi": "yes", "data_archiving": "yes",
       "future_contact": "yes"}
PEOPLE: list[tuple[str, str, str, str, str, str, dict[str, str] | None]] = [
    ("SU01", "service_user", "North Trust", "25-34", "video", "2020-06-10", YES),
    ("SU02", "service_user", "North Trust", "45-54", "telephone", "2020-06-18", {**YES, "anonymised_quotes": "no"}),
    ("SU03", "service_user", "Midlands Trust", "18-24", "video", "2020-07-02", YES),
    ("SU04", "service_user", "London Trust", "35-44", "telephone", "2020-07-09", YES),
    ("SU05", "service_user", "London Trust", "55-64", "telephone", "", None),
    ("CA01", "carer", "North Trust", "55-64", "telephone", "2020-06-22", YES),
    ("CA02", "carer", "Midlands Trust", "65+", "telephone", "2020-07-14", YES),
    ("CA03", "carer", "London Trust", "45-54", "video", "2020-07-20", YES),
    ("ST01", "staff", "North Trust", "35-44", "video", "2020-06-12", YES),
    ("ST02", "staff", "Midlands Trust", "45-54", "video", "2020-06-25", YES),
    ("ST03", "staff", "London Trust", "25-34", "video", "2020-07-06", YES),
    ("ST04", "staff", "Midlands Trust", "35-44", "telephone", "2020-07-16", YES),
]
TARGETS = {"service_user": 2, "carer": 1, "staff": 2}


@transaction.atomic
def load(study: Study, users_by_email: dict[str, User]) -> None:
    admin = users_by_email["admin@demo.chorus"]
    lead = users_by_email.get("lead@demo.chorus", admin)
    sites = {s.name: s for s in study.sites.all()}
    groups = {g.key: g for g in study.groups.all()}
    for key, label, kind, choices in (
        ("age_band", "Age band", "choice", ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]),
        ("interview_mode", "Interview mode", "choice", ["telephone", "video"]),
    ):
        if not AttributeDefinition.objects.filter(study=study, key=key).exists():
            services.attribute_create(actor=admin, study_id=study.pk, label=label, key=key, kind=kind, choices=choices)
    form = ConsentForm.objects.filter(study=study, version="1.0").first() or services.consent_form_create(
        actor=admin, study_id=study.pk, version="1.0", title="Interview consent", effective_from=dt.date(2020, 5, 1),
        items=[{"key": k, "label": label, "mandatory": m} for k, label, m in STANDARD_ITEMS],
    )
    for pseudonym, group, site, age, mode, date, answers in PEOPLE:
        p = Participant.objects.filter(study=study, pseudonym=pseudonym).first()
        if p is None:
            p = services.participant_create(
                actor=admin, study_id=study.pk, pseudonym=pseudonym, group_id=groups[group].pk,
                site_id=sites[site].pk if site in sites else None,
                attributes={"age_band": age, "interview_mode": mode}, interview_date=date or None,
                name=f"Demo person {pseudonym}", contact=f"{pseudonym.lower()}@example.invalid",
            )
        if answers is not None and p.consent_state == ConsentState.NONE and not p.consent_events.exists():
            consent_date = dt.date.fromisoformat(date) - dt.timedelta(days=5)
            services.consent_event_record(
                actor=admin, study_id=study.pk, participant_id=p.pk, form_id=form.pk, date=consent_date,
                answers=answers, method="verbal, audio-recorded" if mode == "telephone" else "electronic",
                taken_by_id=admin.pk,
            )
    # One withdrawal that keeps the data already collected.
    ca03 = Participant.objects.get(study=study, pseudonym="CA03")
    if not ca03.consent_events.filter(kind=EventKind.WITHDRAWAL).exists():
        services.participant_withdraw(actor=admin, study_id=study.pk, participant_id=ca03.pk, scope="retain_data",
                                      date=dt.date(2020, 8, 3), method="e-mail")
    if not study.sampling_targets.exists() and _is_lead(study, lead):
        services.sampling_targets_set(
            actor=lead, study_id=study.pk,
            targets=[(groups[g].pk, s.pk, n) for g, n in TARGETS.items() for s in sites.values()],
        )


def _is_lead(study: Study, user: Any) -> bool:
    from accounts.policy import Perm, has_perm

    return has_perm(user=user, study=study, perm=Perm.SAMPLING_MANAGE)
