"""Reading framework charts in the member's scope.

Rows are participants the member may see (site and group scope), whose consent allows analysis
(withdrawn-retain stay, withdrawn-delete and purged never), inside the chart's group and site filters,
ordered by group then pseudonym. Columns are the chart's themes (all themes when none were chosen).
A cell's supporting segments are the visible codings of the theme's codes for that participant: the
same base as the matrix engine (``selectors._visible``), so a chart and a matrix always agree.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, QuerySet
from django.http import Http404

from accounts import policy
from accounts.policy import Perm
from analysis.coding.models import Coding
from analysis.themes.models import Theme
from analysis.transcripts.models import Transcript
from participants.consent_rules import DataUse, participants_usable_q
from participants.models import Participant

from .. import selectors as engine
from .models import FrameworkCell, FrameworkCellEdit, FrameworkChart

SEGMENTS_PER_PAGE = 10
_NEWLINE = re.compile("\n")


def _pk(value: Any, what: str) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404(f"No such {what}.") from None
    if not policy.id_ok(pk):
        raise Http404(f"No such {what}.")
    return pk


def charts_list(*, user: Any, study_id: int) -> QuerySet[FrameworkChart]:
    policy.membership_require(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    return FrameworkChart.objects.filter(study_id=study_id).select_related("created_by")


def chart_get(*, user: Any, study_id: int, chart_id: Any) -> FrameworkChart:
    chart = charts_list(user=user, study_id=study_id).filter(pk=_pk(chart_id, "chart")).first()
    if chart is None:
        raise Http404("No such chart.")
    return chart


def chart_themes(*, chart: FrameworkChart) -> list[Theme]:
    chosen = list(chart.themes.order_by("position", "name", "id"))
    return chosen or list(Theme.objects.filter(study_id=chart.study_id).order_by("position", "name", "id"))


def chart_participants(*, user: Any, study_id: int, chart: FrameworkChart) -> QuerySet[Participant]:
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    qs = (Participant.objects.filter(study_id=study_id).filter(participants_usable_q(DataUse.ANALYSIS))
          .filter(policy.scope_q(membership, site_path="site", group_path="group")))
    group_ids = list(chart.groups.values_list("pk", flat=True))
    site_ids = list(chart.sites.values_list("pk", flat=True))
    if group_ids:
        qs = qs.filter(group_id__in=group_ids)
    if site_ids:
        qs = qs.filter(site_id__in=site_ids)
    return qs.select_related("group", "site").order_by("group__position", "group__label", "pseudonym", "pk")


def _codings(*, user: Any, study_id: int, participant_ids: Any, theme_ids: list[int]) -> QuerySet[Coding]:
    return engine._visible(user=user, study_id=study_id).filter(
        transcript__participant_id__in=participant_ids, code__themes__in=theme_ids)


@dataclass
class GridCell:
    theme_id: int
    theme_name: str
    summary: str
    version: int
    segments: int


@dataclass
class GridRow:
    participant: Participant
    cells: list[GridCell]


@dataclass
class Grid:
    themes: list[Theme]
    rows: list[GridRow] = field(default_factory=list)


def chart_grid(*, user: Any, study_id: int, chart: FrameworkChart) -> Grid:
    """The whole chart in three statements: participants, summaries, segment counts per cell."""
    themes = chart_themes(chart=chart)
    people = list(chart_participants(user=user, study_id=study_id, chart=chart))
    ids = [p.pk for p in people]
    theme_ids = [t.pk for t in themes]
    cells = {(c.participant_id, c.theme_id): c for c in
             FrameworkCell.objects.filter(chart=chart, participant_id__in=ids, theme_id__in=theme_ids)}
    counts = {(r["p"], r["t"]): r["n"] for r in
              _codings(user=user, study_id=study_id, participant_ids=ids, theme_ids=theme_ids)
              .annotate(p=F("transcript__participant_id"), t=F("code__themes"))
              .values("p", "t").annotate(n=Count("id", distinct=True)).order_by()}
    grid = Grid(themes=themes)
    for p in people:
        row = []
        for t in themes:
            c = cells.get((p.pk, t.pk))
            row.append(GridCell(t.pk, t.name, c.summary if c else "", c.version if c else 0, counts.get((p.pk, t.pk), 0)))
        grid.rows.append(GridRow(p, row))
    return grid


@dataclass
class CellView:
    chart: FrameworkChart
    participant: Participant
    theme: Theme
    summary: str
    version: int
    cell: FrameworkCell | None
    history: list[FrameworkCellEdit]


def cell_participant(*, user: Any, study_id: int, chart: FrameworkChart, participant_id: Any) -> Participant:
    """A row of the chart the member may see, or 404 (out of scope, withdrawn with deletion, filtered out)."""
    p = chart_participants(user=user, study_id=study_id, chart=chart).filter(
        pk=_pk(participant_id, "participant")).first()
    if p is None:
        raise Http404("No such participant in this chart.")
    return p


def cell_theme(*, chart: FrameworkChart, theme_id: Any) -> Theme:
    pk = _pk(theme_id, "theme")
    for t in chart_themes(chart=chart):
        if t.pk == pk:
            return t
    raise Http404("No such theme in this chart.")


def cell_get(*, user: Any, study_id: int, chart: FrameworkChart, participant_id: Any, theme_id: Any) -> CellView:
    p = cell_participant(user=user, study_id=study_id, chart=chart, participant_id=participant_id)
    t = cell_theme(chart=chart, theme_id=theme_id)
    cell = FrameworkCell.objects.filter(chart=chart, participant=p, theme=t).select_related("updated_by").first()
    history = list(cell.edits.select_related("actor")[:50]) if cell else []
    return CellView(chart, p, t, cell.summary if cell else "", cell.version if cell else 0, cell, history)


def cell_segments(*, user: Any, study_id: int, view: CellView, page: Any = 1,
                  per_page: int = SEGMENTS_PER_PAGE) -> engine.CellPage:
    """One page of the codings of the theme's codes for the participant, with context and line numbers —
    the matrix cell's page on a narrower set. Text is shown only while the participant's consent stands
    (withdrawn-retain: counted, not shown)."""
    page_n = engine.page_number(page)
    code_ids = sorted(set(Theme.codes.through.objects.filter(theme_id=view.theme.pk).values_list("code_id", flat=True)))
    qs = engine._visible(user=user, study_id=study_id).filter(
        transcript__participant_id=view.participant.pk, code_id__in=code_ids)
    return engine.segments_page(qs, column=view.theme.name, row=view.participant.pseudonym, page=page_n,
                                per_page=per_page)


# Export ----------------------------------------------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def chart_references(*, user: Any, study_id: int, participant_ids: list[int],
                     theme_ids: list[int]) -> dict[tuple[int, int], list[str]]:
    """For each (participant, theme): "transcript title, line N" of every supporting segment. Line numbers
    are found one transcript at a time (only its newline positions are held), so memory stays flat
    however large the study."""
    per_transcript: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for pid, tid, transcript_id, start in (
            _codings(user=user, study_id=study_id, participant_ids=participant_ids, theme_ids=theme_ids)
            .values_list("transcript__participant_id", "code__themes", "transcript_id", "start")
            .distinct().order_by("transcript_id", "start")):
        per_transcript[transcript_id].append((pid, tid, start))
    out: dict[tuple[int, int], list[str]] = defaultdict(list)
    for transcript_id, title, text in _texts(list(per_transcript)):
        starts = _line_starts(text)
        label = title or f"Transcript {transcript_id}"
        for pid, tid, start in per_transcript[transcript_id]:
            out[(pid, tid)].append(f"{label}, line {bisect.bisect_right(starts, start)}")
    return out


def _texts(ids: list[int]) -> Iterator[tuple[int, str, str]]:
    for pk in ids:
        row = Transcript.objects.filter(pk=pk).values_list("pk", "title", "text").first()
        if row is not None:
            yield row
