"""Retrieval of coded material: a code's segments page by page with the total and context turns,
the codebook's per-code counts, the transcript list's coding progress, and the coded-material
export (CSV and XLSX jobs) with scope, consent, blinding, formula safety and the audit trail."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from analysis.coding.models import Code, Coding
from analysis.coding.services import assignments
from analysis.coding.services import codings as coding_services
from jobs.models import Job, JobStatus
from participants.models import ConsentState, Participant

from .conftest import span_of

ROLES = ["admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous"]
READERS = {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404}


def code(cast: Any, t: Any, c: Code, words: str, *, who: str = "lead", memo: str = "") -> Coding:
    s, e = span_of(t, words)
    coding = coding_services.coding_create(actor=cast.users[who], study_id=cast.study.pk, transcript_id=t.pk,
                                           code_id=c.pk, start=s, end=e)
    if memo:
        Coding.objects.filter(pk=coding.pk).update(memo=memo)
    return coding


@pytest.fixture
def coded(cast, book, t_north, t_south):
    """SU01 (service user, North) and ST01 (staff, South) coded with "Loss of non-verbal cues"."""
    a = code(cast, t_north, book.cues, "you cannot see if someone is tearful", memo="=HYPERLINK(\"http://x\")")
    b = code(cast, t_south, book.cues, "no training for video calls", who="coder")
    c = code(cast, t_north, book.video, "I was phoning the café")  # after an emoji: code points
    return a, b, c


# Segments ------------------------------------------------------------------------------------------


def test_segment_context_is_speaker_turns_with_line_numbers_without_the_header(cast, api, book, coded):
    r = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/?view=list")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    assert body["pages"] == 1
    assert body["next"] is None
    su = next(s for s in body["segments"] if s["pseudonym"] == "SU01")
    assert su["text"] == "you cannot see if someone is tearful"
    assert (su["speaker"], su["start_line"], su["end_line"], su["group"], su["site"]) == (
        "SU01", 4, 4, "Service user", "North Trust")
    speakers = [(t["speaker"], t["line"]) for t in su["context"]]
    assert [(t["speaker"], t["line"]) for t in su["context"] if t["coded"]] == [("SU01", 4)]
    assert speakers[:2] == [("Interviewer", 3), ("SU01", 4)]  # separate turns, each with its line
    joined = " ".join(t["before"] + t["coded"] + t["after"] for t in su["context"])
    assert "Interview SU01, telephone" not in joined  # the file's header line is not a turn
    assert "".join(t["coded"] for t in su["context"]) == su["text"]


def test_segments_count_code_points_after_an_emoji(cast, api, book, coded, t_north):
    body = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/codes/{book.video.pk}/segments/").json()
    (seg,) = body["segments"]
    assert seg["text"] == "I was phoning the café"
    assert seg["start"] == t_north.text.index("I was phoning")
    assert "👍" in seg["before"]
    assert seg["start_line"] == 7


def test_segments_page_shows_text_speaker_and_lines_never_offsets(cast, clients, book, coded):
    html = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/?view=list").content.decode()
    assert "you cannot see if someone is tearful" in html
    assert "<strong>SU01:</strong>" in html
    assert "<strong>Interviewer:</strong>" in html
    assert "line 4" in html
    assert "Interview SU01, telephone" not in html
    visible = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\[\d+, \d+\)", visible)
    assert "2 segments" in html


def test_segments_are_paginated_with_a_total_and_no_cap(cast, api, clients, book, t_north):
    text = t_north.text
    lead = cast.users["lead"]
    Coding.objects.bulk_create([
        Coding(study=cast.study, transcript=t_north, code=book.cues, coder=lead, start=i, end=i + 5)
        for i in range(0, 120)
    ])
    url = f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/"
    first = api["coder"].get(url).json()
    assert (first["count"], first["pages"], len(first["segments"])) == (120, 3, 50)
    assert first["next"].endswith("page=2")
    last = api["coder"].get(url + "?page=3").json()
    assert len(last["segments"]) == 20
    assert last["next"] is None
    assert last["segments"][-1]["text"] == text[119:124]
    seen = {s["coding"] for n in (1, 2, 3) for s in api["coder"].get(f"{url}?page={n}").json()["segments"]}
    assert len(seen) == 120
    assert api["coder"].get(url + "?page=4").status_code == 404
    assert api["coder"].get(url + "?page_size=500").status_code == 400
    assert api["coder"].get(url + "?page=abc").status_code == 400
    assert api["coder"].get(url + f"?page={2**70}").status_code == 400
    page = clients["coder"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/?view=list&page=3")
    assert "Showing 101–120 of 120" in page.content.decode()
    assert "Page 3 of 3" in page.content.decode()


@pytest.mark.parametrize("role", ["lead", "coder_other_site"])
def test_totals_and_page_ids_in_one_statement_agree_with_the_two_queries(cast, book, t_north, t_south, role):
    """``segment_totals_and_ids`` (one statement on PostgreSQL) gives the group totals and, for every page,
    group and page size, the ids the ordered query gives; past the end, segments_page reads the last page."""
    from analysis.coding.selectors import retrieval

    lead = cast.users["lead"]
    Coding.objects.bulk_create([
        Coding(study=cast.study, transcript=t, code=book.cues, coder=lead, start=i, end=i + 3 + i % 4)
        for t in (t_north, t_south) for i in range(0, 37, 2)
    ] + [Coding(study=cast.study, transcript=t_north, code=book.cues, coder=lead, start=5, end=9)])
    user = cast.users[role]
    base = retrieval.segments_queryset(user=user, study_id=cast.study.pk, code=book.cues)
    expected_groups = retrieval.segment_group_totals(user=user, study_id=cast.study.pk, code=book.cues)
    for group_id in (None, *[g.group_id for g in expected_groups]):
        for size in (1, 7, 50):
            for number in (1, 2, 3, 40):
                groups, ids = retrieval.segment_totals_and_ids(base=base, number=number, page_size=size,
                                                               group_id=group_id)
                assert groups == expected_groups
                args = {"user": user, "study_id": cast.study.pk, "code": book.cues, "number": number,
                        "page_size": size, "group_id": group_id, "groups": groups, "base": base}
                assert retrieval.segments_page(**args, ids=ids) == retrieval.segments_page(**args)
                if connection.vendor == "postgresql":
                    assert ids is not None
    # The scoped coder sees only the South transcript's codings; the lead both.
    assert sum(g.segments for g in expected_groups) == (39 if role == "lead" else 19)


def test_segment_query_never_reads_a_whole_transcript(cast, api, book, coded):
    with CaptureQueriesContext(connection) as ctx:
        r = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/")
    assert r.status_code == 200
    col = '"transcripts_transcript"."text"'
    for q in ctx.captured_queries:
        sql = re.sub(r"SUBSTR(ING)?\(" + re.escape(col), "", q["sql"])
        assert col not in sql, q["sql"]


def test_segments_side_by_side_by_group(cast, clients, api, book, coded):
    html = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/").content.decode()
    assert "Service user <span" in html
    assert "Staff <span" in html
    groups = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/").json()["groups"]
    assert {(g["label"], g["segments"], g["participants"]) for g in groups} == {("Service user", 1, 1), ("Staff", 1, 1)}
    only_staff = api["lead"].get(
        f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/?group={cast.group('staff').pk}").json()
    assert [s["pseudonym"] for s in only_staff["segments"]] == ["ST01"]


def test_segments_with_subcodes(cast, api, book, coded):
    url = f"/api/v1/studies/{cast.study.pk}/codes/{book.relationship.pk}/segments/"
    assert api["lead"].get(url).json()["count"] == 0
    assert api["lead"].get(url + "?subcodes=1").json()["count"] == 2


@pytest.mark.parametrize("role", ROLES)
def test_segments_scope(cast, clients, api, book, coded, role):
    r = api[role].get(f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/")
    if role == "anonymous":
        assert r.status_code == 401
        return
    # A code asked for by id is an analysis object: PPI members are not told it exists.
    assert r.status_code == {**READERS, "ppi": 404}[role]
    if r.status_code == 200:
        want = {"ST01"} if role == "coder_other_site" else {"SU01", "ST01"}
        assert {s["pseudonym"] for s in r.json()["segments"]} == want
        assert r.json()["count"] == len(want)


# Codebook counts -------------------------------------------------------------------------------------


def test_codebook_shows_codings_and_participants_by_group(cast, clients, book, coded):
    html = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/").content.decode()
    assert f'href="/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/">2 codings' in html
    assert "2 participants (Service user 1, Staff 1)" in html
    assert "Export coded material" in html
    scoped = clients["coder_other_site"].get(f"/studies/{cast.study.pk}/codebook/").content.decode()
    assert "1 participant (Staff 1)" in scoped
    assert "Service user 1" not in scoped
    detail = clients["coder"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/").content.decode()
    assert "Read the coded segments" in detail
    assert "Export its coded material" in detail


# Transcript list progress ----------------------------------------------------------------------------


def test_transcript_list_shows_coding_progress(cast, clients, api, book, coded, t_north, t_south):
    assignments.assignment_create(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                  coder_a_id=cast.users["lead"].pk, coder_b_id=cast.users["coder"].pk)
    html = clients["admin"].get(f"/studies/{cast.study.pk}/transcripts/").content.decode()
    assert "<th scope=\"col\">Codings</th>" in html
    assert "Double coding" in html
    row = html.split(f"/transcripts/{t_north.pk}/")[1].split("</tr>")[0]
    assert "<td>2</td>" in row
    assert "In progress" in row
    r = api["admin"].get(f"/api/v1/studies/{cast.study.pk}/transcripts/")
    prog = {t["pseudonym"]: t["progress"] for t in r.json()["results"]}
    assert prog["SU01"]["codings"] == 2
    assert prog["SU01"]["double_coding"] == "in progress"
    assert prog["ST01"]["codings"] == 1
    assert len(prog["ST01"]["coders"]) == 1
    assert prog["SU01"]["turns"] == t_north.turns.count() == 5
    assert prog["SU01"]["corrections"] == 0


def test_transcript_list_queries_do_not_grow_with_rows(cast, clients):
    from tests.factories import SU01_TEXT, add_transcript, participant_row

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert clients["lead"].get(f"/studies/{cast.study.pk}/transcripts/").status_code == 200
        return len(ctx.captured_queries)

    p = participant_row(cast, "SU10", "service_user", cast.north)
    add_transcript(cast, p, SU01_TEXT.replace("SU01", "SU10"))
    count()  # the first request of a session also loads and refreshes the session
    few = count()
    for i in range(11, 20):
        p = participant_row(cast, f"SU{i}", "service_user", cast.north)
        add_transcript(cast, p, SU01_TEXT.replace("SU01", f"SU{i}"))
    assert count() == few


# Export ----------------------------------------------------------------------------------------------


@pytest.fixture
def exported(run_jobs, cast, book, t_north, t_south, coded):
    def go(client: Any, data: dict[str, Any]) -> tuple[Job, bytes]:
        r = client.post(f"/studies/{cast.study.pk}/exports/codings/", data)
        assert r.status_code == 302, r.content[:500]
        job = run_jobs(int(re.search(r"/jobs/(\d+)/$", r["Location"]).group(1)))  # type: ignore[union-attr]
        assert job.status == JobStatus.DONE, job.error
        d = client.get(f"/studies/{cast.study.pk}/jobs/{job.pk}/download/")
        assert d.status_code == 200
        return job, b"".join(d.streaming_content)

    return go


def _csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_export_one_row_per_coding(cast, clients, exported, book):
    job, content = exported(clients["lead"], {"format": "csv"})
    rows = _csv(content)
    assert len(rows) == 3
    assert job.result == {"Codings exported": 3, "File format": "CSV", "Chosen": "Everything you may export"}
    su = next(r for r in rows if r["Coded text"] == "you cannot see if someone is tearful")
    assert su["Code path"] == "Therapeutic relationship › Loss of non-verbal cues"
    assert (su["Participant"], su["Group"], su["Site"], su["Speaker"], su["Start line"], su["End line"]) == (
        "SU01", "Service user", "North Trust", "SU01", "4", "4")
    assert su["Memo"] == "'=HYPERLINK(\"http://x\")"  # formula-safe
    assert su["Coder"]
    assert su["Transcript"]
    cafe = next(r for r in rows if r["Code"] == "Telephone versus video")
    assert cafe["Coded text"] == "I was phoning the café"
    assert cafe["Start line"] == "7"
    assert AuditEvent.objects.filter(action="coding.export", actor=cast.users["lead"]).count() == 1
    assert AuditEvent.objects.filter(action="export.download", actor=cast.users["lead"]).count() == 1


def test_export_filters(cast, clients, exported, book):
    _, content = exported(clients["lead"], {"format": "csv", "code": [book.relationship.pk], "subcodes": "1"})
    assert {r["Code"] for r in _csv(content)} == {"Loss of non-verbal cues"}
    _, content = exported(clients["lead"], {"format": "csv", "group": [cast.group("staff").pk]})
    assert [r["Participant"] for r in _csv(content)] == ["ST01"]
    _, content = exported(clients["lead"], {"format": "csv", "site": [cast.north.pk], "coder": [cast.users["lead"].pk]})
    assert {r["Participant"] for r in _csv(content)} == {"SU01"}
    assert len(_csv(content)) == 2
    _, content = exported(clients["lead"], {"format": "csv", "code": [book.relationship.pk], "subcodes": "0"})
    assert _csv(content) == []


def test_export_follows_scope_and_consent(cast, clients, exported, su01):
    _, content = exported(clients["coder_other_site"], {"format": "csv"})
    assert {r["Participant"] for r in _csv(content)} == {"ST01"}
    Participant.objects.filter(pk=su01.pk).update(consent_state=ConsentState.WITHDRAWN_DELETE)
    _, content = exported(clients["lead"], {"format": "csv"})
    assert {r["Participant"] for r in _csv(content)} == {"ST01"}


def test_export_hides_the_other_coder_of_a_blind_double_coding(cast, clients, exported, book, t_south):
    assignments.assignment_create(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_south.pk,
                                  coder_a_id=cast.users["coder"].pk, coder_b_id=cast.users["coder_other_site"].pk)
    _, content = exported(clients["coder_other_site"], {"format": "csv"})
    assert _csv(content) == []  # ST01's only coding is the other coder's


def test_xlsx_export_sheet_per_code_and_formula_safe(cast, clients, exported, book):
    from openpyxl import load_workbook

    _, content = exported(clients["lead"], {"format": "xlsx", "sheet_per_code": "1"})
    wb = load_workbook(io.BytesIO(content))
    assert sorted(wb.sheetnames) == ["Loss of non-verbal cues", "Telephone versus video"]
    ws = wb["Loss of non-verbal cues"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["Code path", "Code", "Coded text"]
    memo = next(r for r in ws.iter_rows(min_row=2) if r[2].value == "you cannot see if someone is tearful")[11]
    assert memo.value == '=HYPERLINK("http://x")'
    assert memo.data_type == "s"
    _job, content = exported(clients["lead"], {"format": "xlsx"})
    assert load_workbook(io.BytesIO(content)).sheetnames == ["Codings"]


def test_export_api(cast, api, run_jobs, book, coded):
    url = f"/api/v1/studies/{cast.study.pk}/exports/codings/"
    r = api["coder"].post(url, {"format": "csv", "codes": [book.cues.pk]}, format="json")
    assert r.status_code == 202, r.content
    job = run_jobs(r.json()["job"])
    assert job.status == JobStatus.DONE
    d = api["coder"].get(r.json()["download_url"])
    assert len(_csv(b"".join(d.streaming_content))) == 2
    status = api["coder"].get(r.json()["status_url"]).json()
    assert status["percent"] == 100
    assert status["progress_total"] == 2


@pytest.mark.parametrize("data", [
    {"format": "pdf"},
    {"format": "csv", "codes": ["abc"]},
    {"format": "csv", "codes": [2**70]},
    {"format": "csv", "codes": ["1\x00"]},
    {"format": "csv", "groups": [{"x": 1}]},
    {"format": "csv", "sheet_per_code": True},
    {"format": "xlsx", "subcodes": "maybe"},
])
def test_export_bad_input_is_a_400_and_writes_nothing(cast, api, book, data):
    before = (Job.objects.count(), AuditEvent.objects.count())
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/exports/codings/", data, format="json")
    assert r.status_code == 400, r.content
    assert (Job.objects.count(), AuditEvent.objects.count()) == before


def test_export_refuses_ids_of_another_study(cast, api, book):
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/exports/codings/",
                         {"format": "csv", "codes": [book.other_study_code.pk]}, format="json")
    assert r.status_code == 400
    assert "codes" in r.json()


@pytest.mark.parametrize("role", ROLES)
def test_export_page_by_role(cast, clients, book, role):
    r = clients[role].get(f"/studies/{cast.study.pk}/exports/codings/")
    if role == "anonymous":
        assert r.status_code == 302
        return
    assert r.status_code == READERS[role]
    if r.status_code == 200:
        html = r.content.decode()
        assert "Loss of non-verbal cues" in html
        assert 'name="format"' in html


def test_export_page_is_reachable_from_the_codebook_and_marks_its_section(cast, clients, book, coded):
    codebook = clients["coder"].get(f"/studies/{cast.study.pk}/codebook/").content.decode()
    assert f'href="/studies/{cast.study.pk}/exports/codings/"' in codebook
    segments = clients["coder"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/").content.decode()
    assert f'href="/studies/{cast.study.pk}/exports/codings/?code={book.cues.pk}"' in segments
    page = clients["coder"].get(f"/studies/{cast.study.pk}/exports/codings/?code={book.cues.pk}").content.decode()
    assert re.findall(r'aria-current="page">([^<]+)<', page) == ["Codebook"]
    assert f'name="code" value="{book.cues.pk}" checked>' in page
    assert 'id="f-codes"' not in page
    assert 'id="f-coders"' not in page


def test_export_job_page_says_what_was_chosen_and_counts_transcripts_without_naming_them(
        cast, clients, exported, book, t_north):
    job, _ = exported(clients["lead"], {"format": "xlsx", "sheet_per_code": "1", "code": [book.cues.pk],
                                        "coder": [cast.users["coder"].pk], "site": [cast.north.pk],
                                        "transcript": [t_north.pk]})
    chosen = job.result["Chosen"]
    assert chosen.startswith("Code: Loss of non-verbal cues; Coded by: ")  # no sub-codes to mention
    assert "Sites: North Trust" in chosen
    assert chosen.endswith("1 chosen transcript")
    assert t_north.title not in chosen
    assert job.result["File format"] == "XLSX, one sheet per code"
    page = clients["lead"].get(f"/studies/{cast.study.pk}/jobs/{job.pk}/").content.decode()
    assert "<dt>Chosen</dt><dd>Code: Loss of non-verbal cues" in page


def test_an_export_that_matches_nothing_says_so(cast, clients, exported, book):
    job, content = exported(clients["lead"], {"format": "csv", "code": [book.cues.pk], "coder": [cast.users["admin"].pk]})
    assert _csv(content) == []
    assert job.result["Codings exported"] == 0
    assert job.result["Note"].startswith("No coding matched what you chose")


def test_segments_open_the_coding_page_at_the_segments_line(cast, clients, book, coded):
    html = clients["lead"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/").content.decode()
    t = coded[0].transcript_id
    assert f'href="/studies/{cast.study.pk}/transcripts/{t}/code/?line=4"' in html


def test_progress_and_codebook_counts_leave_out_a_blind_partners_codings(cast, api, clients, book, t_south):
    assignments.assignment_create(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_south.pk,
                                  coder_a_id=cast.users["coder"].pk, coder_b_id=cast.users["coder_other_site"].pk)
    code(cast, t_south, book.cues, "no training for video calls", who="coder_other_site")
    mine = api["coder"].get(f"/api/v1/studies/{cast.study.pk}/transcripts/").json()["results"]
    assert next(t for t in mine if t["pseudonym"] == "ST01")["progress"]["codings"] == 0
    theirs = api["coder_other_site"].get(f"/api/v1/studies/{cast.study.pk}/transcripts/").json()["results"]
    assert next(t for t in theirs if t["pseudonym"] == "ST01")["progress"]["codings"] == 1
    assert "Not used yet" in clients["coder"].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/").content.decode()
