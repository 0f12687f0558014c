"""Retrieval of coded material: a code's segments page by page, per-code counts for the codebook,
and coding progress for a page of transcripts.

Scope, consent and blind double coding come from :func:`codings_visible`. The segment query reads
only the coded text and a bounded window around it (SUBSTR in SQL), never a whole transcript per
row: at 650 interviews one code has ~3,000 segments, and pulling every transcript's text with each
row moved 100 MB from the database for one page.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet, Value
from django.db.models.functions import Greatest, Substr

from accounts import policy
from accounts.policy import Perm
from analysis.coding.models import Assignment, Code, Coding
from analysis.coding.selectors.codings import blinded_coders, codings_visible
from analysis.transcripts.models import TranscriptTurn
from analysis.transcripts.selectors import transcript_lines_at
from analysis.transcripts.text import line_in

CONTEXT_CHARS = 200  # code points of context each side of a segment, clipped to speaker turns
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass
class ContextTurn:
    """One speaker turn (or the part of it inside the window): before / coded / after text."""

    speaker: str
    line: int
    before: str
    coded: str
    after: str
    clipped_start: bool  # the turn starts before the window
    clipped_end: bool


@dataclass
class Segment:
    coding_id: int
    transcript_id: int
    transcript_title: str
    code_id: int
    code_name: str
    pseudonym: str
    group: str
    site: str
    coder: str
    start: int
    end: int
    text: str
    memo: str
    start_line: int
    end_line: int
    speaker: str
    turns: list[ContextTurn] = field(default_factory=list)
    before: str = ""  # the window's raw text before and after the segment (for the API)
    after: str = ""

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class GroupTotal:
    group_id: int
    label: str
    segments: int
    participants: int


@dataclass
class SegmentPage:
    segments: list[Segment]
    total: int
    number: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.page_size)


def _code_ids_with_descendants(code: Code) -> list[int]:
    rows = list(Code.objects.filter(study_id=code.study_id).values_list("pk", "parent_id"))
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in rows:
        children[parent].append(pk)
    out, todo = [], [code.pk]
    while todo:
        pk = todo.pop()
        out.append(pk)
        todo.extend(children.get(pk, []))
    return out


def segments_queryset(
    *, user: Any, study_id: int, code: Code, group_id: int | None = None, subcodes: bool = False,
) -> QuerySet[Coding]:
    """Visible, not lost codings of the code (and its sub-codes when asked), in reading order."""
    code_ids = _code_ids_with_descendants(code) if subcodes else [code.pk]
    qs = codings_visible(user=user, study_id=study_id).filter(code_id__in=code_ids, lost=False)
    if group_id:
        qs = qs.filter(transcript__participant__group_id=group_id)
    return qs


def segment_group_totals(
    *, user: Any, study_id: int, code: Code, subcodes: bool = False, base: QuerySet[Coding] | None = None,
) -> list[GroupTotal]:
    """Segments and distinct participants per participant group, in one aggregate query. ``base``: the
    caller's ``segments_queryset`` for the same code and sub-codes (see ``segments_page``)."""
    if base is None:
        base = segments_queryset(user=user, study_id=study_id, code=code, subcodes=subcodes)
    return _group_totals(base)


def _group_totals(base: QuerySet[Coding]) -> list[GroupTotal]:
    rows = (
        base
        .values("transcript__participant__group_id", "transcript__participant__group__label",
                "transcript__participant__group__position")
        .annotate(n=Count("id"), p=Count("transcript__participant_id", distinct=True))
        .order_by("transcript__participant__group__position", "transcript__participant__group_id")
    )
    return [GroupTotal(r["transcript__participant__group_id"], r["transcript__participant__group__label"], r["n"],
                       r["p"]) for r in rows]


# The group totals and one page's ids in one statement over the visible codings (PostgreSQL): the totals
# and the ids query each scanned the code's visible codings (the consent, scope and blind-coding filters),
# 10.6 and 8.5 ms of a 50-segment page at 650 interviews. MATERIALIZED: the scan runs once for both.
_TOTALS_AND_IDS_PG = """
WITH v (id, grp, label, position, part, pseud, tr, s, e) AS MATERIALIZED ({base})
SELECT 0, grp, label, position, COUNT(*), COUNT(DISTINCT part) FROM v GROUP BY grp, label, position
UNION ALL
(SELECT 1, id, NULL, NULL, NULL, NULL FROM v {where} ORDER BY pseud, tr, s, e, id LIMIT %s OFFSET %s)
"""


def segment_totals_and_ids(
    *, base: QuerySet[Coding], number: int, page_size: int, group_id: int | None = None,
) -> tuple[list[GroupTotal], list[int] | None]:
    """``segment_group_totals`` of ``base`` and the ids of its page ``number`` (of the group, when given), for
    ``segments_page(ids=…)``. On PostgreSQL one statement; elsewhere the ids are left to ``segments_page``
    (None). A page past the end gives no ids, and ``segments_page`` reads the last page itself."""
    if connection.vendor != "postgresql":
        return _group_totals(base), None
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    inner, params = base.order_by().values_list(
        "id", "transcript__participant__group_id", "transcript__participant__group__label",
        "transcript__participant__group__position", "transcript__participant_id",
        "transcript__participant__pseudonym", "transcript_id", "start", "end",
    ).query.sql_with_params()
    where, extra = ("WHERE grp = %s", [group_id]) if group_id else ("", [])
    sql = _TOTALS_AND_IDS_PG.format(base=inner, where=where)
    with connection.cursor() as cur:
        cur.execute(sql, [*params, *extra, page_size, (max(1, number) - 1) * page_size])
        found = cur.fetchall()
    groups = sorted(((r[3], r[1], r[2], r[4], r[5]) for r in found if r[0] == 0), key=lambda g: (g[0], g[1]))
    ids = [r[1] for r in found if r[0] == 1]
    return [GroupTotal(grp, label, n, p) for _, grp, label, n, p in groups], ids


_SEGMENT_FIELDS = (
    "id", "transcript_id", "code_id", "code__name", "start", "end", "memo", "coder__full_name", "coder__email",
    "transcript__title", "transcript__participant__pseudonym", "transcript__participant__group__label",
    "transcript__participant__site__name",
)
# The text each row needs, cut by the database: the window [start - context, end + context) clipped to
# the text. On PostgreSQL one SUBSTRING per transcript of the page, from its first window's start to its last
# window's end, out of which each row's window is cut here: SUBSTRING counts code points from the text's
# start (and decompresses it that far) for every call, and one call per row cost 14-17 ms of a 50-segment
# page from 11 transcripts at 650 interviews, against 3 ms once per transcript. What moves is still bounded
# by the page's windows, never a whole transcript per row. The window's line number comes from the
# transcript's recorded newline offsets (``transcript_lines_at``): counting newlines in the text before
# each window read the transcript from its start for every row.
_WINDOWS_PG = """
WITH c AS MATERIALIZED (
    SELECT id, transcript_id, GREATEST(start - %s, 0) AS ws, "end" + %s AS we FROM coding_coding WHERE id = ANY(%s)
), s AS (
    SELECT transcript_id, MIN(ws) AS ws, MAX(we) AS we FROM c GROUP BY transcript_id
)
SELECT c.id, c.transcript_id, c.ws, c.we, NULL, NULL FROM c
UNION ALL
SELECT NULL, s.transcript_id, s.ws, s.we, SUBSTRING(t.text FROM s.ws + 1 FOR s.we - s.ws), t.newlines
FROM s JOIN transcripts_transcript t ON t.id = s.transcript_id
"""


@dataclass(frozen=True)
class Window:
    """A coding's text window: ``text`` is the transcript's ``[start, start + len(text))``, and ``line``
    the line number of its first character."""

    transcript_id: int
    start: int
    text: str
    line: int

    def line_at(self, offset: int) -> int:
        """The line number of ``offset`` (inside the window or at its end)."""
        return self.line + self.text.count("\n", 0, max(0, offset - self.start))


def segment_windows(ids: list[int], context: int) -> dict[int, Window]:
    """The window ``[start - context, end + context)`` of each coding of ``ids`` (clipped to the text),
    with its line number: one statement whatever the number of codings (on SQLite two). The ids come from the caller's
    visible codings. Both pages of segments (a code's, a matrix cell's) read their text through here."""
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_WINDOWS_PG, [context, context, ids])
            found = cur.fetchall()
        # Django has psycopg hand JSON over as text (JSONField parses it): so here too.
        spans = {tid: (ws, text or "", json.loads(newlines) if isinstance(newlines, str) else newlines)
                 for cid, tid, ws, _we, text, newlines in found if cid is None}
        rows = []
        for cid, tid, ws, we, _, _ in found:
            if cid is not None and tid in spans:
                span_start, span, _ = spans[tid]
                rows.append((cid, tid, ws, span[ws - span_start:we - span_start]))
        # The newline offsets come with the spans (a statement less); a transcript written without them is
        # counted in its text by transcript_lines_at.
        lines = transcript_lines_at(offsets=[(r[1], r[2]) for r in rows if spans[r[1]][2] is None])
        lines.update(((tid, ws), line_in(spans[tid][2], ws)) for _, tid, ws, _ in rows if spans[tid][2] is not None)
        return {cid: Window(tid, ws, text or "", lines[(tid, ws)]) for cid, tid, ws, text in rows}
    else:
        w_start = Greatest(F("start") - context, Value(0))
        # SQL strings count from 1.
        rows = list(Coding.objects.filter(pk__in=ids).order_by().annotate(
            w_start=w_start, window=Substr("transcript__text", w_start + 1, F("end") + context - w_start),
        ).values_list("id", "transcript_id", "w_start", "window"))
    lines = transcript_lines_at(offsets=[(r[1], r[2]) for r in rows])
    return {cid: Window(tid, ws, text or "", lines[(tid, ws)]) for cid, tid, ws, text in rows}


def segments_page(
    *, user: Any, study_id: int, code: Code, number: int = 1, page_size: int = PAGE_SIZE,
    group_id: int | None = None, subcodes: bool = False, context: int = CONTEXT_CHARS,
    groups: list[GroupTotal] | None = None, base: QuerySet[Coding] | None = None, ids: list[int] | None = None,
) -> SegmentPage:
    """One page of a code's segments with the total (no cap), each with its context window split
    into speaker turns with line numbers. A few queries whatever the size: the count, the page's ids,
    their text windows (cut by the database) and the turns around them. ``groups``: the caller's
    ``segment_group_totals`` for the same code and sub-codes, whose segments add up to the total (the
    pages show them anyway): then the codings are not counted a second time. ``base``: the caller's
    ``segments_queryset`` for the same code and sub-codes (no group), built once for the totals and every
    page of a request: building the visible codings (scope, consent, blind double coding: a query of its
    own) was a quarter of a page's Python time. ``ids``: the page's ids from ``segment_totals_and_ids`` for
    the same page, group and base."""
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    if base is None:
        qs = segments_queryset(user=user, study_id=study_id, code=code, group_id=group_id, subcodes=subcodes)
    else:
        qs = base.filter(transcript__participant__group_id=group_id) if group_id else base
    if groups is None:
        total = qs.count()
    else:
        total = sum(g.segments for g in groups if not group_id or g.group_id == group_id)
    asked = number
    number = max(1, min(number, max(1, math.ceil(total / page_size))))
    offset = (number - 1) * page_size
    # The page's ids first, then the text of those rows only: with the substrings in the ordered
    # query the database would cut a window for every segment of the code before sorting.
    if ids is None or number != asked:
        ids = list(qs.order_by("transcript__participant__pseudonym", "transcript_id", "start", "end", "id")
                   .values_list("id", flat=True)[offset: offset + page_size])
    windows = segment_windows(ids, context)
    found = {row[0]: row for row in Coding.objects.filter(pk__in=ids).order_by().values_list(*_SEGMENT_FIELDS)}
    rows = [(*found[i], w.start, w.text, w.line) for i in ids if i in found and (w := windows.get(i))]
    turns = _turns_around(rows)
    segments = [_segment(row, turns.get(row[1], [])) for row in rows]
    return SegmentPage(segments=segments, total=total, number=number, page_size=page_size)


def _turns_around(rows: list[tuple[Any, ...]]) -> dict[int, list[tuple[str, int, int, int]]]:
    """(speaker, start, end, index) of the turns overlapping each row's window, by transcript."""
    if not rows:
        return {}
    out: dict[int, list[tuple[str, int, int, int]]] = defaultdict(list)
    if connection.vendor == "postgresql":
        # The windows as arrays: one short statement instead of 50 OR-ed conditions to build and send.
        with connection.cursor() as cur:
            cur.execute(_TURNS_PG, [[r[1] for r in rows], [r[13] for r in rows], [r[13] + len(r[14]) for r in rows]])
            found = cur.fetchall()
    else:
        conds = [Q(transcript_id=r[1], start__lt=r[13] + len(r[14]), end__gt=r[13]) for r in rows]
        qs = TranscriptTurn.objects.filter(reduce(or_, conds)).order_by("transcript_id", "start")
        found = list(qs.values_list("transcript_id", "speaker", "start", "end", "index"))
    for tid, speaker, start, end, index in found:
        out[tid].append((speaker, start, end, index))
    return out


_TURNS_PG = """
SELECT DISTINCT t.transcript_id, t.speaker, t.start, t."end", t.index
FROM transcripts_transcriptturn t
JOIN UNNEST(%s::bigint[], %s::int[], %s::int[]) AS w(tid, ws, we)
  ON t.transcript_id = w.tid AND t.start < w.we AND t."end" > w.ws
ORDER BY t.transcript_id, t.start
"""


def _segment(row: tuple[Any, ...], turns: list[tuple[str, int, int, int]]) -> Segment:
    (cid, tid, code_id, code_name, start, end, memo, coder_name, coder_email, title, pseudonym, group, site,
     ws, window, w_line) = row
    window = window or ""
    we = ws + len(window)
    rel_s, rel_e = start - ws, end - ws

    def line_at(offset: int) -> int:
        return int(w_line) + window.count("\n", 0, max(0, offset - ws))

    seg = Segment(
        coding_id=cid, transcript_id=tid, transcript_title=title or pseudonym, code_id=code_id, code_name=code_name,
        pseudonym=pseudonym, group=group or "", site=site or "", coder=coder_name or coder_email, start=start, end=end,
        text=window[rel_s:rel_e], memo=memo, start_line=line_at(start), end_line=line_at(max(start, end - 1)),
        speaker="", before=window[:rel_s], after=window[rel_e:],
    )
    for speaker, t_start, t_end, index in turns:
        if t_end <= ws or t_start >= we or t_end <= t_start:
            continue
        if index == 0 and not speaker and t_end <= start:
            continue  # the file's header line ("Interview SU01, telephone, …"), not something said
        a, b = max(t_start, ws), min(t_end, we)
        piece_s, piece_e = max(a, min(start, b)), min(b, max(end, a))
        seg.turns.append(ContextTurn(
            speaker=speaker, line=line_at(a), before=window[a - ws:piece_s - ws], coded=window[piece_s - ws:piece_e - ws],
            after=window[piece_e - ws:b - ws], clipped_start=t_start < ws, clipped_end=t_end > we,
        ))
        if t_start <= start < t_end and not seg.speaker:
            seg.speaker = speaker
    if not seg.turns and seg.text:
        # Text outside any speaker turn (a file without speaker labels): show the coded text alone.
        seg.turns.append(ContextTurn("", seg.start_line, "", seg.text, "", False, False))
    return seg


# Codebook columns ------------------------------------------------------------------------------------


@dataclass
class CodeStats:
    codings: int = 0
    participants: int = 0
    by_group: list[tuple[str, int]] = field(default_factory=list)  # (group label, participants)


def code_stats_readable(*, user: Any, study_id: int) -> dict[int, CodeStats] | None:
    """The codebook's counts for a member who may read transcripts (the counts read codings), None
    for anyone else."""
    if not policy.has_perm(user=user, study=study_id, perm=Perm.TRANSCRIPT_VIEW):
        return None
    return code_stats(user=user, study_id=study_id)


def code_stats(*, user: Any, study_id: int) -> dict[int, CodeStats]:
    """Per code: visible codings, distinct participants, participants by group (NVivo's
    References and Files). One aggregate query for the whole codebook."""
    rows = (
        codings_visible(user=user, study_id=study_id).filter(lost=False)
        .values("code_id", "transcript__participant__group__label", "transcript__participant__group__position")
        .annotate(n=Count("id"), p=Count("transcript__participant_id", distinct=True))
        .order_by("code_id", "transcript__participant__group__position")
    )
    # Distinct participants across groups add up: a participant belongs to one group.
    out: dict[int, CodeStats] = defaultdict(CodeStats)
    for r in rows:
        s = out[r["code_id"]]
        s.codings += r["n"]
        s.participants += r["p"]
        s.by_group.append((r["transcript__participant__group__label"], r["p"]))
    return dict(out)


# Transcript list: coding progress ---------------------------------------------------------------------


@dataclass
class Progress:
    codings: int = 0
    coders: list[str] = field(default_factory=list)
    last_activity: Any = None
    double_coding: str = ""  # "" (not double coded), "in progress", "one coder done", "complete"


def transcripts_progress(*, user: Any, study_id: int, transcript_ids: list[int]) -> dict[int, Progress]:
    """Coding progress of a page of transcripts: one query over their double-coding assignments and one
    grouped query over their codings. ``transcript_ids`` come from the user's visible list (the page being
    shown); blind double coding is applied here (:func:`~analysis.coding.selectors.codings.blinded_coders`,
    from the page's own assignments), so counts include only what they may see."""
    out: dict[int, Progress] = {tid: Progress() for tid in transcript_ids}
    if not transcript_ids:
        return out
    blind = Q()
    for tid, coder_a, coder_b, done_a, done_b in Assignment.objects.filter(transcript_id__in=transcript_ids).values_list(
        "transcript_id", "coder_a_id", "coder_b_id", "done_a", "done_b"
    ):
        done = (done_a is not None) + (done_b is not None)
        out[tid].double_coding = ("in progress", "one coder done", "complete")[done]
        for other in sorted(blinded_coders(user_id=user.pk, coder_a_id=coder_a, coder_b_id=coder_b, complete=done == 2)):
            blind |= Q(transcript_id=tid, coder_id=other)
    qs = Coding.objects.filter(study_id=study_id, transcript_id__in=transcript_ids, lost=False)
    rows = (
        (qs.exclude(blind) if blind else qs)
        .values("transcript_id", "coder__full_name", "coder__email")
        .annotate(n=Count("id"), last=Max("updated_at"))
        .order_by("transcript_id", "coder__full_name", "coder__email")
    )
    for r in rows:
        p = out[r["transcript_id"]]
        p.codings += r["n"]
        p.coders.append(r["coder__full_name"] or r["coder__email"])
        if p.last_activity is None or r["last"] > p.last_activity:
            p.last_activity = r["last"]
    return out
