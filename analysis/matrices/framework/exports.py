"""A framework chart as XLSX (one sheet per theme, as framework researchers expect) and as CSV (the whole
chart, one row per participant). Text is formula-safe; the XLSX is written with openpyxl's write-only
workbook to a temporary file and streamed, so a large chart never sits in memory as a workbook."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from jobs.csv import csv_bytes, csv_safe_cell

from . import selectors
from .models import FrameworkChart

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
HEADER = ["Participant", "Group", "Site"]


@dataclass
class ChartData:
    grid: selectors.Grid
    references: dict[tuple[int, int], list[str]]


def chart_data(*, user: Any, study_id: int, chart: FrameworkChart, references: bool = True) -> ChartData:
    """The grid and, for the XLSX, where each supporting segment is (the CSV holds summaries only)."""
    grid = selectors.chart_grid(user=user, study_id=study_id, chart=chart)
    refs = selectors.chart_references(user=user, study_id=study_id,
                                      participant_ids=[r.participant.pk for r in grid.rows],
                                      theme_ids=[t.pk for t in grid.themes]) if references else {}
    return ChartData(grid, refs)


def _sheet_title(name: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique ignoring case."""
    base = (_SHEET_BAD.sub(" ", name).strip().strip("'") or "Theme")[:31]
    title, n = base, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def chart_xlsx(data: ChartData, *, chart_name: str) -> IO[bytes]:
    """The workbook in a temporary file, rewound, for a streamed response. A first "Chart" sheet says what
    the workbook is; then one sheet per theme: participant, group, site, summary, segments, references."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    about = wb.create_sheet("Chart")
    about.append(["Framework chart", csv_safe_cell(chart_name)])
    about.append(["Participants", len(data.grid.rows)])
    about.append(["Themes", len(data.grid.themes)])
    used = {"chart"}
    for j, theme in enumerate(data.grid.themes):
        ws = wb.create_sheet(_sheet_title(theme.name, used))
        ws.append([csv_safe_cell(theme.name)])
        ws.append([*HEADER, "Summary", "Supporting segments", "Where (transcript, line)"])
        for row in data.grid.rows:
            p, cell = row.participant, row.cells[j]
            refs = data.references.get((p.pk, theme.pk), [])
            ws.append([csv_safe_cell(p.pseudonym), csv_safe_cell(p.group.label),
                       csv_safe_cell(p.site.name if p.site else ""), csv_safe_cell(cell.summary),
                       cell.segments, csv_safe_cell("; ".join(refs))])
    # Handed to the streamed response, which closes it when sent (so not a with-block here).
    out = tempfile.TemporaryFile()  # noqa: SIM115
    wb.save(out)
    out.seek(0)
    return out


def chart_csv(data: ChartData) -> bytes:
    header = [*HEADER] + [t.name for t in data.grid.themes]
    rows = [[r.participant.pseudonym, r.participant.group.label, r.participant.site.name if r.participant.site else "",
             *[c.summary for c in r.cells]] for r in data.grid.rows]
    return csv_bytes(header, rows)
