"""Transcripts, their speaker turns, their edit history and the imports that create them.
Declarative only: imports, edits and reads live in services and selectors.

Offsets (``start``/``end``) are Unicode code points into ``Transcript.text``, half-open.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Study
from jobs.models import Job
from participants.models import Participant


class SpeakerRole(models.TextChoices):
    INTERVIEWER = "interviewer", "Interviewer"
    PARTICIPANT = "participant", "Participant"
    OTHER = "other", "Other"


def _original_path(instance: models.Model, filename: str) -> str:
    # A random name: the stored path never carries a pseudonym or the uploaded file's name.
    return f"transcripts/originals/{uuid.uuid4().hex}"


class Transcript(models.Model):
    scope_site_path = "participant__site"
    scope_group_path = "participant__group"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="transcripts")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="transcripts")
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    # The code point offsets of the text's newlines (``text.newline_offsets``), written with the text by
    # every write path: a line number is then a binary search, not a count over the text before it (pages
    # of segments show 20–50 line numbers from as many transcripts). None: not recorded (a row written
    # without the services); readers then count in the text.
    newlines = models.JSONField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1)
    interview_date = models.DateField(null=True, blank=True)
    interview_mode = models.CharField(max_length=50, blank=True)
    interviewer = models.CharField(max_length=150, blank=True)
    source_format = models.CharField(max_length=10)
    source_encoding = models.CharField(max_length=20, default="utf-8")
    original_name = models.CharField(max_length=255, blank=True)
    original_file = models.FileField(upload_to=_original_path, blank=True)
    original_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    original_size = models.PositiveBigIntegerField(default=0)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant__pseudonym", "id"]
        indexes = [models.Index(fields=["study", "participant"], name="transcript_study_participant")]

    def __str__(self) -> str:
        return self.title or f"Transcript {self.pk}"

    @property
    def length(self) -> int:
        return len(self.text)


class TranscriptTurn(models.Model):
    """One speaker turn. ``start``/``end`` cover the words, not the ``Name:`` label; ``text`` is
    ``transcript.text[start:end]`` kept for search (and refreshed by every edit)."""

    scope_site_path = "transcript__participant__site"
    scope_group_path = "transcript__participant__group"
    # An anchored span: redaction re-anchors it (settings.CHORUS_ANCHORED_MODELS).
    anchor_transcript_field = "transcript"

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="turns")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    speaker = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=12, choices=SpeakerRole.choices, default=SpeakerRole.OTHER)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    time_ms = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField()
    # PostgreSQL full-text vector ('english'); its GIN index is created by migration 0002.
    search = SearchVectorField(null=True, blank=True)

    class Meta:
        ordering = ["transcript", "index"]
        constraints = [
            models.UniqueConstraint(fields=["transcript", "index"], name="turn_index_unique"),
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="turn_span_valid"),
        ]
        indexes = [
            models.Index(fields=["transcript", "start"], name="turn_transcript_start"),
            # Code co-occurrence reads every turn's span and role of a study in order (222 k turns at 1,000
            # participants): from this index alone, without the rows' text and search vectors (16 k pages).
            # INCLUDE is PostgreSQL's; other databases get the plain index.
            models.Index(fields=["study", "transcript", "index"], include=["start", "end", "role"],
                         name="turn_study_transcript_span"),
        ]

    def __str__(self) -> str:
        return f"{self.speaker or '—'} [{self.start}, {self.end})"


class EditKind(models.TextChoices):
    REPLACE = "replace", "Replace selection"
    REPLACE_ALL = "replace_all", "Find and replace all"
    REVERT = "revert", "Revert"


class TranscriptEdit(models.Model):
    """One versioned correction or redaction. ``ops`` are ``[start, end, old, new]`` in the
    coordinates of the text before the edit (version ``version - 1``), sorted; with ``old`` kept,
    every edit can be reverted. ``report`` says what re-anchoring did to anchored objects."""

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="edits")
    version = models.PositiveIntegerField(help_text="The transcript version this edit produced.")
    kind = models.CharField(max_length=12, choices=EditKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300)
    ops = models.JSONField(default=list)
    reverts = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reverted_by")
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["transcript", "version"], name="edit_version_unique")]

    def __str__(self) -> str:
        return f"v{self.version}: {self.summary}"


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Waiting for confirmation"
    QUEUED = "queued", "Importing"
    DONE = "done", "Imported"
    CANCELLED = "cancelled", "Cancelled"


class TranscriptImport(models.Model):
    """A bulk upload: files are checked and matched first (the preview), imported on confirmation."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="transcript_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PREVIEW)
    encoding = models.CharField(max_length=20, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Transcript import {self.pk} ({self.status})"


class ItemStatus(models.TextChoices):
    READY = "ready", "Ready to import"
    REFUSED = "refused", "Refused"
    IMPORTED = "imported", "Imported"
    FAILED = "failed", "Not imported"


def _staged_path(instance: models.Model, filename: str) -> str:
    return f"transcripts/originals/{uuid.uuid4().hex}"


class TranscriptImportItem(models.Model):
    """One file of an import. A refused file keeps only its name and the reason: no content."""

    batch = models.ForeignKey(TranscriptImport, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    staged_file = models.FileField(upload_to=_staged_path, blank=True)
    participant = models.ForeignKey(Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=ItemStatus.choices)
    message = models.TextField(blank=True)
    format = models.CharField(max_length=10, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    characters = models.PositiveIntegerField(default=0)
    turn_count = models.PositiveIntegerField(default=0)
    speakers = models.JSONField(default=dict, blank=True)
    # The preview's parse result (importers.parsed_dump) while the file waits for the import: the job uses
    # it instead of parsing the file again. Cleared once the file is imported, failed or cancelled.
    parsed = models.BinaryField(null=True, blank=True, editable=False)
    transcript = models.ForeignKey(Transcript, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["batch", "position"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


class TranscriptSet(models.Model):
    """A named, saved selection of the study's transcripts (NVivo's sets, ATLAS.ti's document groups),
    shared by the team. The set itself carries no scope: its members do, so each member of the team sees
    (and counts) only the members inside their own scope."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="transcript_sets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Moves on at every change of the members, so an API client can tell the set changed. (A matrix asked
    # "by this set" does not use it: it records the transcript ids it counted and compares those with the set
    # as it is now, which stays right after a set is changed and changed back, or deleted.)
    members_version = models.PositiveIntegerField(default=1)
    transcripts = models.ManyToManyField(Transcript, through="TranscriptSetMember", related_name="+")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Case-insensitive: "Carers" and "carers" side by side in a chooser would only confuse.
            models.UniqueConstraint(Lower("name"), "study", name="transcript_set_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TranscriptSetMember(models.Model):
    """One transcript in a set. Deleting the transcript (a purge after a withdrawal with data deletion)
    deletes the membership with it."""

    scope_site_path = "transcript__participant__site"
    scope_group_path = "transcript__participant__group"

    transcript_set = models.ForeignKey(TranscriptSet, on_delete=models.CASCADE, related_name="members")
    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["transcript_set", "id"]
        constraints = [
            models.UniqueConstraint(fields=["transcript_set", "transcript"], name="transcript_set_member_unique"),
        ]
        indexes = [models.Index(fields=["transcript"], name="transcript_set_member_t")]

    def __str__(self) -> str:
        return f"{self.transcript_id} in {self.transcript_set_id}"
