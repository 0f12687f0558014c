"""A stored matrix as CSV, XLSX and an SVG heatmap. Pure functions of the stored result: the numbers
in a file are the numbers on the page. Text is formula-safe in both spreadsheet formats."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from jobs.csv import csv_bytes, csv_safe_cell

MEASURE_LABELS = {
    "participants": "Participants with a coded segment",
    "segments": "Coded segments",
    "share": "Share of the row's participants",
    "characters": "Coded characters",
}
BINS = 6  # colour bins of the heatmap: bin 0 is "none"


def heat_bin(value: float | int | None, top: float | int) -> int:
    """The colour bin of a cell: 0 for nothing, else 1..BINS-1 in proportion to the largest cell."""
    if not value or not top:
        return 0
    return max(1, min(BINS - 1, round((BINS - 1) * value / top)))


def _grid(result: dict[str, Any], measure: str) -> tuple[list[str], list[list[Any]]]:
    header = ["Row", "Participants in row", *[c["label"] for c in result["columns"]], "Row total"]
    rows = []
    for i, r in enumerate(result["rows"]):
        rows.append([str(r["label"]), result["row_bases"][i], *[c[measure] for c in result["cells"][i]],
                     result["row_totals"][i][measure]])
    rows.append(["Total", sum(result["row_bases"]), *[c[measure] for c in result["column_totals"]],
                 result["total"][measure]])
    return header, rows


def matrix_csv(result: dict[str, Any], measure: str) -> bytes:
    header, rows = _grid(result, measure)
    return csv_bytes(header, rows)


def matrix_xlsx(result: dict[str, Any], measures: tuple[str, ...], sentences: list[str] | None = None) -> bytes:
    """One sheet per measure, then a "Summary" sheet with the reporting words when there are any; numbers
    stay numbers, text is formula-safe."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for measure in measures:
        ws = wb.create_sheet(title=measure.capitalize())
        header, rows = _grid(result, measure)
        ws.append([MEASURE_LABELS[measure]])
        ws.append([csv_safe_cell(h) for h in header])
        for row in rows:
            ws.append([csv_safe_cell(v) for v in row])
    if sentences:
        ws = wb.create_sheet(title="Summary")
        ws.append(["In words: participants with a coded segment, of the participants in each row"])
        for sentence in sentences:
            ws.append([csv_safe_cell(sentence)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# The CSS bins of static/css/matrices.css; the number is printed in every cell, so colour is never the only signal.
_FILL = ["#ffffff", "#e3edf7", "#bcd4ea", "#8db6db", "#1f5f9e", "#0b3a66"]
_INK = ["#1a1a1a", "#1a1a1a", "#1a1a1a", "#1a1a1a", "#ffffff", "#ffffff"]


def matrix_svg(result: dict[str, Any], measure: str, *, title: str) -> bytes:
    """The heatmap as a standalone SVG with a title, labels and the number in each cell."""
    cols, rows = result["columns"], result["rows"]
    cw, ch, left, top = 110, 34, 200, 150
    width, height = left + cw * len(cols) + 20, top + ch * len(rows) + 20
    values = [c[measure] or 0 for row in result["cells"] for c in row]
    peak = max(values, default=0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-labelledby="t" font-family="sans-serif" font-size="12">',
           f'<title id="t">{escape(title)} – {escape(MEASURE_LABELS[measure])}</title>']
    for j, c in enumerate(cols):
        x = left + j * cw + cw / 2
        out.append(f'<text x="{x}" y="{top - 8}" transform="rotate(-35 {x} {top - 8})">{escape(str(c["label"]))[:40]}</text>')
    for i, r in enumerate(rows):
        y = top + i * ch
        out.append(f'<text x="8" y="{y + ch / 2 + 4}">{escape(str(r["label"]))[:30]}</text>')
        for j, cell in enumerate(result["cells"][i]):
            v = cell[measure]
            b = heat_bin(v, peak)
            shown = "–" if v is None else (f"{v:.0%}" if measure == "share" else str(v))
            out.append(f'<rect x="{left + j * cw}" y="{y}" width="{cw}" height="{ch}" fill="{_FILL[b]}" stroke="#999"/>')
            out.append(f'<text x="{left + j * cw + cw / 2}" y="{y + ch / 2 + 4}" text-anchor="middle" '
                       f'fill="{_INK[b]}">{shown}</text>')
    out.append("</svg>")
    return "\n".join(out).encode("utf-8")
