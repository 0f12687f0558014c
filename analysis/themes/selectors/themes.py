"""Reads of themes, quotes and the board's conversation, through the policy module.

Two audiences read themes:
* the team (``Perm.THEME_ANALYSE``: admin, lead, coder) sees every theme, its codes, and the counts
  and segments behind it in their own scope (site/group), through the codings they may see;
* everyone with ``Perm.THEME_VIEW`` (the PPI co-designers too) sees the board: themes a lead has put
  on it, with quotes whose participant's consent allows sharing with PPI, labelled by group only.

Consent is read at display time (``participants_usable_q``), never copied onto a quote, so a change of
consent hides a quote from every view and export in the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Substr
from django.http import Http404

from accounts import policy
from accounts.policy import Perm
from analysis.coding.models import Coding
from analysis.coding.selectors.codings import CONTEXT_CHARS, codings_visible
from analysis.themes.models import Theme, ThemeEdit
from analysis.themes.selectors.quotes import quote_hidden_reason
from analysis.transcripts.selectors import transcript_lines_at
from participants.consent_rules import DataUse, data_use_allowed

SEGMENTS_PER_PAGE = 10


def pk_or_404(value: Any) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not 0 < out < 2**63:
        raise Http404("Not found.")
    return out


# Themes ------------------------------------------------------------------------------------------


def themes_readable(*, user: Any, study_id: int, perm: Perm = Perm.THEME_VIEW) -> QuerySet[Theme]:
    """Themes the user may read: every theme for the team, the board's themes for everyone else."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=perm)
    qs = Theme.objects.filter(study_id=membership.study_id)
    if not policy.role_allows(membership.role, Perm.THEME_ANALYSE):
        qs = qs.filter(on_board=True)
    return qs


def theme_get(*, user: Any, study_id: int, theme_id: Any, perm: Perm = Perm.THEME_VIEW) -> Theme:
    theme = (themes_readable(user=user, study_id=study_id, perm=perm)
             .select_related("parent", "updated_by").filter(pk=pk_or_404(theme_id)).first())
    if theme is None:
        raise Http404("No such theme.")
    return theme


@dataclass
class ThemeRow:
    theme: Theme
    depth: int
    participants: int = 0
    segments: int = 0
    quotes: int = 0
    open_comments: int = 0


def _theme_codings(*, user: Any, study_id: int) -> QuerySet[Coding]:
    return codings_visible(user=user, study_id=study_id).filter(lost=False)


def theme_rows(*, user: Any, study_id: int) -> list[ThemeRow]:
    """Every theme as a tree (depth-first), with participants and segments behind it in the user's scope,
    counted in SQL (one aggregate query), its quotes and its open threads."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    themes = list(Theme.objects.filter(study_id=study_id).annotate(
        n_quotes=Count("quotes", distinct=True),
        n_open=Count("comments", filter=Q(comments__parent__isnull=True, comments__resolved_at__isnull=True,
                                          comments__deleted_at__isnull=True), distinct=True),
    ))
    counts: dict[int, dict[str, Any]] = {
        r["code__themes"]: dict(r) for r in _theme_codings(user=user, study_id=study_id)
        .filter(code__themes__study_id=study_id)
        .values("code__themes")
        .annotate(participants=Count("transcript__participant", distinct=True), segments=Count("id", distinct=True))
    }
    children: dict[int | None, list[Theme]] = {}
    for t in themes:
        children.setdefault(t.parent_id, []).append(t)
    out: list[ThemeRow] = []

    def walk(parent: int | None, depth: int) -> None:
        for t in children.get(parent, []):
            c = counts.get(t.pk, {})
            n_quotes, n_open = t.n_quotes, t.n_open  # type: ignore[attr-defined]
            out.append(ThemeRow(theme=t, depth=depth, participants=c.get("participants", 0),
                                segments=c.get("segments", 0), quotes=n_quotes, open_comments=n_open))
            walk(t.pk, depth + 1)

    walk(None, 0)
    return out


@dataclass
class GroupCount:
    group_id: int | None
    label: str
    participants: int
    segments: int


def theme_group_counts(*, user: Any, study_id: int, theme: Theme) -> list[GroupCount]:
    """Participants and segments behind the theme per participant group, in the user's scope (SQL)."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    rows = (
        _theme_codings(user=user, study_id=study_id).filter(code__themes=theme)
        .values("transcript__participant__group_id", "transcript__participant__group__label",
                "transcript__participant__group__position")
        .annotate(participants=Count("transcript__participant", distinct=True), segments=Count("id", distinct=True))
        .order_by("transcript__participant__group__position", "transcript__participant__group_id")
    )
    return [GroupCount(r["transcript__participant__group_id"], r["transcript__participant__group__label"] or "No group",
                       r["participants"], r["segments"]) for r in rows]


@dataclass
class SegmentView:
    coding_id: int
    code_name: str
    pseudonym: str
    transcript_id: int
    line: int
    before: str
    text: str
    after: str
    quotable: bool
    not_quotable_reason: str


@dataclass
class GroupPage:
    group_id: int | None
    label: str
    total: int
    page: int
    pages: int
    segments: list[SegmentView] = field(default_factory=list)


def theme_segments_page(
    *, user: Any, study_id: int, theme: Theme, group_id: int | None, page: int = 1,
    per_page: int = SEGMENTS_PER_PAGE,
) -> GroupPage:
    """One page of the segments behind a theme from one participant group, with context."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    qs = _theme_codings(user=user, study_id=study_id).filter(code__themes=theme,
                                                           transcript__participant__group_id=group_id)
    total = qs.count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = list(
        qs.select_related("code", "transcript__participant__group")
        .annotate(
            seg=Substr("transcript__text", F("start") + 1, F("end") - F("start")),
            pre=Substr("transcript__text", _greatest_1(F("start") - CONTEXT_CHARS + 1), _least_ctx(F("start"))),
            post=Substr("transcript__text", F("end") + 1, CONTEXT_CHARS),
        )
        .defer("transcript__text", "transcript__newlines")
        .order_by("transcript__participant__pseudonym", "transcript_id", "start", "id")
        [(page - 1) * per_page: page * per_page]
    )
    # Line numbers as the other pages of segments find them: from the transcripts' recorded newlines.
    lines = transcript_lines_at(offsets=[(c.transcript_id, c.start) for c in rows])
    label = ""
    segments = []
    for c in rows:
        p = c.transcript.participant
        label = p.group.label
        segments.append(SegmentView(
            coding_id=c.pk, code_name=c.code.name, pseudonym=p.pseudonym, transcript_id=c.transcript_id,
            line=lines[(c.transcript_id, c.start)], before=("…" if c.start > CONTEXT_CHARS else "") + c.pre, text=c.seg, after=c.post,
            quotable=data_use_allowed(participant=p, use=DataUse.QUOTING),
            not_quotable_reason=quote_hidden_reason(p, use=DataUse.QUOTING),
        ))
    return GroupPage(group_id=group_id, label=label, total=total, page=page, pages=pages, segments=segments)


def _greatest_1(expr: Any) -> Any:
    from django.db.models.functions import Greatest

    return Greatest(expr, 1)


def _least_ctx(expr: Any) -> Any:
    from django.db.models.functions import Least

    return Least(expr, CONTEXT_CHARS)


def theme_coding_get(*, user: Any, study_id: int, theme: Theme, coding_id: Any) -> Coding:
    """A segment behind the theme that the user can see (for curating a quote from it)."""
    coding = (_theme_codings(user=user, study_id=study_id).filter(code__themes=theme, pk=pk_or_404(coding_id))
              .select_related("code", "transcript__participant__group").first())
    if coding is None:
        raise Http404("No such segment behind this theme.")
    return coding


def theme_history(*, user: Any, study_id: int, theme: Theme) -> QuerySet[ThemeEdit]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.THEME_ANALYSE)
    return ThemeEdit.objects.filter(theme=theme).select_related("actor").order_by("-version", "-id")
