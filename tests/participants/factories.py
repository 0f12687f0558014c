"""Factories and small helpers for participant and consent tests (data goes through services
where behaviour matters; factories only for plain rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.models import User
from participants import services
from participants.models import ConsentForm, Participant

FULL_ITEMS = [
    {"key": k, "label": label, "mandatory": mandatory} for k, label, mandatory in services.STANDARD_ITEMS
]
ALL_YES = {"audio_recording": "yes", "anonymised_quotes": "yes", "share_team_ppi": "yes",
           "data_archiving": "yes", "future_contact": "yes"}


def make_form(cast: Any, *, version: str = "1.0", effective_from: dt.date = dt.date(2020, 1, 1),
              items: list[dict[str, Any]] | None = None, reconsent_required: bool = False) -> ConsentForm:
    return services.consent_form_create(
        actor=cast.users["admin"], study_id=cast.study.pk, version=version, effective_from=effective_from,
        items=items or FULL_ITEMS, reconsent_required=reconsent_required,
    )


def make_participant(cast: Any, pseudonym: str = "SU01", *, group: str = "service_user", site: Any = None,
                     **kw: Any) -> Participant:
    return services.participant_create(
        actor=cast.users["admin"], study_id=cast.study.pk, pseudonym=pseudonym,
        group_id=cast.group(group).pk, site_id=(site or cast.north).pk, **kw,
    )


def consent(cast: Any, p: Participant, form: ConsentForm, answers: dict[str, Any] | None = None, *,
            date: dt.date = dt.date(2020, 6, 1), kind: str = "consent", actor: User | None = None) -> Any:
    return services.consent_event_record(
        actor=actor or cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk, form_id=form.pk,
        date=date, answers=ALL_YES if answers is None else answers, kind=kind,
    )


def refreshed(p: Participant) -> Participant:
    return Participant.objects.get(pk=p.pk)
