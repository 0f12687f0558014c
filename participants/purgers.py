"""The purge registry: what "delete all of this participant's data" removes.

Each app that stores data about a participant registers a *purger*, a callable

    def purge_my_things(*, participant: Participant) -> dict[str, int]:
        ...delete or blank every row and file of this app that holds the participant's data...
        return {"transcripts": 1, "codings": 37}

by appending its dotted path to ``settings.CHORUS_PURGERS``. The purge job (started by a withdrawal
with ``delete_data``) runs every registered purger in order inside one transaction, then this
app's own :func:`purge_participant_records`, then writes the audit tombstone. A purger must be
idempotent (a retried job runs it again) and must not raise for "nothing to remove".
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from jobs.models import Job

from .models import ConsentEvent, ImportBatch, ImportStatus, Participant

Purger = Callable[..., dict[str, int]]

PARTICIPANTS_EXPORT_KIND = "participants_export"


def purgers() -> list[Purger]:
    """Registered purgers (settings.CHORUS_PURGERS, in order), then this app's own records."""
    found: list[Purger] = [import_string(path) for path in getattr(settings, "CHORUS_PURGERS", [])]
    return [*found, purge_participant_records]


def purge_participant_records(*, participant: Participant) -> dict[str, int]:
    """This app's share: identifiable fields, attributes, interview date, signed forms and notes on
    consent events, import previews and participant exports that may hold the participant's row.

    The participant row stays as a tombstone (pseudonym, group, site, consent state, purge time) so
    counts stay honest and a re-import of the original spreadsheet cannot bring them back; the
    consent events stay as the study's record of what was consented and withdrawn, without notes
    or signed forms."""
    removed = {"identifiable_fields": 0, "attributes": 0, "signed_forms": 0, "consent_notes": 0,
               "import_previews": 0, "participant_exports": 0}
    removed["identifiable_fields"] = int(bool(participant.name_encrypted)) + int(bool(participant.contact_encrypted))
    removed["attributes"] = len(participant.attributes or {}) + int(participant.interview_date is not None)
    Participant.objects.filter(pk=participant.pk).update(
        name_encrypted="", contact_encrypted="", attributes={}, interview_date=None
    )
    for event in ConsentEvent.objects.filter(participant=participant).exclude(signed_form=""):
        event.signed_form.storage.delete(str(event.signed_form.name))
        removed["signed_forms"] += 1
    ConsentEvent.objects.filter(participant=participant).exclude(signed_form="").update(
        signed_form="", signed_form_sha256=""
    )
    removed["consent_notes"] = (
        ConsentEvent.objects.filter(participant=participant).exclude(note="").update(note="")
    )
    removed["import_previews"] = (
        ImportBatch.objects.filter(study_id=participant.study_id, status=ImportStatus.PREVIEW)
        .exclude(content_encrypted="").update(content_encrypted="")
    )
    for job in Job.objects.filter(study_id=participant.study_id, kind=PARTICIPANTS_EXPORT_KIND).exclude(result_file=""):
        job.result_file.storage.delete(str(job.result_file.name))
        removed["participant_exports"] += 1
    Job.objects.filter(study_id=participant.study_id, kind=PARTICIPANTS_EXPORT_KIND).exclude(result_file="").update(
        result_file=""
    )
    return removed
