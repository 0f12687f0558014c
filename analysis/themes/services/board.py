"""The board's visits (what is new to whom), e-mail digests and settings."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.themes import selectors
from analysis.themes.models import (
    BoardSettings,
)
from analysis.themes.services.common import (
    SUPPORT_MAX,
    _membership,
    _text,
)

# Reactions, visits and settings -----------------------------------------------------------------


@transaction.atomic
def board_digest_choose(*, actor: User, study_id: int, digest: bool) -> None:
    """Each member chooses whether to get the board's e-mail digest (off until they ask for it)."""
    from analysis.themes.models import BoardVisit

    _membership(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    if not isinstance(digest, bool):
        raise ValidationError({"digest": "Must be true or false."})
    visit, _ = BoardVisit.objects.get_or_create(user=actor, study_id=study_id)
    if visit.digest != digest:
        BoardVisit.objects.filter(pk=visit.pk).update(digest=digest, digest_sent_at=timezone.now() if digest else None)


def board_digests_send(*, now: Any = None) -> int:
    """E-mail each member who asked for it what is new since their last digest (numbers and theme names,
    never a comment's or quote's words: e-mail leaves the system). Returns how many were sent."""
    from django.conf import settings as django_settings
    from django.core.mail import send_mail
    from django.urls import reverse

    from analysis.themes.models import BoardVisit

    now = now or timezone.now()
    sent = 0
    for visit in BoardVisit.objects.filter(digest=True, user__is_active=True).select_related("user", "study"):
        since = visit.digest_sent_at or visit.seen_at
        news = selectors.board_news_since(user=visit.user, study_id=visit.study_id, since=since)
        if news is None or not (news.new_comments or news.open_suggestions):
            continue
        lines = [f"What is new on the theme board of “{visit.study.name}”:", ""]
        lines += [f"- {n} new comment{'s' if n != 1 else ''} on “{name}”" for name, n in news.by_theme]
        if news.open_suggestions:
            lines += [f"- {news.open_suggestions} suggestion(s) waiting for a decision"]
        base = getattr(django_settings, "CHORUS_BASE_URL", "").rstrip("/")
        lines += ["", f"Read them: {base}{reverse('board', kwargs={'study_id': visit.study_id})}", "",
                  "You asked for this summary on the board; you can stop it there."]
        send_mail(subject=f"Chorus: new on the theme board of {visit.study.name}", message="\n".join(lines),
                  from_email=None, recipient_list=[visit.user.email])
        BoardVisit.objects.filter(pk=visit.pk).update(digest_sent_at=now)
        sent += 1
    return sent


def board_visit_record(*, actor: User, study_id: int) -> Any:
    """Note that the member has just opened the board; returns when they had last done so (or None)."""
    from analysis.themes.models import BoardVisit

    _membership(actor=actor, study_id=study_id, perm=Perm.THEME_VIEW)
    now = timezone.now()
    visit, created = BoardVisit.objects.get_or_create(user=actor, study_id=study_id, defaults={"seen_at": now})
    if created:
        return None
    before = visit.seen_at
    BoardVisit.objects.filter(pk=visit.pk).update(seen_at=now)
    return before



@transaction.atomic
def board_settings_update(*, actor: User, study_id: int, support_line: Any, ip: str | None = None) -> BoardSettings:
    membership = _membership(actor=actor, study_id=study_id, perm=Perm.BOARD_SETTINGS)
    text = _text(support_line, field="support_line", limit=SUPPORT_MAX)
    settings_row, _ = BoardSettings.objects.select_for_update().get_or_create(study_id=study_id)
    if settings_row.support_line != text:
        settings_row.support_line, settings_row.updated_by, settings_row.updated_at = text, actor, timezone.now()
        settings_row.save()
        audit_record(actor=actor, action="board.settings", study=membership.study, obj=settings_row, ip=ip,
                     details={"support_line": text})
    return settings_row
