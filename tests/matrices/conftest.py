"""A small study for matrices: SU01 (North, service user), ST01 (South, staff), CA01 (North, carer,
withdrawn with data retained: counts but no text), CA02 (North, carer, withdrawn with deletion: never)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from analysis.coding.models import Code, Coding
from analysis.coding.services.codebook import code_create
from analysis.coding.services.codings import coding_create
from analysis.themes.models import Theme
from analysis.themes.services.themes import theme_create
from participants.models import ConsentState, Participant
from tests.factories import ST01_TEXT, SU01_TEXT, add_transcript, participant_row

QUOTES = {"take_part": True, "transcription": True, "anonymised_quotes": True}
CA_TEXT = "Interviewer: How was it for you?\nCA01: Nobody asked me anything. I was left outside the call.\n"


@dataclass
class Small:
    people: dict[str, Participant]
    codes: dict[str, Code]
    theme: Theme
    codings: list[Coding]


def _code(cast: Any, t: Any, code: Code, words: str, coder: Any) -> Coding:
    start = t.text.index(words)
    return coding_create(actor=coder, study_id=cast.study.pk, transcript_id=t.pk, code_id=code.pk,
                         start=start, end=start + len(words))


@pytest.fixture
def small(cast: Any) -> Small:
    lead, coder, sid = cast.users["lead"], cast.users["coder"], cast.study.pk
    su = participant_row(cast, "SU01", "service_user", cast.north, answers=QUOTES)
    st = participant_row(cast, "ST01", "staff", cast.south, answers=QUOTES)
    ca1 = participant_row(cast, "CA01", "carer", cast.north, answers=QUOTES)
    ca2 = participant_row(cast, "CA02", "carer", cast.north, answers=QUOTES)
    t_su, t_st = add_transcript(cast, su, SU01_TEXT), add_transcript(cast, st, ST01_TEXT)
    t_ca1, t_ca2 = add_transcript(cast, ca1, CA_TEXT), add_transcript(cast, ca2, CA_TEXT)
    cues = code_create(actor=lead, study_id=sid, name="Loss of non-verbal cues")
    tech = code_create(actor=lead, study_id=sid, name="Technology problems")
    excluded = code_create(actor=lead, study_id=sid, name="Carers excluded")
    codings = [
        _code(cast, t_su, cues, "On the phone you cannot see if someone is tearful.", lead),
        _code(cast, t_su, cues, "phoned me every week", lead),
        _code(cast, t_su, tech, "phoned me every week", coder),
        _code(cast, t_st, tech, "The phones kept dropping.", lead),
        _code(cast, t_st, cues, "no training for video calls", lead),
        _code(cast, t_ca1, excluded, "I was left outside the call.", lead),
        _code(cast, t_ca2, excluded, "I was left outside the call.", lead),
        # An interviewer's question coded: left out when interviewer turns are skipped.
        _code(cast, t_st, tech, "How did remote consultations go?", lead),
    ]
    theme = theme_create(actor=lead, study_id=sid, name="Seeing each other", code_ids=[cues.pk, excluded.pk])
    Participant.objects.filter(pk=ca1.pk).update(consent_state=ConsentState.WITHDRAWN_RETAIN)
    Participant.objects.filter(pk=ca2.pk).update(consent_state=ConsentState.WITHDRAWN_DELETE)
    return Small({"SU01": su, "ST01": st, "CA01": ca1, "CA02": ca2},
                 {"cues": cues, "tech": tech, "excluded": excluded}, theme, codings)
