"""Matrices: codes or themes (columns) against participant groups, sites, an attribute or participants
(rows). Declarative only: the engine is ``selectors``, writes and the job are ``services``.

A matrix is private to the member who asked for it: its numbers are computed in their scope, so
another member (with another scope) must never read them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Study


class Matrix(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The normalised request (columns, rows, filters) and its hash: identical requests share a row.
    spec = models.JSONField(default=dict)
    key = models.CharField(max_length=64)
    # What the data looked like when it was asked for (codings, themes, consent); a later change
    # makes the result stale.
    data_version = models.CharField(max_length=64)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    result = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two identical requests at once: the second insert fails and reuses the first row.
            models.UniqueConstraint(fields=["study", "created_by", "key", "data_version"], name="matrix_unique_request"),
        ]

    def __str__(self) -> str:
        return f"Matrix {self.pk}"


# Framework charts live in their own sub-package; imported here so Django registers them with this app.
from .framework.models import FrameworkCell, FrameworkCellEdit, FrameworkChart  # noqa: E402

__all__ = ["FrameworkCell", "FrameworkCellEdit", "FrameworkChart", "Matrix"]
