"""A stored matrix as CSV, XLSX and an SVG or PNG heatmap. Pure functions of the stored result: the numbers
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
# Code co-occurrence (codes × codes) counts other things; it has no totals (a pair is not additive).
COOCCURRENCE_LABELS = {
    "segments": "Overlapping coded segments (pairs of codings)",
    # "anywhere": the cell's page lists overlapping passages only, so 6 here can stand beside 3 passages there.
    "participants": "Participants with both codes (anywhere in their interviews)",
    "turns": "Speaker turns where both codes apply",
}
BINS = 6  # colour bins of the heatmap: bin 0 is "none"


def is_cooccurrence(result: dict[str, Any]) -> bool:
    return result.get("kind") == "cooccurrence"


def measure_labels(result: dict[str, Any]) -> dict[str, str]:
    """The measures a stored result holds, with their labels, in display order."""
    return COOCCURRENCE_LABELS if is_cooccurrence(result) else MEASURE_LABELS


def heat_peak(result: dict[str, Any], measure: str) -> float | int:
    """The number the darkest colour stands for. In co-occurrence the diagonal (each code with itself)
    dwarfs every pair and would leave the pairs pale: the scale is set by the pairs, and the diagonal,
    whose numbers are printed like every cell's, takes the darkest colour."""
    cooc = is_cooccurrence(result)
    pairs = max((c[measure] or 0 for i, row in enumerate(result["cells"]) for j, c in enumerate(row)
                 if not (cooc and i == j)), default=0)
    return pairs or max((c[measure] or 0 for row in result["cells"] for c in row), default=0)


def heat_bin(value: float | int | None, top: float | int) -> int:
    """The colour bin of a cell: 0 for nothing, else 1..BINS-1 in proportion to the largest cell."""
    if not value or not top:
        return 0
    return max(1, min(BINS - 1, round((BINS - 1) * value / top)))


def _grid(result: dict[str, Any], measure: str, row_heading: str) -> tuple[list[str], list[list[Any]]]:
    if is_cooccurrence(result):
        header = ["Code", "Participants with the code", *[c["label"] for c in result["columns"]]]
        return header, [[str(r["label"]), result["row_bases"][i], *[c[measure] for c in result["cells"][i]]]
                        for i, r in enumerate(result["rows"])]
    header = [row_heading, "Participants in row", *[c["label"] for c in result["columns"]], "Row total"]
    rows = []
    for i, r in enumerate(result["rows"]):
        rows.append([str(r["label"]), result["row_bases"][i], *[c[measure] for c in result["cells"][i]],
                     result["row_totals"][i][measure]])
    rows.append(["Total", sum(result["row_bases"]), *[c[measure] for c in result["column_totals"]],
                 result["total"][measure]])
    return header, rows


def matrix_csv(result: dict[str, Any], measure: str, *, row_heading: str = "Row") -> bytes:
    """``row_heading`` names the first column as the page does ("Participant group", an attribute's label)."""
    header, rows = _grid(result, measure, row_heading)
    return csv_bytes(header, rows)


def matrix_xlsx(result: dict[str, Any], measures: tuple[str, ...], sentences: list[str] | None = None, *,
                row_heading: str = "Row") -> bytes:
    """One sheet per measure, then a "Summary" sheet with the reporting words when there are any; numbers
    stay numbers, text is formula-safe."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for measure in measures:
        ws = wb.create_sheet(title=measure.capitalize())
        header, rows = _grid(result, measure, row_heading)
        ws.append([measure_labels(result)[measure]])
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
    peak = heat_peak(result, measure)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-labelledby="t" font-family="sans-serif" font-size="12">',
           f'<title id="t">{escape(title)} – {escape(measure_labels(result)[measure])}</title>']
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


def _font(size: int, bold: bool = False) -> Any:
    """DejaVu Sans where installed (wide coverage of scripts), else Pillow's bundled font."""
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF"):
        try:
            return ImageFont.truetype(f"{folder}/{name}", size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _fit(draw: Any, text: str, font: Any, width: int) -> str:
    """The text, shortened with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def matrix_png(result: dict[str, Any], measure: str, *, title: str) -> bytes:
    """The heatmap as a PNG: a title, column labels (wrapped), row labels, each cell's number on its
    colour bin (the colours of the page and the SVG) and a legend saying what darker means."""
    from PIL import Image, ImageDraw

    cols, rows = result["columns"], result["rows"]
    font, bold, small = _font(14), _font(14, bold=True), _font(12)
    cw, ch, left, pad = 120, 34, 220, 16
    head_lines = 3
    top = pad + 30 + head_lines * 16 + 10
    width = max(left + cw * len(cols) + pad, 640)
    height = top + ch * len(rows) + 90
    peak = heat_peak(result, measure)
    img = Image.new("RGB", (width, height), "#ffffff")
    d = ImageDraw.Draw(img)
    d.text((pad, pad), _fit(d, f"{title} – {measure_labels(result)[measure]}", bold, width - 2 * pad), font=bold,
           fill="#1a1a1a")
    for j, c in enumerate(cols):
        # Column labels wrapped on words over up to three lines, the last shortened if need be.
        words, lines, line = str(c["label"]).split(), [], ""
        for w in words:
            trial = f"{line} {w}".strip()
            if d.textlength(trial, font=small) <= cw - 8 or not line:
                line = trial
            else:
                lines.append(line)
                line = w
        lines.append(line)
        if len(lines) > head_lines:
            lines = [*lines[:head_lines - 1], " ".join(lines[head_lines - 1:])]
        for k, text in enumerate(lines):
            d.text((left + j * cw + 4, pad + 30 + k * 16), _fit(d, text, small, cw - 8), font=small, fill="#1a1a1a")
    for i, r in enumerate(rows):
        y = top + i * ch
        d.text((pad, y + 9), _fit(d, str(r["label"]), font, left - pad - 8), font=font, fill="#1a1a1a")
        for j, cell in enumerate(result["cells"][i]):
            v = cell[measure]
            b = heat_bin(v, peak)
            x = left + j * cw
            d.rectangle([x, y, x + cw, y + ch], fill=_FILL[b], outline="#999999")
            shown = "–" if v is None else (f"{v:.0%}" if measure == "share" else f"{v:,}")
            tw = d.textlength(shown, font=bold)
            d.text((x + (cw - tw) / 2, y + 9), shown, font=bold, fill=_INK[b])
    # Legend: the bins from none to the largest cell, each with the range of numbers it stands for.
    y = top + ch * len(rows) + 20
    d.text((pad, y), "Darker cells hold larger numbers; every cell prints its number.", font=small, fill="#1a1a1a")
    y += 22
    for b in range(BINS):
        x = pad + b * 100
        d.rectangle([x, y, x + 24, y + 18], fill=_FILL[b], outline="#999999")
        label = "none" if b == 0 else (f"{round(peak):,} or more" if b == BINS - 1 and is_cooccurrence(result) else
                                       f"up to {peak:.0%}" if measure == "share" and b == BINS - 1 else
                                       f"≈{b / (BINS - 1) * peak:.0%}" if measure == "share" else
                                       f"≈{round(b / (BINS - 1) * peak):,}")
        d.text((x + 30, y + 2), label, font=small, fill="#1a1a1a")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
