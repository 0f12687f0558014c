"""Transcript creation, consent refusals, redaction with re-anchoring, revert, purge, bulk import."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from analysis.transcripts.importers import parse_transcript
from analysis.transcripts.models import ItemStatus, Transcript, TranscriptEdit, TranscriptTurn
from analysis.transcripts.services import imports, redaction
from analysis.transcripts.services.imports import Upload
from analysis.transcripts.services.transcripts import transcript_create, transcripts_purge
from participants.models import ConsentState
from tests.factories import SU01_TEXT, participant_row


def test_create_stores_text_turns_metadata_and_hash(t_north: Transcript) -> None:
    t = t_north
    assert t.text == SU01_TEXT.strip("\n")
    assert t.interview_mode == "telephone"
    assert str(t.interview_date) == "2020-06-20"
    assert len(t.original_sha256) == 64
    assert t.original_file
    turns = list(t.turns.order_by("index"))
    assert [x.role for x in turns] == ["other", "interviewer", "participant", "interviewer", "participant"]
    for turn in turns:
        assert turn.text == t.text[turn.start:turn.end]
    assert AuditEvent.objects.filter(action="transcript.import", object_id=str(t.pk)).exists()


@pytest.mark.parametrize(("state", "answers", "reason"), [
    (ConsentState.NONE, {}, "no consent recorded"),
    (ConsentState.WITHDRAWN_RETAIN, {"transcription": True}, "withdrawn"),
    (ConsentState.WITHDRAWN_DELETE, {"transcription": True}, "deleted"),
    (ConsentState.CONSENTED, {"take_part": True, "transcription": False}, "transcription"),
])
def test_upload_refused_without_consent(cast: Any, state: str, answers: dict[str, Any], reason: str) -> None:
    p = participant_row(cast, "CA09", "carer", cast.north, state=state, answers=answers)
    parsed = parse_transcript(b"Interviewer: hi\nCA09: hello", pseudonym="CA09")
    with pytest.raises(ValidationError, match=reason):
        transcript_create(actor=cast.users["lead"], study_id=cast.study.pk, participant_id=p.pk, parsed=parsed)
    assert not Transcript.objects.filter(participant=p).exists()


def test_coder_cannot_upload(cast: Any, su01: Any) -> None:
    from django.core.exceptions import PermissionDenied

    parsed = parse_transcript(b"Interviewer: hi", pseudonym="SU01")
    with pytest.raises(PermissionDenied):
        transcript_create(actor=cast.users["coder"], study_id=cast.study.pk, participant_id=su01.pk, parsed=parsed)


def test_replace_selection_reanchors_turns_and_versions(cast: Any, t_north: Transcript) -> None:
    t = t_north
    start = t.text.index("John Smith")
    res = redaction.transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t.pk,
                                       start=start, end=start + 10, expected="John Smith", replacement="[NAME]",
                                       base_version=1)
    t.refresh_from_db()
    assert "John Smith" not in t.text
    assert "[NAME]" in t.text
    assert t.version == 2
    for turn in t.turns.all():
        assert turn.text == t.text[turn.start:turn.end]
    assert res.edit.ops == [[start, start + 10, "John Smith", "[NAME]"]]
    assert res.edit.report["transcripts.TranscriptTurn"]["changed"]
    assert AuditEvent.objects.filter(action="transcript.replace").exists()


def test_stale_version_or_text_conflicts(cast: Any, t_north: Transcript) -> None:
    s = t_north.text.index("John")
    with pytest.raises(redaction.EditConflict):
        redaction.transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                     start=s, end=s + 4, expected="John", replacement="X", base_version=5)
    with pytest.raises(redaction.EditConflict):
        redaction.transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                     start=s, end=s + 4, expected="Jane", replacement="X", base_version=1)


def test_replace_all_renames_speakers_and_reverts(cast: Any, t_north: Transcript) -> None:
    lead, sid, tid = cast.users["lead"], cast.study.pk, t_north.pk
    original = t_north.text
    spans_before = list(t_north.turns.order_by("index").values_list("start", "end"))
    r1 = redaction.transcript_replace_all(actor=lead, study_id=sid, transcript_id=tid, find="SU01",
                                          replacement="P1", base_version=1)
    t = Transcript.objects.get(pk=tid)
    assert "SU01" not in t.text
    assert set(t.turns.values_list("speaker", flat=True)) == {"", "Interviewer", "P1"}
    r2 = redaction.transcript_replace_all(actor=lead, study_id=sid, transcript_id=tid, find="café",
                                          replacement="[PLACE]", base_version=2)
    # Revert the first edit on its own: the second did not touch its text.
    redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r1.edit.pk)
    t.refresh_from_db()
    assert "SU01" in t.text
    assert "[PLACE]" in t.text
    assert t.version == 4
    redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r2.edit.pk)
    t.refresh_from_db()
    assert t.text == original
    assert list(t.turns.order_by("index").values_list("start", "end")) == spans_before
    with pytest.raises(ValidationError, match="already been reverted"):
        redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r1.edit.pk)
    assert TranscriptEdit.objects.filter(transcript_id=tid).count() == 4


def test_revert_refused_when_a_later_edit_changed_the_same_text(cast: Any, t_north: Transcript) -> None:
    lead, sid, tid = cast.users["lead"], cast.study.pk, t_north.pk
    r1 = redaction.transcript_replace_all(actor=lead, study_id=sid, transcript_id=tid, find="John Smith",
                                          replacement="[NAME]", base_version=1)
    redaction.transcript_replace_all(actor=lead, study_id=sid, transcript_id=tid, find="[NAME]",
                                     replacement="[PERSON]", base_version=2)
    with pytest.raises(ValidationError, match="Revert that one first"):
        redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r1.edit.pk)


def test_deleting_a_whole_turn_reports_it_lost(cast: Any, t_north: Transcript) -> None:
    turn = t_north.turns.get(index=3)  # "What was that like?"
    res = redaction.transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                       start=turn.start, end=turn.end, expected=turn.text, replacement="",
                                       base_version=1)
    assert res.edit.report["transcripts.TranscriptTurn"]["lost"] == [turn.pk]
    turn.refresh_from_db()
    assert turn.start == turn.end
    assert turn.text == ""


def test_registry_reanchors_every_registered_model(cast: Any, t_north: Transcript, settings: Any) -> None:
    """What redaction calls: each model in CHORUS_ANCHORED_MODELS is moved through the edit batch."""
    from analysis.transcripts.services.anchors import anchored_models, reanchor
    from analysis.transcripts.text import Edit, EditMap

    assert "transcripts.TranscriptTurn" in [a.label for a in anchored_models()]
    first = t_north.turns.get(index=1)
    reports = reanchor(transcript_id=t_north.pk, edit_map=EditMap([Edit(0, 9, "")]))  # "Interview" removed
    assert reports["transcripts.TranscriptTurn"].moved == 5
    assert reports["transcripts.TranscriptTurn"].changed == [t_north.turns.get(index=0).pk]
    moved = t_north.turns.get(index=1)
    assert (moved.start, moved.end) == (first.start - 9, first.end - 9)


def test_coder_cannot_edit(cast: Any, t_north: Transcript) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        redaction.transcript_replace_all(actor=cast.users["coder"], study_id=cast.study.pk,
                                         transcript_id=t_north.pk, find="John", replacement="X", base_version=1)


def test_purger_removes_transcripts_and_files(
    cast: Any, t_north: Transcript, su01: Any, django_capture_on_commit_callbacks: Any
) -> None:
    path = t_north.original_file.path
    with django_capture_on_commit_callbacks(execute=True):
        counts = transcripts_purge(participant=su01)
    assert counts["transcripts"] == 1
    assert counts["speaker turns"] == 5
    assert not Transcript.objects.filter(participant=su01).exists()
    assert not TranscriptTurn.objects.filter(transcript_id=t_north.pk).exists()
    import os

    assert not os.path.exists(path)


def test_purger_is_registered(settings: Any) -> None:
    assert "analysis.transcripts.services.transcripts.transcripts_purge" in settings.CHORUS_PURGERS


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_bulk_preview_matches_and_refuses_per_file(cast: Any, su01: Any, st01: Any) -> None:
    withdrawn = participant_row(cast, "CA01", "carer", cast.north, state=ConsentState.WITHDRAWN_RETAIN)
    assert withdrawn
    uploads = [
        Upload("SU01.txt", b"Interviewer: hi\nSU01: hello"),
        Upload("ST01 interview.vtt", b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v ST01>yes</v>\n"),
        Upload("CA01.txt", b"Interviewer: hi"),
        Upload("XX99.txt", b"Interviewer: hi"),
        Upload("empty.txt", b""),
        Upload("bad.zip", _zip({"../evil.txt": b"x"})),
        Upload("nested.zip", _zip({"inner.zip": _zip({"SU01.txt": b"x"})})),
    ]
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk, uploads=uploads)
    items = {i.filename: i for i in batch.items.all()}
    assert items["SU01.txt"].status == ItemStatus.READY
    assert items["SU01.txt"].participant == su01
    assert items["ST01 interview.vtt"].status == ItemStatus.READY
    assert "withdrawn" in items["CA01.txt"].message
    assert "No participant" in items["XX99.txt"].message
    assert items["empty.txt"].status == ItemStatus.REFUSED
    assert "unsafe path" in items["bad.zip"].message
    assert "another zip" in items["nested.zip"].message
    # Refused files are not stored.
    assert all(not i.staged_file for i in items.values() if i.status == ItemStatus.REFUSED)


def test_bulk_zip_expands(cast: Any, su01: Any, st01: Any) -> None:
    data = _zip({"batch/SU01.txt": b"Interviewer: a\nSU01: b", "batch/ST01.txt": b"Interviewer: a\nST01: b",
                 "__MACOSX/._SU01.txt": b"junk"})
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk, uploads=[Upload("all.zip", data)])
    assert sorted(batch.items.values_list("filename", "status")) == [("ST01.txt", "ready"), ("SU01.txt", "ready")]


def test_scoped_uploader_cannot_match_out_of_scope(cast: Any, su01: Any) -> None:
    # A lead scoped to South cannot import for a North participant: it is "no participant".
    m = cast.memberships["lead"]
    m.scope_sites.set([cast.south])
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk,
                                   uploads=[Upload("SU01.txt", b"Interviewer: hi")])
    assert "No participant" in batch.items.get().message


@pytest.mark.job
def test_bulk_import_job_end_to_end(cast: Any, run_jobs: Any, su01: Any, st01: Any) -> None:
    uploads = [Upload("SU01.txt", SU01_TEXT.encode()), Upload("ST01.srt", b"1\n00:00:01,000 --> 00:00:02,000\nST01: yes\n"),
               Upload("nobody.txt", b"x")]
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk, uploads=uploads)
    batch = imports.import_commit(actor=cast.users["lead"], study_id=cast.study.pk, batch_id=batch.pk)
    job = run_jobs(batch.job_id)
    assert job.status == "done", job.error
    assert job.result == {"imported": 2, "not imported": 0}
    assert Transcript.objects.filter(study=cast.study).count() == 2
    batch.refresh_from_db()
    assert batch.status == "done"
    assert batch.items.filter(status=ItemStatus.IMPORTED).count() == 2


@pytest.mark.job
def test_generated_study_imports_in_one_go(cast: Any, run_jobs: Any, tmp_path: Any, shared_dir: Any) -> None:
    import csv
    import subprocess
    import sys

    subprocess.run([sys.executable, str(shared_dir / "tools" / "make_study.py"), str(tmp_path / "s"),
                    "--participants", "8", "--chars", "2000"], check=True, capture_output=True)
    with open(tmp_path / "s" / "participants.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            participant_row(cast, row["participant_id"], row["group"], cast.north)
    uploads = [Upload(p.name, p.read_bytes()) for p in sorted((tmp_path / "s" / "transcripts").iterdir())]
    batch = imports.import_preview(actor=cast.users["admin"], study_id=cast.study.pk, uploads=uploads)
    assert batch.items.filter(status="ready").count() == 8
    batch = imports.import_commit(actor=cast.users["admin"], study_id=cast.study.pk, batch_id=batch.pk)
    job = run_jobs(batch.job_id)
    assert job.result == {"imported": 8, "not imported": 0}
