"""The themes and board API: behaviour, conflicts, leaks and bad input (roles x scope: test_roles_matrix)."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from analysis.themes.models import Comment, Quote, Theme
from analysis.themes.services import comments as comment_services
from analysis.themes.services import themes as theme_services
from tests.helpers import db_fingerprint

from .conftest import SU01_WORDS


def A(cast, path: str) -> str:
    return f"/api/v1/studies/{cast.study.pk}{path}"


def test_theme_list_counts_in_the_readers_scope(cast, api, world):
    rows = api["lead"].get(A(cast, "/themes/")).json()
    assert [(r["theme"]["name"], r["participants"], r["segments"]) for r in rows] == [("Seeing each other", 2, 2)]
    rows = api["coder_other_site"].get(A(cast, "/themes/")).json()
    assert [(r["participants"], r["segments"]) for r in rows] == [(1, 1)]


def test_patch_with_a_stale_version_is_409_with_the_current_theme(cast, api, world):
    url = A(cast, f"/themes/{world.theme.pk}/")
    r = api["lead"].patch(url, {"name": "Faces", "status": "final", "version": 1}, format="json")
    assert r.status_code == 200
    assert r.json()["version"] == 2
    r = api["lead"].patch(url, {"name": "Mine", "version": 1}, format="json")
    assert r.status_code == 409
    assert r.json()["current"]["name"] == "Faces"
    assert r.json()["current"]["version"] == 2
    assert AuditEvent.objects.filter(action="theme.status").count() == 1
    history = api["coder"].get(url + "history/").json()
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["changes"]["status"] == ["reviewed", "final"]


def test_segments_page_by_group(cast, api, world):
    r = api["lead"].get(A(cast, f"/themes/{world.theme.pk}/segments/?group={world.su01.group_id}"))
    body = r.json()
    assert (body["label"], body["total"], body["pages"]) == ("Service user", 1, 1)
    assert body["segments"][0]["text"] == SU01_WORDS
    assert api["lead"].get(A(cast, f"/themes/{world.theme.pk}/segments/?group=x")).status_code == 400
    assert api["lead"].get(A(cast, f"/themes/{world.theme.pk}/segments/?group={2**70}")).status_code == 400


def test_quote_curation_and_the_board_shows_group_only(cast, api, world):
    r = api["lead"].post(A(cast, f"/themes/{world.theme.pk}/quotes/"),
                         {"coding": world.c_north.pk, "text": "you cannot see if someone is tearful",
                          "content_note": "mentions distress"}, format="json")
    assert r.status_code == 201
    assert r.json()["pseudonym"] == "SU01"
    assert r.json()["on_board"] is True
    board = api["ppi"].get(A(cast, "/board/"))
    assert board["Cache-Control"] == "no-store"
    [theme] = board.json()["themes"]
    assert theme["quotes"] == [{"id": r.json()["id"], "text": "you cannot see if someone is tearful",
                                "group": "Service user", "content_note": "mentions distress"}]
    assert theme["status_in_plain_words"].startswith("The team has checked")
    assert theme["description"] == "People miss seeing each other's faces."
    for leak in ("SU01", "North", "telephone", "2020", "Loss of non-verbal cues"):
        assert leak not in board.content.decode(), leak


def test_withdrawal_hides_the_quote_text_from_the_team_api_and_says_why(cast, api, world, quote):
    world.su01.consent_answers = {**world.su01.consent_answers, "anonymised_quotes": False}
    world.su01.save()
    [q] = api["lead"].get(A(cast, f"/themes/{world.theme.pk}/quotes/")).json()
    assert q["text"] == ""
    assert q["shown_to_team"] is False
    assert "not agreed to anonymised quotes" in q["hidden_reason"]
    assert api["ppi"].get(A(cast, "/board/")).json()["themes"][0]["quotes"] == []


@pytest.mark.parametrize("payload", [
    {"body": "x" * 100_000}, {"body": "nul \x00 byte"}, {"body": ""}, {"body": "ok", "parent": 2**70},
    {"body": "ok", "kind": "shout"}, {"body": "ok", "kind": "rename"}, {"body": "ok", "quote": "abc"},
])
def test_bad_comments_are_400_and_write_nothing(cast, api, world, payload):
    before = db_fingerprint()
    r = api["ppi"].post(A(cast, f"/themes/{world.theme.pk}/comments/"), payload, format="json")
    assert r.status_code == 400
    assert db_fingerprint() == before


@pytest.mark.parametrize("payload", [
    {"name": "x" * 201}, {"name": "nul\x00"}, {"name": "ok", "codes": [2**70]}, {"name": "ok", "parent": 2**70},
    {"name": "ok", "status": "done"}, {"name": "ok", "codes": [999_999]},
])
def test_bad_themes_are_400(cast, api, world, payload):
    r = api["lead"].post(A(cast, "/themes/"), payload, format="json")
    assert r.status_code == 400
    assert Theme.objects.count() == 1


def test_bad_quotes_are_400(cast, api, world):
    url = A(cast, f"/themes/{world.theme.pk}/quotes/")
    for payload in ({"coding": world.c_north.pk, "start": 2**40}, {"coding": world.c_north.pk, "text": "not said"},
                    {"coding": world.c_north.pk, "start": 0, "end": 3}):
        assert api["lead"].post(url, payload, format="json").status_code == 400, payload
    assert api["lead"].post(url, {"coding": 2**70}, format="json").status_code == 400
    assert api["lead"].post(url, {"coding": 999_999}, format="json").status_code == 404
    assert not Quote.objects.exists()


def test_comment_on_another_studys_theme_is_404(cast, api, world):
    other = Theme.objects.create(study=cast.other_study, name="Elsewhere", on_board=True,
                                 created_by=cast.users["outsider"], updated_by=cast.users["outsider"])
    for role in ("ppi", "lead"):
        r = api[role].post(A(cast, f"/themes/{other.pk}/comments/"), {"body": "hi"}, format="json")
        assert r.status_code == 404
    assert not Comment.objects.exists()


def test_comment_about_another_themes_quote_is_404(cast, api, world, quote):
    second = theme_services.theme_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Second", on_board=True)
    r = api["ppi"].post(A(cast, f"/themes/{second.pk}/comments/"), {"body": "hi", "quote": quote.pk}, format="json")
    assert r.status_code == 404


def test_reply_to_a_deleted_comment_is_400(cast, api, world):
    c = comment_services.comment_create(actor=cast.users["ppi"], study_id=cast.study.pk, theme_id=world.theme.pk, body="Hi")
    assert api["ppi"].delete(A(cast, f"/comments/{c.pk}/")).status_code == 204
    r = api["lead"].post(A(cast, f"/themes/{world.theme.pk}/comments/"), {"body": "Re", "parent": c.pk}, format="json")
    assert r.status_code == 400
    assert "deleted" in r.json()["parent"][0]


def test_ppi_cannot_post_to_a_code_or_read_codings(cast, api, world):
    sid = cast.study.pk
    assert api["ppi"].post(f"/api/v1/studies/{sid}/codes/", {"name": "PPI code"}, format="json").status_code == 403
    assert api["ppi"].patch(f"/api/v1/studies/{sid}/codes/{world.cues.pk}/", {"name": "x", "version": 1},
                            format="json").status_code == 404
    assert api["ppi"].post(f"/api/v1/studies/{sid}/memos/", {"title": "x", "code": world.cues.pk},
                           format="json").status_code == 403
    assert api["ppi"].get(f"/api/v1/studies/{sid}/transcripts/{world.t_north.pk}/codings/").status_code == 404
    assert api["ppi"].get(A(cast, f"/themes/{world.theme.pk}/quotes/")).status_code == 404


def test_comments_list_marks_mine_and_suggestion_decisions(cast, api, world):
    url = A(cast, f"/themes/{world.theme.pk}/comments/")
    s = api["ppi"].post(url, {"body": "New theme?", "kind": "new_theme", "suggested_name": "Cost of calls"},
                        format="json").json()
    r = api["lead"].post(A(cast, f"/comments/{s['id']}/decision/"), {"accept": True, "reason": "Good idea"},
                         format="json")
    assert r.status_code == 200
    assert r.json()["decision"] == "accepted"
    assert Theme.objects.filter(name="Cost of calls", status="candidate", on_board=False).exists()
    [mine] = api["ppi"].get(url).json()
    assert mine["mine"] is True
    assert "added a new theme" in mine["outcome"]
    assert api["lead"].get(url).json()[0]["mine"] is False
