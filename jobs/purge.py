"""Stored job results after a purge: a result computed before a participant withdrew with deletion
(an agreement report's per-transcript figures, an export file) may hold their data, and nothing
records which participants a result was computed from. So a purge removes the stored result and file
of every job of the study except the kinds known to hold none; the job stays, saying why its result
is gone, and can be run again for figures without the participant.

Deny by default: a job kind added later is purged until it is listed in ``KINDS_WITHOUT_PARTICIPANT_DATA``."""

from __future__ import annotations

from typing import Any

from .models import Job

# Results that hold counts or the purge's own tombstone, never a participant's data.
KINDS_WITHOUT_PARTICIPANT_DATA = frozenset({"participant_purge", "transcript_import"})
PURGED_NOTE = ("This result was deleted because a participant it included withdrew and asked for their data to be "
               "deleted. Run it again for figures without them.")


def job_results_purge(*, participant: Any) -> dict[str, int]:
    """Registered in settings.CHORUS_PURGERS; idempotent (a purged result is left as it is)."""
    jobs = Job.objects.filter(study_id=participant.study_id).exclude(kind__in=KINDS_WITHOUT_PARTICIPANT_DATA)
    removed = {"job_results": 0, "job_files": 0}
    for job in jobs.exclude(result_file=""):
        job.result_file.storage.delete(str(job.result_file.name))
        removed["job_files"] += 1
    jobs.exclude(result_file="").update(result_file="")
    purged = {"Result deleted": PURGED_NOTE}
    removed["job_results"] = jobs.exclude(result={}).exclude(result=purged).update(result=purged)
    return removed
