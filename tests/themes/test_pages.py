"""Theme pages and the board, through the browser's HTTP: who sees what, forms, safe rendering."""

from __future__ import annotations

import re

import pytest

from analysis.themes.models import Comment, Quote, Reaction, Theme
from analysis.themes.services import board as board_services
from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services
from analysis.themes.services import themes as theme_services
from analysis.transcripts.text import line_number_at

from .conftest import ST01_WORDS, SU01_WORDS

S = "/studies/{}"


def url(cast, path: str) -> str:
    return S.format(cast.study.pk) + path


def test_team_theme_page_shows_codes_counts_segments_and_history(cast, clients, world, quote):
    r = clients["lead"].get(url(cast, f"/themes/{world.theme.pk}/"))
    html = r.content.decode()
    assert r.status_code == 200
    assert "Loss of non-verbal cues" in html
    assert "Training" in html
    assert re.search(r"Service user</th><td>1</td><td>1</td>", html)
    assert SU01_WORDS in html
    assert ST01_WORDS in html
    line = line_number_at(world.t_north.text, world.c_north.start)  # the reading page's numbering
    assert line == 4
    assert f"SU01</a>, line {line}" in html
    assert "Created" in html


def test_coder_of_another_site_sees_only_their_sites_segments(cast, clients, world, quote):
    html = clients["coder_other_site"].get(url(cast, f"/themes/{world.theme.pk}/")).content.decode()
    assert ST01_WORDS in html
    assert SU01_WORDS not in html
    assert "SU01" not in html


def test_theme_list_counts(cast, clients, world):
    html = clients["coder"].get(url(cast, "/themes/")).content.decode()
    assert "Seeing each other" in html
    assert "Propose a theme" in html


def test_coder_proposes_through_the_form(cast, clients, world):
    r = clients["coder"].post(url(cast, "/themes/new/"), {"name": "Waiting lists", "codes": [world.cues.pk],
                                                         "status": "final", "on_board": "on"})
    assert r.status_code == 302
    t = Theme.objects.get(name="Waiting lists")
    assert (t.status, t.on_board) == ("candidate", False)


def test_edit_conflict_answers_409_with_their_version(cast, clients, world):
    theme_services.theme_update(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk, version=1,
                          changes={"name": "Faces"})
    r = clients["lead"].post(url(cast, f"/themes/{world.theme.pk}/edit/"),
                             {"name": "Mine", "status": "candidate", "version": 1})
    assert r.status_code == 409
    assert "Faces" in r.content.decode()
    assert "Save my version" in r.content.decode()
    assert Theme.objects.get(pk=world.theme.pk).name == "Faces"


def test_edit_form_keeps_its_version_hidden_without_a_label(cast, clients, world):
    html = clients["lead"].get(url(cast, f"/themes/{world.theme.pk}/edit/")).content.decode()
    assert '<input type="hidden" name="version"' in html
    assert 'for="id_version"' not in html  # "Version (optional)" stood above nothing


def test_lead_curates_a_trimmed_quote_with_a_content_note(cast, clients, world):
    path = url(cast, f"/themes/{world.theme.pk}/quotes/new/?coding={world.c_north.pk}")
    assert SU01_WORDS in clients["lead"].get(path).content.decode()
    r = clients["lead"].post(path, {"text": "you cannot see if someone is tearful", "content_note": "mentions distress"})
    assert r.status_code == 302
    q = Quote.objects.get()
    assert q.content_note == "mentions distress"
    r = clients["lead"].post(path, {"text": "something never said"})
    assert r.status_code == 400
    assert "continuous part" in r.content.decode()


def test_board_shows_group_only_and_hides_noted_quotes_behind_details(cast, clients, world, quote):
    quote_services.quote_update(actor=cast.users["lead"], study_id=cast.study.pk, theme_id=world.theme.pk,
                          quote_id=quote.pk, content_note="mentions distress")
    board_services.board_settings_update(actor=cast.users["admin"], study_id=cast.study.pk,
                                   support_line="Call the study support line on 0800 000 000.")
    r = clients["ppi"].get(url(cast, f"/board/{world.theme.pk}/"))
    html = r.content.decode()
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    assert SU01_WORDS in html
    assert "Group: Service user" in html
    assert re.search(r"Content note:</strong> mentions distress</p>\s*<details>\s*<summary>Show the quote", html)
    for leak in ("SU01", "North Trust", "telephone", "line 4", "2020"):
        assert leak not in html, leak
    assert "0800 000 000" in html
    assert "The team has checked this idea" in html  # the status in plain words, not "reviewed"
    assert 'style="' not in html
    assert "<script>" not in html.split("</main>")[0].split("<main")[1]


def test_board_hides_themes_not_shared(cast, clients, world):
    hidden = theme_services.theme_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Draft idea")
    assert "Draft idea" not in clients["ppi"].get(url(cast, "/board/")).content.decode()
    assert clients["ppi"].get(url(cast, f"/board/{hidden.pk}/")).status_code == 404


def test_ppi_reacts_comments_and_sees_the_outcome(cast, clients, world):
    ppi = clients["ppi"]
    assert ppi.post(url(cast, f"/board/{world.theme.pk}/react/"), {"value": "rings_true"}).status_code == 302
    assert Reaction.objects.get().value == "rings_true"
    r = ppi.post(url(cast, f"/board/{world.theme.pk}/comments/"),
                 {"body": "Call it *missing faces*", "kind": "rename", "suggested_name": "Missing faces"})
    assert r.status_code == 302
    c = Comment.objects.get()
    r = clients["lead"].post(url(cast, f"/board/comments/{c.pk}/decide/"), {"decision": "accept", "reason": "Plainer"})
    assert r.status_code == 302
    html = ppi.get(url(cast, f"/board/{world.theme.pk}/")).content.decode()
    assert "renamed this theme from “Seeing each other” to “Missing faces”" in html
    assert "<em>missing faces</em>" in html


def test_comment_markup_is_sanitised(cast, clients, world):
    body = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a> **ok**'
    clients["ppi"].post(url(cast, f"/board/{world.theme.pk}/comments/"), {"body": body, "kind": "comment"})
    html = clients["ppi"].get(url(cast, f"/board/{world.theme.pk}/")).content.decode()
    assert "<strong>ok</strong>" in html
    assert "alert(1)" not in html
    assert "onerror" not in html
    assert "javascript:" not in html


def test_huge_comment_is_refused_and_nothing_written(cast, clients, world):
    r = clients["ppi"].post(url(cast, f"/board/{world.theme.pk}/comments/"), {"body": "x" * 100_000})
    assert r.status_code == 400
    assert "at most" in r.content.decode().lower()
    assert not Comment.objects.exists()


def test_reply_to_a_deleted_comment_is_refused(cast, clients, world):
    c = comment_services.comment_create(actor=cast.users["ppi"], study_id=cast.study.pk, theme_id=world.theme.pk, body="Hi")
    comment_services.comment_delete(actor=cast.users["ppi"], study_id=cast.study.pk, comment_id=c.pk)
    r = clients["lead"].post(url(cast, f"/board/{world.theme.pk}/comments/"), {"body": "Reply", "parent": c.pk},
                             follow=True)
    assert "cannot reply" in r.content.decode()
    assert Comment.objects.count() == 1


@pytest.mark.parametrize("path", [
    "/transcripts/", "/participants/", "/codebook/", "/themes/", "/memos/", "/double-coding/",
])
def test_ppi_is_kept_out_of_the_analysis(cast, clients, world, path):
    assert clients["ppi"].get(url(cast, path)).status_code == 403


def test_ppi_opening_a_theme_team_page_gets_404_but_its_board_page(cast, clients, world):
    assert clients["ppi"].get(url(cast, f"/themes/{world.theme.pk}/")).status_code == 404
    assert clients["ppi"].get(url(cast, f"/themes/{world.theme.pk}/edit/")).status_code == 404
    assert clients["ppi"].get(url(cast, f"/board/{world.theme.pk}/")).status_code == 200


def test_navigation_shows_the_board_to_ppi_and_themes_to_the_team(cast, clients, world):
    ppi_nav = clients["ppi"].get(url(cast, "/")).content.decode()
    assert "Theme board" in ppi_nav
    assert f'href="/studies/{cast.study.pk}/themes/"' not in ppi_nav
    lead_nav = clients["lead"].get(url(cast, "/")).content.decode()
    assert f'href="/studies/{cast.study.pk}/themes/"' in lead_nav
    assert "Theme board" in lead_nav


def test_ppi_opening_an_object_url_gets_404(cast, clients, api, world, quote):
    """A transcript, participant or code id is something a PPI member may not know exists: 404, not 403."""
    for path in (f"/transcripts/{world.t_north.pk}/", f"/participants/{world.su01.pk}/",
                 f"/codebook/{world.cues.pk}/", f"/transcripts/{world.t_north.pk}/code/"):
        assert clients["ppi"].get(url(cast, path)).status_code == 404, path
    for path in (f"/transcripts/{world.t_north.pk}/", f"/participants/{world.su01.pk}/", f"/codes/{world.cues.pk}/",
                 f"/transcripts/{world.t_north.pk}/codings/"):
        assert api["ppi"].get(f"/api/v1/studies/{cast.study.pk}{path}").status_code == 404, path


def test_board_lists_sub_themes_after_their_parent(cast, clients, world):
    lead, sid = cast.users["lead"], cast.study.pk
    theme_services.theme_create(actor=lead, study_id=sid, name="Second main theme", on_board=True)
    theme_services.theme_create(actor=lead, study_id=sid, name="A sub-theme", on_board=True, parent_id=world.theme.pk)
    html = clients["ppi"].get(url(cast, "/board/")).content.decode()
    order = [html.index(n) for n in ("Seeing each other", "A sub-theme", "Second main theme")]
    assert order == sorted(order)
    assert "Part of “Seeing each other”" in html


def test_header_tells_what_is_new_on_the_board_until_it_is_read(cast, clients, world):
    sid = cast.study.pk
    clients["lead"].get(url(cast, "/board/"))  # the lead's last visit
    comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=world.theme.pk, body="Rings true")
    comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=world.theme.pk, body="Rename it",
                            kind="rename", suggested_name="Faces")
    html = clients["lead"].get(url(cast, "/")).content.decode()
    assert "Notifications: 2 new comments on the board, 1 suggestion waiting for a decision" in html
    board = clients["lead"].get(url(cast, "/board/")).content.decode()
    assert "2 new since your last visit" in board
    html = clients["lead"].get(url(cast, "/")).content.decode()
    assert "new comment" not in html
    assert "1 suggestion waiting for a decision" in html  # until a lead decides it
    # the author is never notified of their own words; a PPI member has no suggestions to decide
    assert "Theme board:" not in clients["ppi"].get(url(cast, "/")).content.decode()
