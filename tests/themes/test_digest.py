"""The board's e-mail digest: only for who asked, only what is new to them, numbers and theme names only."""

from __future__ import annotations

from django.core import mail
from django.core.management import call_command

from analysis.themes.services import board as board_services
from analysis.themes.services import comments as comment_services

from .conftest import SU01_WORDS


def test_digest_only_for_members_who_chose_it_and_only_once(cast, clients, world, quote):
    sid = cast.study.pk
    assert clients["ppi"].post(f"/studies/{sid}/board/digest/", {"digest": "yes"}).status_code == 302
    comment_services.comment_create(actor=cast.users["lead"], study_id=sid, theme_id=world.theme.pk,
                            body=f"Look at “{SU01_WORDS}”", quote_id=quote.pk)
    call_command("board_digests", verbosity=0)
    [message] = mail.outbox
    assert message.to == ["ppi@example.org"]
    assert "1 new comment on “Seeing each other”" in message.body
    assert f"/studies/{sid}/board/" in message.body
    assert SU01_WORDS not in message.body  # e-mail leaves the system: no participant's words in it
    call_command("board_digests", verbosity=0)
    assert len(mail.outbox) == 1  # nothing new since


def test_lead_digest_counts_waiting_suggestions_and_can_be_stopped(cast, clients, world):
    sid = cast.study.pk
    board_services.board_digest_choose(actor=cast.users["lead"], study_id=sid, digest=True)
    comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=world.theme.pk, body="Rename",
                            kind="rename", suggested_name="Faces")
    assert board_services.board_digests_send() == 1
    assert "1 suggestion(s) waiting for a decision" in mail.outbox[0].body
    clients["lead"].post(f"/studies/{sid}/board/digest/", {"digest": "no"})
    comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=world.theme.pk, body="More")
    assert board_services.board_digests_send() == 0


def test_removed_member_gets_no_digest(cast, world):
    sid = cast.study.pk
    board_services.board_digest_choose(actor=cast.users["ppi"], study_id=sid, digest=True)
    comment_services.comment_create(actor=cast.users["lead"], study_id=sid, theme_id=world.theme.pk, body="News")
    cast.memberships["ppi"].delete()
    assert board_services.board_digests_send() == 0
