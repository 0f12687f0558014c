"""Fixtures for REFI-QDA projects: a generated study (../shared/tools/make_study.py) and hand-made
projects with the quirks of real tools."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Site
from participants.models import ConsentState, Participant

CONSENTED = {"take_part": True, "transcription": True, "anonymised_quotes": True, "data_archiving": True}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` of the checkout, or of a parent folder (a git worktree sits one level deeper)."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "shared" / "tools" / "make_study.py").exists():
            return folder / "shared"
    pytest.skip("../shared (the study generator) is absent: this test needs the shared test data")


@pytest.fixture(scope="session")
def generated(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("study")
    subprocess.run([sys.executable, str(shared_dir / "tools" / "make_study.py"), str(out), "--participants", "6",
                    "--chars", "2500", "--seed", "3"], check=True, capture_output=True)
    return out


def add_participants(cast: Any, folder: Path, *, study: Any = None, attributes: bool = False,
                     state: str = ConsentState.CONSENTED, answers: dict[str, Any] | None = None) -> list[Participant]:
    study = study or cast.study
    out = []
    with open(folder / "participants.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            site, _ = Site.objects.get_or_create(study=study, name=row["site"])
            out.append(Participant.objects.create(
                study=study, pseudonym=row["participant_id"], group=study.groups.get(key=row["group"]), site=site,
                consent_state=state, consent_answers=answers if answers is not None else CONSENTED,
                created_by=cast.users["admin"],
                attributes={"age_band": row["age_band"]} if attributes else {},
            ))
    return out


def qdpx(qde: str | bytes, files: dict[str, bytes] | None = None, *, qde_name: str = "project.qde") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(qde_name, qde.encode("utf-8") if isinstance(qde, str) else qde)
        for name, data in (files or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def source_texts(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("sources/")}


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Outside the ``job`` tests, the import and export tasks run in this process when enqueued, also
    when REDIS_URL is set (CI): those tests read the job's outcome inside their own transaction, which
    a worker process cannot see. ``test_project_jobs.py`` runs them through the real worker."""
    if request.node.get_closest_marker("job"):
        yield
        return
    from config.celery import app

    # Jobs are sent by task name (jobs.services.job_send): run every task eagerly instead.
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved
