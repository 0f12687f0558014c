"""Codes, codings, memos and double coding. Declarative only: writes live in services/, reads in selectors/.

A code's name is unique among its siblings, case-insensitively (two partial unique indexes,
because NULL parents are distinct in a plain unique constraint on both SQLite and PostgreSQL).
``version`` is the optimistic lock: every write bumps it and an update names the version it read.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Study
from analysis.coding.colours import HEX_RE, PALETTE, label_text_colour


class Code(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="codes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    # REFI-QDA identity: kept from an imported file so a re-import matches, written on export.
    guid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField("definition", blank=True)
    inclusion_criteria = models.TextField(blank=True)
    exclusion_criteria = models.TextField(blank=True)
    example = models.TextField(blank=True)
    colour = models.CharField(max_length=7, default=PALETTE[0], validators=[RegexValidator(HEX_RE)])
    is_codable = models.BooleanField(
        default=True, help_text="Whether text can be coded with it (a grouping code may not be)."
    )
    position = models.PositiveIntegerField(default=0)
    # Defined by a coder from a selection ("new code from here"): usable at once, shown as proposed
    # in the codebook until a lead edits (accepts) it. Its creator is the proposer.
    proposed = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "parent", condition=models.Q(parent__isnull=False), name="code_name_unique_in_parent"
            ),
            models.UniqueConstraint(
                Lower("name"), "study", condition=models.Q(parent__isnull=True), name="code_name_unique_at_top"
            ),
            models.UniqueConstraint(fields=["study", "guid"], name="code_guid_unique_per_study"),
        ]
        indexes = [models.Index(fields=["study", "parent", "position"], name="code_study_parent_pos")]

    def __str__(self) -> str:
        return self.name

    @property
    def label_colour(self) -> str:
        return label_text_colour(self.colour)


class Coding(models.Model):
    """A code applied by a coder to ``[start, end)`` of a transcript (Unicode code points, half-open).

    An anchored span (``settings.CHORUS_ANCHORED_MODELS``): a correction or redaction re-anchors it in
    its transaction. When all of its text is deleted the span collapses and ``lost`` is set; that is
    the only case where ``end == start`` is allowed.
    """

    scope_site_path = "transcript__participant__site"
    scope_group_path = "transcript__participant__group"
    anchor_transcript_field = "transcript"
    anchor_lost_field = "lost"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    transcript = models.ForeignKey("transcripts.Transcript", on_delete=models.CASCADE, related_name="codings")
    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="codings")
    coder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    lost = models.BooleanField(default=False, help_text="All of the coded text was deleted by a redaction.")
    memo = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["transcript", "start", "end", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__gte=0) & (models.Q(end__gt=models.F("start")) | models.Q(lost=True)),
                name="coding_span_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["transcript", "start"], name="coding_transcript_start"),
            models.Index(fields=["study", "code"], name="coding_study_code"),
            # A code's segments within the visible transcripts: one probe per transcript, not a scan
            # of every coding of the transcript filtered by code.
            models.Index(fields=["code", "transcript"], name="coding_code_transcript"),
            # Counting the codings behind a matrix cell or a code (a transcript's codings of some codes, by
            # study and coder, not lost; ``id`` because the ORM counts ids) from the index alone, without a
            # heap read per coding: the busiest cell at 1,000 participants counts 48,359 of them on every
            # page (56 -> 19 ms). INCLUDE is PostgreSQL's; other databases get the plain partial index.
            models.Index(fields=["transcript", "code"], include=["study", "coder", "id"], condition=models.Q(lost=False),
                         name="coding_transcript_code_live"),
        ]

    def __str__(self) -> str:
        return f"{self.code_id} [{self.start}, {self.end})"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"


class CodingEvent(models.Model):
    """The append-only change feed of a transcript's codings, written in the same transaction as the
    change. Writers lock the transcript row first, so within one transcript ids are allocated in
    commit order: a reader that has seen id N never later finds a committed event < N it missed."""

    id = models.BigAutoField(primary_key=True)
    transcript = models.ForeignKey("transcripts.Transcript", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=EventKind.choices)
    coding_id = models.BigIntegerField()
    coder_id = models.BigIntegerField()
    actor_id = models.BigIntegerField()
    data = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["transcript", "id"], name="codingevent_transcript_id")]

    def __str__(self) -> str:
        return f"{self.kind} coding {self.coding_id}"


class Assignment(models.Model):
    """Blind double coding of one transcript by two coders: until both mark it done, neither sees
    the other's codings on it."""

    scope_site_path = "transcript__participant__site"
    scope_group_path = "transcript__participant__group"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    transcript = models.OneToOneField("transcripts.Transcript", on_delete=models.CASCADE, related_name="assignment")
    coder_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    coder_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    done_a = models.DateTimeField(null=True, blank=True)
    done_b = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(coder_a=models.F("coder_b")), name="assignment_two_coders"),
        ]

    def __str__(self) -> str:
        return f"Double coding of transcript {self.transcript_id}"

    @property
    def complete(self) -> bool:
        return self.done_a is not None and self.done_b is not None


class Memo(models.Model):
    """A memo on the study, a transcript, a code or a coding (at most one target; none = the study).
    A memo on a coding also records its transcript, so scope applies to it."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    transcript = models.ForeignKey("transcripts.Transcript", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(Code, null=True, blank=True, on_delete=models.CASCADE, related_name="memos")
    coding = models.ForeignKey(Coding, null=True, blank=True, on_delete=models.CASCADE, related_name="memos")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["study", "updated_at"], name="memo_study_updated")]

    def __str__(self) -> str:
        return self.title

    @property
    def target_label(self) -> str:
        if self.coding_id:
            return "coding"
        if self.code_id:
            return "code"
        if self.transcript_id:
            return "transcript"
        return "study"


class DisagreementOutcome(models.TextChoices):
    KEEP_A = "keep_a", "Keep A's coding"
    KEEP_B = "keep_b", "Keep B's coding"
    BOTH = "both", "Both (agreed to differ)"
    NEITHER = "neither", "Neither (remove both)"
    ADJUSTED = "adjusted", "Adjusted (the coders changed their codings)"


class Disagreement(models.Model):
    """The discussion and resolution of one disagreement of a double-coded transcript: the coders'
    codings of ``code`` differ on ``[start, end)`` (code points; computed by
    ``analysis.coding.agreement.disagreement_regions``). Created on the first comment or the resolution;
    an open disagreement nobody has discussed has no row."""

    scope_site_path = "assignment__transcript__participant__site"
    scope_group_path = "assignment__transcript__participant__group"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="disagreements")
    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="+")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=DisagreementOutcome.choices, blank=True)
    note = models.TextField(blank=True)
    # Each coder's spans of the code in the region when it was resolved (the codings may change later).
    spans = models.JSONField(default=dict, blank=True)
    # A correction of the transcript moves the record with the text (analysis.coding.services.disagreements
    # .disagreements_reanchor); when the text under discussion is deleted the thread is kept, marked lost.
    lost = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["assignment", "start", "end", "code"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "code", "start", "end"], condition=models.Q(lost=False),
                                    name="disagreement_unique"),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")) | models.Q(lost=True),
                                   name="disagreement_span_valid"),
            models.CheckConstraint(
                condition=(models.Q(outcome="") & models.Q(resolved_at__isnull=True))
                | (~models.Q(outcome="") & models.Q(resolved_at__isnull=False)),
                name="disagreement_resolved_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code_id} [{self.start}, {self.end})"

    @property
    def key(self) -> str:
        return f"{self.code_id}-{self.start}-{self.end}"


class DisagreementComment(models.Model):
    disagreement = models.ForeignKey(Disagreement, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.disagreement_id}"
