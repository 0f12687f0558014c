"""Each transcript's recorded newline offsets (``Transcript.newlines``), from which the pages of segments
number lines: every write path of a transcript's text keeps them, and a line found from them is the line
``text.count("\\n", 0, offset) + 1`` counts, at every offset (code points: emoji, accents; no CR, which the
importers normalise away). The REFI-QDA import's path is tested in tests/interop/test_project_lines.py."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.transcripts.models import Transcript
from analysis.transcripts.selectors import transcript_lines_at
from analysis.transcripts.services import imports, redaction
from analysis.transcripts.services.imports import Upload
from analysis.transcripts.text import line_in, newline_offsets
from jobs.models import Job
from participants.models import Participant
from tests.factories import participant_row

EMOJI_TEXT = "Interview X\n\nInterviewer: 👍🏽 how?\nSU01: Zoë 𝄞 said 🇬🇧\n\n\nfine\nend"


def assert_lines_recorded(t: Transcript) -> None:
    """The stored offsets are the text's newlines, and every offset's line agrees with counting."""
    t.refresh_from_db()
    assert t.newlines == [i for i, ch in enumerate(t.text) if ch == "\n"]
    for offset in range(len(t.text) + 1):
        assert line_in(t.newlines, offset) == t.text.count("\n", 0, offset) + 1
    sample = [(t.pk, o) for o in range(0, len(t.text) + 1, 7)] + [(t.pk, len(t.text))]
    assert transcript_lines_at(offsets=sample) == {(tid, o): t.text.count("\n", 0, o) + 1 for tid, o in sample}


def test_offsets_and_lines_count_code_points() -> None:
    text = EMOJI_TEXT
    offsets = newline_offsets(text)
    assert offsets == [i for i, ch in enumerate(text) if ch == "\n"]
    assert all(line_in(offsets, o) == text.count("\n", 0, o) + 1 for o in range(len(text) + 2))
    assert newline_offsets("") == []
    assert line_in([], 0) == 1
    assert newline_offsets("no newline 👍") == []


def test_single_upload_records_them(t_north: Transcript) -> None:
    assert "👍" in t_north.text  # SU01's interview: an emoji and accents before later lines
    assert_lines_recorded(t_north)


def test_bulk_import_job_records_them(cast: Any) -> None:
    people = [participant_row(cast, f"SU{i:02d}", "service_user", cast.north) for i in range(1, 4)]
    uploads = [Upload(f"{p.pseudonym}.txt", f"Interviewer: {i} 👍\n{p.pseudonym}: Zoë 𝄞\n\nmore\n{EMOJI_TEXT}".encode())
               for i, p in enumerate(people)]
    batch = imports.import_preview(actor=cast.users["lead"], study_id=cast.study.pk, uploads=uploads)
    job = Job.objects.create(study=cast.study, kind="transcript_import", created_by=cast.users["lead"],
                             params={"batch": batch.pk})
    type(batch).objects.filter(pk=batch.pk).update(job=job, status="queued")
    imports.import_run(job_id=job.pk)
    transcripts = list(Transcript.objects.filter(participant__in=people))
    assert len(transcripts) == 3
    for t in transcripts:
        assert_lines_recorded(t)


def test_every_edit_keeps_them(cast: Any, t_north: Transcript) -> None:
    lead, sid, tid = cast.users["lead"], cast.study.pk, t_north.pk
    text = t_north.text
    # A replacement that adds lines (with an emoji) before others.
    s = text.index("John Smith")
    r1 = redaction.transcript_replace(actor=lead, study_id=sid, transcript_id=tid, start=s, end=s + 10,
                                      expected="John Smith", replacement="[NAME]\n👍\n", base_version=1)
    assert_lines_recorded(r1.transcript)
    # One that removes lines: the blank line and the next question.
    t = Transcript.objects.get(pk=tid)
    s = t.text.index("\n\nInterviewer: What")
    r2 = redaction.transcript_replace(actor=lead, study_id=sid, transcript_id=tid, start=s, end=s + 20,
                                      expected=t.text[s:s + 20], replacement=" ", base_version=2)
    assert_lines_recorded(r2.transcript)
    # Find and replace all, then reverting both.
    r3 = redaction.transcript_replace_all(actor=lead, study_id=sid, transcript_id=tid, find="café",
                                          replacement="café\n🇬🇧", base_version=3)
    assert_lines_recorded(r3.transcript)
    redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r3.edit.pk)
    redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r2.edit.pk)
    r6 = redaction.transcript_edit_revert(actor=lead, study_id=sid, transcript_id=tid, edit_id=r1.edit.pk)
    assert r6.transcript.text == text
    assert_lines_recorded(r6.transcript)


def test_a_transcript_written_without_them_is_counted_in_its_text(cast: Any, t_north: Transcript) -> None:
    Transcript.objects.filter(pk=t_north.pk).update(newlines=None)
    text = t_north.text
    wanted = [(t_north.pk, o) for o in range(len(text) + 1)]
    assert transcript_lines_at(offsets=wanted) == {(tid, o): text.count("\n", 0, o) + 1 for tid, o in wanted}
    assert transcript_lines_at(offsets=[]) == {}


@pytest.mark.parametrize("blank", [False, True])
def test_pages_of_segments_number_lines_as_the_text_counts_them(cast: Any, t_north: Transcript, blank: bool) -> None:
    """A code's segments page, a matrix cell's page and a theme's page, after an edit added lines above the
    codings, give the line the text counts (from the recorded offsets, or from the text when none were
    recorded)."""
    from analysis.coding.selectors import retrieval
    from analysis.coding.services import codebook
    from analysis.coding.services import codings as coding_services
    from analysis.matrices import selectors as matrix_selectors

    lead, sid = cast.users["lead"], cast.study.pk
    cues = codebook.code_create(actor=lead, study_id=sid, name="Loss of non-verbal cues")
    s = t_north.text.index("John Smith")
    redaction.transcript_replace(actor=lead, study_id=sid, transcript_id=t_north.pk, start=s, end=s + 10,
                                 expected="John Smith", replacement="[NAME]\n\n🇬🇧\n", base_version=1)
    t = Transcript.objects.get(pk=t_north.pk)
    spans = [(t.text.index(w), t.text.index(w) + len(w)) for w in ("you cannot see", "I was phoning the café")]
    for start, end in spans:
        coding_services.coding_create(actor=lead, study_id=sid, transcript_id=t.pk, code_id=cues.pk,
                                      start=start, end=end)
    if blank:
        Transcript.objects.filter(pk=t.pk).update(newlines=None)

    def line(o: int) -> int:
        return t.text.count("\n", 0, o) + 1

    page = retrieval.segments_page(user=lead, study_id=sid, code=cues)
    assert [(x.start_line, x.end_line) for x in page.segments] == [(line(a), line(b - 1)) for a, b in spans]
    for seg in page.segments:
        for turn in seg.turns:
            assert turn.line == line(t.text.index(turn.before + turn.coded + turn.after))

    spec = matrix_selectors.spec_parse({"columns": "codes", "column_ids": [cues.pk]})
    result = matrix_selectors.result_json(matrix_selectors.crosstab_compute(user=lead, study_id=sid, spec=spec))
    row = next(i for i, r in enumerate(result["rows"]) if r["id"] == Participant.objects.get(pk=t.participant_id).group_id)
    cell = matrix_selectors.crosstab_cell(user=lead, study_id=sid, spec=spec, result=result, row=row, column=0, page_n=1)
    assert [(x.start, x.line) for x in cell.segments] == [(a, line(a)) for a, _b in spans]
    assert [x.before[-20:] + x.text + x.after[:20] for x in cell.segments] == [
        t.text[max(0, a - 20):b + 20] for a, b in spans]

    from analysis.themes.selectors.themes import theme_segments_page
    from analysis.themes.services.themes import theme_create

    theme = theme_create(actor=lead, study_id=sid, name="Presence", code_ids=[cues.pk])
    group_id = Participant.objects.get(pk=t.participant_id).group_id
    theme_page = theme_segments_page(user=lead, study_id=sid, theme=theme, group_id=group_id)
    assert [(x.text, x.line) for x in theme_page.segments] == [(t.text[a:b], line(a)) for a, b in spans]
