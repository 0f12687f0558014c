"""A purge leaves nothing of the participant behind: not in any text or JSON column of any table
(transcript text, edit history, codings, memos, disagreement threads, audit details, stored job
results) and not in any file written to the media folder, including reports and exports computed
before the withdrawal."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from accounts import exports
from accounts.models import AuditEvent
from accounts.policy import Perm
from analysis.coding.services import assignments, disagreements
from analysis.coding.services import memos as memo_services
from analysis.transcripts.services import redaction
from jobs.models import Job
from jobs.purge import PURGED_NOTE
from jobs.services import job_create
from participants import services as participant_services
from participants.models import Participant
from participants.tasks import participant_purge
from tests.participants.test_purge import rows_containing

from .test_disagreements import extra, setup  # noqa: F401  (fixtures: a double-coded SU01 transcript)

pytestmark = pytest.mark.django_db
MARKERS = ["tearful", "John Smith", "resolution-note-4471", "comment-body-3318", "memo-text-9921"]


def _media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_purge_leaves_no_text_in_any_column_or_file(setup, cast, api, django_capture_on_commit_callbacks):  # noqa: F811
    sid, tid, u = setup.sid, setup.tid, cast.users
    before_files = _media_files()
    key = setup.cues_key
    disagreements.disagreement_comment(actor=u["coder"], study_id=sid, transcript_id=tid, key=key,
                                       body="comment-body-3318")
    disagreements.disagreement_resolve(actor=u["coder"], study_id=sid, transcript_id=tid, key=key, outcome="both",
                                       note="resolution-note-4471 about John Smith")
    memo_services.memo_create(actor=u["coder"], study_id=sid, title="memo-text-9921", transcript_id=tid)
    from analysis.transcripts.models import Transcript

    t = Transcript.objects.get(pk=tid)
    start = t.text.index("John Smith")
    redaction.transcript_replace(actor=u["lead"], study_id=sid, transcript_id=tid, start=start, end=start + 10,
                                 expected="John Smith", replacement="[NAME]", base_version=t.version)
    # The jobs run here, in this test's transaction (a real worker could not see its uncommitted rows).
    with django_capture_on_commit_callbacks(execute=False):
        report = assignments.agreement_report_start(actor=u["lead"], study_id=sid)
        audit = exports.audit_export_start(actor=u["admin"], study_id=sid, filters={})
        people = participant_services.participants_export_start(actor=u["admin"], study_id=sid)
    assignments.agreement_report_run(job_id=report.pk)
    exports.audit_export_run(job_id=audit.pk)
    participant_services.participants_export_run(job_id=people.pk)
    report, audit, people = (Job.objects.get(pk=j.pk) for j in (report, audit, people))
    assert report.status == "done"
    assert any(r["transcript"] == tid for r in report.result["transcripts"])
    assert audit.result_file
    assert people.result_file
    written = _media_files() - before_files
    assert written

    su01 = Participant.objects.get(pseudonym="SU01", study=cast.study)
    Participant.objects.filter(pk=su01.pk).update(consent_state="withdrawn_delete")
    job = job_create(study=cast.study, kind="participant_purge", created_by=u["admin"], perm=Perm.CONSENT_MANAGE,
                     params={"participant_id": su01.pk}, task=participant_purge)
    participant_services.participant_purge_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error

    for marker in MARKERS:
        assert rows_containing(marker) == [], marker
        for path in written:
            if path.exists():
                assert marker.encode() not in path.read_bytes(), (marker, path)
    assert not any(p.exists() for p in written - before_files if "jobs" in p.parts)
    for j in (report, audit, people):
        j.refresh_from_db()
        assert not j.result_file
    assert report.result == {"Result deleted": PURGED_NOTE}
    resolve = AuditEvent.objects.get(action="coding.disagreement_resolve")
    assert resolve.details["note_written"] is True
    assert job.result["removed: job_results"] >= 1
