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
