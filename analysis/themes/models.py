"""Themes, curated quotes and the PPI board's conversation. Declarative only: writes live in
``services``, reads in ``selectors``, who-may-what in ``accounts.policy``.

Offsets of a :class:`Quote` are Unicode code points into its transcript's text, half-open, like a
coding's; a quote is an anchored span (``settings.CHORUS_ANCHORED_MODELS``), so corrections and
redactions move it. Whether a quote may be *shown* is never stored: it is the participant's consent,
read at the moment of display (``participants.consent_rules``), so a withdrawal hides it everywhere at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Study


class ThemeStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    REVIEWED = "reviewed", "Reviewed"
    FINAL = "final", "Final"


# What each status means, in the words the PPI board uses (NIHR INVOLVE: no internal status names).
PLAIN_STATUS: dict[str, str] = {
    ThemeStatus.CANDIDATE: "An early idea the team is still exploring",
    ThemeStatus.REVIEWED: "The team has checked this idea against the interviews",
    ThemeStatus.FINAL: "Agreed: this will be one of the study's findings",
}


class Theme(models.Model):
    """A named group of codes. ``version`` is the optimistic lock, as on a code."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="themes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    plain_description = models.TextField(
        blank=True, help_text="What this theme is about, in plain words, for the PPI board.")
    status = models.CharField(max_length=10, choices=ThemeStatus.choices, default=ThemeStatus.CANDIDATE)
    on_board = models.BooleanField(default=False, help_text="Shown to PPI co-designers on the board.")
    position = models.PositiveIntegerField(default=0)
    codes = models.ManyToManyField("coding.Code", blank=True, related_name="themes")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint("study", Lower("name"), name="theme_name_unique_per_study"),
            models.CheckConstraint(condition=models.Q(status__in=ThemeStatus.values), name="theme_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def plain_status(self) -> str:
        return PLAIN_STATUS.get(self.status, "")

    @property
    def board_description(self) -> str:
        return self.plain_description or self.description


class ThemeEdit(models.Model):
    """One saved change of a theme: ``changes`` maps each field to ``[before, after]`` (codes as names)."""

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="edits")
    version = models.PositiveIntegerField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.summary


class Quote(models.Model):
    """An exemplar quote: ``[start, end)`` of a transcript, inside the coded segment it was taken from
    (it may be trimmed to drop identifying details)."""

    scope_site_path = "transcript__participant__site"
    scope_group_path = "transcript__participant__group"
    anchor_transcript_field = "transcript"
    anchor_lost_field = "lost"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="quotes")
    transcript = models.ForeignKey("transcripts.Transcript", on_delete=models.CASCADE, related_name="+")
    coding = models.ForeignKey("coding.Coding", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    lost = models.BooleanField(default=False, help_text="All of the quoted text was deleted by a redaction.")
    content_note = models.CharField(
        max_length=200, blank=True,
        help_text="For example “mentions self-harm”: the board hides the quote until the reader chooses to show it.")
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["theme", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__gte=0) & (models.Q(end__gt=models.F("start")) | models.Q(lost=True)),
                name="quote_span_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Quote {self.pk} of theme {self.theme_id}"


class CommentKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    RENAME = "rename", "Suggest a new name"
    MERGE = "merge", "Suggest joining it with another theme"
    SPLIT = "split", "Suggest splitting it in two"
    NEW_THEME = "new_theme", "Suggest a new theme"


class Decision(models.TextChoices):
    OPEN = "open", "Waiting for the team"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


class Comment(models.Model):
    """A comment on a theme (optionally about one of its quotes) or on a code, threaded through ``parent``.

    Exactly one of ``theme`` and ``code`` is its target. Theme comments are the board's conversation
    (everyone in the study); code comments are the team's (never shown to someone who may not read the
    codebook). A theme comment whose ``kind`` is not ``comment`` is a suggestion that a lead accepts or
    declines with a reason. A deleted comment keeps its place in the thread (``deleted_at``) with its text
    removed."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    theme = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    code = models.ForeignKey("coding.Code", null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    quote = models.ForeignKey(Quote, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=CommentKind.choices, default=CommentKind.COMMENT)
    suggested_name = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    # What the decision did, in the board's words ("The team renamed this theme to …").
    outcome = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=CommentKind.values), name="comment_kind_valid"),
            models.CheckConstraint(
                condition=(models.Q(kind="comment") & models.Q(decision=""))
                | (~models.Q(kind="comment") & models.Q(decision__in=Decision.values)),
                name="comment_decision_only_on_suggestions",
            ),
            models.CheckConstraint(
                condition=(models.Q(theme__isnull=False) & models.Q(code__isnull=True))
                | (models.Q(theme__isnull=True) & models.Q(code__isnull=False)),
                name="comment_one_target",
            ),
            # Suggestions and quotes belong to the board's conversation about themes.
            models.CheckConstraint(
                condition=models.Q(code__isnull=True) | (models.Q(kind="comment") & models.Q(quote__isnull=True)),
                name="comment_on_code_is_plain",
            ),
        ]
        indexes = [models.Index(fields=["theme", "created_at"], name="comment_theme_created"),
                   models.Index(fields=["code", "created_at"], name="comment_code_created")]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {'theme ' + str(self.theme_id) if self.theme_id else 'code ' + str(self.code_id)}"

    @property
    def target_name(self) -> str:
        """The name of what it is about (a theme or a code), for audit details and notices."""
        target = self.theme if self.theme_id else self.code
        return target.name if target is not None else ""

    @property
    def is_suggestion(self) -> bool:
        return self.kind != CommentKind.COMMENT


class CommentRevision(models.Model):
    """The text a comment had before each edit by its author."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"Revision of comment {self.comment_id}"


class ReactionValue(models.TextChoices):
    RINGS_TRUE = "rings_true", "Rings true"
    NOT_SURE = "not_sure", "Not sure"
    NOT_TRUE = "not_true", "Doesn’t ring true"


class Reaction(models.Model):
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = models.CharField(max_length=10, choices=ReactionValue.choices)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["theme", "user"], name="one_reaction_per_user_and_theme"),
            models.CheckConstraint(condition=models.Q(value__in=ReactionValue.values), name="reaction_value_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.value} on theme {self.theme_id}"


class BoardSettings(models.Model):
    """Per-study settings of the PPI board: the support line it shows (a study decides its own)."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="board_settings")
    support_line = models.TextField(blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Board settings of {self.study}"


class DigestEvery(models.TextChoices):
    OFF = "off", "Never"
    DAILY = "daily", "Once a day"
    WEEKLY = "weekly", "Once a week"


class BoardVisit(models.Model):
    """When a member last opened the board (``seen_at``) and their notifications list (``codes_seen_at``,
    for comments on codes): what is newer is "new" to them (the header's notice). Also how often they want
    an e-mail digest of what is new, and when the last one was sent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)
    codes_seen_at = models.DateTimeField(null=True, blank=True)
    digest_every = models.CharField(max_length=10, choices=DigestEvery.choices, default=DigestEvery.OFF)
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "study"], name="one_board_visit_per_user_and_study"),
            models.CheckConstraint(condition=models.Q(digest_every__in=DigestEvery.values), name="digest_every_valid"),
        ]

    def __str__(self) -> str:
        return f"Board visit of {self.user_id} in {self.study_id}"


class DigestSent(models.Model):
    """One digest e-mail sent: at most one per member, study and period (``2026-12-03`` for a daily one,
    ``2026-W49`` for a weekly one), so a second run of the schedule, or two workers at once, never sends
    it twice (the unique constraint decides)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=10)
    sent_at = models.DateTimeField(default=timezone.now)
    items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "study", "period"], name="one_digest_per_period")]

    def __str__(self) -> str:
        return f"Digest {self.period} for {self.user_id} in {self.study_id}"
