"""The coding page, memos, code retrieval and blind double coding: role x scope for every page and
endpoint, and the blind rule in the page, the API, retrieval and the change feed."""

from __future__ import annotations

import json
import re

import pytest
from django.test import override_settings

from analysis.coding.models import Assignment, Memo
from analysis.coding.selectors.codings import events_after
from analysis.coding.services import assignments
from analysis.coding.services import codings as coding_services
from analysis.coding.services.memos import memo_create
from participants.models import ConsentState
from tests.helpers import ppi_expect

from .conftest import span_of

pytestmark = pytest.mark.django_db
ROLES = ["admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous"]


def config_of(response) -> dict:
    m = re.search(r'<script id="coding-config" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert m, "no coding config on the page"
    return json.loads(m.group(1))


def check(response, role, expected):
    if role == "anonymous":
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    else:
        want = ppi_expect(role, expected[role], response.request["PATH_INFO"])
        assert response.status_code == want, (role, response.status_code)


# The coding page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_coding_page_by_role(cast, clients, book, t_north, role):
    coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                  code_id=book.cues.pk, start=10, end=20)
    r = clients[role].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/code/")
    check(r, role, {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 404, "ppi": 403, "outsider": 404})
    if r.status_code == 200:
        cfg = config_of(r)
        assert cfg["canCode"] is (role in ("lead", "coder"))
        assert [c["start"] for c in cfg["codings"]] == [10]
        assert "👍" in r.content.decode()
        assert 'class="words" data-start=' in r.content.decode()


def test_coding_page_reads_are_audited_and_frozen_is_read_only(cast, clients, t_north, su01):
    from accounts.models import AuditEvent

    su01.consent_state = ConsentState.WITHDRAWN_RETAIN
    su01.save()
    r = clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/code/")
    assert r.status_code == 200
    assert config_of(r)["canCode"] is False
    assert "Read-only" in r.content.decode()
    assert AuditEvent.objects.filter(action="transcript.read", details__via="coding").exists()


def test_coding_page_out_of_range_ids_are_404(cast, clients, t_north):
    for tid in (999999, 2**64):
        assert clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{tid}/code/").status_code == 404


# Memos --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_memo_page_and_api_by_role(cast, clients, api, book, t_north, t_south, role):
    coder = cast.users["coder"]
    memo_create(actor=coder, study_id=cast.study.pk, title="North impressions", body="tearful", transcript_id=t_north.pk)
    memo_create(actor=coder, study_id=cast.study.pk, title="South impressions", transcript_id=t_south.pk)
    memo_create(actor=cast.users["lead"], study_id=cast.study.pk, title="Cues code", code_id=book.cues.pk)
    r = clients[role].get(f"/studies/{cast.study.pk}/memos/")
    check(r, role, {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404})
    if r.status_code == 200:
        html = r.content.decode()
        assert ("North impressions" in html) is (role != "coder_other_site")  # out of scope: not listed
        assert "South impressions" in html
        assert "Cues code" in html
    a = api[role].get(f"/api/v1/studies/{cast.study.pk}/memos/?q=tearful")
    if role == "anonymous":
        assert a.status_code in (401, 403)
    else:
        want = {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404}[role]
        assert a.status_code == want
        if want == 200:
            assert [m["title"] for m in a.json()] == ([] if role == "coder_other_site" else ["North impressions"])
    p = api[role].post(f"/api/v1/studies/{cast.study.pk}/memos/", {"title": "New", "transcript": t_north.pk}, format="json")
    if role != "anonymous":
        want = {"admin": 403, "lead": 201, "coder": 201, "coder_other_site": 404, "ppi": 403, "outsider": 404}[role]
        assert p.status_code == want, (role, p.content)


def test_memo_bad_input_and_ownership(cast, api, clients, book, t_north, su01):
    base = f"/api/v1/studies/{cast.study.pk}/memos/"
    for body in ({"title": ""}, {"title": "x" * 201}, {"title": "a", "code": book.other_study_code.pk},
                 {"title": "a", "code": book.cues.pk, "transcript": t_north.pk}, {"title": "a", "code": "zz"}):
        assert api["coder"].post(base, body, format="json").status_code == 400, body
    assert api["coder"].post(base, {"title": "a", "coding": 424242}, format="json").status_code == 404
    assert not Memo.objects.exists()
    m = memo_create(actor=cast.users["lead"], study_id=cast.study.pk, title="Lead's")
    assert api["coder"].patch(f"{base}{m.pk}/", {"title": "Mine now"}, format="json").status_code == 403
    assert api["lead"].patch(f"{base}{m.pk}/", {"title": "Renamed", "body": "b"}, format="json").status_code == 200
    assert api["coder"].delete(f"{base}{m.pk}/").status_code == 403
    assert api["lead"].delete(f"{base}{m.pk}/").status_code == 204
    su01.consent_state = ConsentState.WITHDRAWN_RETAIN
    su01.save()
    assert api["coder"].post(base, {"title": "a", "transcript": t_north.pk}, format="json").status_code == 409
    r = clients["coder"].post(f"/studies/{cast.study.pk}/memos/", {"title": "Study memo", "body": "About all"})
    assert r.status_code == 302
    assert Memo.objects.filter(title="Study memo").exists()
    assert clients["admin"].post(f"/studies/{cast.study.pk}/memos/", {"title": "x"}).status_code == 403


def test_memo_edit_and_delete_on_the_memos_page(cast, clients, book):
    """Its author edits and deletes a memo from the Memos page (delete asks first); another coder is
    offered neither and is refused; a lead may, as in the API."""
    sid = cast.study.pk
    m = memo_create(actor=cast.users["coder"], study_id=sid, title="Silences", body="Long pauses", code_id=book.cues.pk)
    other = memo_create(actor=cast.users["lead"], study_id=sid, title="Lead's plan")
    page = clients["coder"].get(f"/studies/{sid}/memos/").content.decode()
    assert f'href="/studies/{sid}/memos/{m.pk}/edit/"' in page
    assert f'href="/studies/{sid}/memos/{m.pk}/delete/"' in page
    assert f"/memos/{other.pk}/edit/" not in page  # the lead's memo: no links for the coder
    assert f"/memos/{other.pk}/edit/" in clients["lead"].get(f"/studies/{sid}/memos/").content.decode()
    form = clients["coder"].get(f"/studies/{sid}/memos/{m.pk}/edit/").content.decode()
    assert 'value="Silences"' in form
    assert "Long pauses" in form
    bad = clients["coder"].post(f"/studies/{sid}/memos/{m.pk}/edit/", {"title": " ", "body": "x"})
    assert bad.status_code == 200
    assert 'role="alert"' in bad.content.decode()
    r = clients["coder"].post(f"/studies/{sid}/memos/{m.pk}/edit/", {"title": "Silences, again", "body": "Longer"})
    assert r.status_code == 302
    assert r["Location"].endswith(f"/memos/#memo-{m.pk}")
    m.refresh_from_db()
    assert (m.title, m.body) == ("Silences, again", "Longer")
    assert clients["coder"].post(f"/studies/{sid}/memos/{other.pk}/edit/", {"title": "Mine"}).status_code == 403
    confirm = clients["coder"].get(f"/studies/{sid}/memos/{m.pk}/delete/")
    assert "Delete the memo “Silences, again”?" in confirm.content.decode()
    assert Memo.objects.filter(pk=m.pk).exists()  # asking is not deleting
    assert clients["coder"].post(f"/studies/{sid}/memos/{other.pk}/delete/").status_code == 403
    assert clients["coder"].post(f"/studies/{sid}/memos/{m.pk}/delete/").status_code == 302
    assert not Memo.objects.filter(pk=m.pk).exists()
    assert Memo.objects.filter(pk=other.pk).exists()


def test_memo_on_a_coding(cast, api, book, t_north):
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/memos/", {"title": "Why", "coding": c.pk}, format="json")
    assert r.status_code == 201
    assert r.json()["target"] == "coding"
    assert r.json()["transcript"] == t_north.pk
    got = api["coder"].get(f"/api/v1/studies/{cast.study.pk}/memos/?target=coding").json()
    assert [m["title"] for m in got] == ["Why"]


# Retrieval ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_code_segments_by_role_and_scope(cast, clients, api, book, t_north, t_south, role):
    for t, words in ((t_north, "you cannot see if someone is tearful"), (t_south, "no training for video calls")):
        s, e = span_of(t, words)
        coding_services.coding_create(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t.pk,
                                      code_id=book.cues.pk, start=s, end=e)
    r = clients[role].get(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/")
    check(r, role, {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404})
    if r.status_code == 200:
        html = r.content.decode()
        assert "no training for video calls" in html
        assert ("tearful" in html) is (role != "coder_other_site")
        assert "Service user" in html or role == "coder_other_site"
    a = api[role].get(f"/api/v1/studies/{cast.study.pk}/codes/{book.cues.pk}/segments/")
    if role not in ("anonymous",):
        want = {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 404, "outsider": 404}[role]
        assert a.status_code == want
        if want == 200:
            segs = a.json()["segments"]
            assert {s["pseudonym"] for s in segs} == ({"ST01"} if role == "coder_other_site" else {"SU01", "ST01"})
            assert all(s["before"] or s["after"] for s in segs)


# Blind double coding --------------------------------------------------------------------------------


@pytest.fixture
def blind(cast, book, t_south):
    """ST01's transcript assigned to coder and coder_other_site; each has coded something."""
    sid = cast.study.pk
    a = assignments.assignment_create(actor=cast.users["lead"], study_id=sid, transcript_id=t_south.pk,
                                      coder_a_id=cast.users["coder"].pk, coder_b_id=cast.users["coder_other_site"].pk)
    s, e = span_of(t_south, "no training for video calls")
    mine = coding_services.coding_create(actor=cast.users["coder"], study_id=sid, transcript_id=t_south.pk,
                                         code_id=book.cues.pk, start=s, end=e)
    theirs = coding_services.coding_create(actor=cast.users["coder_other_site"], study_id=sid, transcript_id=t_south.pk,
                                           code_id=book.cues.pk, start=s, end=e - 6)
    return a, mine, theirs


def test_blind_hides_the_other_coder_everywhere_until_both_done(cast, api, clients, book, t_south, blind):
    _a, mine, theirs = blind
    sid, coder = cast.study.pk, cast.users["coder"]
    lst = api["coder"].get(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/").json()["results"]
    assert [c["id"] for c in lst] == [mine.pk]
    page = clients["coder"].get(f"/studies/{sid}/transcripts/{t_south.pk}/code/")
    assert [c["id"] for c in config_of(page)["codings"]] == [mine.pk]
    assert "Blind double coding" in page.content.decode()
    events, last = events_after(user=coder, transcript_id=t_south.pk, after=0)
    assert [e.coding_id for e in events] == [mine.pk]
    assert last > events[-1].id
    segs = api["coder"].get(f"/api/v1/studies/{sid}/codes/{book.cues.pk}/segments/").json()["segments"]
    assert [s["coding"] for s in segs] == [mine.pk]
    assert api["coder"].get(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/{theirs.pk}/").status_code == 404
    assert api["coder"].patch(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/{theirs.pk}/",
                              {"version": 1, "start": 0}, format="json").status_code == 404
    assert api["coder"].post(f"/api/v1/studies/{sid}/memos/", {"title": "x", "coding": theirs.pk}, format="json").status_code == 404
    # The lead sees both; comparison and agreement wait for both coders.
    assert len(api["lead"].get(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/").json()["results"]) == 2
    assert api["lead"].get(f"/api/v1/studies/{sid}/agreement/").json()["transcripts"] == []
    assert "comparison opens" in clients["coder"].get(f"/studies/{sid}/transcripts/{t_south.pk}/disagreements/").content.decode()
    done = f"/api/v1/studies/{sid}/assignments/{t_south.pk}/done/"
    assert api["lead"].post(done, {}, format="json").status_code == 403  # not one of the two coders
    assert api["coder"].post(done, {"done": "yes"}, format="json").status_code == 400
    assert api["coder"].post(done, {}, format="json").json()["done_a"] is True
    assert len(api["coder"].get(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/").json()["results"]) == 1
    assert api["coder_other_site"].post(done, {}, format="json").json()["complete"] is True
    assert len(api["coder"].get(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/").json()["results"]) == 2
    report = api["lead"].get(f"/api/v1/studies/{sid}/agreement/?transcript={t_south.pk}").json()
    cues = next(c for c in report["codes"] if c["code"] == book.cues.pk)
    assert cues["both"] == theirs.end - theirs.start
    assert cues["a_only"] == 6
    assert cues["b_only"] == 0
    assert 0 < cues["kappa"] < 1
    html = clients["lead"].get(f"/studies/{sid}/transcripts/{t_south.pk}/disagreements/").content.decode()
    assert "(only)" in html
    assert "Loss of non-verbal cues" in html


@pytest.mark.parametrize("role", ROLES)
def test_double_coding_pages_and_api_by_role(cast, clients, api, blind, t_south, role):
    sid = cast.study.pk
    r = clients[role].get(f"/studies/{sid}/double-coding/")
    check(r, role, {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404})
    r = clients[role].get(f"/studies/{sid}/transcripts/{t_south.pk}/disagreements/")
    check(r, role, {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404})
    if role == "anonymous":
        return
    got = api[role].get(f"/api/v1/studies/{sid}/assignments/")
    assert got.status_code == {"admin": 200, "lead": 200, "coder": 200, "coder_other_site": 200, "ppi": 403, "outsider": 404}[role]
    agree = api[role].get(f"/api/v1/studies/{sid}/agreement/")
    assert agree.status_code == {"admin": 200, "lead": 200, "coder": 403, "coder_other_site": 403, "ppi": 403, "outsider": 404}[role]
    new = api[role].post(f"/api/v1/studies/{sid}/assignments/", {"transcript": t_south.pk, "coder_a": 1, "coder_b": 2}, format="json")
    assert new.status_code == {"admin": 403, "lead": 400, "coder": 403, "coder_other_site": 403, "ppi": 403, "outsider": 404}[role]


def test_assignment_bad_input(cast, api, t_north, t_south):
    base = f"/api/v1/studies/{cast.study.pk}/assignments/"
    u = cast.users
    cases = [
        ({"transcript": t_north.pk, "coder_a": u["coder"].pk, "coder_b": u["coder"].pk}, 400),
        ({"transcript": t_north.pk, "coder_a": u["coder"].pk, "coder_b": u["ppi"].pk}, 400),
        ({"transcript": t_north.pk, "coder_a": u["coder"].pk, "coder_b": u["coder_other_site"].pk}, 400),  # out of their scope
        ({"transcript": 999999, "coder_a": u["coder"].pk, "coder_b": u["lead"].pk}, 404),
        ({"transcript": "x", "coder_a": "y", "coder_b": None}, 404),
    ]
    for body, code in cases:
        assert api["lead"].post(base, body, format="json").status_code == code, body
    assert not Assignment.objects.exists()
    ok = api["lead"].post(base, {"transcript": t_north.pk, "coder_a": u["coder"].pk, "coder_b": u["lead"].pk}, format="json")
    assert ok.status_code == 201
    assert api["lead"].post(base, {"transcript": t_north.pk, "coder_a": u["coder"].pk, "coder_b": u["lead"].pk}, format="json").status_code == 400


def test_double_coding_page_forms(cast, clients, t_north):
    sid = cast.study.pk
    r = clients["lead"].post(f"/studies/{sid}/double-coding/", {"action": "assign", "transcript": t_north.pk,
                                                                "coder_a": cast.users["coder"].pk, "coder_b": cast.users["lead"].pk})
    assert r.status_code == 302
    assert Assignment.objects.count() == 1
    r = clients["coder"].post(f"/studies/{sid}/double-coding/", {"action": "done", "transcript": t_north.pk})
    assert r.status_code == 302
    assert Assignment.objects.get().done_a is not None
    r = clients["coder"].post(f"/studies/{sid}/double-coding/", {"action": "assign", "transcript": t_north.pk})
    assert r.status_code == 403


@pytest.mark.job
def test_study_wide_agreement_report_runs_as_a_job(cast, api, book, t_south, run_jobs):
    sid = cast.study.pk
    assignments.assignment_create(actor=cast.users["lead"], study_id=sid, transcript_id=t_south.pk,
                                  coder_a_id=cast.users["coder"].pk, coder_b_id=cast.users["lead"].pk)
    for user, end in ((cast.users["coder"], 20), (cast.users["lead"], 25)):
        coding_services.coding_create(actor=user, study_id=sid, transcript_id=t_south.pk, code_id=book.cues.pk,
                                      start=10, end=end)
        assignments.assignment_mark_done(actor=user, study_id=sid, transcript_id=t_south.pk)
    r = api["lead"].post(f"/api/v1/studies/{sid}/agreement/report/")
    assert r.status_code == 202
    job = run_jobs(r.json()["job"])
    assert job.status == "done", job.error
    cues = job.result["codes"][0]
    assert (cues["both"], cues["a_only"], cues["b_only"]) == (10, 0, 5)
    assert api["coder"].post(f"/api/v1/studies/{sid}/agreement/report/").status_code == 403


@override_settings(CHORUS_CODING_STREAM_SECONDS=0)
def test_stream_hides_blind_events_but_moves_last_event_id(cast, clients, blind, t_south):
    _a, mine, theirs = blind
    body = b"".join(clients["coder"].get(f"/studies/{cast.study.pk}/transcripts/{t_south.pk}/code/stream/").streaming_content).decode()
    assert f'"id":{mine.pk}' in body
    assert f'"id":{theirs.pk}' not in body
    assert "event: skip" in body


def test_memo_page_about_a_coding(cast, clients, book, t_north):
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    page = clients["coder"].get(f"/studies/{cast.study.pk}/memos/?coding={c.pk}").content.decode()
    assert f'name="coding" value="{c.pk}"' in page
    assert 'name="coding"' not in clients["coder_other_site"].get(f"/studies/{cast.study.pk}/memos/?coding={c.pk}").content.decode()
    assert clients["coder"].get(f"/studies/{cast.study.pk}/memos/?coding=99999999999999999999").status_code == 200
    r = clients["coder"].post(f"/studies/{cast.study.pk}/memos/", {"title": "On it", "coding": c.pk})
    assert r.status_code == 302
    assert Memo.objects.get().coding_id == c.pk


@pytest.mark.parametrize("role", ROLES)
def test_bulk_delete_done_and_report_by_role(cast, api, book, t_south, role):
    sid = cast.study.pk
    c = coding_services.coding_create(actor=cast.users["coder"], study_id=sid, transcript_id=t_south.pk,
                                      code_id=book.cues.pk, start=0, end=5)
    assignments.assignment_create(actor=cast.users["lead"], study_id=sid, transcript_id=t_south.pk,
                                  coder_a_id=cast.users["coder"].pk, coder_b_id=cast.users["coder_other_site"].pk)
    d = api[role].post(f"/api/v1/studies/{sid}/transcripts/{t_south.pk}/codings/delete/", {"ids": [c.pk]}, format="json")
    done = api[role].post(f"/api/v1/studies/{sid}/assignments/{t_south.pk}/done/", {}, format="json")
    rep = api[role].post(f"/api/v1/studies/{sid}/agreement/report/")
    if role == "anonymous":
        assert {d.status_code, done.status_code, rep.status_code} <= {401, 403}
        return
    # coder_other_site is blind to coder's coding (404); lead may delete anyone's.
    # ppi: board only, so a transcript named by id is not confirmed to exist (404)
    assert d.status_code == {"admin": 403, "lead": 200, "coder": 200, "coder_other_site": 404, "ppi": 404, "outsider": 404}[role]
    assert done.status_code == {"admin": 403, "lead": 403, "coder": 200, "coder_other_site": 200, "ppi": 404, "outsider": 404}[role]
    assert rep.status_code == {"admin": 202, "lead": 202, "coder": 403, "coder_other_site": 403, "ppi": 403, "outsider": 404}[role]
