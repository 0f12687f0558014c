"""What every themes service shares: limits, input cleaning, the policy check and the theme lock."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404

from accounts import policy
from accounts.models import Membership, User
from accounts.policy import Perm
from analysis.themes.models import Theme

NAME_MAX = 200
TEXT_MAX = 20_000
COMMENT_MAX = 10_000
NOTE_MAX = 200
SUPPORT_MAX = 1_000
MAX_INT = 2**31 - 1


# Validation -------------------------------------------------------------------------------------


def clean_text(value: Any, *, field: str, limit: int, required: bool = False, label: str = "This") -> str:
    """Text from a form or the API, stripped: a ValidationError on the field for anything else, NUL or too long."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    if "\x00" in value:
        raise ValidationError({field: "Text cannot contain NUL characters."})
    value = value.strip()
    if required and not value:
        raise ValidationError({field: f"{label} cannot be empty."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters (this has {len(value):,})."})
    return value


def clean_name(value: Any, field: str = "name") -> str:
    name = " ".join(clean_text(value, field=field, limit=NAME_MAX * 2, required=True, label="A name").split())
    if len(name) > NAME_MAX:
        raise ValidationError({field: f"A name has at most {NAME_MAX} characters."})
    return name


def clean_id(value: Any, *, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a whole number."})
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Must be a whole number."}) from None
    if not 0 < out < 2**63:
        raise ValidationError({field: "No such item."})
    return out


def clean_int(value: Any, *, field: str, low: int = 0, high: int = MAX_INT) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a whole number."})
    try:
        out = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({field: "Must be a whole number."}) from None
    if not low <= out <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return out


def membership_for(*, actor: User, study_id: int, perm: Perm) -> Membership:
    return policy.membership_require(user=actor, study_id=study_id, perm=perm)


def theme_locked(*, study_id: int, theme_id: Any) -> Theme:
    try:
        pk = int(theme_id)
    except (TypeError, ValueError):
        raise Http404("No such theme.") from None
    theme = Theme.objects.select_for_update().filter(study_id=study_id, pk=pk).first() if 0 < pk < 2**63 else None
    if theme is None:
        raise Http404("No such theme.")
    return theme
