"""Agreement figures as people read them: tables (per transcript, per code, overall), a band with its
source beside kappa and alpha, plain words for what each figure means, and CSV / XLSX downloads.

Input is the dict :func:`analysis.coding.selectors.assignments.agreement_compute` returns (also what
the study-wide agreement job stores as its result). Pure functions: no database.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from jobs.csv import csv_bytes, csv_safe_cell

KAPPA_SOURCE = "Landis & Koch (1977)"
ALPHA_SOURCE = "Krippendorff (2004)"

EXPLANATIONS = {
    "percent": ("Percent agreement: the share of characters on which the two coders made the same choice for a "
                "code (both coded it, or both left it). Most text is coded by neither, so this is high even when "
                "the coders rarely code the same passages; read it with kappa and alpha."),
    "kappa": ("Cohen's kappa: agreement beyond what chance would give. 1 is perfect, 0 is what two coders "
              "coding at random with the same frequency would reach, below 0 is worse than chance."),
    "alpha": ("Krippendorff's alpha: like kappa, agreement beyond chance (1 perfect, 0 chance). Krippendorff "
              "advises relying on data only from 0.800, and drawing tentative conclusions from 0.667."),
}


def kappa_band(kappa: float | None) -> str:
    """Landis & Koch (1977), the bands most qualitative-methods texts quote."""
    if kappa is None:
        return ""
    if kappa < 0:
        return "poor (worse than chance)"
    for upper, label in ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial")):
        if kappa <= upper:
            return label
    return "almost perfect"


def alpha_band(alpha: float | None) -> str:
    """Krippendorff (2004), Content Analysis, 2nd ed., section 11.4.4."""
    if alpha is None:
        return ""
    if alpha >= 0.800:
        return "reliable"
    if alpha >= 0.667:
        return "tentative conclusions only"
    return "not reliable"


@dataclass
class Figures:
    """One row of an agreement table, formatted."""

    label: str
    coders: str
    characters: int
    percent: str
    kappa: str
    kappa_band: str
    alpha: str
    alpha_band: str
    a_chars: int
    b_chars: int
    both: int
    not_used: bool
    raw: dict[str, Any]


def _figures(label: str, d: dict[str, Any], coders: str = "") -> Figures:
    not_used = bool(d.get("no_variation"))
    kappa, alpha = d.get("kappa"), d.get("alpha")
    return Figures(
        label=label, coders=coders, characters=int(d.get("characters", 0)),
        percent=f"{float(d.get('percent_agreement', 0)):.1f} %",
        kappa="—" if not_used or kappa is None else f"{float(kappa):.2f}",
        kappa_band="not used by either coder" if not_used else kappa_band(kappa),
        alpha="—" if not_used or alpha is None else f"{float(alpha):.2f}",
        alpha_band="not used by either coder" if not_used else alpha_band(alpha),
        a_chars=int(d.get("both", 0)) + int(d.get("a_only", 0)), b_chars=int(d.get("both", 0)) + int(d.get("b_only", 0)),
        both=int(d.get("both", 0)), not_used=not_used, raw=d,
    )


@dataclass
class AgreementTables:
    overall: Figures | None
    transcripts: list[Figures]
    codes: list[Figures]


def agreement_tables(result: dict[str, Any] | None) -> AgreementTables:
    result = result or {}
    transcripts = [_figures(str(t.get("title", "")), t, " and ".join(t.get("coders", [])))
                   for t in result.get("transcripts", [])]
    codes = sorted((_figures(str(c.get("name", "")), c) for c in result.get("codes", [])),
                   key=lambda f: (f.not_used, f.label.lower()))
    overall = _figures("All double-coded transcripts and codes", result["overall"]) if result.get("overall") else None
    return AgreementTables(overall=overall, transcripts=transcripts, codes=codes)


HEADER = ["Table", "Transcript or code", "Coders", "Characters", "Percent agreement", "Cohen's kappa",
          f"Kappa band, {KAPPA_SOURCE}", "Krippendorff's alpha", f"Alpha band, {ALPHA_SOURCE}",
          "Characters coded by A", "Characters coded by B", "Characters coded by both"]


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    t = agreement_tables(result)
    out: list[list[Any]] = []
    for table, items in (("Overall", [t.overall] if t.overall else []), ("Per transcript", t.transcripts),
                         ("Per code", t.codes)):
        for f in items:
            raw = f.raw
            out.append([
                table, f.label, f.coders, f.characters, round(float(raw.get("percent_agreement", 0)), 2),
                None if f.not_used else round(float(raw.get("kappa", 0)), 4), f.kappa_band,
                None if f.not_used else round(float(raw.get("alpha", 0)), 4), f.alpha_band,
                f.a_chars, f.b_chars, f.both,
            ])
    return out


def agreement_csv(result: dict[str, Any]) -> bytes:
    return csv_bytes(HEADER, ([("" if v is None else v) for v in row] for row in _rows(result)))


def agreement_xlsx(result: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Agreement"
    ws.append(HEADER)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in _rows(result):
        # Text cells pass the same formula guard as CSV; numbers stay numbers.
        ws.append([csv_safe_cell(v) for v in row])
        ws.cell(row=ws.max_row, column=5).number_format = "0.00"
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEFGHIJKL", (16, 48, 32, 12, 12, 12, 22, 12, 26, 12, 12, 12), strict=True):
        ws.column_dimensions[col].width = width
    notes = wb.create_sheet("What the figures mean")
    for key in ("percent", "kappa", "alpha"):
        notes.append([EXPLANATIONS[key]])
    notes.append([f"Kappa bands: {KAPPA_SOURCE}: below 0 poor, 0–0.20 slight, 0.21–0.40 fair, 0.41–0.60 moderate, "
                  "0.61–0.80 substantial, 0.81–1 almost perfect."])
    notes.append([f"Alpha bands: {ALPHA_SOURCE}: 0.800 and above reliable, 0.667–0.800 tentative conclusions only, "
                  "below 0.667 not reliable."])
    notes.column_dimensions["A"].width = 120
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
