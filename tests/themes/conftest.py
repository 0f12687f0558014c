"""Theme fixtures on the fixed cast: two consented participants with transcripts, a few codes and
codings, and a theme drawing on them.

* SU01 (service user, North) agreed to anonymised quotes and sharing with PPI;
* ST01 (staff, South) agreed to quotes too. coder_other_site (South only) sees ST01's segments only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from analysis.coding.models import Code, Coding
from analysis.coding.services import codebook as code_services
from analysis.coding.services.codings import coding_create
from analysis.themes.models import Quote, Theme
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import themes as theme_services
from analysis.transcripts.models import Transcript
from participants.models import Participant
from tests.factories import ST01_TEXT, SU01_TEXT, add_transcript
from tests.factories import participant_row as make_participant

QUOTE_OK = {"take_part": True, "transcription": True, "anonymised_quotes": True, "share_team_ppi": True}
SU01_WORDS = "On the phone you cannot see if someone is tearful."
ST01_WORDS = "We were given no training for video calls."


@dataclass
class World:
    su01: Participant
    st01: Participant
    t_north: Transcript
    t_south: Transcript
    cues: Code
    training: Code
    c_north: Coding
    c_south: Coding
    theme: Theme


def span_of(transcript: Transcript, words: str) -> tuple[int, int]:
    i = transcript.text.index(words)
    return i, i + len(words)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def world(cast: Any) -> World:
    lead, sid = cast.users["lead"], cast.study.pk
    su01 = make_participant(cast, "SU01", "service_user", cast.north, answers=dict(QUOTE_OK))
    st01 = make_participant(cast, "ST01", "staff", cast.south, answers=dict(QUOTE_OK))
    t_north, t_south = add_transcript(cast, su01, SU01_TEXT), add_transcript(cast, st01, ST01_TEXT)
    cues = code_services.code_create(actor=lead, study_id=sid, name="Loss of non-verbal cues")
    training = code_services.code_create(actor=lead, study_id=sid, name="Training")
    s, e = span_of(t_north, SU01_WORDS)
    c_north = coding_create(actor=lead, study_id=sid, transcript_id=t_north.pk, code_id=cues.pk, start=s, end=e)
    s, e = span_of(t_south, ST01_WORDS)
    c_south = coding_create(actor=lead, study_id=sid, transcript_id=t_south.pk, code_id=training.pk, start=s, end=e)
    theme = theme_services.theme_create(
        actor=lead, study_id=sid, name="Seeing each other", description="What is lost at a distance.",
        plain_description="People miss seeing each other's faces.", status="reviewed", on_board=True,
        code_ids=[cues.pk, training.pk],
    )
    return World(su01, st01, t_north, t_south, cues, training, c_north, c_south, theme)


@pytest.fixture
def quote(cast: Any, world: World) -> Quote:
    return quote_services.quote_create(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk,
                                 coding_id=world.c_north.pk)
