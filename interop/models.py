"""A REFI-QDA project import between its preview and its job. Declarative only: the plan, the
choices and the writes live in ``interop.services``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Study
from jobs.models import Job


class ProjectImportStatus(models.TextChoices):
    PREVIEW = "preview", "Waiting for your choices"
    QUEUED = "queued", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Not imported"
    CANCELLED = "cancelled", "Cancelled"


def _staged_path(instance: models.Model, filename: str) -> str:
    # A random name: the path never carries the uploaded file's name.
    return f"interop/staged/{uuid.uuid4().hex}"


class ProjectImport(models.Model):
    """An uploaded ``.qdpx``: the file is kept until the import has run or is cancelled (it holds
    transcript text), then deleted. ``preview`` is the plan shown to the lead; ``choices`` what they
    chose for each person, variable and conflict."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=ProjectImportStatus.choices, default=ProjectImportStatus.PREVIEW)
    filename = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    staged_file = models.FileField(upload_to=_staged_path, blank=True)
    preview = models.JSONField(default=dict, blank=True)
    choices = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Project import {self.pk} ({self.status})"
