"""Correctness against the study generator's ground truth (``../shared/tools/make_study.py``).

The generated study is loaded as a team would load it: participants from participants.csv, their
consent from consent.csv (withdrawals included), then study.qdpx through the REFI-QDA project import.
The code × group and theme × group matrices for coder_a must reproduce expected.json exactly — a
count computed by the generator independently of Chorus."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accounts.models import ParticipantGroup, Site, User
from analysis.coding.models import Code
from analysis.matrices.selectors import matrix_compute, spec_parse
from analysis.themes.services.themes import theme_create
from interop.services import imports
from participants.models import ConsentState, Participant

pytestmark = pytest.mark.django_db
# ../shared of the checkout, or of a parent folder (a git worktree sits one level deeper).
SHARED = next((f / "shared" for f in Path(__file__).resolve().parents
               if (f / "shared" / "tools" / "make_study.py").exists()), Path("/nonexistent"))
ANSWERS = {"take_part": True, "transcription": True, "anonymised_quotes": True}
WITHDRAWN = {"retain_data": ConsentState.WITHDRAWN_RETAIN, "delete_data": ConsentState.WITHDRAWN_DELETE}


def _generate(tmp: Path, *args: str) -> Path:
    tool = SHARED / "tools" / "make_study.py"
    if not tool.exists():
        pytest.skip("../shared (the study generator) is absent: this test needs the shared test data")
    subprocess.run([sys.executable, str(tool), str(tmp), *args], check=True, capture_output=True)
    return tmp


@pytest.fixture(autouse=True)
def _import_in_process() -> Any:
    """The import job runs in this process (also with REDIS_URL set): a worker could not see the test's
    transaction. Jobs are sent by task name, so eager mode."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def _load(cast: Any, folder: Path, capture: Any) -> User:
    study, admin, lead = cast.study, cast.users["admin"], cast.users["lead"]
    with open(folder / "participants.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            site, _ = Site.objects.get_or_create(study=study, name=row["site"])
            Participant.objects.create(study=study, pseudonym=row["participant_id"], group=cast.group(row["group"]),
                                       site=site, consent_state=ConsentState.CONSENTED, consent_answers=ANSWERS,
                                       created_by=admin, attributes={"age_band": row["age_band"]})
    record = imports.project_import_preview(actor=lead, study_id=study.pk, filename="study.qdpx",
                                            data=(folder / "study.qdpx").read_bytes())
    with capture(execute=True):
        imports.project_import_start(actor=lead, study_id=study.pk, import_id=record.pk)
    # Withdrawals after the import, as they happen in a study: the matrix must apply them.
    with open(folder / "consent.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["event"] == "withdrawal":
                Participant.objects.filter(study=study, pseudonym=row["participant_id"]).update(
                    consent_state=WITHDRAWN[row["withdrawal_scope"]])
    return User.objects.get(full_name__icontains="coder_a")


def _as_expected(result: Any) -> dict[str, dict[str, dict[str, int]]]:
    keys = dict(ParticipantGroup.objects.values_list("pk", "key"))
    out: dict[str, dict[str, dict[str, int]]] = {}
    for j, col in enumerate(result.columns):
        out[col.label] = {keys[row.id]: {"participants": result.cells[i][j]["participants"],
                                         "segments": result.cells[i][j]["segments"]}
                          for i, row in enumerate(result.rows)}
    return out


@pytest.mark.parametrize("args", [(), ("--participants", "24", "--chars", "8000", "--seed", "11")],
                         ids=["default-seed", "seed-11-24-participants"])
def test_code_and_theme_by_group_reproduce_expected_json(cast: Any, args: tuple[str, ...], tmp_path: Path,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    folder = _generate(tmp_path / "study", *args)
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    coder_a = _load(cast, folder, django_capture_on_commit_callbacks)
    lead, sid = cast.users["lead"], cast.study.pk
    codes = {c.name: c.pk for c in Code.objects.filter(study_id=sid, is_codable=True)}
    for name, members in json.loads((folder / "themes.json").read_text(encoding="utf-8")).items():
        theme_create(actor=lead, study_id=sid, name=name, code_ids=[codes[m] for m in members])

    by_code = matrix_compute(user=lead, study_id=sid, spec=spec_parse({"coder": str(coder_a.pk)}))
    groups = {cast.group(k).pk: k for k in expected["groups"]}
    assert {groups[r.id]: by_code.row_bases[i] for i, r in enumerate(by_code.rows)} == expected["groups"]
    got = _as_expected(by_code)
    assert {k: got[k] for k in expected["codes"]} == expected["codes"]

    by_theme = matrix_compute(user=lead, study_id=sid, spec=spec_parse({"coder": str(coder_a.pk), "columns": "themes"}))
    assert _as_expected(by_theme) == expected["themes"]
