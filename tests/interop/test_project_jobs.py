"""The import and export jobs through the configured worker: a real Celery worker with Redis and
PostgreSQL when REDIS_URL is set (CI), eager tasks otherwise."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from analysis.coding.models import Coding
from analysis.transcripts.models import Transcript
from interop.services import exports, imports

from .conftest import add_participants

pytestmark = pytest.mark.job


def test_import_then_export_in_the_worker(cast: Any, generated: Path, run_jobs: Any) -> None:
    add_participants(cast, generated)
    lead = cast.users["lead"]
    data = (generated / "study.qdpx").read_bytes()
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx", data=data)
    record = imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    job = run_jobs(record.job_id)
    assert job.status == "done", job.error
    assert job.result["Transcripts added"] == Transcript.objects.filter(study=cast.study).count() == 6
    assert job.result["Codings added"] == Coding.objects.filter(study=cast.study).count() == record.preview["codings"]
    export = exports.project_export_start(actor=lead, study_id=cast.study.pk, sel=exports.Selection([], [], [], []))
    job = run_jobs(export.pk)
    assert job.status == "done", job.error
    with job.result_file.open("rb") as f, zipfile.ZipFile(io.BytesIO(f.read())) as z:
        assert exports.project_validate(z.read("project.qde")) == []
