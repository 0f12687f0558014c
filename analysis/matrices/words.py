"""Reporting words: a matrix's participant counts as plain sentences a team can cite ("Loss of non-verbal
cues: 12 of 20 participants in Staff (60 %), 3 of 15 in Carer (20 %)."). Pure functions of the stored
result, so the words and the table always say the same thing; the numbers stay in the table too.

Only where a denominator exists: rows of groups, sites or an attribute (each row's participants who could
have been coded), never individual participants (1 of 1 says nothing)."""

from __future__ import annotations

from typing import Any

WORD_ROWS = ("group", "site", "attribute")


def _percent(n: int, base: int) -> str:
    return f"{round(100 * n / base)} %"


def _where(rows: str, label: str) -> str:
    return f"at {label}" if rows == "site" else f"in {label}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def reporting_sentences(result: dict[str, Any], *, rows: str) -> list[str]:
    """One sentence per column: participants with a coded segment of every row that has a denominator."""
    if rows not in WORD_ROWS:
        return []
    out = []
    for j, column in enumerate(result.get("columns", [])):
        parts: list[str] = []
        for i, row in enumerate(result.get("rows", [])):
            base = result["row_bases"][i]
            if not base:
                continue
            n = result["cells"][i][j]["participants"]
            where = _where(rows, str(row["label"]))
            parts.append(f"{n} of {base} {'participants ' if not parts else ''}{where} ({_percent(n, base)})")
        if parts:
            out.append(f"{column['label']}: {_join(parts)}.")
    return out
