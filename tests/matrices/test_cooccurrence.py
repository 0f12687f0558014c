"""Code co-occurrence on a hand-built study whose every number is counted by hand below.

SU01 (north, consented), ST01 (south, consented), CA01 (north, withdrawn keeping data: counts, text not
shown), CA02 (north, withdrawn with deletion: never). Emoji in every transcript, so offsets are code
points, not UTF-16 units. Codes A, B, C.

SU01  turn 2: [A1 The phone 📞 kept dropping]          A1×B1 overlap on "kept dropping"
              [B2 The phone 📞]                         A1×B2 overlap (B2 inside A1)
              [B1 kept dropping and I felt unseen 😢]   B1 and C2 only touch: no overlap
              [C2  by the nurse.]
      turn 3 (interviewer): [B3 And then?]
      turn 4: [A2 I stopped calling 📵 at all.] ⊃ [C1 I stopped calling 📵]
ST01  turn 2: [A4 Video was fine] … [C3 nobody could read faces.]   same turn, no overlap
CA01  turn 2: [A5 left outside 🚪] ∩ [B5 outside 🚪 the call.]
CA02  the same as CA01: never counted.

overlapping segments: A–B 3 (A1×B1, A1×B2, A5×B5), A–C 1 (A2×C1), B–C 0; diagonal A 4, B 4, C 3
participants:         A–B 2 (SU01, CA01), A–C 2 (SU01, ST01), B–C 1 (SU01); A 3, B 2, C 2
speaker turns:        A–B 2 (SU01 t2, CA01 t2), A–C 3 (SU01 t2, t4, ST01 t2), B–C 1 (SU01 t2); A 4, B 3, C 3
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from analysis.coding.models import Code
from analysis.coding.services.codebook import code_create
from analysis.coding.services.codings import coding_create
from analysis.matrices import engine, selectors
from analysis.matrices.engine import matrix_compute
from analysis.matrices.models import Matrix
from analysis.matrices.selectors import spec_parse
from participants.models import ConsentState, Participant
from tests.factories import add_transcript, participant_row

from .conftest import QUOTES

pytestmark = pytest.mark.django_db

SU_TEXT = ("Interviewer: How was it? 😀\nSU01: The phone 📞 kept dropping and I felt unseen 😢 by the nurse.\n"
           "Interviewer: And then?\nSU01: I stopped calling 📵 at all.\n")
ST_TEXT = "Interviewer: Tell me 🙂\nST01: Video was fine but nobody could read faces.\n"
CA_TEXT = "Interviewer: Hi\nCA01: I was left outside 🚪 the call.\n"


@dataclass
class Cooc:
    codes: dict[str, Code]


def _code(cast: Any, t: Any, code: Code, words: str, coder: str = "lead", after: str = "") -> Any:
    start = t.text.index(words, t.text.index(after) if after else 0)
    return coding_create(actor=cast.users[coder], study_id=cast.study.pk, transcript_id=t.pk, code_id=code.pk,
                         start=start, end=start + len(words))


@pytest.fixture
def cooc(cast: Any) -> Cooc:
    lead, sid = cast.users["lead"], cast.study.pk
    su = participant_row(cast, "SU01", "service_user", cast.north, answers=QUOTES)
    st = participant_row(cast, "ST01", "staff", cast.south, answers=QUOTES)
    ca1 = participant_row(cast, "CA01", "carer", cast.north, answers=QUOTES)
    ca2 = participant_row(cast, "CA02", "carer", cast.north, answers=QUOTES)
    t_su, t_st = add_transcript(cast, su, SU_TEXT), add_transcript(cast, st, ST_TEXT)
    t_ca1, t_ca2 = add_transcript(cast, ca1, CA_TEXT), add_transcript(cast, ca2, CA_TEXT.replace("CA01", "CA02"))
    a, b, c = (code_create(actor=lead, study_id=sid, name=n) for n in ("A", "B", "C"))
    _code(cast, t_su, a, "The phone 📞 kept dropping")
    _code(cast, t_su, b, "kept dropping and I felt unseen 😢")
    _code(cast, t_su, b, "The phone 📞", coder="coder")
    _code(cast, t_su, c, " by the nurse.")
    _code(cast, t_su, b, "And then?")
    _code(cast, t_su, a, "I stopped calling 📵 at all.")
    _code(cast, t_su, c, "I stopped calling 📵")
    _code(cast, t_st, a, "Video was fine")
    _code(cast, t_st, c, "nobody could read faces.")
    for t in (t_ca1, t_ca2):
        _code(cast, t, a, "left outside 🚪")
        _code(cast, t, b, "outside 🚪 the call.")
    Participant.objects.filter(pk=ca1.pk).update(consent_state=ConsentState.WITHDRAWN_RETAIN)
    Participant.objects.filter(pk=ca2.pk).update(consent_state=ConsentState.WITHDRAWN_DELETE)
    return Cooc({"A": a, "B": b, "C": c})


def grid(result: Any, measure: str) -> dict[tuple[str, str], int]:
    return {(r.label, c.label): result.cells[i][j][measure]
            for i, r in enumerate(result.rows) for j, c in enumerate(result.columns)}


def sym(pairs: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    return {**pairs, **{(b, a): n for (a, b), n in pairs.items()}}


def compute(cast: Any, role: str = "lead", **raw: Any) -> Any:
    return matrix_compute(user=cast.users[role], study_id=cast.study.pk, spec=spec_parse({"rows": "codes", **raw}))


def test_counts_by_hand_for_all_three_measures(cast: Any, cooc: Cooc) -> None:
    r = compute(cast)
    assert r.kind == "cooccurrence"
    assert [h.label for h in r.rows] == [h.label for h in r.columns] == ["A", "B", "C"]
    assert grid(r, "segments") == sym({("A", "A"): 4, ("B", "B"): 4, ("C", "C"): 3,
                                       ("A", "B"): 3, ("A", "C"): 1, ("B", "C"): 0})
    assert grid(r, "participants") == sym({("A", "A"): 3, ("B", "B"): 2, ("C", "C"): 2,
                                           ("A", "B"): 2, ("A", "C"): 2, ("B", "C"): 1})
    assert grid(r, "turns") == sym({("A", "A"): 4, ("B", "B"): 3, ("C", "C"): 3,
                                    ("A", "B"): 2, ("A", "C"): 3, ("B", "C"): 1})
    assert r.row_bases == [3, 2, 2]  # participants with the code


def test_filters_coder_interviewer_turns_sites_and_chosen_codes(cast: Any, cooc: Cooc) -> None:
    lead = cast.users["lead"]
    # Coder: the coder's B2 is left out, so A–B loses A1×B2.
    assert grid(compute(cast, coder=str(lead.pk)), "segments")[("A", "B")] == 2
    # Leave out interviewer turns: B3 goes, and the interviewer turn is not counted.
    r = compute(cast, skip_interviewer=True)
    assert grid(r, "segments")[("B", "B")] == 3
    assert grid(r, "turns")[("B", "B")] == 2
    # Sites: only the south (ST01): A and C in one turn, no overlap.
    r = compute(cast, site_ids=[cast.south.pk])
    assert grid(r, "segments") == sym({("A", "A"): 1, ("B", "B"): 0, ("C", "C"): 1,
                                       ("A", "B"): 0, ("A", "C"): 0, ("B", "C"): 0})
    assert grid(r, "turns")[("A", "C")] == 1
    # Chosen codes: rows and columns are those codes only.
    r = compute(cast, column_ids=[cooc.codes["A"].pk, cooc.codes["C"].pk])
    assert [h.label for h in r.rows] == ["A", "C"]
    assert grid(r, "segments")[("A", "C")] == 1


def test_scope_a_coder_of_another_site_counts_only_their_site(cast: Any, cooc: Cooc) -> None:
    r = compute(cast, role="coder_other_site")
    seg = grid(r, "segments")
    assert seg[("A", "B")] == 0
    assert seg[("A", "A")] == 1


def test_columns_must_be_codes(cast: Any, cooc: Cooc) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        spec_parse({"rows": "codes", "columns": "themes"})


def _stored(cast: Any, result: Any, **raw: Any) -> Matrix:
    spec = spec_parse({"rows": "codes", **raw})
    return Matrix.objects.create(study=cast.study, created_by=cast.users["lead"], spec=spec.as_dict(), key=spec.key,
                                 data_version=selectors.data_version(study_id=cast.study.pk),
                                 result=selectors.result_json(result))


def test_click_through_lists_the_overlapping_passages_with_text_only_where_consent_stands(
        cast: Any, cooc: Cooc) -> None:
    m = _stored(cast, compute(cast))
    page = engine.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, matrix=m, row=0, column=1)
    assert (page.row, page.column, page.total) == ("A", "B", 3)
    by_text = {(s.pseudonym, s.lead, s.text, s.tail): s for s in page.segments}
    # A1 × B1: the overlap "kept dropping", the rest of A1 before it and of B1 after it.
    assert ("SU01", "The phone 📞 ", "kept dropping", " and I felt unseen 😢") in by_text
    # A1 × B2: B2 is inside A1: the overlap is B2, A1 goes on after it.
    assert ("SU01", "", "The phone 📞", " kept dropping") in by_text
    s = by_text[("SU01", "", "The phone 📞", " kept dropping")]
    assert (s.code_name, s.other_code, s.line) == ("A", "B", 2)
    assert SU_TEXT[s.start:s.start + s.length] == "The phone 📞 kept dropping"
    assert SU_TEXT[s.overlap_start:s.overlap_start + s.overlap_length] == "The phone 📞"  # type: ignore[operator]
    assert s.before.endswith("How was it? 😀\nSU01: ")
    # CA01 withdrew keeping data: the pair counts, its words are not shown. CA02 never appears.
    ca = [s for s in page.segments if s.pseudonym == "CA01"]
    assert len(ca) == 1
    assert not ca[0].shown
    assert ca[0].text == ""
    assert "CA02" not in {s.pseudonym for s in page.segments}
    # Symmetric: B × A lists the same three pairs; the diagonal lists the code's own segments.
    assert engine.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, matrix=m, row=1,
                                   column=0).total == 3
    diag = engine.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, matrix=m, row=2, column=2)
    assert diag.total == 3
    assert {s.text for s in diag.segments} == {" by the nurse.", "I stopped calling 📵",
                                                                     "nobody could read faces."}
    # Pages: one passage a page.
    p2 = engine.cell_segments(user=cast.users["lead"], study_id=cast.study.pk, matrix=m, row=0, column=1,
                                 page=2, per_page=1)
    assert (p2.total, p2.pages, p2.page, len(p2.segments)) == (3, 3, 2, 1)


def test_click_through_follows_the_readers_scope(cast: Any, cooc: Cooc) -> None:
    m = _stored(cast, compute(cast))
    # The same stored indexes read by a member of another scope would only list what they may see.
    page = engine.cell_segments(user=cast.users["coder_other_site"], study_id=cast.study.pk, matrix=m,
                                   row=0, column=2)
    assert page.total == 0


# Through the job, the pages and the API ------------------------------------------------------------------


@pytest.fixture
def _tasks_in_process() -> Any:
    """The job runs in this process (the test reads its outcome inside its own transaction)."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.mark.usefixtures("_tasks_in_process")
def test_page_asks_for_cooccurrence_shows_a_symmetric_heatmap_passages_and_exports(
        cast: Any, cooc: Cooc, clients: Any, django_capture_on_commit_callbacks: Any) -> None:
    import csv
    import io

    from openpyxl import load_workbook
    from PIL import Image

    sid = cast.study.pk
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["lead"].post(f"/studies/{sid}/matrices/", {"columns": "themes", "rows": "codes", "coder": "all"})
    assert r.status_code == 302
    m = Matrix.objects.get(created_by=cast.users["lead"])
    assert m.job is not None
    assert m.job.status == "done"
    assert m.job.progress_total == 3
    html = clients["lead"].get(r["Location"]).content.decode()
    assert "Codes × codes (co-occurrence)" in html
    assert "Overlapping coded segments (pairs of codings)" in html
    assert "Row total" not in html
    assert "style=" not in html
    assert 'scope="row">A</th><td>3</td>' in html  # participants with A
    # The diagonal (each code with itself) is marked apart from the pairs, not by colour alone.
    assert html.count("heat-diagonal") == 3
    html = clients["lead"].get(r["Location"] + "?measure=turns").content.decode()
    assert "Speaker turns where both codes apply" in html
    # The A × B cell lists the three overlapping passages; SU01's words are shown, CA01's not.
    cell = clients["lead"].get(f"/studies/{sid}/matrices/{m.pk}/cell/", {"row": 0, "column": 1}).content.decode()
    assert "3 overlapping passages" in cell
    assert '<span class="coded">The phone 📞 </span><mark>kept dropping</mark>' in cell
    assert "<h1>A and B</h1>" in cell  # the row's code, then the column's: the order of the click
    assert "no longer shown" in cell
    assert "left outside" not in cell
    assert "/code/" in cell  # the coding page link, for a lead
    # Exports: numbers stay numbers, no totals; PNG is a real picture.
    base = f"/studies/{sid}/matrices/{m.pk}/export/"
    rows = list(csv.reader(io.StringIO(clients["lead"].get(base + "csv/", {"measure": "segments"})
                                       .content.decode("utf-8-sig"))))
    assert rows == [["Code", "Participants with the code", "A", "B", "C"], ["A", "3", "4", "3", "1"],
                    ["B", "2", "3", "4", "0"], ["C", "2", "1", "0", "3"]]
    wb = load_workbook(io.BytesIO(clients["lead"].get(base + "xlsx/").content))
    assert wb.sheetnames == ["Segments", "Participants", "Turns"]
    assert wb["Turns"].cell(row=3, column=4).value == 2
    png = clients["lead"].get(base + "png/", {"measure": "participants"})
    assert png["Content-Type"] == "image/png"
    img = Image.open(io.BytesIO(png.content))
    assert img.format == "PNG"
    assert img.width >= 640
    assert clients["lead"].get(base + "csv/", {"measure": "share"}).status_code == 200  # falls back to segments


@pytest.mark.usefixtures("_tasks_in_process")
def test_api_requests_polls_reads_a_cell_and_exports_png(cast: Any, cooc: Cooc, api: Any,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    url = f"/api/v1/studies/{cast.study.pk}/matrices/"
    with django_capture_on_commit_callbacks(execute=True):
        r = api["lead"].post(url, {"rows": "codes", "skip_interviewer": True}, format="json")
    assert r.status_code == 202, r.content
    mid = r.json()["id"]
    detail = api["lead"].get(f"{url}{mid}/").json()
    assert detail["status"] == "done"
    assert detail["result"]["kind"] == "cooccurrence"
    assert detail["result"]["cells"][1][1]["segments"] == 3  # B3 (interviewer turn) left out
    cell = api["lead"].get(f"{url}{mid}/cell/", {"row": 0, "column": 2}).json()
    assert cell["total"] == 1
    s = cell["segments"][0]
    assert (s["code_name"], s["other_code"], s["text"], s["tail"]) == ("A", "C", "I stopped calling 📵", " at all.")
    assert s["overlap_start"] == SU_TEXT.index("I stopped calling 📵")
    png = api["lead"].get(f"{url}{mid}/export/png/", {"measure": "turns"})
    assert png.status_code == 200
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api["lead"].get(f"{url}{mid}/export/png/", {"measure": "characters"}).status_code == 400
    assert api["lead"].post(url, {"rows": "codes", "columns": "themes"}, format="json").status_code == 400


def test_cancel_a_queued_matrix_from_its_page_and_the_api_then_ask_again(
        cast: Any, cooc: Cooc, clients: Any, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    from analysis.matrices.services import matrix_request
    from jobs.models import JobStatus

    sid = cast.study.pk
    # Not sent yet (no commit in this test's transaction): the job is queued.
    m, _ = matrix_request(actor=cast.users["lead"], study_id=sid, raw={"rows": "codes"})
    url = f"/studies/{sid}/matrices/{m.pk}/"
    page = clients["lead"].get(url).content.decode()
    assert "Cancel this matrix" in page
    assert 'hx-trigger="every 1s"' in page
    r = clients["lead"].post(url + "cancel/", follow=True)
    assert "The matrix was cancelled." in r.content.decode()
    m.refresh_from_db()
    assert m.job is not None
    assert m.job.status == JobStatus.CANCELLED
    page = clients["lead"].get(url).content.decode()
    assert "Cancel this matrix" not in page
    assert "Ask for it again" in page
    # The htmx poll of a finished job asks for a full reload.
    assert clients["lead"].get(url, HTTP_HX_REQUEST="true")["HX-Refresh"] == "true"
    # Asked again: the same row computes with a new job.
    with django_capture_on_commit_callbacks(execute=False):
        again, created = matrix_request(actor=cast.users["lead"], study_id=sid, raw={"rows": "codes"})
    assert created
    assert again.pk == m.pk
    assert again.job_id != m.job_id
    r = api["lead"].post(f"/api/v1/studies/{sid}/matrices/{m.pk}/cancel/")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "cancelled"
    assert api["lead"].post(f"/api/v1/studies/{sid}/matrices/{m.pk}/cancel/").status_code == 400
