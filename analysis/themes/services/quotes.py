"""Curated quotes: picked from a theme's coded segments, trimmed, removed, and purged with their participant."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.themes.models import (
    Comment,
    CommentRevision,
    Quote,
)
from analysis.themes.selectors import quotes as quote_selectors
from analysis.themes.selectors import themes as theme_selectors
from analysis.themes.services.common import (
    NOTE_MAX,
    clean_int,
    clean_text,
    membership_for,
    theme_locked,
)
from analysis.themes.services.reports import REPORT_KIND
from participants.consent_rules import DataUse, data_use_allowed

# Quotes -----------------------------------------------------------------------------------------


def _span_in_segment(*, segment_text: str, seg_start: int, seg_end: int, start: Any, end: Any,
                     text: Any) -> tuple[int, int]:
    """The quote's ``[start, end)``: given directly (code points) or as the trimmed text, which must be a
    continuous part of the segment (a quote is trimmed, never rewritten)."""
    if text not in (None, ""):
        wanted = clean_text(text, field="text", limit=len(segment_text) + 1, required=True, label="The quote")
        at = segment_text.find(wanted)
        if at < 0:
            raise ValidationError({"text": "A quote can only be shortened at its start or end: "
                                           "this text is not a continuous part of the coded segment."})
        return seg_start + at, seg_start + at + len(wanted)
    if start in (None, "") and end in (None, ""):
        return seg_start, seg_end
    s = clean_int(seg_start if start in (None, "") else start, field="start")
    e = clean_int(seg_end if end in (None, "") else end, field="end")
    if not seg_start <= s < e <= seg_end:
        raise ValidationError({"start": "A quote must lie inside its coded segment and contain some text."})
    return s, e


@transaction.atomic
def quote_create(
    *, actor: User, study_id: int, theme_id: Any, coding_id: Any, start: Any = None, end: Any = None,
    text: Any = None, content_note: str = "", ip: str | None = None,
) -> Quote:
    """Curate a quote for a theme from one of the theme's coded segments that the lead can see."""
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    theme = theme_locked(study_id=study_id, theme_id=theme_id)
    coding = theme_selectors.theme_coding_get(user=actor, study_id=study_id, theme=theme, coding_id=coding_id)
    from analysis.transcripts.models import Transcript

    # Locked like a correction locks it, so a redaction cannot move the text under the new span.
    transcript = Transcript.objects.select_for_update().select_related("participant").get(pk=coding.transcript_id)
    coding.refresh_from_db(fields=["start", "end", "lost"])
    if coding.lost:
        raise ValidationError({"coding": "The text of this segment was deleted."})
    participant = transcript.participant
    if not data_use_allowed(participant=participant, use=DataUse.QUOTING):
        raise ValidationError({"coding": quote_selectors.quote_hidden_reason(participant, use=DataUse.QUOTING)})
    s, e = _span_in_segment(segment_text=transcript.text[coding.start:coding.end], seg_start=coding.start,
                            seg_end=coding.end, start=start, end=end, text=text)
    position = (Quote.objects.filter(theme=theme).aggregate(m=Max("position"))["m"] or 0) + 1
    quote = Quote.objects.create(
        study_id=study_id, theme=theme, transcript=transcript, coding=coding, start=s, end=e,
        content_note=clean_text(content_note, field="content_note", limit=NOTE_MAX), position=position,
        created_by=actor,
    )
    audit_record(actor=actor, action="quote.add", study=membership.study, obj=quote, ip=ip,
                 details={"theme": theme.name, "participant": participant.pseudonym, "characters": e - s,
                          "content_note": quote.content_note})
    return quote


def _quote_locked(*, actor: User, study_id: int, theme_id: Any, quote_id: Any) -> Quote:
    theme = theme_locked(study_id=study_id, theme_id=theme_id)
    visible = quote_selectors.quotes_in_scope(user=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    try:
        pk = int(quote_id)
    except (TypeError, ValueError):
        raise Http404("No such quote.") from None
    quote = visible.select_for_update().filter(theme=theme, pk=pk).first() if 0 < pk < 2**63 else None
    if quote is None:
        raise Http404("No such quote.")
    return quote


@transaction.atomic
def quote_update(
    *, actor: User, study_id: int, theme_id: Any, quote_id: Any, content_note: Any = None, text: Any = None,
    start: Any = None, end: Any = None, ip: str | None = None,
) -> Quote:
    """Change a quote's content note, or trim it again within the segment it came from."""
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    quote = _quote_locked(actor=actor, study_id=study_id, theme_id=theme_id, quote_id=quote_id)
    changed: dict[str, Any] = {}
    if content_note is not None:
        note = clean_text(content_note, field="content_note", limit=NOTE_MAX)
        if note != quote.content_note:
            changed["content_note"] = [quote.content_note, note]
            quote.content_note = note
    if text not in (None, "") or start not in (None, "") or end not in (None, ""):
        from analysis.transcripts.models import Transcript

        transcript = Transcript.objects.select_for_update().get(pk=quote.transcript_id)
        seg_start, seg_end = quote.start, quote.end
        if quote.coding_id:
            from analysis.coding.models import Coding

            coding = Coding.objects.filter(pk=quote.coding_id, lost=False).first()
            if coding is not None:
                seg_start, seg_end = coding.start, coding.end
        s, e = _span_in_segment(segment_text=transcript.text[seg_start:seg_end], seg_start=seg_start,
                                seg_end=seg_end, start=start, end=end, text=text)
        if (s, e) != (quote.start, quote.end):
            changed["characters"] = [quote.end - quote.start, e - s]
            quote.start, quote.end, quote.lost = s, e, False
    if changed:
        quote.updated_at = timezone.now()
        quote.save()
        audit_record(actor=actor, action="quote.update", study=membership.study, obj=quote, ip=ip,
                     details={"theme": quote.theme.name, **{k: v for k, v in changed.items()}})
    return quote


@transaction.atomic
def quote_remove(*, actor: User, study_id: int, theme_id: Any, quote_id: Any, ip: str | None = None) -> None:
    membership = membership_for(actor=actor, study_id=study_id, perm=Perm.QUOTE_CURATE)
    quote = _quote_locked(actor=actor, study_id=study_id, theme_id=theme_id, quote_id=quote_id)
    audit_record(actor=actor, action="quote.remove", study=membership.study, obj=quote, ip=ip,
                 details={"theme": quote.theme.name})
    quote.delete()


# A passage a comment quotes: between double quotation marks (typographic or straight) or guillemets,
# long enough to be someone's words rather than a label.
_QUOTED = re.compile(r"[“\"«]([^”\"»]{12,}?)[”\"»]")
QUOTED_MIN = 12


def _squash(text: str) -> str:
    return " ".join(text.split())


def _quotes_participant(text: str, *, quoted: list[str], transcripts: list[str]) -> bool:
    """Whether ``text`` repeats one of the participant's curated quotes, or puts in quotation marks a
    passage of their interviews (a coder quoting a segment in a comment on a code)."""
    body = _squash(text)
    if any(q in body for q in quoted):
        return True
    return any(len(p) >= QUOTED_MIN and any(p in t for t in transcripts)
               for p in (_squash(m) for m in _QUOTED.findall(body)))


def quotes_purge(*, participant: Any) -> dict[str, int]:
    """Purger (settings.CHORUS_PURGERS): a participant who withdrew with deletion leaves no quote, no
    comment on one of their quotes, and no comment (on a theme or a code, in its current text or an
    earlier version) that repeats the words of one of their quotes or quotes a passage of their interviews.
    It runs before the transcripts' purger, so their text is still there to compare with."""
    from analysis.transcripts.models import Transcript

    quotes = Quote.objects.filter(transcript__participant=participant)
    quoted = [
        _squash(t) for t in quotes.annotate(
            words=Substr("transcript__text", F("start") + 1, F("end") - F("start"))
        ).values_list("words", flat=True) if t and len(t.strip()) >= QUOTED_MIN
    ]
    transcripts = [_squash(t) for t in Transcript.objects.filter(participant=participant)
                   .values_list("text", flat=True) if t]
    on_quotes = Comment.objects.filter(quote__in=quotes.values("pk"))
    removed = {"quote_comments": on_quotes.count()}
    on_quotes.delete()
    quoting = 0
    live = Comment.objects.filter(study_id=participant.study_id, deleted_at__isnull=True).exclude(body="")
    for comment in live.prefetch_related("revisions"):
        texts = [comment.body, *(r.body for r in comment.revisions.all())]
        if any(_quotes_participant(t, quoted=quoted, transcripts=transcripts) for t in texts):
            CommentRevision.objects.filter(comment=comment).delete()
            Comment.objects.filter(pk=comment.pk).update(body="", deleted_at=timezone.now())
            quoting += 1
    removed["comments_quoting"] = quoting
    removed["quotes"] = quotes.count()
    quotes.delete()
    removed["theme_reports"] = _reports_drop(study_id=participant.study_id)
    return {k: v for k, v in removed.items() if v}  # the purge report lists what was there


def _reports_drop(*, study_id: int) -> int:
    """Report files of the study may hold a withdrawn participant's words: remove them (the job rows stay)."""
    from jobs.models import Job

    dropped = 0
    for job in Job.objects.filter(study_id=study_id, kind=REPORT_KIND).exclude(result_file=""):
        job.result_file.storage.delete(str(job.result_file.name))
        dropped += 1
    Job.objects.filter(study_id=study_id, kind=REPORT_KIND).exclude(result_file="").update(result_file="")
    return dropped
