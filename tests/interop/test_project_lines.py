"""The REFI-QDA import records each transcript's newline offsets (``Transcript.newlines``) as the other
write paths do (tests/transcripts/test_line_index.py): lines found from them are the lines counted in the
text, at every offset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analysis.transcripts.models import Transcript
from interop.services import imports
from jobs.models import Job, JobStatus
from tests.transcripts.test_line_index import assert_lines_recorded

from .conftest import add_participants

pytestmark = pytest.mark.django_db


def test_imported_transcripts_record_their_newlines(cast: Any, generated: Path,
                                                    django_capture_on_commit_callbacks: Any) -> None:
    add_participants(cast, generated)
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="study.qdpx",
                                            data=(generated / "study.qdpx").read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        record = imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    record.refresh_from_db()
    assert Job.objects.get(pk=record.job_id).status == JobStatus.DONE
    transcripts = list(Transcript.objects.filter(study=cast.study))
    assert len(transcripts) == 6
    for t in transcripts:
        assert t.text.count("\n") > 5
        assert_lines_recorded(t)
