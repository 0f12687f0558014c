"""The bulk import's write path (issue 12): the preview's parse is kept and reused, a chunk of files is one
transaction written in a few statements (COPY on PostgreSQL, bulk inserts elsewhere), a failure half-way
through a chunk leaves nothing of it, and a file refused at import time does not stop the others."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import AuditEvent
from analysis.transcripts.importers import parse_transcript
from analysis.transcripts.importers.base import parsed_dump, parsed_load
from analysis.transcripts.models import ItemStatus, Transcript, TranscriptImport, TranscriptTurn
from analysis.transcripts.services import imports
from analysis.transcripts.services import transcripts as transcript_services
from analysis.transcripts.services.imports import Upload
from jobs.models import Job
from participants.models import ConsentState, Participant
from tests.factories import participant_row


def _people(cast: Any, n: int) -> list[Participant]:
    return [participant_row(cast, f"SU{i:02d}", "service_user", cast.north) for i in range(1, n + 1)]


def _text(p: Participant, i: int) -> bytes:
    # Emoji and accents: offsets are code points, COPY and the ORM must store the same characters.
    return (f"Interview {p.pseudonym}, telephone\nInterviewer: How was it, {i}?\n{p.pseudonym}: Fine 👍 café, "
            f"line {i}.\nmore of it\nInterviewer: Thanks.").encode()


def _preview(cast: Any, people: list[Participant]) -> TranscriptImport:
    uploads = [Upload(f"{p.pseudonym}.txt", _text(p, i)) for i, p in enumerate(people)]
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk, uploads=uploads)
    assert batch.items.filter(status=ItemStatus.READY).count() == len(people)
    return batch


def _run(cast: Any, batch: TranscriptImport) -> Job:
    """The import job's work in-process, as the Celery task runs it."""
    job = Job.objects.create(study=cast.study, kind="transcript_import", created_by=cast.users["lead"],
                             params={"batch": batch.pk})
    TranscriptImport.objects.filter(pk=batch.pk).update(job=job, status="queued")
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _assert_complete(p: Participant, i: int) -> None:
    (t,) = Transcript.objects.filter(participant=p)
    expected = parse_transcript(_text(p, i), filename=f"{p.pseudonym}.txt", pseudonym=p.pseudonym)
    assert t.text == expected.text
    turns = list(t.turns.order_by("index"))
    assert [(x.speaker, x.role, x.start, x.end) for x in turns] == [
        (e.speaker, e.role, e.start, e.end) for e in expected.turns]
    assert all(x.text == t.text[x.start:x.end] for x in turns)
    assert t.original_file
    assert t.original_file.read() == _text(p, i)
    assert AuditEvent.objects.filter(action="transcript.import", object_id=str(t.pk)).count() == 1


def test_parsed_round_trip() -> None:
    parsed = parse_transcript("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v SU01>yes 👍</v>\n".encode(),
                              pseudonym="SU01")
    back = parsed_load(parsed_dump(parsed))
    assert (back.text, back.turns, back.format, back.encoding, back.warnings) == (
        parsed.text, parsed.turns, parsed.format, parsed.encoding, parsed.warnings)
    with pytest.raises(ValueError):
        parsed_load(b"not zlib")


def test_job_reuses_the_preview_parse(cast: Any, settings: Any, monkeypatch: Any) -> None:
    settings.CHORUS_IMPORT_CHUNK = 2
    people = _people(cast, 3)
    batch = _preview(cast, people)
    assert all(i.parsed for i in batch.items.all())

    def no_second_parse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the job parsed a file again")

    monkeypatch.setattr(imports, "parse_transcript", no_second_parse)
    job = _run(cast, batch)
    assert job.status == "done", job.error
    assert job.result == {"imported": 3, "not imported": 0}
    for i, p in enumerate(people):
        _assert_complete(p, i)
    # The kept parse goes once the file is imported.
    assert list(batch.items.values_list("parsed", flat=True)) == [None] * 3


def test_job_parses_the_staged_file_when_no_parse_was_kept(cast: Any, settings: Any) -> None:
    settings.CHORUS_IMPORT_CHUNK = 25
    people = _people(cast, 2)
    batch = _preview(cast, people)
    batch.items.update(parsed=None)  # an import previewed before the parse was kept
    job = _run(cast, batch)
    assert job.result == {"imported": 2, "not imported": 0}
    for i, p in enumerate(people):
        _assert_complete(p, i)


def test_a_failure_half_way_through_a_chunk_leaves_nothing_of_it(
    cast: Any, settings: Any, monkeypatch: Any,
) -> None:
    settings.CHORUS_IMPORT_CHUNK = 2
    people = _people(cast, 4)
    batch = _preview(cast, people)
    real = transcript_services._insert_turns
    calls = []

    def fail_second_chunk(transcripts: list[Transcript], entries: list[Any]) -> None:
        calls.append(len(transcripts))
        if len(calls) == 2:  # the chunk's transcripts are written, its turns not yet
            raise RuntimeError("the database went away mid-chunk")
        real(transcripts, entries)

    monkeypatch.setattr(transcript_services, "_insert_turns", fail_second_chunk)
    job = _run(cast, batch)
    assert job.status == "failed"
    # The first chunk is in, whole; of the second nothing: no transcript, turn, audit event or mark.
    assert set(Transcript.objects.filter(study=cast.study).values_list("participant__pseudonym", flat=True)) == {
        "SU01", "SU02"}
    assert TranscriptTurn.objects.filter(transcript__participant__in=people[2:]).count() == 0
    assert AuditEvent.objects.filter(action="transcript.import").count() == 2
    assert list(batch.items.order_by("position").values_list("status", flat=True)) == [
        "imported", "imported", "ready", "ready"]
    assert all(i.parsed for i in batch.items.filter(status="ready"))

    # Started again, the import continues with the files not yet imported, each once.
    monkeypatch.setattr(transcript_services, "_insert_turns", real)
    job = _run(cast, batch)
    assert job.status == "done", job.error
    assert job.result == {"imported": 4, "not imported": 0}
    for i, p in enumerate(people):
        _assert_complete(p, i)


def test_a_file_refused_at_import_time_does_not_stop_its_chunk(cast: Any, settings: Any) -> None:
    settings.CHORUS_IMPORT_CHUNK = 25
    people = _people(cast, 3)
    batch = _preview(cast, people)
    # Between the preview and the job: one participant withdraws, one file's staged copy is lost.
    Participant.objects.filter(pk=people[1].pk).update(consent_state=ConsentState.WITHDRAWN_DELETE)
    lost = batch.items.get(participant=people[2])
    lost.staged_file.storage.delete(lost.staged_file.name)
    job = _run(cast, batch)
    assert job.result == {"imported": 1, "not imported": 2}
    items = {i.participant_id: i for i in batch.items.all()}
    assert items[people[0].pk].status == "imported"
    _assert_complete(people[0], 0)
    assert (items[people[1].pk].status, "deleted" in items[people[1].pk].message) == ("failed", True)
    assert (items[people[2].pk].status, "no longer available" in items[people[2].pk].message) == ("failed", True)
    assert not Transcript.objects.filter(participant__in=people[1:]).exists()
    assert [i.parsed for i in items.values()] == [None] * 3


def test_a_second_interview_is_numbered_in_bulk_as_one_by_one(cast: Any, settings: Any) -> None:
    settings.CHORUS_IMPORT_CHUNK = 25
    (p,) = _people(cast, 1)
    first = transcript_services.transcript_create(
        actor=cast.users["lead"], study_id=cast.study.pk, participant_id=p.pk,
        parsed=parse_transcript(b"Interviewer: one\nSU01: two", pseudonym="SU01"), original=b"x")
    assert first.title == "Interview SU01"
    job = _run(cast, _preview(cast, [p]))
    assert job.result == {"imported": 1, "not imported": 0}
    assert sorted(Transcript.objects.filter(participant=p).values_list("title", flat=True)) == [
        "Interview SU01", "Interview SU01 (2)"]
