"""Transcript fixtures on top of the fixed cast: SU01 (service user, North) and ST01 (staff, South),
both consented; coder_other_site (South only) sees ST01's transcript but not SU01's."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.transcripts.importers import parse_transcript
from analysis.transcripts.models import Transcript
from analysis.transcripts.services.transcripts import transcript_create
from participants.models import ConsentState, Participant

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


def make_participant(cast: Any, pseudonym: str, group: str, site: Any, state: str = ConsentState.CONSENTED,
                     answers: dict[str, Any] | None = None) -> Participant:
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


@pytest.fixture
def su01(cast: Any) -> Participant:
    return make_participant(cast, "SU01", "service_user", cast.north)


@pytest.fixture
def st01(cast: Any) -> Participant:
    return make_participant(cast, "ST01", "staff", cast.south)


@pytest.fixture
def t_north(cast: Any, su01: Participant) -> Transcript:
    return add_transcript(cast, su01, SU01_TEXT)


@pytest.fixture
def t_south(cast: Any, st01: Participant) -> Transcript:
    return add_transcript(cast, st01, ST01_TEXT)

# Files go to the test settings' MEDIA_ROOT (var/test-media), which a real Celery worker shares.
