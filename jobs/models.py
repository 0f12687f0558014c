"""A background job's state, progress and result, read by the UI and the API while Celery works.

Celery's own result backend is switched off: this table is the one record of what ran, for whom,
and what it produced, and it works the same with the embedded worker and with Redis.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Study


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


# What each kind of job is called on screen (a kind not listed is shown from its name).
KIND_LABELS = {
    "participant_purge": "Deletion of a participant's data",
    "transcript_import": "Transcript import",
    "agreement_report": "Agreement report",
    "audit_export": "Audit log export",
    "participants_export": "Participants export",
    "themes_report": "Themes report",
    "project_import": "Project import",
    "project_export": "Project export",
}


class Job(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=50)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # The permission needed to see the job and its result, re-checked on every read: someone whose
    # role changed since starting an export must not download it afterwards.
    required_perm = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    result_file = models.FileField(upload_to="jobs/%Y/%m/", blank=True)
    # Delivery and recovery (jobs/services.py). The Celery task to send, so the sweep can send it
    # again; when it was last sent; how many times a worker started it.
    task_name = models.CharField(max_length=100, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A job that must reach "done" whatever happens (a purge a participant asked for): it is retried
    # with backoff for as long as it takes, and cannot be cancelled.
    must_finish = models.BooleanField(default=False)
    # The lease: the worker running the job renews it while alive; once it has expired, a redelivered
    # message or the sweep takes the job over instead of leaving it "running" for ever.
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Backoff: a queued job is not started before this time.
    not_before = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["study", "kind", "-created_at"], name="job_study_kind"),
            # The sweep's scan: unfinished jobs only.
            models.Index(fields=["status", "lease_expires_at"], name="job_status_lease",
                         condition=models.Q(status__in=["queued", "running"])),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind) or self.kind.replace("_", " ").capitalize()

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def can_cancel(self) -> bool:
        return not self.must_finish and self.status in (JobStatus.QUEUED, JobStatus.RUNNING) \
            and self.cancel_requested_at is None

    @property
    def can_retry(self) -> bool:
        return self.status == JobStatus.FAILED
