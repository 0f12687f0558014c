"""Reads for transcripts: lists, one transcript in pages of turns, and full-text search.

Every selector takes the acting user and asks the policy module: out-of-scope transcripts do not
exist (404), and only participants whose consent allows their data to be held are shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import snowballstemmer
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts import policy
from accounts.models import ParticipantGroup, Site
from accounts.policy import Perm
from analysis.transcripts.models import EditKind, Transcript, TranscriptEdit, TranscriptTurn
from analysis.transcripts.text import line_in, line_number_at, newline_offsets
from config.rows import model_from_row
from participants.consent_rules import DataUse, data_use_allowed, participants_usable_q
from participants.models import Participant

PAGE_TURNS = 80
PAGE_CHARS = 30_000
# Up to this length the reading view shows the whole interview on one page (an hour's interview is
# 30–60k characters); parts would hide half of it from the browser's find.
WHOLE_MAX_CHARS = 250_000
SEARCH_COUNT_CAP = 500


def transcripts_visible(*, user: Any, study_id: int, perm: Perm = Perm.TRANSCRIPT_VIEW) -> QuerySet[Transcript]:
    qs = Transcript.objects.filter(study_id=study_id).filter(participants_usable_q(DataUse.ANALYSIS, prefix="participant__"))
    return policy.filter_visible(user=user, study=study_id, perm=perm, queryset=qs)


def transcript_lock_visible(
    *, user: Any, study_id: int, transcript_id: int, perm: Perm
) -> tuple[Transcript, int] | None:
    """One transcript, locked for a write (``SELECT … FOR UPDATE``), with its length in code points;
    ``None`` where :func:`transcripts_visible` would not hold it.

    The same rule as :func:`transcripts_visible` (the role may ``perm``, the participant is in the
    member's scope and their consent allows their data to be analysed), applied to the one row by
    the policy module's and the consent module's object-level checks. It exists for the hottest write,
    adding a coding: one plain statement instead of the ORM's scope and consent query, which cost
    ~8 ms of Python per request. ``tests/test_hot_path.py`` checks that both agree for every member
    of the test cast and every transcript.

    The transcript comes back with only its id, study, participant and version loaded (the text is
    not read); its participant carries the fields scope and consent need."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=perm)
    participants = list(Participant.objects.raw(_lock_sql(), [transcript_id, study_id]))
    if not participants:
        return None
    participant = participants[0]
    if not policy.in_scope(membership=membership, site_id=participant.site_id, group_id=participant.group_id):
        return None
    if not data_use_allowed(participant=participant, use=DataUse.ANALYSIS):
        return None
    transcript = Transcript.from_db(
        connection.alias, ["id", "study_id", "participant_id", "version"],
        [transcript_id, study_id, participant.pk, participant.transcript_version],  # type: ignore[attr-defined]
    )
    transcript.participant = participant
    return transcript, int(participant.transcript_length)  # type: ignore[attr-defined]


_LOCK_SQL = """
SELECT p.id, p.site_id, p.group_id, p.pseudonym, p.consent_state, p.consent_answers, p.purged_at,
       t.version AS transcript_version, LENGTH(t.text) AS transcript_length
FROM transcripts_transcript t
JOIN participants_participant p ON p.id = t.participant_id
WHERE t.id = %s AND t.study_id = %s
"""


def _lock_sql() -> str:
    # SQLite has no row locks: its writes are serialised by the database lock.
    return _LOCK_SQL + " FOR UPDATE OF t" if connection.features.has_select_for_update_of else _LOCK_SQL


def transcript_list(
    *, user: Any, study_id: int, group_id: int | None = None, site_id: int | None = None,
    participant_id: int | None = None,
) -> QuerySet[Transcript]:
    qs = transcripts_visible(user=user, study_id=study_id)
    if group_id:
        qs = qs.filter(participant__group_id=group_id)
    if site_id:
        qs = qs.filter(participant__site_id=site_id)
    if participant_id:
        qs = qs.filter(participant_id=participant_id)
    # No per-row counting here: counting turns and edits for every visible transcript before the
    # page is cut cost 340 ms at 1,000 interviews. Pages count for their own rows
    # (transcript_turn_counts); the number of corrections is the version.
    return (
        qs.select_related("participant", "participant__group", "participant__site")
        .defer("text", "newlines")
        .order_by("participant__pseudonym", "id")
    )


def transcript_turn_counts(*, transcript_ids: list[int]) -> dict[int, int]:
    """Speaker turns of a page of transcripts, in one grouped query (ids already checked by the
    caller's visible list)."""
    # order_by(): the model's default ordering would join the transcript and participant into the count.
    # COUNT(*), not COUNT(id): the (transcript, index) index then answers alone (an index-only scan) where
    # counting ids read every turn's row from the table (1,000 interviews: ~11,000 rows a page).
    rows = (TranscriptTurn.objects.filter(transcript_id__in=transcript_ids).order_by().values("transcript_id")
            .annotate(n=Count("*")).values_list("transcript_id", "n"))
    return {tid: 0 for tid in transcript_ids} | dict(rows)


def transcript_lines_at(*, offsets: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The 1-based line number of each ``(transcript id, offset)`` (ids already checked by the caller's
    visible list), as ``line_number_at(text, offset)`` counts it, from the transcripts' recorded newline
    offsets: the pages of segments need 20–50 lines from as many transcripts, and counting newlines in
    every text up to the offset read 1–2 MB per page. One query; a transcript without recorded offsets
    (written around the services) is counted in its text."""
    wanted = list(offsets)
    ids = {tid for tid, _offset in wanted}
    if not ids:
        return {}
    newlines: dict[int, list[int]] = {}
    missing = []
    for tid, found in Transcript.objects.filter(pk__in=ids).order_by().values_list("pk", "newlines"):
        if found is None:
            missing.append(tid)
        else:
            newlines[tid] = found
    if missing:
        newlines.update((tid, newline_offsets(text)) for tid, text in
                        Transcript.objects.filter(pk__in=missing).order_by().values_list("pk", "text"))
    return {(tid, offset): line_in(newlines[tid], offset) for tid, offset in wanted if tid in newlines}


def transcript_get(*, user: Any, study_id: int, transcript_id: int, perm: Perm = Perm.TRANSCRIPT_VIEW) -> Transcript:
    t = (
        transcripts_visible(user=user, study_id=study_id, perm=perm)
        # The study too: every read is audited against it (a separate statement per document opened otherwise).
        .select_related("study", "participant", "participant__group", "participant__site", "imported_by")
        # The newline offsets are for line numbers on pages of segments (``transcript_lines_at`` reads them
        # itself); the coding page and the transcript API would parse a thousand of them per document opened.
        .defer("newlines")
        .filter(pk=transcript_id)
        .first()
    )
    if t is None:
        raise Http404("No such transcript.")
    return t


def transcript_read(*, user: Any, study_id: int, transcript_id: int) -> Transcript:
    """:func:`transcript_get` for the transcript API's read, in one plain statement: the transcript (its
    newline offsets left unread, as there) with its participant's group and site, and its study (the
    membership's, already loaded). 404 where :func:`transcripts_visible` would not hold it.

    Every document opened in the coding page reads it; the ORM's query with its five joins, the
    consent filter and the scope cost ~5 ms of Python to build, the statement well under 1 ms. The same
    rule as ``transcripts_visible``, applied to the one row as ``transcript_lock_visible`` applies it (the
    policy module's scope check, the consent module's); ``tests/test_hot_path.py`` checks that both agree
    for every member of the test cast. The participant carries what scope, consent and the API read
    (the other fields load on first use)."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    if not policy.id_ok(transcript_id):
        raise Http404("No such transcript.")
    with connection.cursor() as cursor:
        cursor.execute(_READ_SQL, [transcript_id, study_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such transcript.")
    n_t, n_p, n_g = len(_READ_TRANSCRIPT), len(_READ_PARTICIPANT), len(_READ_GROUP)
    participant = model_from_row(Participant, _READ_PARTICIPANT, row[n_t:n_t + n_p])
    if not (policy.in_scope(membership=membership, site_id=participant.site_id, group_id=participant.group_id)
            and data_use_allowed(participant=participant, use=DataUse.ANALYSIS)):
        raise Http404("No such transcript.")
    participant.group = model_from_row(ParticipantGroup, _READ_GROUP, row[n_t + n_p:n_t + n_p + n_g])
    participant.site = (model_from_row(Site, _READ_SITE, row[n_t + n_p + n_g:])
                        if participant.site_id is not None else None)
    transcript = model_from_row(Transcript, _READ_TRANSCRIPT, row[:n_t])
    transcript.participant = participant
    transcript.study = membership.study
    return transcript


_READ_TRANSCRIPT = ("id", "study_id", "participant_id", "title", "text", "version", "interview_date", "interview_mode",
                    "interviewer", "source_format", "source_encoding", "original_name", "original_file",
                    "original_sha256", "original_size", "imported_by_id", "imported_at", "edited_at")
_READ_PARTICIPANT = ("id", "study_id", "pseudonym", "group_id", "site_id", "consent_state", "consent_answers",
                     "purged_at")
_READ_GROUP = ("id", "study_id", "key", "label", "position")
_READ_SITE = ("id", "study_id", "name")
_READ_SQL = f"""
SELECT {", ".join(f't."{c}"' for c in _READ_TRANSCRIPT)},
       {", ".join(f'p."{c}"' for c in _READ_PARTICIPANT)},
       {", ".join(f'g."{c}"' for c in _READ_GROUP)},
       {", ".join(f's."{c}"' for c in _READ_SITE)}
FROM transcripts_transcript t
JOIN participants_participant p ON p.id = t.participant_id
JOIN accounts_participantgroup g ON g.id = p.group_id
LEFT JOIN accounts_site s ON s.id = p.site_id
WHERE t.id = %s AND t.study_id = %s
"""  # noqa: S608 (column names from the tuples above, no input)


def transcript_turns_part(*, transcript_id: int, first: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` speaker turns of a transcript from index ``first`` (the transcript already checked by
    the caller), as the transcript API gives them; one plain statement (see :func:`transcript_read`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "index", speaker, role, start, "end", time_ms FROM transcripts_transcriptturn '
            'WHERE transcript_id = %s AND "index" >= %s ORDER BY "index" LIMIT %s', [transcript_id, first, limit])
        return [{"index": i, "speaker": sp, "role": r, "start": s, "end": e, "time_ms": ms}
                for i, sp, r, s, e, ms in cursor.fetchall()]


def transcript_edits(*, user: Any, study_id: int, transcript_id: int) -> list[TranscriptEdit]:
    """The transcript's edits, newest first, as this user may see them.

    For a role without ``TRANSCRIPT_REMOVED_TEXT`` every edit loses its words here, before any view or
    serializer sees it: the summary is rebuilt from counts and the ops keep their positions only. The
    replacement text goes too, because a later edit may have removed it in turn."""
    transcript = transcript_get(user=user, study_id=study_id, transcript_id=transcript_id)
    edits = list(
        TranscriptEdit.objects.filter(transcript_id=transcript_id).select_related("actor", "reverts")
        .prefetch_related("reverted_by")
    )
    _edit_lines(transcript, edits)
    if not policy.has_perm(user=user, study=study_id, perm=Perm.TRANSCRIPT_REMOVED_TEXT):
        for edit in edits:
            edit.summary = edit_summary_without_text(edit)
            edit.ops = [[op[0], op[1], "", ""] for op in edit.ops]
    for edit in edits:
        edit.op_rows = [  # type: ignore[attr-defined]
            {"line": line, "old": op[2], "new": op[3]} for op, line in zip(edit.ops, edit.op_lines, strict=True)]  # type: ignore[attr-defined]
    return edits


def _edit_lines(transcript: Transcript, edits: list[TranscriptEdit]) -> None:
    """Give each edit ``op_lines``: the line number, in the text as it was just before that edit, of
    each of its changes (people read lines, not offsets). The older texts are rebuilt by undoing the
    edits newest first; if the record does not fit the text (a gap in the versions), the lines of
    that edit and older ones stay unknown (None) rather than wrong."""
    text: str | None = transcript.text
    version = transcript.version
    for edit in sorted(edits, key=lambda e: -e.version):
        edit.op_lines = [None] * len(edit.ops)  # type: ignore[attr-defined]
        if text is None or edit.version != version:
            text = None
            continue
        parts, pos, shift = [], 0, 0
        for start, end, old, new in sorted(edit.ops, key=lambda op: op[0]):
            at = start + shift
            if text[at:at + len(new)] != new:
                text = None
                break
            parts += [text[pos:at], old]
            pos, shift = at + len(new), shift + len(new) - (end - start)
        if text is None:
            continue
        text = "".join(parts) + text[pos:]
        edit.op_lines = [line_number_at(text, op[0]) for op in edit.ops]  # type: ignore[attr-defined]
        version -= 1


def edit_summary_without_text(edit: TranscriptEdit) -> str:
    n = len(edit.ops)
    passages = f"{n} passage{'' if n == 1 else 's'}"
    if edit.kind == EditKind.REPLACE_ALL:
        return f"Replaced all {n} match{'' if n == 1 else 'es'} of a word or phrase"
    if edit.kind == EditKind.REVERT:
        target = edit.reverts.version if edit.reverts else None
        return f"Reverted version {target} ({passages})" if target else f"Reverted an earlier change ({passages})"
    return f"Replaced {passages}"


# Reading in pages -----------------------------------------------------------------------------------


@dataclass
class Paragraph:
    start: int
    line: int
    text: str
    before: str = ""  # when a highlight falls in this paragraph: before / mark / after
    mark: str = ""
    after: str = ""


@dataclass
class TurnView:
    index: int
    speaker: str
    role: str
    start: int
    end: int
    time_ms: int | None
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return {"interviewer": "Interviewer", "participant": "Participant"}.get(self.role, "Other speaker")

    @property
    def timecode(self) -> str:
        if self.time_ms is None:
            return ""
        s = self.time_ms // 1000
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


@dataclass
class ReadingPage:
    number: int
    count: int
    turns: list[TurnView]
    bounds: list[tuple[int, int]]  # (first turn index, first offset) of each page

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def _turn_views(text: str, rows: list[tuple[Any, ...]], *, at: int | None = None, mark_len: int = 0) -> list[TurnView]:
    """Turns ``(index, speaker, role, start, end, time_ms)`` in order, split into paragraphs with
    their line numbers (one count of newlines up to the first turn, then only between turns)."""
    turns: list[TurnView] = []
    line = line_number_at(text, rows[0][3]) if rows else 1
    cursor = rows[0][3] if rows else 0
    for index, speaker, role, start, end, time_ms in rows:
        if end <= start:
            continue  # a turn whose words were all deleted by a redaction
        line += text.count("\n", cursor, start)
        tv = TurnView(index, speaker, role, start, end, time_ms)
        at_ = start
        for chunk in text[start:end].split("\n"):
            if chunk:
                p = Paragraph(at_, line, chunk)
                if at is not None and mark_len > 0 and at_ <= at < at_ + len(chunk):
                    rel = at - at_
                    p.before, p.mark, p.after = chunk[:rel], chunk[rel:rel + mark_len], chunk[rel + mark_len:]
                tv.paragraphs.append(p)
            at_ += len(chunk) + 1
            line += 1
        line -= 1  # the last chunk did not end with a newline
        cursor = end
        turns.append(tv)
    return turns


def reading_all(*, transcript: Transcript) -> list[TurnView]:
    """Every turn of the transcript with paragraphs and line numbers, in one query (the coding page
    shows the whole interview; reading it page by page cost a query per page and two per page bound)."""
    rows = list(TranscriptTurn.objects.filter(transcript=transcript).order_by("index").values_list(
        "index", "speaker", "role", "start", "end", "time_ms"))
    return _turn_views(transcript.text, rows)


def page_bounds(transcript: Transcript) -> list[tuple[int, int]]:
    """Split the turns into pages of at most PAGE_TURNS turns and about PAGE_CHARS characters."""
    bounds: list[tuple[int, int]] = []
    size = chars = 0
    for index, start, end in TranscriptTurn.objects.filter(transcript=transcript).values_list("index", "start", "end"):
        if not bounds or size >= PAGE_TURNS or chars >= PAGE_CHARS:
            bounds.append((index, start))
            size = chars = 0
        size += 1
        chars += end - start
    return bounds or [(0, 0)]


def page_for_offset(bounds: list[tuple[int, int]], offset: int) -> int:
    number = 1
    for i, (_, start) in enumerate(bounds, start=1):
        if start <= offset:
            number = i
    return number


def reading_page(
    *, transcript: Transcript, number: int | None = None, at: int | None = None, mark_len: int = 0,
    whole: bool = False,
) -> ReadingPage:
    """One page of turns, split into paragraphs with line numbers. ``at``/``mark_len`` pick the
    page holding that offset and highlight ``[at, at + mark_len)`` in it. ``whole``: every turn on
    one page, so the browser's find searches the whole interview."""
    bounds = page_bounds(transcript)[:1] if whole else page_bounds(transcript)
    if at is not None:
        number = page_for_offset(bounds, at)
    number = max(1, min(number or 1, len(bounds)))
    first = bounds[number - 1][0]
    last = bounds[number][0] if number < len(bounds) else None
    qs = TranscriptTurn.objects.filter(transcript=transcript, index__gte=first).order_by("index")
    if last is not None:
        qs = qs.filter(index__lt=last)
    rows = list(qs.values_list("index", "speaker", "role", "start", "end", "time_ms"))
    turns = _turn_views(transcript.text, rows, at=at, mark_len=mark_len)
    return ReadingPage(number=number, count=len(bounds), turns=turns, bounds=bounds)


# Search ------------------------------------------------------------------------------------------------

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass
class SearchHit:
    transcript_id: int
    transcript_title: str
    pseudonym: str
    group: str
    site: str
    speaker: str
    role: str
    turn_start: int
    start: int  # absolute code point offsets of the first match in the transcript
    end: int
    before: str
    match: str
    after: str
    matches: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit]
    total: int
    capped: bool
    backend: str
    terms: list[str]


def _parse_query(q: str) -> tuple[list[str], list[str]]:
    """Positive and excluded words of a web-style query (``"a phrase" word -excluded or other``)."""
    positive, negative = [], []
    for phrase in _QUOTED.findall(q):
        positive.extend(_WORD.findall(phrase.lower()))
    rest = _QUOTED.sub(" ", q)
    for token in rest.split():
        if token.lower() == "or":
            continue
        if token.startswith("-"):
            negative.extend(_WORD.findall(token[1:].lower()))
        else:
            positive.extend(_WORD.findall(token.lower()))
    return positive, negative


def _pg_lexemes(q: str) -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT querytree(websearch_to_tsquery('english', %s))", [q])
        tree = cur.fetchone()[0] or ""
    # Excluded terms appear as !'term': leave them out of the highlights.
    return [m.group(2) for m in re.finditer(r"(!?)'((?:[^']|'')+)'", tree) if not m.group(1)]


def _first_match(text: str, *, stems: set[str], words: list[str]) -> tuple[int, int, int] | None:
    """(start, end, count) of matches within a turn's text."""
    first: tuple[int, int] | None = None
    count = 0
    if stems:
        # Snowball stems keep a word's first two letters: only words sharing them can match.
        prefixes = tuple({s[:2] for s in stems})
        for m in _WORD.finditer(text):
            w = m.group().lower().replace("’", "'")
            if not w.startswith(prefixes):
                continue
            if w in stems or _stem(w) in stems or _stem(w.split("'")[0]) in stems:
                count += 1
                first = first or (m.start(), m.end())
    else:
        lowered = text.lower()
        for w in words:
            for m in re.finditer(re.escape(w), lowered):
                count += 1
                if first is None or m.start() < first[0]:
                    first = (m.start(), m.end())
    return (first[0], first[1], count) if first else None


def _snippet(text: str, start: int, end: int, width: int = 70) -> tuple[str, str, str]:
    a = max(0, start - width)
    b = min(len(text), end + width)
    if a > 0:
        space = text.find(" ", a, start)
        a = space + 1 if space != -1 else a
    if b < len(text):
        space = text.rfind(" ", end, b)
        b = space if space != -1 else b
    before = ("…" if a > 0 else "") + text[a:start]
    after = text[end:b] + ("…" if b < len(text) else "")
    return before.replace("\n", " "), text[start:end], after.replace("\n", " ")


def search_backend() -> str:
    """``postgresql`` (stemmed full-text search) or ``basic`` (the embedded SQLite default)."""
    return "postgresql" if connection.vendor == "postgresql" else "basic"


def transcript_search(
    *, user: Any, study_id: int, query: str, group_id: int | None = None, site_id: int | None = None,
    role: str | None = None, limit: int = 20, offset: int = 0,
) -> SearchResult:
    """Speaker turns matching ``query`` in the user's scope, with keyword-in-context snippets.
    PostgreSQL: English stemming, "phrases", -exclusion and OR (websearch_to_tsquery) over a GIN
    index. SQLite: every word must occur (case-insensitive substring), "-word" excludes."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    query = query.strip()[:300]
    # Scope, consent and the group/site filters resolve to transcript ids first (one small query),
    # so the turn query is the GIN index plus an id list, in turn order: no join before the LIMIT.
    visible = transcripts_visible(user=user, study_id=study_id)
    if group_id:
        visible = visible.filter(participant__group_id=group_id)
    if site_id:
        visible = visible.filter(participant__site_id=site_id)
    transcript_ids = list(visible.values_list("pk", flat=True))
    qs = TranscriptTurn.objects.filter(study_id=study_id)
    if len(transcript_ids) == Transcript.objects.filter(study_id=study_id).count():
        pass  # everything in the study is visible: no id filter at all
    elif connection.vendor == "postgresql":
        # One array parameter instead of thousands of placeholders.
        qs = qs.extra(where=["transcripts_transcriptturn.transcript_id = ANY(%s)"], params=[transcript_ids])
    else:
        qs = qs.filter(transcript_id__in=transcript_ids)
    if role:
        qs = qs.filter(role=role)
    positive, negative = _parse_query(query)
    if connection.vendor == "postgresql":
        backend = "postgresql"
        lexemes = _pg_lexemes(query) if query else []
        if not lexemes or not transcript_ids:
            return SearchResult(query, [], 0, False, backend, lexemes)
        qs = qs.filter(search=SearchQuery(query, config="english", search_type="websearch"))
        stems, terms = set(lexemes), lexemes
    else:
        backend = "basic"
        if not positive or not transcript_ids:
            return SearchResult(query, [], 0, False, backend, positive)
        cond = Q()
        for w in positive:
            cond &= Q(text__icontains=w)
        for w in negative:
            cond &= ~Q(text__icontains=w)
        qs = qs.filter(cond)
        stems, terms = set(), positive
    qs = qs.order_by("transcript_id", "index")
    total = qs[: SEARCH_COUNT_CAP + 1].count()
    rows = list(qs.values_list("transcript_id", "speaker", "role", "start", "text")[offset: offset + limit])
    meta = {
        t["pk"]: t
        for t in Transcript.objects.filter(pk__in={r[0] for r in rows}).values(
            "pk", "title", "participant__pseudonym", "participant__group__label", "participant__site__name"
        )
    }
    hits = []
    for tid, speaker, turn_role, start, text in rows:
        m = meta[tid]
        found = _first_match(text, stems=stems, words=positive)
        s, e, count = found if found else (0, 0, 0)
        before, match, after = _snippet(text, s, e)
        hits.append(SearchHit(tid, m["title"], m["participant__pseudonym"], m["participant__group__label"],
                              m["participant__site__name"] or "", speaker, turn_role, start, start + s, start + e,
                              before, match, after, count))
    return SearchResult(query, hits, min(total, SEARCH_COUNT_CAP), total > SEARCH_COUNT_CAP, backend, terms)
