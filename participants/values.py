"""Parsing of typed values shared by forms, the API and the CSV importers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.text import slugify

from .models import AttributeDefinition, AttributeKind

PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
RESERVED_KEYS = frozenset({"participant_id", "pseudonym", "group", "site", "interview_date", "name", "contact"})
YES = frozenset({"yes", "y", "true", "1", "agree", "agreed"})
NO = frozenset({"no", "n", "false", "0", "disagree", "declined"})


class ValueProblem(ValueError):
    """A value that cannot be read; the message is shown to the user as it is."""


def parse_date(value: Any) -> dt.date | None:
    """ISO dates (2020-06-01) and the UK day-first form (01/06/2020). Empty → None."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        try:
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        except ValueError:
            pass
    raise ValueProblem(f"“{text[:40]}” is not a date: use YYYY-MM-DD (or DD/MM/YYYY).")


def parse_number(value: Any) -> int | float:
    text = str(value).strip().replace(",", "")
    try:
        d = Decimal(text)
    except InvalidOperation as exc:
        raise ValueProblem(f"“{text[:40]}” is not a number.") from exc
    if not d.is_finite():
        raise ValueProblem(f"“{text[:40]}” is not a number.")
    # Beyond what a database column or a JSON reader holds (and 5,000-digit integers cannot even be
    # printed without Python's "sys.set_int_max_str_digits()" error).
    if abs(d) > 2**63 - 1:
        raise ValueProblem(f"“{text[:40]}” is too large a number (at most 9223372036854775807).")
    return int(d) if d == d.to_integral_value() else float(d)


def parse_yes_no(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueProblem(f"“{str(value)[:40]}” is not yes or no.")


def parse_pseudonym(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValueProblem("A participant needs a pseudonym.")
    if not PSEUDONYM_RE.match(text):
        raise ValueProblem(
            f"“{text[:60]}” is not a valid pseudonym: use letters, digits, '-', '_' or '.', at most 50 characters."
        )
    return text


def attribute_key(text: str) -> str:
    return slugify(text).replace("-", "_")[:50]


def attribute_value(definition: AttributeDefinition, value: Any) -> Any:
    """The stored (JSON) form of ``value`` for a typed attribute; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if definition.kind == AttributeKind.NUMBER:
        if isinstance(value, bool):
            raise ValueProblem(f"{definition.label}: expected a number.")
        return value if isinstance(value, int | float) else parse_number(value)
    if definition.kind == AttributeKind.DATE:
        d = parse_date(value)
        return d.isoformat() if d else None
    text = str(value).strip()
    if len(text) > 500:
        raise ValueProblem(f"{definition.label}: at most 500 characters.")
    if definition.kind == AttributeKind.CHOICE:
        for choice in definition.choices:
            if str(choice).lower() == text.lower():
                return choice
        raise ValueProblem(
            f"{definition.label}: “{text[:40]}” is not one of: {', '.join(map(str, definition.choices))}."
        )
    return text


def infer_kind(values: list[str]) -> str:
    """A type for a new attribute column: date or number when every filled value reads as one."""
    filled = [v.strip() for v in values if v and v.strip()]
    if not filled:
        return AttributeKind.TEXT
    for kind, parser in ((AttributeKind.DATE, parse_date), (AttributeKind.NUMBER, parse_number)):
        try:
            for v in filled:
                parser(v)
        except ValueProblem:
            continue
        return kind
    return AttributeKind.TEXT
