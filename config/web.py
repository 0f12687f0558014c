"""Helpers shared by the pages of every app."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form


def form_errors_apply(form: Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field where the form has one, otherwise at
    the top, prefixed with the field's name so the person knows what it is about."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            form.add_error(target, [f"{field}: {m}" if target is None and field != "__all__" else m
                                    for e in errors for m in e.messages])
    else:
        form.add_error(None, exc.messages)
