"""The one question other code asks: may this participant's data be used for X?

    from participants.consent_rules import DataUse, data_use_allowed, participants_usable_q

    data_use_allowed(participant=p, use=DataUse.CODING)                 # one participant
    Transcript.objects.filter(participants_usable_q(DataUse.CODING, prefix="participant__"))

Both read the consent state derived from the append-only event log (cached on the participant in
the same transaction as each event) and follow one rule table, ``RULES``, so they cannot disagree.

Items are checked in two ways:
* ``required`` — the participant's current form must ask the item and the answer must be yes;
* ``if_asked`` — when the form asks the item the answer must be yes; a form that does not ask it
  separately covers it by the consent to take part (e.g. transcription on a form with no
  transcription item).

| use            | states allowed                          | required           | if asked                    |
|----------------|-----------------------------------------|--------------------|-----------------------------|
| ANALYSIS       | consented, partial, withdrawn-retain    |                    | transcription               |
| TRANSCRIPT_ADD | consented, partial                      |                    | transcription               |
| CODING         | consented, partial (retain = frozen)    |                    | transcription               |
| QUOTING        | consented, partial                      | anonymised_quotes  | transcription               |
| PPI_SHARING    | consented, partial                      | anonymised_quotes  | transcription, share_team_ppi |
| ARCHIVING      | consented, partial                      | data_archiving     | transcription               |
| FUTURE_CONTACT | consented, partial                      | future_contact     |                             |

"No consent yet" and "withdrawn, data deleted" allow nothing. A participant needing re-consent on a
newer form version keeps the uses of the version they consented on (their consent still stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import Q

from .models import ConsentState


class DataUse(StrEnum):
    ANALYSIS = "analysis"  # hold and read the data; count it in matrices (also after withdraw-retain)
    TRANSCRIPT_ADD = "transcript_add"  # add a new transcript for the participant
    CODING = "coding"  # new codings, memos on their segments
    QUOTING = "quoting"  # show a quote (exemplar, report, quote export)
    PPI_SHARING = "ppi_sharing"  # show a quote on the PPI theme board
    ARCHIVING = "archiving"  # include in archive exports (QDPX)
    FUTURE_CONTACT = "future_contact"


class Item(StrEnum):
    """Keys of the standard consent items (study-defined items use their own keys)."""

    TAKE_PART = "take_part"
    AUDIO_RECORDING = "audio_recording"
    TRANSCRIPTION = "transcription"
    ANONYMISED_QUOTES = "anonymised_quotes"
    SHARE_TEAM_PPI = "share_team_ppi"
    DATA_ARCHIVING = "data_archiving"
    FUTURE_CONTACT = "future_contact"


ACTIVE = frozenset({ConsentState.CONSENTED, ConsentState.PARTIAL})


@dataclass(frozen=True)
class Rule:
    states: frozenset[str]
    required: tuple[str, ...] = ()
    if_asked: tuple[str, ...] = ()


RULES: dict[DataUse, Rule] = {
    DataUse.ANALYSIS: Rule(ACTIVE | {ConsentState.WITHDRAWN_RETAIN}, (), (Item.TRANSCRIPTION,)),
    DataUse.TRANSCRIPT_ADD: Rule(ACTIVE, (), (Item.TRANSCRIPTION,)),
    DataUse.CODING: Rule(ACTIVE, (), (Item.TRANSCRIPTION,)),
    DataUse.QUOTING: Rule(ACTIVE, (Item.ANONYMISED_QUOTES,), (Item.TRANSCRIPTION,)),
    DataUse.PPI_SHARING: Rule(ACTIVE, (Item.ANONYMISED_QUOTES,), (Item.TRANSCRIPTION, Item.SHARE_TEAM_PPI)),
    DataUse.ARCHIVING: Rule(ACTIVE, (Item.DATA_ARCHIVING,), (Item.TRANSCRIPTION,)),
    DataUse.FUTURE_CONTACT: Rule(ACTIVE, (Item.FUTURE_CONTACT,), ()),
}


def _allowed(state: str, answers: dict[str, Any], use: DataUse) -> bool:
    rule = RULES[DataUse(use)]
    if state not in rule.states:
        return False
    if any(answers.get(key) is not True for key in rule.required):
        return False
    return all(answers.get(key, True) is True for key in rule.if_asked)


def data_use_allowed(*, participant: Any, use: DataUse) -> bool:
    """May ``participant``'s data be used for ``use``? ``participant`` is a Participant (or anything
    with ``consent_state`` and ``consent_answers``). Purged participants allow nothing."""
    if getattr(participant, "purged_at", None) is not None:
        return False
    return _allowed(participant.consent_state, participant.consent_answers or {}, use)


def data_uses_allowed(*, participant: Any) -> dict[DataUse, bool]:
    """Every use at once, for a participant page or an API answer."""
    return {use: data_use_allowed(participant=participant, use=use) for use in DataUse}


def participants_usable_q(use: DataUse, *, prefix: str = "") -> Q:
    """The same rule as a filter, for SQL: ``prefix`` is the path to the participant
    (``""`` on Participant, ``"participant__"`` on a model with a ``participant`` foreign key)."""
    rule = RULES[DataUse(use)]
    answers = f"{prefix}consent_answers"
    q = Q(**{f"{prefix}consent_state__in": sorted(rule.states)}, **{f"{prefix}purged_at__isnull": True})
    for key in rule.required:
        q &= _answered_yes(answers, key)
    for key in rule.if_asked:
        q &= ~Q(**{f"{answers}__has_key": key}) | _answered_yes(answers, key)
    return q


def _answered_yes(answers: str, key: str) -> Q:
    """``answers[key] is True`` in SQL. On PostgreSQL as containment (``answers @> '{"key": true}'``): the
    planner estimates it from the column's statistics, whereas ``answers -> 'key' = 'true'`` gets a fixed
    0.5% — 3 visible transcripts of 650, so every query over visible codings (a code's segments, its count
    by group) looped over transcripts with an index probe each instead of hashing them, twice as slow.
    The same rows: both are true exactly when the answers hold the key with the value true. SQLite has no
    containment on JSON."""
    if connection.vendor == "postgresql":
        return Q(**{f"{answers}__contains": {key: True}})
    return Q(**{f"{answers}__{key}": True})
