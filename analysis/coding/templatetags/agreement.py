"""Agreement figures in templates: tables, bands and their sources (analysis/coding/agreement_report.py)."""

from __future__ import annotations

from typing import Any

from django import template

from analysis.coding.agreement_report import (
    ALPHA_SOURCE,
    EXPLANATIONS,
    KAPPA_SOURCE,
    AgreementTables,
    agreement_tables,
    alpha_band,
    kappa_band,
)

register = template.Library()


@register.filter(name="agreement_tables")
def agreement_tables_filter(result: Any) -> AgreementTables:
    return agreement_tables(result if isinstance(result, dict) else None)


@register.simple_tag
def agreement_sources() -> dict[str, Any]:
    return {"kappa": KAPPA_SOURCE, "alpha": ALPHA_SOURCE, **{f"explain_{k}": v for k, v in EXPLANATIONS.items()}}


register.filter("kappa_band", kappa_band)
register.filter("alpha_band", alpha_band)


def _lines(text: str, start: int, end: int) -> str:
    first = text.count("\n", 0, max(0, start)) + 1
    last = first + text.count("\n", max(0, start), max(start, end - 1))
    return f"line {first}" if first == last else f"lines {first}–{last}"


@register.filter
def line_span(transcript: Any, span: Any) -> str:
    """``line 4`` or ``lines 4–6`` for a ``(start, end)`` span of the transcript: people read line
    numbers, never code-point offsets."""
    try:
        start, end = int(span[0]), int(span[1])
    except (TypeError, ValueError, IndexError):
        return ""
    return _lines(getattr(transcript, "text", ""), start, end)


@register.filter
def span_text(transcript: Any, span: Any) -> str:
    try:
        start, end = int(span[0]), int(span[1])
    except (TypeError, ValueError, IndexError):
        return ""
    text = getattr(transcript, "text", "")[start:end].replace("\n", " ")
    return text if len(text) <= 160 else text[:159] + "…"


@register.simple_tag
def pair(a: Any, b: Any) -> tuple[Any, Any]:
    return (a, b)
