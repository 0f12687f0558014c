"""Discussing and resolving the disagreements of a blind double-coded transcript (the reads, and
what a disagreement is, are in :mod:`analysis.coding.selectors.disagreements`).

A resolution records an outcome, who and when, and each coder's spans at that moment:

* ``keep_a`` / ``keep_b``: the other coder's codings of the code in the region are deleted and the
  kept coder's spans are coded for them, so both now agree there;
* ``neither``: both coders' codings of the code in the region are deleted;
* ``both``: agreed to differ, nothing changes (the region stays a disagreement in the figures);
* ``adjusted``: the coders changed their codings themselves; a note is required.

Coding changes go through :mod:`analysis.coding.services.codings` (``coding_create`` / ``coding_delete``, as
the coder whose codings they are), so they are checked, locked, and sent to open coding pages through
the change feed; the resolution and its changes commit together or not at all, and are audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from analysis.coding import agreement
from analysis.coding.models import Assignment, Coding, Disagreement, DisagreementComment, DisagreementOutcome
from analysis.coding.selectors.disagreements import (
    disagreements_access,
    parse_key,
    regions_current,
    require_complete,
)
from analysis.coding.services import codings as coding_services
from analysis.transcripts.models import Transcript
from analysis.transcripts.services.anchors import AnchorReport
from analysis.transcripts.text import EditMap, SpanStatus

COMMENT_MAX = 5_000
NOTE_MAX = 5_000


class DisagreementConflict(Exception):
    """Already resolved, or the codings changed so the region is no longer a disagreement."""


# Writes -----------------------------------------------------------------------------------------------


def _target(*, a: Assignment, key: Any, length: int) -> tuple[int, int, int, agreement.Region | None, Disagreement | None]:
    """The disagreement named by ``key``: a current region, or one already discussed (404 otherwise)."""
    code, s, e = parse_key(key)
    region = regions_current(a, length=length).get((code, s, e))
    record = Disagreement.objects.select_for_update().filter(assignment=a, code_id=code, start=s, end=e,
                                                             lost=False).first()
    if region is None and record is None:
        raise Http404("No such disagreement (the codings may have changed: reload).")
    return code, s, e, region, record


def _lock(*, study_id: int, a: Assignment) -> tuple[Assignment, int]:
    """Lock the transcript row (the coding services' lock, taken first, in the same order) and the
    assignment; return the fresh assignment and the text's length in code points."""
    t = Transcript.objects.select_for_update().filter(pk=a.transcript_id).only("pk", "text").first()
    if t is None:
        raise Http404("No such transcript.")
    fresh = Assignment.objects.select_for_update().select_related("coder_a", "coder_b").get(pk=a.pk)
    require_complete(fresh)
    return fresh, len(t.text)


@transaction.atomic
def disagreement_comment(
    *, actor: User, study_id: int, transcript_id: Any, key: Any, body: Any, ip: str | None = None
) -> DisagreementComment:
    _membership, a = disagreements_access(user=actor, study_id=study_id, transcript_id=transcript_id, write=True)
    text = str(body or "").strip() if isinstance(body, str | type(None)) else None
    if not text:
        raise ValidationError({"body": "Write a comment."})
    if len(text) > COMMENT_MAX:
        raise ValidationError({"body": f"A comment has at most {COMMENT_MAX} characters."})
    a, length = _lock(study_id=study_id, a=a)
    code, s, e, _region, record = _target(a=a, key=key, length=length)
    if record is None:
        record = Disagreement.objects.create(study_id=study_id, assignment=a, code_id=code, start=s, end=e)
    comment = DisagreementComment.objects.create(disagreement=record, author=actor, body=text)
    audit_record(actor=actor, action="coding.disagreement_comment", study=a.study, obj=record, ip=ip,
                 details={"transcript": a.transcript_id, "code": code, "start": s, "end": e, "comment": comment.pk})
    return comment


def _in_region(*, a: Assignment, coder_id: int, code: int, s: int, e: int) -> list[Coding]:
    return list(Coding.objects.filter(transcript_id=a.transcript_id, coder_id=coder_id, code_id=code, lost=False,
                                      start__lt=e, end__gt=s).order_by("start", "end", "id"))


@transaction.atomic
def disagreement_resolve(
    *, actor: User, study_id: int, transcript_id: Any, key: Any, outcome: Any, note: Any = "",
    ip: str | None = None,
) -> Disagreement:
    """Resolve one disagreement, applying ``keep_a`` / ``keep_b`` / ``neither`` to the codings in the
    same transaction. Already resolved, or a changed region, is a :class:`DisagreementConflict`."""
    _membership, a = disagreements_access(user=actor, study_id=study_id, transcript_id=transcript_id, write=True)
    if not isinstance(outcome, str) or outcome not in DisagreementOutcome.values:
        raise ValidationError({"outcome": f"One of: {', '.join(DisagreementOutcome.values)}."})
    if not isinstance(note, str | type(None)):
        raise ValidationError({"note": "A note is text."})
    note_text = (note or "").strip()
    if len(note_text) > NOTE_MAX:
        raise ValidationError({"note": f"A note has at most {NOTE_MAX} characters."})
    if outcome == DisagreementOutcome.ADJUSTED and not note_text:
        raise ValidationError({"note": "Say how the coders adjusted their codings."})
    a, length = _lock(study_id=study_id, a=a)
    code, s, e, region, record = _target(a=a, key=key, length=length)
    if record is not None and record.outcome:
        raise DisagreementConflict(
            f"This disagreement was already resolved ({record.get_outcome_display()}) by "
            f"{record.resolved_by.display_name if record.resolved_by else 'someone'}.")
    changes_codings = outcome in (DisagreementOutcome.KEEP_A, DisagreementOutcome.KEEP_B, DisagreementOutcome.NEITHER)
    if changes_codings and region is None:
        raise DisagreementConflict("The codings changed and no longer differ here: reload, then resolve.")
    coding_a = _in_region(a=a, coder_id=a.coder_a_id, code=code, s=s, e=e)
    coding_b = _in_region(a=a, coder_id=a.coder_b_id, code=code, s=s, e=e)
    spans = {"a": [[c.start, c.end] for c in coding_a], "b": [[c.start, c.end] for c in coding_b]}
    deleted: list[int] = []
    created: list[int] = []
    coders = {a.coder_a_id: a.coder_a, a.coder_b_id: a.coder_b}

    def delete(rows: list[Coding]) -> None:
        for c in rows:  # as the coder whose coding it is
            coding_services.coding_delete(actor=coders[c.coder_id], study_id=study_id,
                                          transcript_id=a.transcript_id, coding_id=c.pk)
            deleted.append(c.pk)

    def copy(spans_kept: tuple[tuple[int, int], ...], to: User) -> None:
        for span_start, span_end in spans_kept:
            c = coding_services.coding_create(actor=to, study_id=study_id, transcript_id=a.transcript_id,
                                              code_id=code, start=span_start, end=span_end)
            created.append(c.pk)

    if outcome == DisagreementOutcome.KEEP_A and region is not None:
        delete(coding_b)
        copy(region.a, a.coder_b)
    elif outcome == DisagreementOutcome.KEEP_B and region is not None:
        delete(coding_a)
        copy(region.b, a.coder_a)
    elif outcome == DisagreementOutcome.NEITHER:
        delete(coding_a + coding_b)
    now = timezone.now()
    if record is None:
        record = Disagreement(study_id=study_id, assignment=a, code_id=code, start=s, end=e)
    record.outcome, record.note, record.spans = outcome, note_text, spans
    record.resolved_by, record.resolved_at = actor, now
    record.save()
    audit_record(actor=actor, action="coding.disagreement_resolve", study=a.study, obj=record, ip=ip,
                 details={"transcript": a.transcript_id, "code": code, "start": s, "end": e, "outcome": outcome,
                          "note_written": bool(note_text), "deleted": deleted, "created": created})
    return record


# Corrections ----------------------------------------------------------------------------------------


def disagreements_reanchor(*, transcript_id: int, edit_map: EditMap) -> AnchorReport:
    """Move the transcript's disagreement records (and the spans they recorded at resolution) through
    a correction, in its transaction (``settings.CHORUS_REANCHOR_HOOKS``), so a thread stays with the
    words it is about. A record whose text was deleted, or that would land on another record of the
    same code, is kept and marked lost (shown read-only) rather than dropped: the discussion is part
    of the analysis record."""
    report = AnchorReport()
    rows = list(Disagreement.objects.filter(assignment__transcript_id=transcript_id)
                .select_for_update(of=("self",)).order_by("pk"))
    if not rows:
        return report
    plans: dict[int, tuple[int, int, bool]] = {}
    for d in rows:
        m = edit_map.map_span(d.start, d.end)
        plans[d.pk] = (m.start, m.end, d.lost or m.status == SpanStatus.LOST)
        if m.status == SpanStatus.CHANGED:
            report.changed.append(d.pk)
        elif m.status == SpanStatus.LOST and not d.lost:
            report.lost.append(d.pk)
    # Unmoved records keep their place; a moved one that would collide with another is lost.
    taken: set[tuple[int, int, int, int]] = set()
    for d in sorted(rows, key=lambda d: (plans[d.pk][:2] != (d.start, d.end), d.pk)):
        start, end, lost = plans[d.pk]
        key = (d.assignment_id, d.code_id, start, end)
        if not lost and key in taken:
            plans[d.pk] = (start, end, True)
            report.lost.append(d.pk)
        elif not lost:
            taken.add(key)
    dirty = []
    for d in rows:
        start, end, lost = plans[d.pk]
        spans = {who: [[m.start, m.end] for m in (edit_map.map_span(a, b) for a, b in pairs)
                       if m.status != SpanStatus.LOST] for who, pairs in (d.spans or {}).items()}
        if (start, end, lost, spans) != (d.start, d.end, d.lost, d.spans):
            d.start, d.end, d.lost, d.spans = start, end, lost, spans
            dirty.append(d)
    if dirty:
        report.moved = len(dirty)
        # Two steps keep the unique (assignment, code, start, end) index satisfied row by row: out
        # of it first (lost rows are not indexed), then each to its final, collision-free place.
        Disagreement.objects.filter(pk__in=[d.pk for d in dirty]).update(lost=True)
        Disagreement.objects.bulk_update(dirty, ["start", "end", "lost", "spans"], batch_size=500)
    return report
