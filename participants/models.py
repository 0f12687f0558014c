"""Participants, their typed attributes, versioned consent forms and the append-only consent log.

Declarative only. Writes live in ``participants.services``, reads in ``participants.selectors``,
and the one answer to "may this participant's data be used for X" in ``participants.consent_rules``.

The ``consent_*`` columns on :class:`Participant` are a cache *derived* from the event log by
``services.consent.consent_state_refresh`` in the same transaction as every event; nothing edits
them by hand, and ``manage.py consent_recompute`` rebuilds them from the log.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import ParticipantGroup, Site, Study


class ConsentState(models.TextChoices):
    NONE = "none", "No consent yet"
    CONSENTED = "consented", "Consented"
    PARTIAL = "partial", "Partially consented"
    WITHDRAWN_RETAIN = "withdrawn_retain", "Withdrawn, data retained"
    WITHDRAWN_DELETE = "withdrawn_delete", "Withdrawn, data deleted"


class AttributeKind(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"
    NUMBER = "number", "Number"
    DATE = "date", "Date"


class AttributeDefinition(models.Model):
    """A typed participant attribute defined by the study (age band, interview mode, staff role…)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="attribute_definitions")
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=AttributeKind.choices, default=AttributeKind.TEXT)
    choices = models.JSONField(default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="attribute_key_unique_per_study"),
            models.CheckConstraint(
                condition=models.Q(kind__in=AttributeKind.values), name="attribute_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class ConsentForm(models.Model):
    """One version of a study's consent form. Immutable once created: a change is a new version."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consent_forms")
    version = models.CharField(max_length=20)
    title = models.CharField(max_length=200, blank=True)
    effective_from = models.DateField()
    reconsent_required = models.BooleanField(
        default=False,
        help_text="Participants who consented on an earlier version must re-consent on this one.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["effective_from", "id"]
        constraints = [
            models.UniqueConstraint("study", Lower("version"), name="consent_form_version_unique"),
        ]

    def __str__(self) -> str:
        return f"version {self.version}"


class ConsentItem(models.Model):
    """One statement on a consent form. ``mandatory`` items are the conditions of taking part:
    a consent event implies yes to them."""

    form = models.ForeignKey(ConsentForm, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=300)
    mandatory = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["form", "key"], name="consent_item_key_unique")]

    def __str__(self) -> str:
        return self.label


class Participant(models.Model):
    scope_site_path = "site"
    scope_group_path = "group"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    pseudonym = models.CharField(max_length=50)
    group = models.ForeignKey(ParticipantGroup, on_delete=models.PROTECT, related_name="participants")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="participants")
    attributes = models.JSONField(default=dict, blank=True)
    interview_date = models.DateField(null=True, blank=True)
    # Fernet tokens (participants.crypto); empty when not recorded. Never decrypted outside selectors.
    name_encrypted = models.TextField(blank=True, default="")
    contact_encrypted = models.TextField(blank=True, default="")

    # Derived from the consent log (see module docstring).
    consent_state = models.CharField(
        max_length=20, choices=ConsentState.choices, default=ConsentState.NONE, db_index=True
    )
    consent_form = models.ForeignKey(
        ConsentForm, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    consent_answers = models.JSONField(default=dict, blank=True)
    consent_date = models.DateField(null=True, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pseudonym", "id"]
        constraints = [
            models.UniqueConstraint("study", Lower("pseudonym"), name="participant_pseudonym_unique"),
            models.CheckConstraint(
                condition=models.Q(consent_state__in=ConsentState.values), name="participant_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["study", "consent_state"], name="participant_study_state")]

    def __str__(self) -> str:  # never an identifiable field
        return self.pseudonym


class EventKind(models.TextChoices):
    CONSENT = "consent", "Consent"
    RECONSENT = "reconsent", "Re-consent"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    CORRECTION = "correction", "Correction"


class WithdrawalScope(models.TextChoices):
    RETAIN_DATA = "retain_data", "Retain data already collected"
    DELETE_DATA = "delete_data", "Delete all data"


class EventSource(models.TextChoices):
    MANUAL = "manual", "Recorded in Chorus"
    IMPORT = "import", "Imported"
    API = "api", "API"


def _signed_form_path(instance: ConsentEvent, filename: str) -> str:
    import uuid

    # A random name: the path never carries the pseudonym or the uploaded file's name.
    return f"consent/{instance.study_id}/{uuid.uuid4().hex}.pdf.enc"


class ConsentEvent(models.Model):
    """Append-only. On PostgreSQL a trigger (migration 0002) refuses DELETE and any UPDATE of the
    recorded facts; only the signed-form file, the note and the answers' purge may change.

    A correction references the event it corrects (``corrects``) and carries the corrected content
    (date, method, form, answers, scope), or ``voids`` it when it was entered in error.
    """

    scope_site_path = "participant__site"
    scope_group_path = "participant__group"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="consent_events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    form = models.ForeignKey(ConsentForm, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    date = models.DateField()
    method = models.CharField(max_length=100, blank=True)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answers = models.JSONField(default=dict, blank=True)
    withdrawal_scope = models.CharField(max_length=12, choices=WithdrawalScope.choices, blank=True)
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    voids = models.BooleanField(default=False)
    note = models.CharField(max_length=500, blank=True)
    signed_form = models.FileField(upload_to=_signed_form_path, blank=True, max_length=200)
    signed_form_sha256 = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=10, choices=EventSource.choices, default=EventSource.MANUAL)
    import_key = models.CharField(max_length=64, blank=True, db_index=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=EventKind.values), name="consent_event_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(kind="withdrawal") | models.Q(withdrawal_scope__in=WithdrawalScope.values),
                name="consent_withdrawal_has_scope",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="correction") | models.Q(corrects__isnull=False),
                name="consent_correction_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date}"


class SamplingTarget(models.Model):
    """The purposive-sampling target for one group at one site."""

    scope_site_path = "site"
    scope_group_path = "group"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sampling_targets")
    group = models.ForeignKey(ParticipantGroup, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    target = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["group__position", "site__name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "group", "site"], name="sampling_target_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}@{self.site_id}: {self.target}"


class ImportKind(models.TextChoices):
    PARTICIPANTS = "participants", "Participants"
    CONSENT = "consent", "Consent events"


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Previewed"
    COMMITTED = "committed", "Imported"


class ImportBatch(models.Model):
    """An uploaded CSV between preview and commit. The content is encrypted (it may hold
    identifiable columns) and wiped once the batch is committed."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PREVIEW)
    filename = models.CharField(max_length=200, blank=True)
    encoding = models.CharField(max_length=30, blank=True)
    sha256 = models.CharField(max_length=64)
    content_encrypted = models.TextField(blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk} ({self.status})"
