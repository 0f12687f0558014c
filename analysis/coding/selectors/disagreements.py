"""Reading the disagreements of a blind double-coded transcript (the writes are in
:mod:`analysis.coding.services.disagreements`).

Once both coders marked an :class:`~analysis.coding.models.Assignment` done, each code's disagreements are
the regions ``[start, end)`` (code points) where the two coders' codings differ, computed from the
current codings by :func:`analysis.coding.agreement.disagreement_regions` (the agreement measures'
unitisation). A disagreement is named by ``"{code}-{start}-{end}"``. Who may read, comment on and
resolve them is the policy's rule :func:`accounts.policy.disagreement_access`: either assigned coder
or a lead writes; agreement readers read. Agreement figures are always computed from the current
codings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from accounts import policy
from accounts.models import Membership
from accounts.policy import Perm
from analysis.coding import agreement
from analysis.coding.models import Assignment, Code, Coding, Disagreement, DisagreementComment
from analysis.transcripts.models import Transcript
from analysis.transcripts.selectors import transcripts_visible

STATUSES = ("all", "open", "resolved")
_KEY_RE = re.compile(r"^([1-9][0-9]{0,17})-([0-9]{1,12})-([0-9]{1,12})$")


class DisagreementsClosed(Exception):
    """The blind phase is not over (both coders must mark the assignment done)."""


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


def require_complete(a: Assignment) -> None:
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


def regions_current(a: Assignment, *, length: int) -> dict[tuple[int, int, int], agreement.Region]:
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
    require_complete(a)
    if status not in STATUSES:
        raise ValidationError({"status": f"One of: {', '.join(STATUSES)}."})
    t = Transcript.objects.select_related("participant").get(pk=a.transcript_id)
    text = t.text
    regions = regions_current(a, length=len(text))
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
                   resolved=n_resolved, can_resolve=policy.disagreement_access(
                       membership=membership, coder_ids=(a.coder_a_id, a.coder_b_id), write=True))


def disagreement_get(*, user: Any, study_id: int, transcript_id: Any, key: Any, write: bool = False) -> Item:
    if write:
        disagreements_access(user=user, study_id=study_id, transcript_id=transcript_id, write=True)
    code, s, e = parse_key(key)
    for item in disagreements_list(user=user, study_id=study_id, transcript_id=transcript_id).items:
        if (item.code.pk, item.start, item.end) == (code, s, e):
            return item
    raise Http404("No such disagreement.")
