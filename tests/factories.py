"""The one factories module: model factories for plain rows, and helpers that create data through the
services where behaviour matters (consent, transcripts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
from analysis.transcripts.importers import parse_transcript
from analysis.transcripts.models import Transcript
from analysis.transcripts.services.transcripts import transcript_create
from participants import services
from participants.models import ConsentForm, ConsentState, Participant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name", locale="en_GB")
    password = factory.django.Password("correct horse battery")


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Study {n}")
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def default_groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            for pos, (key, label) in enumerate([("service_user", "Service user"), ("carer", "Carer"), ("staff", "Staff")]):
                ParticipantGroup.objects.get_or_create(study=self, key=key, defaults={"label": label, "position": pos})


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"Site {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    study = factory.SubFactory(StudyFactory)
    role = Role.CODER


# Participants and consent: through the services where behaviour matters.

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


# Transcripts: SU01 (service user, North) and ST01 (staff, South).

SU01_TEXT = (
    "Interview SU01, telephone, 2020-06-20\n\n"
    "Interviewer: Can you tell me about the appointments?\n"
    "SU01: My care coordinator John Smith phoned me every week. On the phone you cannot see if someone is tearful.\n\n"
    "Interviewer: What was that like?\n"
    "SU01: My neighbour Zoë said the same thing 👍 and I was phoning the café.\n"
)
ST01_TEXT = (
    "Interviewer: How did remote consultations go?\n"
    "ST01: We were given no training for video calls. The phones kept dropping.\n"
)


def participant_row(cast: Any, pseudonym: str, group: str, site: Any, state: str = ConsentState.CONSENTED,
                     answers: dict[str, Any] | None = None) -> Participant:
    """A participant row in a consent state, written directly (no consent history): for tests of
    what a state allows, not of how it is reached."""
    return Participant.objects.create(
        study=cast.study, pseudonym=pseudonym, group=cast.group(group), site=site, consent_state=state,
        consent_answers=answers if answers is not None else {"take_part": True, "transcription": True},
        created_by=cast.users["admin"], attributes={"interview_mode": "telephone"},
    )


def add_transcript(cast: Any, participant: Participant, text: str) -> Transcript:
    data = text.encode("utf-8")
    parsed = parse_transcript(data, filename=f"{participant.pseudonym}.txt", pseudonym=participant.pseudonym)
    return transcript_create(actor=cast.users["lead"], study_id=cast.study.pk, participant_id=participant.pk,
                             parsed=parsed, original=data, original_name=f"{participant.pseudonym}.txt")
