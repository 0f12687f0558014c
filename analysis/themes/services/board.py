"""The board's visits (what is new to whom), e-mail digests and settings."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.themes.models import BoardSettings
from analysis.themes.selectors import notifications as notification_selectors
from analysis.themes.services.common import (
    SUPPORT_MAX,
    clean_text,
    membership_for,
)

# Digests, visits and settings ---------------------------------------------------------------------


@transaction.atomic
def board_digest_choose(*, actor: User, study_id: int, every: Any) -> None:
    """Each member chooses how often to get the e-mail digest: never (until they ask), daily or weekly."""
    from analysis.themes.models import BoardVisit, DigestEvery

    membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    if every not in DigestEvery.values:
        raise ValidationError({"every": "Choose never, once a day or once a week."})
    visit, _ = BoardVisit.objects.select_for_update().get_or_create(user=actor, study_id=study_id)
    if visit.digest_every != every:
        # Starting now: a first digest never repeats what was there before they asked.
        sent_at = visit.digest_sent_at if visit.digest_every != DigestEvery.OFF else timezone.now()
        BoardVisit.objects.filter(pk=visit.pk).update(
            digest_every=every, digest_sent_at=None if every == DigestEvery.OFF else sent_at)


def digest_period(*, every: str, now: Any) -> str:
    """The period a digest belongs to (the study's local date, or ISO week): one digest per period."""
    day = timezone.localdate(now)
    if every == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def board_digests_send(*, now: Any = None) -> int:
    """E-mail each member who asked for it what is new since their last digest (numbers and names of
    themes and codes, never a comment's or quote's words: e-mail leaves the system). Returns how many
    were sent. Run daily by Celery beat (``themes.board_digests``); a weekly digest goes out on the first
    run of its week. Safe to run twice, or on two workers at once: see :func:`board_digest_send_one`."""
    from analysis.themes.models import BoardVisit, DigestEvery

    now = now or timezone.now()
    ids = (BoardVisit.objects.exclude(digest_every=DigestEvery.OFF).filter(user__is_active=True)
           .order_by("pk").values_list("pk", flat=True))
    return sum(1 for pk in list(ids) if board_digest_send_one(visit_id=pk, now=now))


def _latest(*moments: Any) -> Any:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


@transaction.atomic
def board_digest_send_one(*, visit_id: int, now: Any) -> bool:
    """One member's digest for the current period, at most once: the member's row is locked, the period
    already sent is looked up, and the :class:`DigestSent` row (unique per member, study and period) is
    written before the e-mail goes; if sending fails, the transaction rolls back and the next run retries."""
    from django.conf import settings as django_settings
    from django.core.mail import send_mail
    from django.urls import reverse

    from analysis.themes.models import BoardVisit, DigestEvery, DigestSent

    visit = (BoardVisit.objects.select_for_update().select_related("user", "study")
             .filter(pk=visit_id).exclude(digest_every=DigestEvery.OFF).first())
    if visit is None or not visit.user.is_active or not visit.user.email:
        return False
    period = digest_period(every=visit.digest_every, now=now)
    if DigestSent.objects.filter(user_id=visit.user_id, study_id=visit.study_id, period=period).exists():
        return False
    # What they have not read: since the last digest, or since they last opened the board (theme
    # comments) or their notifications (code comments), whichever is later.
    news = notification_selectors.board_news_since(
        user=visit.user, study_id=visit.study_id, since=_latest(visit.digest_sent_at, visit.seen_at),
        codes_since=_latest(visit.digest_sent_at, visit.codes_seen_at))
    if news is None or not news.items:
        return False
    DigestSent.objects.create(user_id=visit.user_id, study_id=visit.study_id, period=period, sent_at=now,
                              items=news.items)
    lines = [f"What is new in “{visit.study.name}”:", ""]
    lines += [f"- {n} new comment{'s' if n != 1 else ''} on the theme “{name}”" for name, n in news.by_theme]
    lines += [f"- {n} new comment{'s' if n != 1 else ''} on the code “{name}”" for name, n in news.by_code]
    if news.open_suggestions:
        lines += [f"- {news.open_suggestions} suggestion(s) waiting for a decision"]
    base = getattr(django_settings, "CHORUS_BASE_URL", "").rstrip("/")
    lines += ["", f"Read them: {base}{reverse('notifications', kwargs={'study_id': visit.study_id})}", "",
              "You asked for this summary; you can change how often you get it, or stop it, at "
              f"{base}{reverse('board-digest', kwargs={'study_id': visit.study_id})}"]
    label = "daily" if visit.digest_every == DigestEvery.DAILY else "weekly"
    send_mail(subject=f"Chorus: your {label} summary of {visit.study.name}", message="\n".join(lines),
              from_email=None, recipient_list=[visit.user.email])
    BoardVisit.objects.filter(pk=visit.pk).update(digest_sent_at=now)
    return True


def board_visit_record(*, actor: User, study_id: int) -> Any:
    """Note that the member has just opened the board; returns when they had last done so (or None)."""
    from analysis.themes.models import BoardVisit

    membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    now = timezone.now()
    visit, created = BoardVisit.objects.get_or_create(user=actor, study_id=study_id, defaults={"seen_at": now})
    if created:
        return None
    before = visit.seen_at
    BoardVisit.objects.filter(pk=visit.pk).update(seen_at=now)
    return before


def notifications_visit_record(*, actor: User, study_id: int) -> Any:
    """The member opened their notifications list, which shows comments on the board and on codes:
    both are read now. Returns when they had last read code comments (or None)."""
    from analysis.themes.models import BoardVisit

    membership_for(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    now = timezone.now()
    visit, created = BoardVisit.objects.get_or_create(user=actor, study_id=study_id, defaults={"seen_at": now})
    before = None if created else visit.codes_seen_at
    BoardVisit.objects.filter(pk=visit.pk).update(seen_at=now, codes_seen_at=now)
    return before



@transaction.atomic
def board_settings_update(*, actor: User, study_id: int, support_line: Any, ip: str | None = None) -> BoardSettings:
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.BOARD_SETTINGS)
    text = clean_text(support_line, field="support_line", limit=SUPPORT_MAX)
    settings_row, _ = BoardSettings.objects.select_for_update().get_or_create(study_id=study_id)
    if settings_row.support_line != text:
        settings_row.support_line, settings_row.updated_by, settings_row.updated_at = text, actor, timezone.now()
        settings_row.save()
        audit_record(actor=actor, action="board.settings", study=membership.study, obj=settings_row, ip=ip,
                     details={"support_line": text})
    return settings_row
