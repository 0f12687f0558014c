"""Discussing and resolving disagreements after blind double coding: the regions, role x scope for
every new page and endpoint, the outcomes really changing the codings, and bad input writing nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role
from analysis.coding import agreement
from analysis.coding.models import Assignment, Coding, CodingEvent, Disagreement, DisagreementComment
from analysis.coding.services import assignments
from analysis.coding.services import codings as coding_services
from analysis.transcripts.models import Transcript
from tests.factories import MembershipFactory, UserFactory

from .conftest import span_of

pytestmark = pytest.mark.django_db
ROLES = ["admin", "lead", "coder", "coder_b", "coder_unassigned", "coder_other_site", "ppi", "outsider", "anonymous"]


def test_regions_pure():
    # A [0,10); B [0,4) and [6,10): one region [0,10), 2 characters only A.
    (r,) = agreement.disagreement_regions(spans_a=[(0, 10)], spans_b=[(0, 4), (6, 10)], length=20)
    assert (r.start, r.end, r.a, r.b, r.a_only, r.b_only) == (0, 10, ((0, 10),), ((0, 4), (6, 10)), 2, 0)
    # Touching spans of one coder equal one span: no disagreement; identical stretches are skipped.
    assert agreement.disagreement_regions(spans_a=[(0, 5), (5, 9)], spans_b=[(0, 9)], length=20) == []
    regions = agreement.disagreement_regions(spans_a=[(0, 3), (10, 12)], spans_b=[(0, 3), (15, 18)], length=20)
    assert [(r.start, r.end, r.a_only, r.b_only) for r in regions] == [(10, 12, 2, 0), (15, 18, 0, 3)]
    counts = agreement.counts_for(spans_a=[(0, 10), (12, 14)], spans_b=[(2, 13)], length=20)
    regions = agreement.disagreement_regions(spans_a=[(0, 10), (12, 14)], spans_b=[(2, 13)], length=20)
    assert sum(r.a_only for r in regions) == counts.a_only
    assert sum(r.b_only for r in regions) == counts.b_only


@dataclass
class Setup:
    a: Assignment
    sid: int
    tid: int
    cues_key: str
    conv_key: str
    cues_span: tuple[int, int]
    conv_span: tuple[int, int]


@pytest.fixture
def extra(cast, clients, api):
    """Two more whole-study coders: coder_b (assigned) and coder_unassigned."""
    for role in ("coder_b", "coder_unassigned"):
        user = UserFactory(email=f"{role}@example.org")
        MembershipFactory(user=user, study=cast.study, role=Role.CODER)
        cast.users[role] = user
        c = Client()
        c.force_login(user)
        clients[role] = c
        token, _ = Token.objects.get_or_create(user=user)
        ac = APIClient()
        ac.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        api[role] = ac
    return cast


def _assign(cast, book, t_north, *, done: bool = True) -> Setup:
    sid, u = cast.study.pk, cast.users
    a = assignments.assignment_create(actor=u["lead"], study_id=sid, transcript_id=t_north.pk,
                                      coder_a_id=u["coder"].pk, coder_b_id=u["coder_b"].pk)
    s, e = span_of(t_north, "On the phone you cannot see if someone is tearful")
    coding_services.coding_create(actor=u["coder"], study_id=sid, transcript_id=t_north.pk, code_id=book.cues.pk, start=s, end=e)
    coding_services.coding_create(actor=u["coder_b"], study_id=sid, transcript_id=t_north.pk, code_id=book.cues.pk, start=s, end=e - 8)
    # After the emoji: code points, not UTF-16 units.
    cs, ce = span_of(t_north, "and I was phoning the café")
    coding_services.coding_create(actor=u["coder_b"], study_id=sid, transcript_id=t_north.pk, code_id=book.convenience.pk, start=cs, end=ce)
    vs, ve = span_of(t_north, "phoned me every week")
    for who in ("coder", "coder_b"):  # agreed: not a disagreement
        coding_services.coding_create(actor=u[who], study_id=sid, transcript_id=t_north.pk, code_id=book.video.pk, start=vs, end=ve)
    if done:
        for who in ("coder", "coder_b"):
            assignments.assignment_mark_done(actor=u[who], study_id=sid, transcript_id=t_north.pk)
    a.refresh_from_db()
    return Setup(a, sid, t_north.pk, f"{book.cues.pk}-{s}-{e}", f"{book.convenience.pk}-{cs}-{ce}", (s, e), (cs, ce))


@pytest.fixture
def setup(extra, book, t_north) -> Setup:
    return _assign(extra, book, t_north)


def _api(s: Setup) -> str:
    return f"/api/v1/studies/{s.sid}/assignments/{s.tid}/disagreements/"


def _page(s: Setup) -> str:
    return f"/studies/{s.sid}/transcripts/{s.tid}/disagreements/"


def _codings(s: Setup, cast, who: str, code) -> list[tuple[int, int]]:
    return list(Coding.objects.filter(transcript_id=s.tid, coder=cast.users[who], code=code)
                .order_by("start").values_list("start", "end"))


def _status(r) -> int:
    return r.status_code


# Listing -------------------------------------------------------------------------------------------------


def test_list_computes_regions_with_code_points(setup, api, book, t_north):
    body = api["lead"].get(_api(setup)).json()
    assert (body["open"], body["resolved"], body["assignment"]) == (2, 0, setup.a.pk)
    keys = {d["key"]: d for d in body["results"]}
    assert set(keys) == {setup.cues_key, setup.conv_key}
    cues = keys[setup.cues_key]
    assert cues["coder_a"]["only"] == 8
    assert cues["coder_b"]["only"] == 0
    assert cues["code_name"] == "Loss of non-verbal cues"
    conv = keys[setup.conv_key]
    assert conv["text"] == "and I was phoning the café"
    assert conv["coder_a"]["spans"] == []
    assert conv["coder_b"]["spans"] == [list(setup.conv_span)]
    assert t_north.text[conv["start"]:conv["end"]] == "and I was phoning the café"


@pytest.mark.parametrize("role", ROLES)
def test_pages_and_api_by_role(setup, clients, api, role):
    reads = {"admin": 200, "lead": 200, "coder": 200, "coder_b": 200, "coder_unassigned": 403,
             "coder_other_site": 404, "ppi": 404, "outsider": 404}  # ppi: a transcript by id is not confirmed
    writes = {"admin": 403, "lead": 201, "coder": 201, "coder_b": 201, "coder_unassigned": 403,
              "coder_other_site": 404, "ppi": 404, "outsider": 404}
    page = clients[role].get(_page(setup))
    comment_url = f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/{setup.cues_key}/comments/"
    resolve_url = f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/{setup.cues_key}/resolve/"
    pc = clients[role].post(comment_url, {"body": f"page comment by {role}"})
    pr = clients[role].post(resolve_url, {"outcome": "both"})  # no confirmation yet: a confirmation page
    if role == "anonymous":
        for r in (page, pc, pr):
            assert r.status_code == 302
            assert "/login/" in r["Location"]
        for r in (api[role].get(_api(setup)),
                  api[role].post(_api(setup) + f"{setup.cues_key}/comments/", {"body": "x"}, format="json"),
                  api[role].post(_api(setup) + f"{setup.cues_key}/resolve/", {"outcome": "both"}, format="json")):
            assert r.status_code in (401, 403)
        assert not DisagreementComment.objects.exists()
        return
    assert page.status_code == reads[role], (role, page.status_code)
    if reads[role] == 200:
        html = page.content.decode()
        assert "1 disagreement" not in html
        assert "<strong>2</strong> open" in html
        assert ("Add a comment" in html) == (writes[role] == 201)
        assert "Keep A&#x27;s coding" in html or "Keep A's coding" in html or writes[role] != 201
    page_write = {201: 302}.get(writes[role], writes[role])
    assert pc.status_code == page_write, (role, pc.status_code)
    assert pr.status_code == {201: 200}.get(writes[role], writes[role]), (role, pr.status_code)
    got = api[role].get(_api(setup))
    assert got.status_code == reads[role]
    c = api[role].post(_api(setup) + f"{setup.cues_key}/comments/", {"body": f"api comment by {role}"}, format="json")
    assert c.status_code == writes[role], (role, c.status_code)
    n_comments = DisagreementComment.objects.count()
    assert n_comments == (2 if writes[role] == 201 else 0)
    r = api[role].post(_api(setup) + f"{setup.cues_key}/resolve/", {"outcome": "both"}, format="json")
    assert r.status_code == {201: 200}.get(writes[role], writes[role]), (role, r.status_code)
    resolved = Disagreement.objects.filter(resolved_at__isnull=False).count()
    assert resolved == (1 if writes[role] == 201 else 0)


def test_assigned_other_site_coder_in_scope(cast, api, book, t_south):
    """coder_other_site assigned on the South transcript may comment; the North coder sees it too."""
    sid, u = cast.study.pk, cast.users
    assignments.assignment_create(actor=u["lead"], study_id=sid, transcript_id=t_south.pk,
                                  coder_a_id=u["coder"].pk, coder_b_id=u["coder_other_site"].pk)
    s, e = span_of(t_south, "no training for video calls")
    coding_services.coding_create(actor=u["coder_other_site"], study_id=sid, transcript_id=t_south.pk,
                                  code_id=book.cues.pk, start=s, end=e)
    base = f"/api/v1/studies/{sid}/assignments/{t_south.pk}/disagreements/"
    assert api["coder_other_site"].get(base).status_code == 409  # blind phase
    for who in ("coder", "coder_other_site"):
        assignments.assignment_mark_done(actor=u[who], study_id=sid, transcript_id=t_south.pk)
    body = api["coder_other_site"].get(base).json()
    assert [d["key"] for d in body["results"]] == [f"{book.cues.pk}-{s}-{e}"]
    assert api["coder_other_site"].post(base + f"{book.cues.pk}-{s}-{e}/comments/", {"body": "I think so"},
                                        format="json").status_code == 201


# Outcomes --------------------------------------------------------------------------------------------


def _resolve(api, s: Setup, key: str, outcome: str, who: str = "coder", note: str = ""):
    return api[who].post(_api(s) + f"{key}/resolve/", {"outcome": outcome, "note": note}, format="json")


def test_keep_a_replaces_b_codings_with_a_spans(setup, cast, api, book):
    before = CodingEvent.objects.count()
    r = _resolve(api, setup, setup.cues_key, "keep_a", who="coder_b")
    assert r.status_code == 200, r.content
    assert r.json()["outcome"] == "keep_a"
    assert r.json()["resolved_by_name"]
    assert _codings(setup, cast, "coder", book.cues) == [setup.cues_span]
    assert _codings(setup, cast, "coder_b", book.cues) == [setup.cues_span]
    kinds = list(CodingEvent.objects.filter(id__gt=0).order_by("id").values_list("kind", flat=True))[before:]
    assert kinds == ["deleted", "created"]  # the live feed of open coding pages
    assert AuditEvent.objects.filter(action="coding.disagreement_resolve").count() == 1
    body = api["lead"].get(_api(setup)).json()
    assert (body["open"], body["resolved"]) == (1, 1)
    assert [d["key"] for d in api["lead"].get(_api(setup) + "?status=resolved").json()["results"]] == [setup.cues_key]
    assert [d["key"] for d in api["lead"].get(_api(setup) + "?status=open").json()["results"]] == [setup.conv_key]
    # Agreement is computed from the current codings: the cues code now agrees completely.
    report = api["lead"].get(f"/api/v1/studies/{setup.sid}/agreement/?transcript={setup.tid}").json()
    cues = next(c for c in report["codes"] if c["code"] == book.cues.pk)
    assert cues["a_only"] == cues["b_only"] == 0
    # Resolving again is a conflict, and writes nothing.
    n = Coding.objects.count()
    assert _resolve(api, setup, setup.cues_key, "keep_b").status_code == 409
    assert Coding.objects.count() == n


def test_keep_b_and_neither(setup, cast, api, book):
    assert _resolve(api, setup, setup.conv_key, "keep_b", who="lead").status_code == 200
    assert _codings(setup, cast, "coder", book.convenience) == [setup.conv_span]
    assert _codings(setup, cast, "coder_b", book.convenience) == [setup.conv_span]
    assert _resolve(api, setup, setup.cues_key, "neither").status_code == 200
    assert _codings(setup, cast, "coder", book.cues) == []
    assert _codings(setup, cast, "coder_b", book.cues) == []
    assert len(_codings(setup, cast, "coder", book.video)) == 1  # other codes untouched


def test_both_and_adjusted_change_nothing(setup, cast, api, book):
    n = Coding.objects.count()
    assert _resolve(api, setup, setup.cues_key, "both").status_code == 200
    assert _resolve(api, setup, setup.conv_key, "adjusted").status_code == 400  # a note is required
    assert _resolve(api, setup, setup.conv_key, "adjusted", note="We recoded it").status_code == 200
    assert Coding.objects.count() == n
    body = api["coder"].get(_api(setup)).json()
    assert (body["open"], body["resolved"]) == (0, 2)
    d = next(x for x in body["results"] if x["key"] == setup.conv_key)
    assert d["note"] == "We recoded it"
    assert d["status"] == "resolved"


def test_before_both_done_is_refused(extra, api, clients, book, t_north):
    s = _assign(extra, book, t_north, done=False)
    assignments.assignment_mark_done(actor=extra.users["coder"], study_id=s.sid, transcript_id=s.tid)
    for who in ("coder", "lead"):
        assert api[who].get(_api(s)).status_code == 409
        assert api[who].post(_api(s) + f"{s.cues_key}/comments/", {"body": "x"}, format="json").status_code == 409
        assert _resolve(api, s, s.cues_key, "neither", who=who).status_code == 409
    assert "comparison opens" in clients["coder"].get(_page(s)).content.decode()
    page = f"/studies/{s.sid}/transcripts/{s.tid}/disagreements/{s.cues_key}/"
    assert clients["coder"].post(page + "comments/", {"body": "x"}).status_code == 409
    assert clients["coder"].post(page + "resolve/", {"outcome": "neither", "confirmed": "1"}).status_code == 409
    assert not Disagreement.objects.exists()
    assert Coding.objects.count() == 5


@pytest.mark.parametrize(("payload", "path", "expected"), [
    ({"outcome": "maybe"}, "resolve", 400),
    ({"outcome": ""}, "resolve", 400),
    ({}, "resolve", 400),
    ({"outcome": "both", "note": 5}, "resolve", 400),
    ({"body": ""}, "comments", 400),
    ({"body": "x" * 5001}, "comments", 400),
    ({"body": ["x"]}, "comments", 400),
])
def test_bad_input_writes_nothing(setup, api, payload, path, expected):
    n = Coding.objects.count()
    r = api["coder"].post(_api(setup) + f"{setup.cues_key}/{path}/", payload, format="json")
    assert r.status_code == expected, r.content
    assert Coding.objects.count() == n
    assert not Disagreement.objects.exists()
    assert not DisagreementComment.objects.exists()


def test_unknown_key_and_malformed_json(setup, api, book):
    n = Coding.objects.count()
    for key in ("nope", f"{book.cues.pk}-1-2", f"{book.cues.pk}-5-5", "99999999-0-3", "1-2-3-4"):
        assert _resolve(api, setup, key, "neither").status_code == 404, key
        assert api["coder"].post(_api(setup) + f"{key}/comments/", {"body": "x"}, format="json").status_code == 404
    r = api["coder"].post(_api(setup) + f"{setup.cues_key}/resolve/", data='{"outcome": ', content_type="application/json")
    assert r.status_code == 400
    r = api["coder"].post(_api(setup) + f"{setup.cues_key}/comments/", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert api["lead"].get(_api(setup) + "?status=weird").status_code == 400
    other = f"/api/v1/studies/{setup.sid}/assignments/999999/disagreements/"
    assert api["lead"].get(other).status_code == 404
    assert Coding.objects.count() == n
    assert not Disagreement.objects.exists()


def test_frozen_transcript_rolls_back(setup, api, cast, su01, book, monkeypatch):
    """A failure inside the coding services (here: consent frozen) leaves no partial change."""
    from analysis.coding.services import codings as cs

    real = cs.coding_create

    def boom(**kw):
        real(**kw)
        raise cs.CodingFrozen("frozen")

    monkeypatch.setattr(cs, "coding_create", boom)
    before = _codings(setup, cast, "coder_b", book.cues)
    assert _resolve(api, setup, setup.cues_key, "keep_a").status_code == 409
    assert _codings(setup, cast, "coder_b", book.cues) == before
    assert not Disagreement.objects.exists()


# The page --------------------------------------------------------------------------------------------


def test_page_comment_and_resolve_with_htmx_and_confirmation(setup, clients, cast, book):
    base = f"/studies/{setup.sid}/transcripts/{setup.tid}/disagreements/{setup.cues_key}/"
    hx = {"HTTP_HX_REQUEST": "true"}
    r = clients["coder"].post(base + "comments/", {"body": "You stopped before 'tearful'?"}, **hx)
    assert r.status_code == 200
    html = r.content.decode()
    assert "You stopped before" in html
    assert f'id="d-{setup.cues_key}"' in html
    assert 'hx-swap-oob="true"' in html
    r = clients["coder"].post(base + "comments/", {"body": "   "}, **hx)
    assert 'role="alert"' in r.content.decode()
    assert DisagreementComment.objects.count() == 1
    # A plain post asks for confirmation first and changes nothing.
    r = clients["coder_b"].post(base + "resolve/", {"outcome": "keep_a"})
    assert r.status_code == 200
    assert "Confirm: Keep A" in r.content.decode()
    # The words and their line, never code-point offsets.
    _code, start, end = (int(x) for x in setup.cues_key.split("-"))
    text = Transcript.objects.get(pk=setup.tid).text
    first = text.count("\n", 0, start) + 1
    last = first + text.count("\n", start, end - 1)
    heading = r.content.decode().split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert heading.endswith(f"line {first}" if first == last else f"lines {first}–{last}"), heading
    assert f"{start}–{end}" not in r.content.decode()
    assert text[start:end][:40] in r.content.decode()
    assert not Disagreement.objects.filter(resolved_at__isnull=False).exists()
    r = clients["coder_b"].post(base + "resolve/", {"outcome": "keep_a", "confirmed": "1"}, **hx)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Outcome: Keep A" in html
    assert "resolved by" in html
    assert _codings(setup, cast, "coder_b", book.cues) == [setup.cues_span]
    page = clients["lead"].get(_page(setup) + "?status=resolved").content.decode()
    assert "Outcome: Keep A" in page
    assert "<strong>1</strong> open, <strong>1</strong> resolved" in page
    assert f'id="d-{setup.conv_key}"' not in page
    page = clients["lead"].get(_page(setup) + "?status=open").content.decode()
    assert f'id="d-{setup.conv_key}"' in page
    assert f'id="d-{setup.cues_key}"' not in page
    # Every input has a label.
    for m in ("c-", "n-", "dis-status"):
        assert f'<label for="{m}' in page


# Corrections of the transcript -----------------------------------------------------------------------


def _correct(cast, tid: int, words: str, replacement: str):
    from analysis.transcripts.models import Transcript
    from analysis.transcripts.services.redaction import transcript_replace

    t = Transcript.objects.get(pk=tid)
    i = t.text.index(words)
    return transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=tid, start=i,
                              end=i + len(words), expected=words, replacement=replacement, base_version=t.version)


def _comment(api, s: Setup, key: str, body: str, who: str = "coder"):
    return api[who].post(_api(s) + f"{key}/comments/", {"body": body}, format="json")


def test_a_correction_moves_the_threads_with_their_words(setup, cast, api, book):
    assert _comment(api, setup, setup.cues_key, "Tearful is about cues.").status_code == 201
    assert _resolve(api, setup, setup.conv_key, "both", who="lead").status_code == 200
    # "John Smith" (10 code points) comes before both regions: "[NAME]" (6) shifts them by -4.
    result = _correct(cast, setup.tid, "John Smith", "[NAME]")
    assert result.edit.report["analysis.coding.services.disagreements.disagreements_reanchor"]["moved"] == 2
    (cs, ce), (vs, ve) = setup.cues_span, setup.conv_span
    body = api["lead"].get(_api(setup)).json()
    by_key = {d["key"]: d for d in body["results"]}
    moved_cues = f"{book.cues.pk}-{cs - 4}-{ce - 4}"
    moved_conv = f"{book.convenience.pk}-{vs - 4}-{ve - 4}"
    assert set(by_key) == {moved_cues, moved_conv}  # no stale duplicate beside the moved region
    assert by_key[moved_cues]["current"] is True
    assert [c["body"] for c in by_key[moved_cues]["comments"]] == ["Tearful is about cues."]
    assert by_key[moved_cues]["text"].startswith("On the phone you cannot see")
    resolved = by_key[moved_conv]
    assert resolved["status"] == "resolved"
    assert resolved["text"] == "and I was phoning the café"
    record = Disagreement.objects.get(assignment=setup.a, code=book.convenience)
    assert record.spans == {"a": [], "b": [[vs - 4, ve - 4]]}
    # The moved thread can still be discussed and resolved under its new key.
    assert _comment(api, setup, moved_cues, "Agreed.", who="coder_b").status_code == 201
    assert _resolve(api, setup, moved_cues, "keep_a", who="lead").status_code == 200


def test_deleting_the_text_under_discussion_keeps_the_thread_read_only(setup, cast, api, clients, book):
    assert _comment(api, setup, setup.cues_key, "Is this about cues?").status_code == 201
    _correct(cast, setup.tid, "On the phone you cannot see if someone is tearful.", "")
    record = Disagreement.objects.get(assignment=setup.a, code=book.cues)
    assert record.lost
    assert record.start == record.end
    body = api["lead"].get(_api(setup)).json()
    (lost,) = [d for d in body["results"] if d["status"] == "lost"]
    assert lost["key"] == f"lost-{record.pk}"
    assert [c["body"] for c in lost["comments"]] == ["Is this about cues?"]
    assert body["open"] == 1  # the other disagreement; a lost thread is not open work
    assert _comment(api, setup, lost["key"], "More?").status_code == 404
    assert _resolve(api, setup, lost["key"], "both", who="lead").status_code == 404
    page = clients["lead"].get(_page(setup))
    html = page.content.decode()
    assert "A correction of the transcript removed the text this discussion was about" in html
    assert f'id="d-lost-{record.pk}"' in html
    assert 'action="' + _page(setup) + f'lost-{record.pk}/comments/"' not in html


def test_records_that_would_land_on_each_other_stay_unique(setup, cast, book):
    from analysis.transcripts.services.anchors import reanchor
    from analysis.transcripts.text import Edit, EditMap

    (cs, ce) = setup.cues_span
    first = Disagreement.objects.create(study_id=setup.sid, assignment=setup.a, code=book.cues, start=cs, end=ce)
    second = Disagreement.objects.create(study_id=setup.sid, assignment=setup.a, code=book.cues, start=cs + 2, end=ce)
    # Deleting [cs, cs + 3) maps both to [cs, ce - 3): one keeps the place, the other is kept as lost.
    reports = reanchor(transcript_id=setup.tid, edit_map=EditMap([Edit(cs, cs + 3, "")]))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.start, first.end, first.lost) == (cs, ce - 3, False)
    assert (second.start, second.end, second.lost) == (cs, ce - 3, True)
    assert reports["analysis.coding.services.disagreements.disagreements_reanchor"].lost == [second.pk]
