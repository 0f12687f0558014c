"""Bands for matrix rows over a number or date attribute: parsing the edges a user typed, checking them
against the attribute's kind, their labels, and the SQL ``CASE`` that puts each participant in a band.

Edges are lower bounds, each band half-open: numbers "18, 30, 45" give 18–29, 30–44 and 45 and over
([18, 30), [30, 45), [45, ∞)); dates "2020-01-01, 2020-07-01" give 1 Jan 2020 – 30 Jun 2020 and from
1 Jul 2020; "year" and "quarter" band dates by calendar year or quarter. A value below the first edge, or
not recorded, or not readable as the attribute's kind, falls in the "" row ("outside every band or not
recorded"). Pure parsing here; the expression is evaluated in the database (PostgreSQL and SQLite).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, FloatField, Value, When
from django.db.models.functions import Cast, Concat, Substr
from django.db.models.lookups import GreaterThanOrEqual, LessThan, Regex

MAX_EDGES = 20
DATE_MODES = ("year", "quarter")
NUMBER_RE = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
HINT = ("Numbers: the lowest value of each band, in order, e.g. 18, 30, 45. Dates: year, quarter, or the "
        "first day of each band in order, e.g. 2020-01-01, 2020-07-01.")


def _number(text: str) -> Decimal | None:
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() and abs(d) <= 10**15 else None


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def bands_parse(value: Any) -> str:
    """The bands as the user typed them, normalised (the form of the request key); "" for none.
    Unordered or repeated edges, a mix of numbers and dates, or anything else is a ValidationError."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > 500:
        raise ValidationError({"bands": "Bands are text of at most 500 characters. " + HINT})
    text = value.strip().lower()
    if not text:
        return ""
    if text in DATE_MODES:
        return text
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if len(parts) > MAX_EDGES:
        raise ValidationError({"bands": f"At most {MAX_EDGES} bands."})
    numbers = [_number(p.replace(" ", "")) for p in parts]
    dates = [_date(p) for p in parts]
    if all(n is not None for n in numbers):
        edges: list[Any] = numbers
        shown = [_fmt_number(n) for n in numbers]  # type: ignore[arg-type]
    elif all(d is not None for d in dates):
        edges, shown = dates, [d.isoformat() for d in dates]  # type: ignore[union-attr]
    else:
        raise ValidationError({"bands": "Give numbers or dates (YYYY-MM-DD), not a mix or other text. " + HINT})
    for a, b in pairwise(edges):
        if b == a:
            raise ValidationError({"bands": f"The edge {_shown(a)} is given twice: bands would overlap."})
        if b < a:
            raise ValidationError({"bands": f"Edges must go up: {_shown(b)} comes after {_shown(a)}. " + HINT})
    return ",".join(shown)


def _shown(v: Any) -> str:
    return v.isoformat() if isinstance(v, dt.date) else _fmt_number(v)


def _fmt_number(d: Decimal) -> str:
    return str(int(d)) if d == d.to_integral_value() else format(d.normalize(), "f")


def bands_kind(bands: str) -> str:
    if bands in DATE_MODES or (bands and _date(bands.split(",")[0]) is not None):
        return "date"
    return "number"


def bands_check(bands: str, *, kind: str) -> None:
    """Bands only on an attribute whose values are of their kind."""
    if kind not in ("number", "date"):
        raise ValidationError({"bands": "Bands are for an attribute whose values are numbers or dates."})
    if bands_kind(bands) != kind:
        raise ValidationError({"bands": f"This attribute holds {kind}s: give {kind} edges. " + HINT})


def _edges(bands: str) -> list[str]:
    return bands.split(",")


def _label_number(lo: str, hi: str | None) -> str:
    if hi is None:
        return f"{lo} and over"
    if "." not in lo and "." not in hi:
        return f"{lo}–{int(hi) - 1}"  # whole numbers: 18–29 is [18, 30)
    return f"{lo} to under {hi}"


def _label_date(lo: str, hi: str | None) -> str:
    start = dt.date.fromisoformat(lo)
    if hi is None:
        return f"From {start:%-d %b %Y}"
    end = dt.date.fromisoformat(hi) - dt.timedelta(days=1)
    return f"{start:%-d %b %Y} – {end:%-d %b %Y}"


def band_order(bands: str) -> list[str]:
    """The labels of custom bands, in order (year and quarter labels sort as text)."""
    if bands in DATE_MODES:
        return []
    edges = _edges(bands)
    label = _label_date if bands_kind(bands) == "date" else _label_number
    return [label(lo, edges[i + 1] if i + 1 < len(edges) else None) for i, lo in enumerate(edges)]


def band_expr(bands: str, value: Any) -> Any:
    """The band label of an attribute value (a text expression, e.g. ``KeyTextTransform``) as a SQL CASE;
    "" outside every band."""
    out = CharField()
    if bands_kind(bands) == "date":
        is_date = Regex(value, DATE_RE)
        if bands == "year":
            whens = [When(is_date, then=Substr(value, 1, 4))]
        elif bands == "quarter":
            whens = [When(is_date & Regex(value, rf"^[0-9]{{4}}-{m}"),
                          then=Concat(Substr(value, 1, 4), Value(f" Q{q}"), output_field=out))
                     for q, m in ((1, "0[1-3]"), (2, "0[4-6]"), (3, "0[7-9]"), (4, "1[0-2]"))]
        else:
            whens = _band_whens(bands, value, is_date, lambda e: Value(e))
        return Case(*whens, default=Value(""), output_field=out)
    # Cast only what reads as a number (a CASE keeps the order): PostgreSQL refuses to cast other text,
    # SQLite would turn it into 0.
    number = Case(When(Regex(value, NUMBER_RE), then=Cast(value, FloatField())), default=None,
                  output_field=FloatField())
    return Case(*_band_whens(bands, number, None, lambda e: Value(float(e))), default=Value(""), output_field=out)


def _band_whens(bands: str, value: Any, guard: Any, edge: Any) -> list[When]:
    edges, labels = _edges(bands), band_order(bands)
    whens = []
    for i, lo in enumerate(edges):
        cond: Any = GreaterThanOrEqual(value, edge(lo))
        if guard is not None:
            cond = guard & cond
        if i + 1 < len(edges):
            cond = cond & LessThan(value, edge(edges[i + 1]))
        whens.append(When(cond, then=Value(labels[i])))
    return whens
