"""The co-occurrence sweep against the definitions, on codings laid out to reach every branch of it.

``test_cooccurrence.py`` counts a hand-built study by hand; ``test_expected.py`` checks the generated study,
whose codings overlap at most three later codings and rarely leave their turn. Here seeded random codings
also nest many deep (one coding holding a dozen others: the rank-by-rank recursion), share starts, only
touch, start on a speaker's label between two turns, run over several turns (the turn-by-turn
recursion) and sit inside interviewer turns, coded by two coders. Every count and every cell's list of
overlapping pairs must equal a count in Python of the definitions in the module's docstring.
"""

from __future__ import annotations

import random
from collections import defaultdict
from itertools import combinations
from typing import Any

import pytest
from django.db import connection

from analysis.coding.models import Code, Coding
from analysis.coding.services.codebook import code_create
from analysis.matrices import cooccurrence, engine, selectors
from analysis.matrices.engine import matrix_compute
from analysis.matrices.models import Matrix
from analysis.matrices.selectors import spec_parse
from analysis.transcripts.models import SpeakerRole, TranscriptTurn
from tests.factories import add_transcript, participant_row

from .conftest import QUOTES

pytestmark = pytest.mark.django_db


def _text(rng: random.Random, turns: int) -> str:
    lines = []
    for n in range(turns):
        who = "Interviewer" if n % 2 == 0 else "P"
        words = " ".join(rng.choice(["yes", "no 📞", "the nurse", "video", "é", "call"]) for _ in range(rng.randint(0, 6)))
        lines.append(f"{who}: {words}")
    return "\n".join(lines) + "\n"


def _spans(rng: random.Random, length: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for _ in range(rng.randint(15, 30)):
        s = rng.randrange(length - 1)
        out.append((s, min(length, s + rng.randint(1, 40))))
    # A long coding with many short ones inside it, two with the same start, two that only touch.
    s = rng.randrange(length // 2)
    e = min(length, s + 120)
    out.append((s, e))
    out += [(p, p + 3) for p in range(s, e - 3, 9)]
    out += [(s, s + 5), (s + 5, s + 10)]
    return out


@pytest.fixture
def laid_out(cast: Any) -> dict[str, Any]:
    rng = random.Random(14)
    lead, coder, sid = cast.users["lead"], cast.users["coder"], cast.study.pk
    codes = [code_create(actor=lead, study_id=sid, name=n) for n in ("A", "B", "C", "D")]
    for k, site in enumerate([cast.north, cast.north, cast.south]):
        person = participant_row(cast, f"P{k}", "service_user", site, answers=QUOTES)
        t = add_transcript(cast, person, _text(rng, rng.randint(6, 14)))
        rows = [Coding(study_id=sid, transcript=t, code=rng.choice(codes), coder=rng.choice([lead, coder]),
                       start=s, end=e) for s, e in _spans(rng, len(t.text))]
        Coding.objects.bulk_create(rows)
    return {"codes": codes}


def _reference(cast: Any, spec: dict[str, Any]) -> dict[str, dict[tuple[int, int], int]]:
    """The three measures counted in Python, pair by pair, from the definitions."""
    sid = cast.study.pk
    turns: dict[int, list[tuple[int, int, int, str]]] = defaultdict(list)
    for u in TranscriptTurn.objects.filter(study_id=sid):
        turns[u.transcript_id].append((u.pk, u.start, u.end, u.role))
    rows = Coding.objects.filter(study_id=sid, lost=False)
    if spec.get("coder"):
        rows = rows.filter(coder_id=int(spec["coder"]))
    if spec.get("site_ids"):
        rows = rows.filter(transcript__participant__site_id__in=spec["site_ids"])
    codings = []
    for c in rows.select_related("transcript"):
        inside_interviewer = any(r == SpeakerRole.INTERVIEWER and us <= c.start and c.end <= ue
                                 for _u, us, ue, r in turns[c.transcript_id])
        if spec.get("skip_interviewer") and inside_interviewer:
            continue
        codings.append(c)
    segments: dict[tuple[int, int], int] = defaultdict(int)
    people: dict[int, set[int]] = defaultdict(set)
    touched: dict[int, set[int]] = defaultdict(set)
    by_transcript = defaultdict(list)
    for c in codings:
        segments[(c.code_id, c.code_id)] += 1
        people[c.code_id].add(c.transcript.participant_id)
        touched[c.code_id] |= {u for u, us, ue, r in turns[c.transcript_id] if us < c.end and c.start < ue
                               and not (spec.get("skip_interviewer") and r == SpeakerRole.INTERVIEWER)}
        by_transcript[c.transcript_id].append(c)
    for items in by_transcript.values():
        for a, b in combinations(items, 2):
            if a.code_id != b.code_id and a.start < b.end and b.start < a.end:
                segments[(a.code_id, b.code_id)] += 1
                segments[(b.code_id, a.code_id)] += 1
    codes = [c.pk for c in Code.objects.filter(study_id=sid)]
    return {
        "segments": {(a, b): segments[(a, b)] for a in codes for b in codes},
        "participants": {(a, b): len(people[a] & people[b]) for a in codes for b in codes},
        "turns": {(a, b): len(touched[a] & touched[b]) for a in codes for b in codes},
    }


def _pairs(cast: Any, spec: dict[str, Any], a: int, b: int) -> list[tuple[int, int]]:
    """The overlapping (coding of a, coding of b) pairs in Python, for the click-through."""
    rows = Coding.objects.filter(study_id=cast.study.pk, lost=False, code_id__in=[a, b])
    if spec.get("coder"):
        rows = rows.filter(coder_id=int(spec["coder"]))
    items = list(rows)
    return sorted((x.pk, y.pk) for x in items for y in items
                  if x.code_id == a and y.code_id == b and x.transcript_id == y.transcript_id
                  and x.start < y.end and y.start < x.end)


@pytest.mark.parametrize("which", ["all", "coder", "skip_interviewer", "site"])
def test_every_measure_equals_the_definition(cast: Any, laid_out: dict[str, Any], which: str) -> None:
    specs: dict[str, dict[str, Any]] = {
        "all": {}, "coder": {"coder": str(cast.users["coder"].pk)}, "skip_interviewer": {"skip_interviewer": True},
        "site": {"site_ids": [cast.north.pk]},
    }
    spec = specs[which]
    result = matrix_compute(user=cast.users["lead"], study_id=cast.study.pk, spec=spec_parse({"rows": "codes", **spec}))
    expected = _reference(cast, spec)
    ids = [h.id for h in result.columns]
    assert len(ids) == 4
    for measure in ("segments", "participants", "turns"):
        got = {(a, b): result.cells[i][j][measure] for i, a in enumerate(ids) for j, b in enumerate(ids)}
        assert got == expected[measure], measure
    # The layout reaches what it is for: a coding with many later-starting codings inside it, and one
    # running over three turns or more.
    codings = list(Coding.objects.filter(study_id=cast.study.pk))
    assert max(sum(1 for b in codings if b.transcript_id == a.transcript_id and a.start <= b.start < a.end
                   and b.pk != a.pk) for a in codings) >= 10
    turns = list(TranscriptTurn.objects.filter(study_id=cast.study.pk))
    assert max(sum(1 for u in turns if u.transcript_id == a.transcript_id and u.start < a.end and a.start < u.end)
               for a in codings) >= 3


@pytest.mark.parametrize("which", ["all", "coder"])
def test_click_through_lists_exactly_the_overlapping_pairs(cast: Any, laid_out: dict[str, Any], which: str) -> None:
    specs: dict[str, dict[str, Any]] = {"all": {}, "coder": {"coder": str(cast.users["lead"].pk)}}
    spec = specs[which]
    parsed = spec_parse({"rows": "codes", **spec})
    result = matrix_compute(user=cast.users["lead"], study_id=cast.study.pk, spec=parsed)
    m = Matrix.objects.create(study=cast.study, created_by=cast.users["lead"], spec=parsed.as_dict(), key=parsed.key,
                              data_version=selectors.data_version(study_id=cast.study.pk),
                              result=selectors.result_json(result))
    ids = [h.id for h in result.columns]
    for i, j in [(0, 1), (1, 0), (2, 3), (0, 3)]:
        page = engine.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, matrix=m, row=i, column=j,
                                    per_page=1000)
        assert page.total == result.cells[i][j]["segments"]
        got = sorted((s.coding_id, s.other_coding_id) for s in page.segments)
        assert got == _pairs(cast, spec, ids[i], ids[j])


def test_a_transcript_without_turns_counts_its_overlaps_and_no_turns(cast: Any, laid_out: dict[str, Any]) -> None:
    # PostgreSQL reads each transcript's turns as arrays joined to its codings' arrays: a transcript with
    # none (its turns' array is missing) still counts segments and participants.
    first = Coding.objects.filter(study_id=cast.study.pk).order_by("transcript_id").first()
    assert first is not None
    TranscriptTurn.objects.filter(transcript_id=first.transcript_id).delete()
    result = matrix_compute(user=cast.users["lead"], study_id=cast.study.pk, spec=spec_parse({"rows": "codes"}))
    expected = _reference(cast, {})
    ids = [h.id for h in result.columns]
    for measure in ("segments", "participants", "turns"):
        got = {(a, b): result.cells[i][j][measure] for i, a in enumerate(ids) for j, b in enumerate(ids)}
        assert got == expected[measure], measure


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array statement is PostgreSQL's")
@pytest.mark.parametrize("which", ["all", "coder", "skip_interviewer"])
def test_the_array_statement_counts_and_pairs_as_the_sweep(cast: Any, laid_out: dict[str, Any], which: str) -> None:
    # PostgreSQL counts with per-transcript arrays, other databases with the sweep: on PostgreSQL both forms
    # must give the same rows for the same codings, and the same overlapping pairs for a cell.
    specs: dict[str, dict[str, Any]] = {"all": {}, "coder": {"coder": str(cast.users["coder"].pk)},
                                        "skip_interviewer": {"skip_interviewer": True}}
    spec = spec_parse({"rows": "codes", **specs[which]})
    user, sid = cast.users["lead"], cast.study.pk
    counted = []
    for form in (cooccurrence._statement_arrays, cooccurrence._statement_sweep):
        sql, params = form(user=user, study_id=sid, spec=spec)
        with connection.cursor() as cur, cooccurrence._planned(cur):
            cur.execute(sql, params)
            counted.append(sorted(cur.fetchall()))
    assert counted[0] == counted[1]
    assert any(m == "t" and a != b for m, a, b, _n in counted[0])
    a, b = (c.pk for c in laid_out["codes"][:2])
    paired = []
    for sweep in (False, True):
        sql, params = cooccurrence._pairs_sql(user=user, study_id=sid, spec=spec, code_a=a, code_b=b, sweep=sweep)
        with connection.cursor() as cur, cooccurrence._planned(cur):
            cur.execute(f"SELECT q.* FROM ({sql}) q ORDER BY q.tr, q.us, 1, 2", params)
            paired.append(cur.fetchall())
    assert paired[0] == paired[1]
    assert paired[0]
