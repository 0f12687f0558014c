"""Reads of curated quotes: for the lead's curation (every quote in scope, with why one is hidden) and
for display (only what the reader's consent rule allows, read at the moment of display)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.functions import Substr

from accounts import policy
from accounts.policy import Perm
from analysis.themes.models import Quote, Theme
from participants.consent_rules import DataUse, Item, data_use_allowed, participants_usable_q
from participants.models import ConsentState

# Quotes -------------------------------------------------------------------------------------------


def quote_hidden_reason(participant: Any, *, use: DataUse) -> str:
    """Why the participant's consent does not allow ``use`` (empty when it does), in the team's words."""
    if data_use_allowed(participant=participant, use=use):
        return ""
    answers = participant.consent_answers or {}
    state = participant.consent_state
    if getattr(participant, "purged_at", None) is not None or state == ConsentState.WITHDRAWN_DELETE:
        return "The participant withdrew and asked for their data to be deleted."
    if state == ConsentState.WITHDRAWN_RETAIN:
        return "The participant withdrew: no new quotes of theirs may be shown."
    if state == ConsentState.NONE:
        return "The participant has no consent recorded."
    if answers.get(Item.ANONYMISED_QUOTES) is not True:
        return "The participant has not agreed to anonymised quotes."
    if answers.get(Item.TRANSCRIPTION, True) is not True:
        return "The participant has not agreed to transcription."
    if use == DataUse.PPI_SHARING and answers.get(Item.SHARE_TEAM_PPI, True) is not True:
        return "The participant has not agreed to sharing with the PPI group, so the board does not show it."
    return "The participant's consent does not allow this."


def quotes_in_scope(*, user: Any, study_id: int, perm: Perm = Perm.THEME_ANALYSE) -> QuerySet[Quote]:
    """Quotes of participants in the user's scope, whatever their consent (for the lead's curation)."""
    return policy.filter_visible(user=user, study=study_id, perm=perm,
                                 queryset=Quote.objects.filter(study_id=study_id))


def _with_text(qs: QuerySet[Quote]) -> QuerySet[Quote]:
    return qs.annotate(text=Substr("transcript__text", F("start") + 1, F("end") - F("start"))).defer(
        "transcript__text")


@dataclass
class QuoteView:
    quote: Quote
    text: str
    group: str
    pseudonym: str
    shown_to_team: bool
    on_board: bool
    hidden_reason: str
    board_reason: str


def theme_quotes_for_team(*, user: Any, study_id: int, theme: Theme) -> list[QuoteView]:
    """Every quote of the theme in the user's scope; the hidden ones say why (consent changed, text lost)."""
    qs = _with_text(quotes_in_scope(user=user, study_id=study_id).filter(theme=theme)
                    .select_related("transcript__participant__group"))
    out = []
    for q in qs:
        p = q.transcript.participant
        hidden = "The quoted text was deleted by a redaction." if q.lost else quote_hidden_reason(
            p, use=DataUse.QUOTING)
        board = hidden or quote_hidden_reason(p, use=DataUse.PPI_SHARING)
        out.append(QuoteView(quote=q, text=q.text, group=p.group.label, pseudonym=p.pseudonym,  # type: ignore[attr-defined]
                             shown_to_team=not hidden, on_board=not board, hidden_reason=hidden, board_reason=board))
    return out


def quotes_shown(*, user: Any, study_id: int, theme: Theme) -> QuerySet[Quote]:
    """The quotes of a theme this user may read now: the board's rule (consent to sharing with PPI) for
    those who only read the board; consent to quoting for the team."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    use = DataUse.QUOTING if policy.role_allows(membership.role, Perm.THEME_ANALYSE) else DataUse.PPI_SHARING
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.THEME_VIEW,
                               queryset=Quote.objects.filter(study_id=study_id, theme=theme, lost=False))
    return qs.filter(participants_usable_q(use, prefix="transcript__participant__"))


@dataclass
class BoardQuote:
    id: int
    text: str
    group: str
    content_note: str


def board_quotes(*, user: Any, study_id: int, theme_ids: list[int]) -> dict[int, list[BoardQuote]]:
    """The board's quotes: shared with PPI by consent, in scope, labelled with the participant group only."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_VIEW)
    qs = policy.filter_visible(user=user, study=study_id, perm=Perm.THEME_VIEW,
                               queryset=Quote.objects.filter(study_id=study_id, theme_id__in=theme_ids, lost=False))
    qs = qs.filter(participants_usable_q(DataUse.PPI_SHARING, prefix="transcript__participant__"))
    out: dict[int, list[BoardQuote]] = {}
    fields = ("id", "theme_id", "text", "transcript__participant__group__label", "content_note")
    rows = _with_text(qs).values_list(*fields)
    for pk, theme_id, text, group, note in rows:
        out.setdefault(theme_id, []).append(BoardQuote(id=pk, text=text, group=group, content_note=note))
    return out
