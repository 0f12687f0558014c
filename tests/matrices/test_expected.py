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
from analysis.matrices.engine import matrix_compute
from analysis.matrices.selectors import spec_parse
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


def test_cooccurrence_matches_a_python_count_on_the_generated_study(
        cast: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    """Code co-occurrence for both coders, against pairs counted in Python from the stored codings and turns
    (withdrawn-delete participants left out, withdrawn-retain kept): an independent count of the same
    definitions (docs/matrices.md)."""
    from collections import defaultdict
    from itertools import combinations

    from analysis.coding.models import Coding
    from analysis.transcripts.models import TranscriptTurn

    folder = _generate(tmp_path / "study", "--participants", "24", "--chars", "8000", "--seed", "5")
    _load(cast, folder, django_capture_on_commit_callbacks)
    sid = cast.study.pk
    result = matrix_compute(user=cast.users["lead"], study_id=sid, spec=spec_parse({"rows": "codes"}))
    rows = list(Coding.objects.filter(study_id=sid, lost=False, code__is_codable=True)
                .exclude(transcript__participant__consent_state=ConsentState.WITHDRAWN_DELETE)
                .values_list("code_id", "transcript_id", "start", "end", "transcript__participant_id"))
    turns = defaultdict(list)
    for tid, turn_id, s, e in TranscriptTurn.objects.filter(study_id=sid).values_list("transcript_id", "id", "start",
                                                                                        "end"):
        turns[tid].append((turn_id, s, e))
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    people: dict[int, set[int]] = defaultdict(set)
    touched: dict[int, set[int]] = defaultdict(set)
    by_transcript = defaultdict(list)
    for code, tid, s, e, person in rows:
        by_transcript[tid].append((code, s, e))
        people[code].add(person)
        touched[code] |= {u for u, us, ue in turns[tid] if us < e and s < ue}
        pairs[(code, code)] += 1
    for items in by_transcript.values():
        for (c1, s1, e1), (c2, s2, e2) in combinations(items, 2):
            if c1 != c2 and s1 < e2 and s2 < e1:
                pairs[(c1, c2)] += 1
                pairs[(c2, c1)] += 1
    ids = [c.id for c in result.columns]
    assert sum(pairs[(a, b)] for a in ids for b in ids if a != b) > 0  # the study has co-occurrences to count
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            cell = result.cells[i][j]
            both = people[a] & people[b]
            assert cell["segments"] == pairs[(a, b)], (a, b)
            assert cell["participants"] == len(both), (a, b)
            assert cell["turns"] == len(touched[a] & touched[b]), (a, b)
