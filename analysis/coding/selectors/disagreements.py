"""Discussing and resolving the disagreements of a blind double-coded transcript.

Once both coders marked an :class:`~analysis.coding.models.Assignment` done, each code's disagreements are
the regions ``[start, end)`` (code points) where the two coders' codings differ, computed from the
current codings by :func:`analysis.coding.agreement.disagreement_regions` (the agreement measures'
unitisation). A disagreement is named by ``"{code}-{start}-{end}"``. Either assigned coder or a
lead may comment on it and resolve it; admins (and other leads' readers of agreement) may read.

A resolution records an outcome, who and when, and each coder's spans at that moment:

* ``keep_a`` / ``keep_b``: the other coder's codings of the code in the region are deleted and the
  kept coder's spans are coded for them, so both now agree there;
* ``neither``: both coders' codings of the code in the region are deleted;
* ``both``: agreed to differ, nothing changes (the region stays a disagreement in the figures);
* ``adjusted``: the coders changed their codings themselves; a note is required.

Coding changes go through :mod:`analysis.coding.services.codings` (``coding_create`` / ``coding_delete``, as
the coder whose codings they are), so they are checked, locked, and sent to open coding pages through
the change feed; the resolution and its changes commit together or not at all, and are audited.
Agreement figures are always computed from the current codings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Membership, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding import agreement
from analysis.coding.models import (
    Assignment,
    Code,
    Coding,
    Disagreement,
    DisagreementComment,
    DisagreementOutcome,
)
from analysis.coding.services import codings as coding_services
from analysis.transcripts.models import Transcript
from analysis.transcripts.selectors import transcripts_visible
from analysis.transcripts.services.anchors import AnchorReport
from analysis.transcripts.text import EditMap, SpanStatus

COMMENT_MAX = 5_000
NOTE_MAX = 5_000
STATUSES = ("all", "open", "resolved")
_KEY_RE = re.compile(r"^([1-9][0-9]{0,17})-([0-9]{1,12})-([0-9]{1,12})$")


class DisagreementsClosed(Exception):
    """The blind phase is not over (both coders must mark the assignment done)."""


class DisagreementConflict(Exception):
    """Already resolved, or the codings changed so the region is no longer a disagreement."""


@dataclass
class Item:
    key: str
    code: Code
    start: int
    end: int
    text: str
    a: list[tuple[int, int]]
    b: list[tuple[int, int]]
    a_only: int
    b_only: int
    current: bool  # the codings still differ on this region
    record: Disagreement | None = None
    comments: list[DisagreementComment] = field(default_factory=list)
    lost: bool = False  # a correction deleted the text: shown, not discussed further

    @property
    def resolved(self) -> bool:
        return self.record is not None and bool(self.record.outcome)

    @property
    def status(self) -> str:
        if self.resolved:
            return "resolved"
        return "lost" if self.lost else "open"


@dataclass
class Listing:
    membership: Membership
    assignment: Assignment
    transcript: Transcript
    items: list[Item]
    open: int
    resolved: int
    can_resolve: bool


# Access -------------------------------------------------------------------------------------------


def disagreements_access(*, user: Any, study_id: int, transcript_id: Any, write: bool) -> tuple[Membership, Assignment]:
    """The membership and the assignment if the user may read (``write``: comment on and resolve)
    the transcript's disagreements: out of scope or not double coded is 404; in scope but neither an
    assigned coder nor a lead (write) / a reader of agreement (read) is 403."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    try:
        tid = int(transcript_id)
    except (TypeError, ValueError):
        raise Http404("No such transcript.") from None
    if not policy.id_ok(tid) or not transcripts_visible(user=user, study_id=study_id).filter(pk=tid).exists():
        raise Http404("No such transcript.")
    a = Assignment.objects.filter(study_id=study_id, transcript_id=tid).select_related("coder_a", "coder_b").first()
    if a is None:
        raise Http404("This transcript is not double coded.")
    if not policy.disagreement_access(membership=membership, coder_ids=(a.coder_a_id, a.coder_b_id), write=write):
        if write:
            raise PermissionDenied("Only the two assigned coders and leads can discuss and resolve disagreements.")
        raise PermissionDenied("Only leads and the two coders see the comparison.")
    return membership, a


def may_resolve(*, membership: Membership, assignment: Assignment) -> bool:
    return policy.disagreement_access(
        membership=membership, coder_ids=(assignment.coder_a_id, assignment.coder_b_id), write=True
    )


def _require_complete(a: Assignment) -> None:
    if not a.complete:
        raise DisagreementsClosed(
            "Disagreements open for discussion once both coders have marked their coding done (the blind phase).")


def parse_key(key: Any) -> tuple[int, int, int]:
    m = _KEY_RE.match(str(key or ""))
    if m is None:
        raise Http404("No such disagreement.")
    code, start, end = (int(g) for g in m.groups())
    if end <= start:
        raise Http404("No such disagreement.")
    return code, start, end


# Reads ----------------------------------------------------------------------------------------------


def _regions(a: Assignment, *, length: int) -> dict[tuple[int, int, int], agreement.Region]:
    spans: dict[int, dict[int, list[tuple[int, int]]]] = {a.coder_a_id: defaultdict(list), a.coder_b_id: defaultdict(list)}
    for coder, code, s, e in Coding.objects.filter(
        transcript_id=a.transcript_id, coder_id__in=[a.coder_a_id, a.coder_b_id], lost=False
    ).values_list("coder_id", "code_id", "start", "end"):
        spans[coder][code].append((s, e))
    out: dict[tuple[int, int, int], agreement.Region] = {}
    for code in sorted(set(spans[a.coder_a_id]) | set(spans[a.coder_b_id])):
        for r in agreement.disagreement_regions(spans_a=spans[a.coder_a_id].get(code, ()),
                                                spans_b=spans[a.coder_b_id].get(code, ()), length=length):
            out[(code, r.start, r.end)] = r
    return out


def disagreements_list(*, user: Any, study_id: int, transcript_id: Any, status: str = "all") -> Listing:
    """The disagreements of a complete assignment: every current one (open unless resolved) and every
    resolved one (also when the codings have changed since), in text order, with their threads."""
    membership, a = disagreements_access(user=user, study_id=study_id, transcript_id=transcript_id, write=False)
    _require_complete(a)
    if status not in STATUSES:
        raise ValidationError({"status": f"One of: {', '.join(STATUSES)}."})
    t = Transcript.objects.select_related("participant").get(pk=a.transcript_id)
    text = t.text
    regions = _regions(a, length=len(text))
    all_records = list(Disagreement.objects.filter(assignment=a).select_related("resolved_by"))
    records = {(d.code_id, d.start, d.end): d for d in all_records if not d.lost}
    lost = [d for d in all_records if d.lost]
    comments: dict[int, list[DisagreementComment]] = defaultdict(list)
    for c in DisagreementComment.objects.filter(disagreement__assignment=a).select_related("author"):
        comments[c.disagreement_id].append(c)
    codes = {c.pk: c for c in Code.objects.filter(
        study_id=study_id, pk__in={k[0] for k in (*regions, *records)} | {d.code_id for d in lost})}
    items: list[Item] = []
    for k in sorted(set(regions) | set(records), key=lambda k: (k[1], k[2], codes[k[0]].name if k[0] in codes else "")):
        code_id, s, e = k
        r, d = regions.get(k), records.get(k)
        if code_id not in codes or (r is None and d is None):
            continue
        if r is not None:
            sa, sb, a_only, b_only = list(r.a), list(r.b), r.a_only, r.b_only
        else:  # resolved or discussed earlier; the codings changed since: show them as they were
            snap = d.spans if d is not None else {}
            sa = [tuple(x) for x in snap.get("a", [])]
            sb = [tuple(x) for x in snap.get("b", [])]
            a_only = b_only = 0
        items.append(Item(key=f"{code_id}-{s}-{e}", code=codes[code_id], start=s, end=e, text=text[s:e][:2000],
                          a=sa, b=sb, a_only=a_only, b_only=b_only, current=r is not None, record=d,
                          comments=comments.get(d.pk, []) if d is not None else []))
    for d in lost:  # read-only: the text they were about was deleted by a correction
        if d.code_id in codes:
            items.append(Item(key=f"lost-{d.pk}", code=codes[d.code_id], start=d.start, end=d.end,
                              text=text[d.start:d.end][:2000], a=[tuple(x) for x in d.spans.get("a", [])],
                              b=[tuple(x) for x in d.spans.get("b", [])], a_only=0, b_only=0, current=False,
                              record=d, comments=comments.get(d.pk, []), lost=True))
    items.sort(key=lambda i: (i.start, i.end, i.code.name, i.lost))
    n_resolved = sum(1 for i in items if i.status == "resolved")
    n_open = sum(1 for i in items if i.status == "open")
    if status != "all":
        items = [i for i in items if i.status == status]
    return Listing(membership=membership, assignment=a, transcript=t, items=items, open=n_open,
                   resolved=n_resolved, can_resolve=may_resolve(membership=membership, assignment=a))


def disagreement_get(*, user: Any, study_id: int, transcript_id: Any, key: Any, write: bool = False) -> Item:
    if write:
        disagreements_access(user=user, study_id=study_id, transcript_id=transcript_id, write=True)
    code, s, e = parse_key(key)
    for item in disagreements_list(user=user, study_id=study_id, transcript_id=transcript_id).items:
        if (item.code.pk, item.start, item.end) == (code, s, e):
            return item
    raise Http404("No such disagreement.")


# Writes -----------------------------------------------------------------------------------------------


def _target(*, a: Assignment, key: Any, length: int) -> tuple[int, int, int, agreement.Region | None, Disagreement | None]:
    """The disagreement named by ``key``: a current region, or one already discussed (404 otherwise)."""
    code, s, e = parse_key(key)
    region = _regions(a, length=length).get((code, s, e))
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
    _require_complete(fresh)
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
