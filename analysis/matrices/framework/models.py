"""Framework charts: declarative only (writes in ``services``, reads in ``selectors``).

A chart is shared by the team (unlike a matrix, which is private to who asked for it): its rows are the
participants each member may see, so two members with different scopes read different rows of one chart.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import ParticipantGroup, Site, Study


class FrameworkChart(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    # Empty: every theme of the study, including themes made after the chart.
    themes = models.ManyToManyField("themes.Theme", blank=True, related_name="+")
    # Empty: every group / site (within the member's scope).
    groups = models.ManyToManyField(ParticipantGroup, blank=True, related_name="+")
    sites = models.ManyToManyField(Site, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class FrameworkCell(models.Model):
    """One participant × theme summary. ``version`` is the optimistic lock (0 = never written)."""

    chart = models.ForeignKey(FrameworkChart, on_delete=models.CASCADE, related_name="cells")
    participant = models.ForeignKey("participants.Participant", on_delete=models.CASCADE, related_name="+")
    theme = models.ForeignKey("themes.Theme", on_delete=models.CASCADE, related_name="+")
    summary = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chart", "participant", "theme"], name="framework_cell_unique"),
        ]

    def __str__(self) -> str:
        return f"Framework cell {self.pk}"


class FrameworkCellEdit(models.Model):
    """The history of a cell: each saved version's text, who wrote it and when (append-only)."""

    cell = models.ForeignKey(FrameworkCell, on_delete=models.CASCADE, related_name="edits")
    version = models.PositiveIntegerField()
    summary = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["cell", "version"], name="framework_edit_unique")]

    def __str__(self) -> str:
        return f"Framework cell {self.cell_id} v{self.version}"
