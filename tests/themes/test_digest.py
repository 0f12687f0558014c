"""The e-mail digest: only for who chose it (daily or weekly), only what is new and unread to them, in
their scope (a PPI member: the board only), numbers and names only, never twice in one period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from analysis.themes.models import BoardVisit, DigestSent
from analysis.themes.services import board as board_services
from analysis.themes.services import comments as comment_services
from analysis.themes.tasks import board_digests_task

from .conftest import SU01_WORDS


def test_digest_only_for_members_who_chose_it_and_only_once(cast, clients, world, quote):
    sid = cast.study.pk
    assert clients["ppi"].post(f"/studies/{sid}/board/digest/", {"every": "daily"}).status_code == 302
    comment_services.comment_create(actor=cast.users["lead"], study_id=sid, theme_id=world.theme.pk,
                                    body=f"Look at “{SU01_WORDS}”", quote_id=quote.pk)
    call_command("board_digests", verbosity=0)
    [message] = mail.outbox
    assert message.to == ["ppi@example.org"]
    assert "1 new comment on the theme “Seeing each other”" in message.body
    assert f"/studies/{sid}/notifications/" in message.body
    assert f"/studies/{sid}/board/digest/" in message.body  # where to change or stop it
    assert SU01_WORDS not in message.body  # e-mail leaves the system: no participant's words in it
    call_command("board_digests", verbosity=0)
    assert len(mail.outbox) == 1  # nothing new since


def test_lead_digest_counts_waiting_suggestions_and_can_be_stopped(cast, clients, world):
    sid = cast.study.pk
    board_services.board_digest_choose(actor=cast.users["lead"], study_id=sid, every="daily")
    comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=world.theme.pk, body="Rename",
                                    kind="rename", suggested_name="Faces")
    assert board_services.board_digests_send() == 1
    assert "1 suggestion(s) waiting for a decision" in mail.outbox[0].body
    clients["lead"].post(f"/studies/{sid}/board/digest/", {"every": "off"})
    comment_services.comment_create(actor=cast.users["ppi"], study_id=sid, theme_id=world.theme.pk, body="More")
    assert board_services.board_digests_send(now=timezone.now() + timedelta(days=1)) == 0


def test_removed_member_gets_no_digest(cast, world):
    sid = cast.study.pk
    board_services.board_digest_choose(actor=cast.users["ppi"], study_id=sid, every="daily")
    comment_services.comment_create(actor=cast.users["lead"], study_id=sid, theme_id=world.theme.pk, body="News")
    cast.memberships["ppi"].delete()
    assert board_services.board_digests_send() == 0


def test_beat_sends_the_digest_task_daily_and_the_task_exists():
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["board-digests"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert app.tasks[entry["task"]].run.__module__ == board_digests_task.run.__module__ == "analysis.themes.tasks"
    schedule = entry["schedule"]
    assert schedule.hour == {settings.CHORUS_DIGEST_HOUR}
    assert schedule.minute == {0}
    assert schedule.day_of_week == set(range(7))  # every day


def test_task_sends_one_mail_per_opted_in_member_with_what_is_theirs(cast, world, quote):
    """The lead (daily) hears of the board, the code comments and the suggestion; the PPI member (weekly)
    of the board only, no code and no pseudonym; the coder (off) and the admin (never chose) of nothing."""
    sid, lead, coder, ppi = cast.study.pk, cast.users["lead"], cast.users["coder"], cast.users["ppi"]
    board_services.board_digest_choose(actor=lead, study_id=sid, every="daily")
    board_services.board_digest_choose(actor=ppi, study_id=sid, every="weekly")
    board_services.board_digest_choose(actor=coder, study_id=sid, every="daily")
    board_services.board_digest_choose(actor=coder, study_id=sid, every="off")
    comment_services.comment_create(actor=coder, study_id=sid, code_id=world.cues.pk,
                                    body="Should crying on video count here? SU01 says so.")
    comment_services.comment_create(actor=coder, study_id=sid, theme_id=world.theme.pk, body="A team view")
    comment_services.comment_create(actor=ppi, study_id=sid, theme_id=world.theme.pk, body="Plainer",
                                    kind="rename", suggested_name="Missing faces")
    assert board_digests_task() == 2  # the task itself, run in this process (its mail lands in the outbox)
    by_to = {m.to[0]: m.body for m in mail.outbox}
    assert set(by_to) == {lead.email, ppi.email}
    assert "2 new comments on the theme “Seeing each other”" in by_to[lead.email]
    assert "1 new comment on the code “Loss of non-verbal cues”" in by_to[lead.email]
    assert "1 suggestion(s) waiting for a decision" in by_to[lead.email]
    ppi_mail = by_to[ppi.email]
    assert "1 new comment on the theme “Seeing each other”" in ppi_mail  # the coder's, not their own
    assert "code" not in ppi_mail.replace("the code of", "")
    assert "non-verbal" not in ppi_mail
    assert "SU01" not in ppi_mail
    assert "SU01" not in by_to[lead.email]
    assert "weekly" in mail.outbox[[m.to[0] for m in mail.outbox].index(ppi.email)].subject


def test_sending_twice_in_a_period_never_double_sends(cast, world):
    sid, lead, ppi = cast.study.pk, cast.users["lead"], cast.users["ppi"]
    board_services.board_digest_choose(actor=ppi, study_id=sid, every="daily")
    comment_services.comment_create(actor=lead, study_id=sid, theme_id=world.theme.pk, body="First")
    now = timezone.now()
    assert board_services.board_digests_send(now=now) == 1
    comment_services.comment_create(actor=lead, study_id=sid, theme_id=world.theme.pk, body="Second")
    # Beat fires again (a restart, a second beat by mistake) on the same day: recorded, not resent.
    assert board_services.board_digests_send(now=now + timedelta(minutes=5)) == 0
    assert len(mail.outbox) == 1
    [sent] = DigestSent.objects.filter(user=ppi, study_id=sid)
    assert sent.period == timezone.localdate(now).isoformat()
    assert sent.items == 1
    # The next day the second comment comes, once.
    assert board_services.board_digests_send(now=now + timedelta(days=1)) == 1
    assert "1 new comment" in mail.outbox[1].body
    assert board_services.board_digests_send(now=now + timedelta(days=1, hours=1)) == 0


def test_the_database_refuses_a_second_digest_for_one_period(cast, world):
    """The last word against two workers sending at once is the unique constraint."""
    sid, ppi = cast.study.pk, cast.users["ppi"]
    DigestSent.objects.create(user=ppi, study_id=sid, period="2026-12-03")
    with pytest.raises(IntegrityError), transaction.atomic():
        DigestSent.objects.create(user=ppi, study_id=sid, period="2026-12-03")


def test_a_digest_already_recorded_for_the_period_is_not_sent(cast, world):
    sid, lead, ppi = cast.study.pk, cast.users["lead"], cast.users["ppi"]
    board_services.board_digest_choose(actor=ppi, study_id=sid, every="weekly")
    now = timezone.now()
    DigestSent.objects.create(user=ppi, study_id=sid, period=board_services.digest_period(every="weekly", now=now))
    comment_services.comment_create(actor=lead, study_id=sid, theme_id=world.theme.pk, body="News")
    assert board_services.board_digests_send(now=now) == 0
    assert board_services.board_digests_send(now=now + timedelta(days=7)) == 1


def test_what_was_read_on_the_board_is_not_in_the_digest(cast, clients, world):
    sid, lead, ppi = cast.study.pk, cast.users["lead"], cast.users["ppi"]
    board_services.board_digest_choose(actor=ppi, study_id=sid, every="daily")
    comment_services.comment_create(actor=lead, study_id=sid, theme_id=world.theme.pk, body="News")
    BoardVisit.objects.filter(user=ppi).update(seen_at=timezone.now() + timedelta(seconds=1))  # read it
    assert board_services.board_digests_send(now=timezone.now() + timedelta(seconds=2)) == 0


def test_digest_page_sets_the_choice_and_rejects_nonsense(cast, clients, world):
    sid = cast.study.pk
    page = clients["ppi"].get(f"/studies/{sid}/board/digest/")
    assert page.status_code == 200
    assert "Once a week" in page.content.decode()
    assert clients["ppi"].post(f"/studies/{sid}/board/digest/", {"every": "hourly"}).status_code == 400
    r = clients["ppi"].post(f"/studies/{sid}/board/digest/", {"every": "weekly"})
    assert r.status_code == 302
    assert r["Location"] == f"/studies/{sid}/notifications/"
    assert BoardVisit.objects.get(user=cast.users["ppi"]).digest_every == "weekly"
    notes = clients["ppi"].get(f"/studies/{sid}/notifications/").content.decode()
    assert "once a week" in notes
    assert f"/studies/{sid}/board/digest/" in notes
