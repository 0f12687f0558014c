"""The team's comments on codes: threaded, edited with history, resolved by a lead, deleted like theme
comments, following a code through a merge or a delete, purged with a participant they quote, counted in
the notifications; never seen or written by a PPI member; bad input answered with a clear 4xx."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from accounts.models import AuditEvent
from analysis.coding.models import Code
from analysis.coding.services import codebook as code_services
from analysis.themes.models import Comment, CommentRevision
from analysis.themes.selectors import comments as comment_selectors
from analysis.themes.services import comments as comment_services
from analysis.themes.services import quotes as quote_services

from .conftest import SU01_WORDS


def _say(cast, who, code, body, **kw):
    return comment_services.comment_create(actor=cast.users[who], study_id=cast.study.pk, code_id=code.pk,
                                           body=body, **kw)


def test_thread_edit_history_resolve_and_delete(cast, world):
    sid, code = cast.study.pk, world.cues
    first = _say(cast, "coder", code, "Does crying on video count here?")
    reply = _say(cast, "lead", code, "Yes if it is about not seeing it", parent_id=first.pk)
    nested = _say(cast, "coder_other_site", code, "Agreed", parent_id=reply.pk)
    assert (reply.parent_id, nested.parent_id) == (first.pk, first.pk)  # one level deep, as on themes
    comment_services.comment_update(actor=cast.users["coder"], study_id=sid, comment_id=first.pk,
                                    body="Does crying on a video call count here?")
    assert list(CommentRevision.objects.filter(comment=first).values_list("body", flat=True)) == [
        "Does crying on video count here?"]
    with pytest.raises(PermissionDenied):
        comment_services.comment_update(actor=cast.users["lead"], study_id=sid, comment_id=first.pk, body="No")
    with pytest.raises(PermissionDenied):
        comment_services.comment_resolve(actor=cast.users["coder"], study_id=sid, comment_id=first.pk, resolved=True)
    comment_services.comment_resolve(actor=cast.users["lead"], study_id=sid, comment_id=first.pk, resolved=True)
    comment_services.comment_resolve(actor=cast.users["lead"], study_id=sid, comment_id=first.pk, resolved=False)
    actions = list(AuditEvent.objects.filter(action__in=["comment.resolve", "comment.reopen"])
                   .order_by("id").values_list("action", "details"))
    assert actions == [("comment.resolve", {"code": "Loss of non-verbal cues"}),
                       ("comment.reopen", {"code": "Loss of non-verbal cues"})]
    with pytest.raises(PermissionDenied):  # another coder's words: only its author or a lead
        comment_services.comment_delete(actor=cast.users["coder"], study_id=sid, comment_id=reply.pk)
    comment_services.comment_delete(actor=cast.users["lead"], study_id=sid, comment_id=nested.pk)
    nested.refresh_from_db()
    assert nested.body == "" and nested.deleted_at is not None  # noqa: PT018
    with pytest.raises(ValidationError, match="deleted"):
        _say(cast, "coder", code, "Reply to a deleted one", parent_id=nested.pk)
    threads = comment_selectors.code_threads(user=cast.users["coder"], study_id=sid, code=code)
    assert [c.pk for c in threads] == [first.pk]
    assert [r.pk for r in threads[0].thread_replies] == [reply.pk, nested.pk]


def test_admin_reads_but_does_not_write_and_ppi_learns_nothing(cast, world):
    sid, code = cast.study.pk, world.cues
    c = _say(cast, "coder", code, "A thought")
    assert comment_selectors.code_comment_get(user=cast.users["admin"], study_id=sid, code_id=code.pk, comment_id=c.pk)
    with pytest.raises(PermissionDenied):
        _say(cast, "admin", code, "Me too")
    for call in (
        lambda: _say(cast, "ppi", code, "Posting to a code"),
        lambda: comment_services.comment_update(actor=cast.users["ppi"], study_id=sid, comment_id=c.pk, body="x"),
        lambda: comment_services.comment_delete(actor=cast.users["ppi"], study_id=sid, comment_id=c.pk),
        lambda: comment_selectors.comment_get(user=cast.users["ppi"], study_id=sid, comment_id=c.pk),
    ):
        with pytest.raises(Http404):
            call()
    with pytest.raises(PermissionDenied):
        comment_selectors.code_threads(user=cast.users["ppi"], study_id=sid, code=code)
    assert not comment_selectors.comments_readable(user=cast.users["ppi"], study_id=sid).filter(pk=c.pk).exists()


def test_bad_input_is_refused_with_nothing_written(cast, world, quote):
    sid, code = cast.study.pk, world.cues
    other_code = Code.objects.create(study=cast.other_study, name="Elsewhere", created_by=cast.users["outsider"],
                                     updated_by=cast.users["outsider"])
    on_other = _say(cast, "coder", world.training, "On the training code")
    before = Comment.objects.count()
    for kwargs, error in [
        ({"body": "x" * 100_000}, ValidationError),
        ({"body": "nul \x00"}, ValidationError),
        ({"body": "   "}, ValidationError),
        ({"body": "Rename it", "kind": "rename", "suggested_name": "Faces"}, ValidationError),
        ({"body": "About a quote", "quote_id": quote.pk}, ValidationError),
        ({"body": "Reply across codes", "parent_id": on_other.pk}, Http404),
        ({"body": "Reply to a theme's", "parent_id": 2**62}, Http404),
    ]:
        with pytest.raises(error):
            _say(cast, "coder", code, **kwargs)
    with pytest.raises(Http404):  # another study's code
        comment_services.comment_create(actor=cast.users["coder"], study_id=sid, code_id=other_code.pk, body="Hi")
    with pytest.raises(ValidationError):  # both targets, or none
        comment_services.comment_create(actor=cast.users["coder"], study_id=sid, code_id=code.pk,
                                        theme_id=world.theme.pk, body="Both")
    with pytest.raises(ValidationError):
        comment_services.comment_create(actor=cast.users["coder"], study_id=sid, body="Neither")
    assert Comment.objects.count() == before


def test_page_shows_the_thread_escapes_markup_and_posts(cast, clients, world):
    sid, code = cast.study.pk, world.cues
    _say(cast, "lead", code, '<script>alert(1)</script> <img src=x onerror="alert(2)"> **clear**')
    url = f"/studies/{sid}/codebook/{code.pk}/"
    page = clients["coder"].get(url).content.decode()
    assert "Team comments on this code" in page
    assert "<script>alert(1)" not in page and "onerror" not in page.split("Team comments")[1]  # noqa: PT018
    assert "<strong>clear</strong>" in page
    r = clients["coder"].post(f"{url}comments/", {"body": "Crying counts"})
    assert r.status_code == 302
    assert r["Location"].startswith(url) and "#comment-" in r["Location"]  # noqa: PT018
    assert "Crying counts" in clients["coder_other_site"].get(url).content.decode()
    admin_page = clients["admin"].get(url).content.decode()
    assert "Crying counts" in admin_page and "Add a comment" not in admin_page  # noqa: PT018


def test_page_bad_input_is_a_400_that_keeps_nothing(cast, clients, world):
    sid, code = cast.study.pk, world.cues
    url = f"/studies/{sid}/codebook/{code.pk}/comments/"
    before = Comment.objects.count()
    r = clients["coder"].post(url, {"body": "x" * 100_000})
    assert r.status_code == 400
    assert "was not posted" in r.content.decode()
    gone = _say(cast, "coder", code, "Soon deleted")
    comment_services.comment_delete(actor=cast.users["coder"], study_id=sid, comment_id=gone.pk)
    r = clients["lead"].post(url, {"body": "Reply", "parent": gone.pk})
    assert r.status_code == 400
    assert "deleted" in r.content.decode()
    assert Comment.objects.count() == before + 1  # only the one deleted above
    other = f"/studies/{cast.other_study.pk}/codebook/{code.pk}/comments/"
    assert clients["coder"].post(other, {"body": "Hi"}).status_code == 404
    assert clients["ppi"].post(url, {"body": "Hi"}).status_code == 404
    assert clients["ppi"].post(url, {"body": "x" * 100_000}).status_code == 404  # no hint from a form error
    assert clients["ppi"].get(f"/studies/{sid}/codebook/{code.pk}/").status_code == 404


def test_board_comment_pages_answer_a_code_comment_by_role(cast, clients, world):
    sid = cast.study.pk
    c = _say(cast, "coder", world.cues, "Mine")
    edit = f"/studies/{sid}/board/comments/{c.pk}/edit/"
    assert clients["ppi"].get(edit).status_code == 404
    assert clients["lead"].get(edit).status_code == 403
    r = clients["coder"].post(edit, {"body": "Mine, changed"})
    assert r["Location"] == f"/studies/{sid}/codebook/{world.cues.pk}/#comment-{c.pk}"
    r = clients["lead"].post(f"/studies/{sid}/board/comments/{c.pk}/resolve/", {"resolved": "yes"})
    assert r["Location"] == f"/studies/{sid}/codebook/{world.cues.pk}/#comment-{c.pk}"
    assert clients["ppi"].post(f"/studies/{sid}/board/comments/{c.pk}/delete/").status_code == 404
    assert Comment.objects.get(pk=c.pk).deleted_at is None


def test_api_list_create_edit_resolve_delete(cast, api, world):
    sid, code = cast.study.pk, world.cues
    base = f"/api/v1/studies/{sid}/codes/{code.pk}/comments/"
    r = api["coder"].post(base, {"body": "Tears?"}, format="json")
    assert r.status_code == 201
    cid = r.json()["id"]
    assert r.json()["code"] == code.pk
    assert r.json()["theme"] is None
    assert api["lead"].post(base, {"body": "Yes", "parent": cid}, format="json").status_code == 201
    assert api["coder"].patch(f"{base}{cid}/", {"body": "Tears on video?"}, format="json").status_code == 200
    assert api["lead"].post(f"{base}{cid}/resolve/", {"resolved": True}, format="json").json()["resolved"]
    assert not api["lead"].post(f"{base}{cid}/resolve/", {"resolved": False}, format="json").json()["resolved"]
    rows = api["coder_other_site"].get(base).json()
    assert [(c["body"], c["parent"]) for c in rows] == [("Tears on video?", None), ("Yes", cid)]
    # Bad input: clear 400s, nothing written.
    assert api["coder"].post(base, {"body": "x" * 100_000}, format="json").status_code == 400
    assert api["coder"].post(base, {"body": "x", "kind": "rename"}, format="json").status_code == 400
    assert api["coder"].post(base, {"body": "x", "parent": 2**63}, format="json").status_code == 400
    # The comment belongs to that code: under another code's URL it does not exist.
    assert api["coder"].patch(f"/api/v1/studies/{sid}/codes/{world.training.pk}/comments/{cid}/",
                              {"body": "moved?"}, format="json").status_code == 404
    assert api["ppi"].get(base).status_code == 404
    assert api["ppi"].post(base, {"body": "x" * 100_000}, format="json").status_code == 404
    assert api["outsider"].get(base).status_code == 404
    assert api["coder"].delete(f"{base}{cid}/").status_code == 204
    assert api["coder"].post(base, {"body": "Reply", "parent": cid}, format="json").status_code == 400
    assert Comment.objects.filter(code=code).count() == 2


def test_merge_moves_the_threads_and_delete_takes_them_audited(cast, clients, world):
    sid, lead = cast.study.pk, cast.users["lead"]
    first = _say(cast, "coder", world.cues, "On cues")
    reply = _say(cast, "lead", world.cues, "Reply on cues", parent_id=first.pk)
    _say(cast, "coder", world.training, "On training")
    code_services.code_merge(actor=lead, study_id=sid, source_id=world.cues.pk, target_id=world.training.pk)
    assert set(Comment.objects.filter(code=world.training).values_list("pk", flat=True)) >= {first.pk, reply.pk}
    assert Comment.objects.get(pk=reply.pk).parent_id == first.pk
    merge = AuditEvent.objects.filter(action="code.merge").latest("id")
    assert merge.details["moved"]["code_comments"] == 2
    impact = code_services.code_delete_impact(study=cast.study, code=Code.objects.get(pk=world.training.pk))
    assert impact.dependents["code_comments"] == 3
    page = clients["lead"].get(f"/studies/{sid}/codebook/{world.training.pk}/delete/").content.decode()
    assert "<strong>3</strong> comments" in page
    assert "<strong>1</strong> theme link<" in page  # the merge left one link to the theme
    code_services.code_delete(actor=lead, study_id=sid, code_id=world.training.pk, confirm=True)
    assert not Comment.objects.filter(study_id=sid, code__isnull=False).exists()
    deleted = AuditEvent.objects.filter(action="code.delete").latest("id")
    assert deleted.details["dependents"]["code_comments"] == 3


def test_purge_takes_code_comments_that_quote_the_participant(cast, world, quote):
    sid, code = cast.study.pk, world.cues
    repeats_quote = _say(cast, "coder", code, f"See {SU01_WORDS}")
    text = world.t_north.text
    passage = text[text.index(SU01_WORDS) - 40:text.index(SU01_WORDS) - 5].strip()
    quotes_segment = _say(cast, "lead", code, f"SU01 said “{passage}” which fits")
    edited = _say(cast, "coder", code, f"Earlier: “{passage}”")
    comment_services.comment_update(actor=cast.users["coder"], study_id=sid, comment_id=edited.pk, body="Tidied")
    unrelated = _say(cast, "coder", code, "“Nothing anyone here said at all”")
    removed = quote_services.quotes_purge(participant=world.su01)
    assert removed["comments_quoting"] == 3
    for c in (repeats_quote, quotes_segment, edited):
        c.refresh_from_db()
        assert c.body == ""
        assert c.deleted_at is not None
        assert not c.revisions.exists()
    assert Comment.objects.get(pk=unrelated.pk).body == "“Nothing anyone here said at all”"


def test_notifications_count_code_comments_for_the_team_only(cast, clients, world):
    sid = cast.study.pk
    _say(cast, "coder", world.cues, "New on a code")
    lead_page = clients["lead"].get(f"/studies/{sid}/codebook/").content.decode()
    assert "1 new comment on codes" in lead_page
    assert f'href="/studies/{sid}/notifications/"' in lead_page
    assert "on codes" not in clients["ppi"].get(f"/studies/{sid}/board/").content.decode()
    notes = clients["lead"].get(f"/studies/{sid}/notifications/").content.decode()
    assert "commented on the code" in notes
    assert f"/studies/{sid}/codebook/{world.cues.pk}/#comment-" in notes
    assert "New" in notes
    # Opening the list read them: the header no longer counts them.
    assert "new comment on codes" not in clients["lead"].get(f"/studies/{sid}/codebook/").content.decode()
    ppi_notes = clients["ppi"].get(f"/studies/{sid}/notifications/").content.decode()
    assert "Team comments on codes" not in ppi_notes
    assert "Loss of non-verbal cues" not in ppi_notes
    assert api_notes(cast, "ppi")["codes"] == []


def api_notes(cast, role):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=cast.users[role])[0].key}")
    return c.get(f"/api/v1/studies/{cast.study.pk}/notifications/").json()
