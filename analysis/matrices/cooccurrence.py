"""Code co-occurrence: codes × codes over the codings a member may see.

Definitions (docs/matrices.md says the same in the users' words):

* **overlapping segments** — the number of *pairs of codings*, one of each code, on the same transcript
  whose spans intersect (``a.start < b.end and b.start < a.end``: half-open, so spans that merely touch
  do not overlap). This is what QualCoder's co-occurrence report counts (pairs of overlapping codings);
  ATLAS.ti's co-occurrence table counts co-occurring quotations, which is the same number when each
  quotation carries one coding. Two codings of code X overlapping two of code Y count four.
* **participants** — participants with at least one coding of each code, anywhere in their transcripts.
* **speaker turns** — turns that a coding of each code touches (intersects).

The diagonal is the code's own count: its codings, the participants with it, the turns it touches.
The table is symmetric. Every number is one statement: the visible codings (``selectors._base``: scope,
consent, blind double coding and the request's filters) as a common table expression, swept once per
transcript in order of start together with the speaker turns (``_statement``), and grouped by the pair of
codes — no Python loop over rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet

from accounts import policy
from accounts.policy import Perm
from analysis.coding.models import Code, Coding
from analysis.coding.selectors.codings import CONTEXT_CHARS
from analysis.transcripts.models import SpeakerRole, Transcript, TranscriptTurn
from analysis.transcripts.selectors import transcript_lines_at
from participants.consent_rules import DataUse, data_use_allowed
from participants.models import Participant

from . import selectors
from .selectors import CellPage, Result, Segment, Spec

KIND = "cooccurrence"
MEASURES = ("segments", "participants", "turns")
STEPS = 2  # checkpoints: the statement, then the code names


def _codings_sql(*, user: Any, study_id: int, spec: Spec) -> tuple[str, list[Any]]:
    """The visible codings of the chosen codes as SQL with (id, code, tr, s, e, part) columns."""
    qs: QuerySet[Coding] = selectors._base(user=user, study_id=study_id, spec=spec)
    if spec.column_ids:
        qs = qs.filter(code_id__in=spec.column_ids)
    # Annotations only, in one call, so the select list is in this order.
    cols = qs.annotate(k_id=F("id"), k_code=F("code_id"), k_tr=F("transcript_id"), k_s=F("start"), k_e=F("end"),
                       k_part=F("transcript__participant_id")).values("k_id", "k_code", "k_tr", "k_s", "k_e", "k_part")
    sql, params = cols.order_by().query.sql_with_params()
    return sql, list(params)


def _statement(*, user: Any, study_id: int, spec: Spec) -> tuple[str, list[Any]]:
    """One statement for the three measures: on PostgreSQL by arrays (``_statement_arrays``), elsewhere
    by the portable sweep (``_statement_sweep``). Both count the same (tests/matrices run both)."""
    if connection.vendor == "postgresql":
        return _statement_arrays(user=user, study_id=study_id, spec=spec)
    return _statement_sweep(user=user, study_id=study_id, spec=spec)


def _statement_arrays(*, user: Any, study_id: int, spec: Spec) -> tuple[str, list[Any]]:
    """The three measures on PostgreSQL with no sort of every coding and turn together and no recursion
    (the sweep took 3.2 s for all coders at 1,000 participants, 595 k rows sorted and windowed twice, then
    followed rank by rank and turn by turn; see bench/README.md, issue 14). Per transcript, one row holds
    its codings' starts, ends and codes as arrays in order of (start, id), and one row its turns' starts,
    ends and roles in order of index (read from the covering index ``turn_study_transcript_span``). Each
    coding is then unnested with its rank ``rn`` and answered by binary search (``width_bucket``: how many
    of a sorted array's elements are <= a value):

    * the codings overlapping it that start after it in (start, id) order are the ranks ``rn + 1`` up to
      the number of codings that start before its end (``width_bucket(e - 1, starts)``), so each
      overlapping pair is found once, from its earlier member, and the partner's code is ``codes[k]``;
    * the turns it touches are the one it starts in (the last turn starting at or before it, if that
      turn ends after the coding starts) and every later turn that starts before the coding ends: turns
      are in text order and do not overlap (the parser makes them so and edits keep them so), so their
      starts and ends are sorted.

    Pairs of codes in a turn come from each turn's list of codes (most turns have one and drop out) rather
    than a join of the 185 k (code, turn) rows with themselves.

    Both lists come out of one pass as two set-returning functions side by side (PostgreSQL pads the
    shorter with NULLs), so the per-transcript arrays are never copied per coding."""
    base, params = _codings_sql(user=user, study_id=study_id, spec=spec)
    turn = TranscriptTurn._meta.db_table
    # Only the rows' order, not the aggregate, sorts: a subquery's ORDER BY is kept (it is not flattened, and
    # no partial, parallel aggregate is planned above a sorted subquery) and array_agg takes the rows as
    # they come, the idiom PostgreSQL's manual gives. ``array_agg(… ORDER BY …)`` would sort every
    # transcript's rows again for each of the three arrays on PostgreSQL 15 (0.4 s at 1,000 participants);
    # from 16 on it skips a sort of presorted input. The array and sweep forms are compared by a test.
    iv = ", tiv[generate_series(CASE WHEN f > 0 AND te[f] > s THEN f ELSE f + 1 END, width_bucket(e - 1, ts))] AS iv" \
        if spec.skip_interviewer else ""
    keep = " AND iv = 0" if spec.skip_interviewer else ""
    # ``OFFSET 0`` keeps ``u`` a subquery, so ``f`` (a binary search) is computed once per coding rather than
    # once for each of its three or four uses once the planner pulls the subquery up.
    sql = f"""
    WITH c (id, code, tr, s, e, part) AS ({base}),
    ca AS (SELECT tr, array_agg(s) AS ss, array_agg(e) AS es, array_agg(code) AS cs
        FROM (SELECT tr, s, e, code FROM c ORDER BY tr, s, id) o GROUP BY tr),
    ta AS (SELECT tr, array_agg(start) AS ts, array_agg("end") AS te, array_agg(iv) AS tiv FROM (
        SELECT transcript_id AS tr, start, "end", CASE WHEN role = %s THEN 1 ELSE 0 END AS iv
        FROM {turn} WHERE study_id = %s ORDER BY transcript_id, "index") o GROUP BY tr),
    ev AS (SELECT tr, code, cs[generate_series(rn + 1, width_bucket(e - 1, ss))] AS other,
            generate_series(CASE WHEN f > 0 AND te[f] > s THEN f ELSE f + 1 END, width_bucket(e - 1, ts)) AS k{iv}
        FROM (SELECT tr, ss, cs, ts, te, tiv, s, e, code, rn, width_bucket(s, ts) AS f FROM (
            SELECT ca.tr, ca.ss, ca.cs, ta.ts, ta.te, ta.tiv, unnest(ca.ss) AS s, unnest(ca.es) AS e,
                unnest(ca.cs) AS code, generate_subscripts(ca.ss, 1) AS rn
            FROM ca LEFT JOIN ta ON ta.tr = ca.tr) u0 OFFSET 0) u),
    t AS (SELECT code, tr, k FROM ev WHERE k IS NOT NULL{keep} GROUP BY code, tr, k),
    p AS (SELECT code, part, COUNT(*) AS n FROM c GROUP BY code, part)
    SELECT 's', CASE WHEN code < other THEN code ELSE other END AS lo,
        CASE WHEN code < other THEN other ELSE code END AS hi, COUNT(*) FROM ev WHERE other <> code GROUP BY lo, hi
    UNION ALL SELECT 's', code, code, SUM(n) FROM p GROUP BY code
    UNION ALL SELECT 'p', a.code, b.code, COUNT(*) FROM p a JOIN p b ON b.part = a.part AND a.code < b.code
        GROUP BY a.code, b.code
    UNION ALL SELECT 'p', code, code, COUNT(*) FROM p GROUP BY code
    UNION ALL SELECT 't', a, b, COUNT(*) FROM (SELECT a, unnest(cs) AS b FROM (
            SELECT unnest(cs) AS a, cs FROM (SELECT array_agg(code) AS cs FROM t GROUP BY tr, k HAVING COUNT(*) > 1) z1) z2) z3
        WHERE a < b GROUP BY a, b
    UNION ALL SELECT 't', code, code, COUNT(*) FROM t GROUP BY code
    """  # noqa: S608
    return sql, [*params, SpeakerRole.INTERVIEWER.value, study_id]


def _statement_sweep(*, user: Any, study_id: int, spec: Spec) -> tuple[str, list[Any]]:
    """One statement for the three measures, with no step that compares every coding of a transcript with
    every other (a self-join on the transcript with the span test as a filter checked 40 million candidate
    pairs at 1,000 participants: 35 s on PostgreSQL). A sweep instead: the codings' starts and the turns'
    starts are sorted once per transcript, and two window passes over that one order give each coding

    * ``tk`` / ``te``: the last turn that starts at or before the coding (its index, doubled, plus 1 for an
      interviewer turn, so one running MAX carries both) and that turn's end: the coding touches that turn
      when the turn ends after the coding starts;
    * ``rn``, its rank by (start, id), and ``s1`` / ``c1``, the start and code of the next coding in that
      order. The codings overlapping a coding *a* that start after it are exactly the next ranks whose
      start is before *a*'s end, so each overlapping pair is found once, from its earlier-starting member.

    Most codings overlap at most one later coding and lie inside one turn; the rest (further partners,
    later turns) are followed one rank or one turn index at a time by a recursive CTE, which matches by
    equality (a hash join) and stops at the first rank or turn that starts at or after the coding's end.
    An earlier form sorted the codings' ends as well (970 k rows at 1,000 participants instead of 600 k)
    and grouped the events back per coding (a 747 k-row aggregate): see bench/README.md, issue 14."""
    base, params = _codings_sql(user=user, study_id=study_id, spec=spec)
    turn = TranscriptTurn._meta.db_table
    # Interviewer turns are left out of the turn counts only on request; the sweep still sees them (a coding
    # must not be mapped to the turn before an interviewer turn).
    keep = "WHERE iv = 0" if spec.skip_interviewer else ""
    # ``tu``: the turns' few columns read once (the table's rows carry the turn's text and search vector:
    # 16 k pages at 1,000 participants), for the sweep and for the codings that run past their first turn.
    sql = f"""
    WITH RECURSIVE c (id, code, tr, s, e, part) AS ({base}),
    tu AS (SELECT transcript_id AS tr, "index" AS i, start, "end", CASE WHEN role = %s THEN 1 ELSE 0 END AS iv
        FROM {turn} WHERE study_id = %s),
    ev (tr, pos, kind, id, code, e, tk, tend) AS (
        SELECT tr, s, 1, id, code, e, CAST(NULL AS BIGINT), CAST(NULL AS INTEGER) FROM c
        UNION ALL SELECT tr, start, 0, i, NULL, NULL, i * 2 + iv, "end" FROM tu),
    m AS (SELECT kind, id, code, tr, pos, e, MAX(tk) OVER win AS tk, MAX(tend) OVER win AS te
          FROM ev WINDOW win AS (PARTITION BY tr ORDER BY pos, kind, id ROWS UNBOUNDED PRECEDING)),
    r AS (SELECT code, tr, pos AS s, e, tk, te, ROW_NUMBER() OVER win AS rn, LEAD(pos) OVER win AS s1,
            LEAD(code) OVER win AS c1
          FROM m WHERE kind = 1 WINDOW win AS (PARTITION BY tr ORDER BY pos, kind, id)),
    x (code, tr, e, k, other) AS (SELECT code, tr, e, rn + 1, c1 FROM r WHERE s1 < e
        UNION ALL SELECT x.code, x.tr, x.e, b.rn, b.code FROM x JOIN r b ON b.tr = x.tr AND b.rn = x.k + 1
            WHERE b.s < x.e),
    y (code, tr, e, i, iv) AS (
        SELECT r.code, r.tr, r.e, u.i, u.iv FROM r JOIN tu u ON u.tr = r.tr AND u.i = COALESCE(r.tk / 2 + 1, 0)
            WHERE (r.tk IS NULL OR r.e > r.te) AND u.start < r.e
        UNION ALL SELECT y.code, y.tr, y.e, u.i, u.iv FROM y JOIN tu u ON u.tr = y.tr AND u.i = y.i + 1
            WHERE u.start < y.e),
    t AS (SELECT DISTINCT code, tr, i FROM (
            SELECT code, tr, tk / 2 AS i, tk - tk / 2 * 2 AS iv FROM r WHERE te > s
            UNION ALL SELECT code, tr, i, iv FROM y) tt {keep}),
    p AS (SELECT code, part, COUNT(*) AS n FROM c GROUP BY code, part)
    SELECT 's', CASE WHEN code < other THEN code ELSE other END AS lo,
        CASE WHEN code < other THEN other ELSE code END AS hi, COUNT(*) FROM x WHERE other <> code GROUP BY lo, hi
    UNION ALL SELECT 's', code, code, SUM(n) FROM p GROUP BY code
    UNION ALL SELECT 'p', a.code, b.code, COUNT(*) FROM p a JOIN p b ON b.part = a.part AND a.code < b.code
        GROUP BY a.code, b.code
    UNION ALL SELECT 'p', code, code, COUNT(*) FROM p GROUP BY code
    UNION ALL SELECT 't', a.code, b.code, COUNT(*) FROM t a JOIN t b ON b.tr = a.tr AND b.i = a.i AND a.code < b.code
        GROUP BY a.code, b.code
    UNION ALL SELECT 't', code, code, COUNT(*) FROM t GROUP BY code
    """  # noqa: S608
    return sql, [*params, SpeakerRole.INTERVIEWER.value, study_id]


def cooccurrence_compute(*, user: Any, study_id: int, spec: Spec, checkpoint: Callable[[int], None]) -> Result:
    """The co-occurrence table as the user may see it now (one SQL statement plus the code names)."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.MATRIX_VIEW)
    sql, params = _statement(user=user, study_id=study_id, spec=spec)
    counts: dict[tuple[Any, Any], dict[str, int]] = {}
    names = {"s": "segments", "p": "participants", "t": "turns"}
    with connection.cursor() as cur, _planned(cur):
        cur.execute(sql, params)
        rows = cur.fetchall()
    for measure, a, b, n in rows:
        for key in {(a, b), (b, a)}:  # symmetric
            counts.setdefault(key, {})[names[measure]] = int(n)
    checkpoint(1)
    codes = selectors._column_headers(study_id=study_id, spec=Spec(columns="codes", column_ids=spec.column_ids))
    zero = dict.fromkeys(MEASURES, 0)
    out = Result(columns=codes, rows=list(codes), kind=KIND)
    for r in codes:
        out.cells.append([{**zero, **counts.get((r.id, c.id), {})} for c in codes])
        # The row base: participants with the code (the diagonal), shown beside the row label.
        out.row_bases.append(counts.get((r.id, r.id), {}).get("participants", 0))
    checkpoint(2)
    return out


# Click-through: the overlapping passages of a cell -----------------------------------------------


@dataclass
class _Pair:
    a: int
    b: int


def _pairs_sql(*, user: Any, study_id: int, spec: Spec, code_a: int, code_b: int,
               sweep: bool | None = None) -> tuple[str, list[Any]]:
    """The overlapping pairs of the two codes as (coding of ``code_a``, coding of ``code_b``, transcript,
    start of the pair), found as the counts find them (see ``_statement``): each coding's next codings by
    (start, id) while they start before it ends. ``sweep``: the portable form (default: on databases other
    than PostgreSQL; ``bench/cooccurrence_compare.py`` runs both on PostgreSQL)."""
    # Only the two codes' codings are read.
    two = replace(spec, column_ids=tuple(sorted({code_a, code_b})))
    base, params = _codings_sql(user=user, study_id=study_id, spec=two)
    if sweep is None:
        sweep = connection.vendor != "postgresql"
    if not sweep:
        # The arrays of ``_statement_arrays``, with the codings' ids: no window pass and no recursion (the
        # busiest cell at 1,000 participants, 64,804 codings of the two codes: 150-210 -> 80 ms at load 3.6).
        sql = f"""
        WITH c (id, code, tr, s, e, part) AS ({base}),
        ca AS (SELECT tr, array_agg(s) AS ss, array_agg(e) AS es, array_agg(code) AS cs, array_agg(id) AS ids
            FROM (SELECT tr, s, e, code, id FROM c ORDER BY tr, s, id) o GROUP BY tr),
        x AS (SELECT tr, id, code, s, ids[k] AS other, cs[k] AS other_code FROM (
            SELECT tr, id, code, s, ids, cs, generate_series(rn + 1, width_bucket(e - 1, ss)) AS k FROM (
                SELECT tr, ids, cs, ss, unnest(ss) AS s, unnest(es) AS e, unnest(cs) AS code, unnest(ids) AS id,
                    generate_subscripts(ss, 1) AS rn FROM ca) u) v)
        SELECT CASE WHEN code = %s THEN id ELSE other END, CASE WHEN code = %s THEN other ELSE id END, tr, s AS us
        FROM x WHERE code <> other_code
        """  # noqa: S608 (the ORM's SQL and placeholders)
        return sql, [*params, code_a, code_a]
    sql = f"""
    WITH RECURSIVE c (id, code, tr, s, e, part) AS ({base}),
    r AS (SELECT id, code, tr, s, e, ROW_NUMBER() OVER win AS rn, LEAD(s) OVER win AS s1, LEAD(id) OVER win AS i1,
            LEAD(code) OVER win AS c1
          FROM c WINDOW win AS (PARTITION BY tr ORDER BY s, id)),
    x (id, code, tr, s, e, k, other, other_code) AS (SELECT id, code, tr, s, e, rn + 1, i1, c1 FROM r WHERE s1 < e
        UNION ALL SELECT x.id, x.code, x.tr, x.s, x.e, b.rn, b.id, b.code FROM x JOIN r b ON b.tr = x.tr AND b.rn = x.k + 1
            WHERE b.s < x.e)
    SELECT CASE WHEN code = %s THEN id ELSE other END, CASE WHEN code = %s THEN other ELSE id END, tr, s AS us
    FROM x WHERE code <> other_code
    """  # noqa: S608 (the ORM's SQL and placeholders)
    return sql, [*params, code_a, code_a]


@contextmanager
def _planned(cur: Any) -> Iterator[None]:
    """PostgreSQL settings for the sweep, for this transaction only. ``work_mem``: the sort of the codings'
    and turns' starts (600 k rows at 1,000 participants, 65 MB in memory) would spill to disk below that.
    ``enable_nestloop`` / ``enable_mergejoin``: the CTEs' row counts are unknown to the planner (it guesses
    a few hundred or thousand), and a nested loop over two of them is quadratic (a cell page at 1,000
    participants ran past the 10-minute statement timeout) while a merge join sorts the 373 k ranked
    codings again for each step of the recursion; hash joins are right for every join here. ``jit``: the
    statement's cost estimate crosses the JIT threshold and compiling it would cost more than it saves."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL work_mem = '128MB'")
            cur.execute("SET LOCAL enable_nestloop = off")
            cur.execute("SET LOCAL enable_mergejoin = off")
            cur.execute("SET LOCAL jit = off")
        yield


def cooccurrence_cell(*, user: Any, study_id: int, spec: Spec, result: dict[str, Any], row: Any, column: Any,
                      page: int, per_page: int) -> CellPage:
    """One page of the passages behind a cell: for two codes, each overlapping pair of codings (the
    overlap marked, the rest of both coded segments and some context around); on the diagonal, the
    code's own segments. Text only where the participant's consent stands, as on every click-through."""
    codes = result.get("columns", [])
    i = selectors._index(row, len(codes), "row")
    j = selectors._index(column, len(codes), "column")
    ra, cb = codes[i], codes[j]
    if i == j:
        qs = selectors._base(user=user, study_id=study_id, spec=spec).filter(code_id=ra["id"])
        return selectors.segments_page(qs, column=cb["label"], row=ra["label"], page=page, per_page=per_page)
    pairs_sql, params = _pairs_sql(user=user, study_id=study_id, spec=spec, code_a=ra["id"], code_b=cb["id"])
    with connection.cursor() as cur, _planned(cur):
        # One pass: the pairs' ids in reading order (four numbers each), counted and paged here, rather than a
        # COUNT and a page that would each run the sweep.
        cur.execute(f"SELECT q.* FROM ({pairs_sql}) q ORDER BY q.tr, q.us, 1, 2", params)  # noqa: S608
        every = cur.fetchall()
    total = len(every)
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    pairs = [_Pair(a, b) for a, b, _tr, _us in every[(page - 1) * per_page: page * per_page]]
    out = CellPage(column=cb["label"], row=ra["label"], total=total, page=page, pages=pages)
    if not pairs:
        return out
    ids = {p.a for p in pairs} | {p.b for p in pairs}
    spans = {c.pk: c for c in Coding.objects.filter(pk__in=ids).select_related("coder").only(
        "id", "transcript_id", "start", "end", "code_id", "coder__full_name", "coder__email")}
    transcripts = {t.pk: t for t in Transcript.objects.filter(pk__in={c.transcript_id for c in spans.values()})
                   .select_related("participant__group").only(
                       "id", "title", "participant__pseudonym", "participant__consent_state",
                       "participant__consent_answers", "participant__group__label")}
    texts = _passages(pairs, spans)
    names = dict(Code.objects.filter(pk__in={ra["id"], cb["id"]}).values_list("pk", "name"))
    for pair in pairs:
        a, b = spans[pair.a], spans[pair.b]
        t = transcripts[a.transcript_id]
        person: Participant = t.participant
        shown = data_use_allowed(participant=person, use=DataUse.CODING)
        us, ue = min(a.start, b.start), max(a.end, b.end)
        os_, oe = max(a.start, b.start), min(a.end, b.end)
        line, pre, lead, mid, tail, post = texts[(pair.a, pair.b)]
        out.segments.append(Segment(
            coding_id=a.pk, code_name=names.get(a.code_id, ""), pseudonym=person.pseudonym, group=person.group.label,
            transcript_id=t.pk, transcript_title=t.title, line=line, start=us, length=ue - us,
            before=(("…" if us > CONTEXT_CHARS else "") + pre) if shown else "", text=mid if shown else "",
            after=selectors._more(post) if shown else "", shown=shown,
            quotable=data_use_allowed(participant=person, use=DataUse.QUOTING), coder=a.coder.display_name,
            other_coder=b.coder.display_name, other_code=names.get(b.code_id, ""), other_coding_id=b.pk,
            lead=lead if shown else "",
            tail=tail if shown else "", overlap_start=os_, overlap_length=oe - os_))
    return out


def _passages(pairs: list[_Pair], spans: dict[int, Coding]) -> dict[tuple[int, int], tuple[int, str, str, str, str, str]]:
    """Line number and the five pieces of each pair's passage (context, coded lead, overlap, coded tail,
    context), cut by the database from each transcript: only substrings travel, never a whole transcript."""
    selects: list[str] = []
    params: list[Any] = []
    for n, pair in enumerate(pairs):
        a, b = spans[pair.a], spans[pair.b]
        us, ue = min(a.start, b.start), max(a.end, b.end)
        os_, oe = max(a.start, b.start), min(a.end, b.end)
        cs = max(us - CONTEXT_CHARS, 0)
        # substr is 1-based in both PostgreSQL and SQLite.
        selects.append(
            "SELECT %s, SUBSTR(text, %s, %s), SUBSTR(text, %s, %s), SUBSTR(text, %s, %s), SUBSTR(text, %s, %s), "  # noqa: S608
            f"SUBSTR(text, %s, %s) FROM {Transcript._meta.db_table} WHERE id = %s")
        params += [n, cs + 1, us - cs, us + 1, os_ - us, os_ + 1, oe - os_, oe + 1, ue - oe,
                   ue + 1, CONTEXT_CHARS, a.transcript_id]
    # Line numbers as the pages of segments find them: from the recorded newlines, not the text before.
    lines = transcript_lines_at(offsets=[(spans[p.a].transcript_id, min(spans[p.a].start, spans[p.b].start))
                                         for p in pairs])
    out: dict[tuple[int, int], tuple[int, str, str, str, str, str]] = {}
    with connection.cursor() as cur:
        cur.execute(" UNION ALL ".join(selects), params)
        for n, pre, lead, mid, tail, post in cur.fetchall():
            pair = pairs[int(n)]
            a, b = spans[pair.a], spans[pair.b]
            line = lines[(a.transcript_id, min(a.start, b.start))]
            out[(pair.a, pair.b)] = (line, pre or "", lead or "", mid or "", tail or "", post or "")
    return out

