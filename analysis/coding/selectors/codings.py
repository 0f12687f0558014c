"""Reads of codings, memos and the change feed, through the policy module.

Visibility of a coding = the transcript is visible to the user (role + site/group scope + consent,
via :func:`analysis.transcripts.selectors.transcripts_visible`) AND it is not hidden by blind double coding: while
an :class:`~analysis.coding.models.Assignment` is not complete, each of its two coders sees neither the other's
codings on that transcript (in lists, the coding page, the API, retrieval and the live feed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from analysis.coding.models import Assignment, Code, Coding, CodingEvent, Memo
from analysis.transcripts.models import Transcript
from analysis.transcripts.selectors import transcript_get, transcripts_visible
from config.rows import row_convert, row_converters
from participants.consent_rules import DataUse, data_use_allowed
from participants.models import Participant

# Characters of context each side of a quoted span (theme quotes); a code's segments use
# selectors/retrieval.py, which cuts its context windows in SQL.
CONTEXT_CHARS = 160


def hidden_coders(*, user: Any, transcript_id: int) -> set[int]:
    """Coders whose codings on this transcript the user may not see yet (blind double coding)."""
    a = Assignment.objects.filter(transcript_id=transcript_id).first()
    if a is None:
        return set()
    return blinded_coders(user_id=user.pk, coder_a_id=a.coder_a_id, coder_b_id=a.coder_b_id, complete=a.complete)


def blinded_coders(*, user_id: int, coder_a_id: int | None, coder_b_id: int | None, complete: bool) -> set[int]:
    """The blinding rule of one assignment: while it is not complete, each of its coders does not see the other."""
    if complete or user_id not in (coder_a_id, coder_b_id):
        return set()
    other = coder_b_id if user_id == coder_a_id else coder_a_id
    return set() if other is None else {other}


def blind_exclusion_q(*, user: Any, study_id: int) -> Q:
    """A filter excluding every coding hidden from the user in the study."""
    q = Q()
    rows = Assignment.objects.filter(study_id=study_id).filter(
        Q(coder_a=user) | Q(coder_b=user)
    ).filter(Q(done_a__isnull=True) | Q(done_b__isnull=True)).values_list("transcript_id", "coder_a_id", "coder_b_id")
    for tid, a, b in rows:
        other = b if a == user.pk else a
        q |= Q(transcript_id=tid, coder_id=other)
    return q


def codings_visible(*, user: Any, study_id: int) -> QuerySet[Coding]:
    visible = transcripts_visible(user=user, study_id=study_id).values("pk")
    qs = Coding.objects.filter(study_id=study_id, transcript__in=visible)
    excl = blind_exclusion_q(user=user, study_id=study_id)
    return qs.exclude(excl) if excl else qs


def _int_or_404(value: Any) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not policy.id_ok(out):
        raise Http404("Not found.")
    return out


def transcript_for_coding(*, user: Any, study_id: int, transcript_id: Any) -> Transcript:
    return transcript_get(user=user, study_id=study_id, transcript_id=_int_or_404(transcript_id))


def transcript_codings(
    *, user: Any, study_id: int, transcript: Transcript, code_id: Any = None, coder_id: Any = None,
) -> QuerySet[Coding]:
    qs = Coding.objects.filter(transcript=transcript, lost=False).select_related("code", "coder")
    hidden = hidden_coders(user=user, transcript_id=transcript.pk)
    if hidden:
        qs = qs.exclude(coder_id__in=hidden)
    if code_id not in (None, ""):
        qs = qs.filter(code_id=_int_or_404(code_id))
    if coder_id not in (None, ""):
        qs = qs.filter(coder_id=_int_or_404(coder_id))
    return qs.order_by("start", "end", "id")


ROW_FIELDS = ("id", "transcript_id", "code_id", "code__name", "code__colour", "coder_id", "coder__full_name",
              "coder__email", "start", "end", "lost", "memo", "version", "created_at", "updated_at")


def transcript_coding_rows(*, user: Any, study_id: int, transcript: Transcript) -> list[dict[str, Any]]:
    """The visible codings of a transcript as plain dicts (the shape of ``coding_as_dict``), read
    without building model instances: the coding page of a long transcript needs hundreds."""
    qs = transcript_codings(user=user, study_id=study_id, transcript=transcript).values_list(*ROW_FIELDS)
    return [
        {"id": i, "transcript": t, "code": c, "code_name": cn, "colour": cc, "coder": u, "coder_name": un or ue,
         "start": s, "end": e, "lost": lost, "memo": memo, "version": v, "created_at": ca.isoformat(),
         "updated_at": ua.isoformat()}
        for i, t, c, cn, cc, u, un, ue, s, e, lost, memo, v, ca, ua in qs
    ]


def transcript_coding_list(*, user: Any, study_id: int, transcript_id: Any) -> tuple[int, int, list[dict[str, Any]]]:
    """What the codings API answers for a transcript (no filter): its version, its change feed's head
    (:func:`feed_head`) and its visible codings (:func:`transcript_coding_rows`' rows), in two plain statements.

    Opening a document in the coding page calls this on every open: through the ORM (the transcript by
    :func:`transcript_for_coding`, its assignment, the codings and the feed head) the request was four
    statements and ~12 ms of Python building them. The same rules apply: the transcript is visible as
    :func:`~analysis.transcripts.selectors.transcripts_visible` says (the membership's role and scope by the
    policy module, the participant's consent by the consent module's object-level checks, as
    ``transcript_lock_visible`` does) or it is 404, and blind double coding hides the other coder
    (:func:`blinded_coders`, as :func:`hidden_coders`). ``tests/test_hot_path.py`` checks that the answers are those
    of the ORM path for every member of the test cast."""
    tid = _int_or_404(transcript_id)
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    found = list(Participant.objects.raw(_HEAD_SQL, [tid, study_id]))
    if not found:
        raise Http404("No such transcript.")
    head = found[0]
    if not (policy.in_scope(membership=membership, site_id=head.site_id, group_id=head.group_id)
            and data_use_allowed(participant=head, use=DataUse.ANALYSIS)):
        raise Http404("No such transcript.")
    hidden = blinded_coders(user_id=user.pk, coder_a_id=head.coder_a_id, coder_b_id=head.coder_b_id,  # type: ignore[attr-defined]
                      complete=head.done_a is not None and head.done_b is not None) if head.assigned else set()  # type: ignore[attr-defined]
    sql, params = _ROWS_SQL, [tid]
    if hidden:
        sql = sql.replace("{hidden}", " AND c.coder_id NOT IN (" + ", ".join(["%s"] * len(hidden)) + ")")
        params += sorted(hidden)
    else:
        sql = sql.replace("{hidden}", "")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    convert = row_converters(_ROW_COLUMNS)
    if convert:
        fetched = [tuple(row_convert(row, convert)) for row in fetched]
    rows = [
        {"id": i, "transcript": t, "code": c, "code_name": cn, "colour": cc, "coder": u, "coder_name": un or ue,
         "start": s, "end": e, "lost": lost, "memo": memo, "version": v, "created_at": ca.isoformat(),
         "updated_at": ua.isoformat()}
        for i, t, c, cn, cc, u, un, ue, s, e, lost, memo, v, ca, ua in fetched
    ]
    return int(head.transcript_version), int(head.feed or 0), rows  # type: ignore[attr-defined]


# The transcript's participant (what scope and consent are decided on), its version, its assignment
# (LEFT JOIN: at most one, a one-to-one) and the last id of its change feed.
_HEAD_SQL = """
SELECT p.id, p.site_id, p.group_id, p.pseudonym, p.consent_state, p.consent_answers, p.purged_at,
       t.version AS transcript_version,
       a.id IS NOT NULL AS assigned, a.coder_a_id, a.coder_b_id, a.done_a, a.done_b,
       (SELECT MAX(e.id) FROM coding_codingevent e WHERE e.transcript_id = t.id) AS feed
FROM transcripts_transcript t
JOIN participants_participant p ON p.id = t.participant_id
LEFT JOIN coding_assignment a ON a.transcript_id = t.id
WHERE t.id = %s AND t.study_id = %s
"""

# transcript_codings' rows and order, with ROW_FIELDS' columns.
_ROWS_SQL = """
SELECT c.id, c.transcript_id, c.code_id, k.name, k.colour, c.coder_id, u.full_name, u.email,
       c.start, c."end", c.lost, c.memo, c.version, c.created_at, c.updated_at
FROM coding_coding c
JOIN coding_code k ON k.id = c.code_id
JOIN accounts_user u ON u.id = c.coder_id
WHERE c.transcript_id = %s AND NOT c.lost{hidden}
ORDER BY c.start, c."end", c.id
"""
_ROW_COLUMNS = ((Coding, "id"), (Coding, "transcript_id"), (Coding, "code_id"), (Code, "name"), (Code, "colour"),
                (Coding, "coder_id"), (User, "full_name"), (User, "email"), (Coding, "start"), (Coding, "end"),
                (Coding, "lost"), (Coding, "memo"), (Coding, "version"), (Coding, "created_at"), (Coding, "updated_at"))


def coding_get(*, user: Any, study_id: int, transcript_id: Any, coding_id: Any) -> Coding:
    t = transcript_for_coding(user=user, study_id=study_id, transcript_id=transcript_id)
    c = transcript_codings(user=user, study_id=study_id, transcript=t).filter(pk=_int_or_404(coding_id)).first()
    if c is None:
        raise Http404("No such coding.")
    return c


def events_after(*, user: Any, transcript_id: int, after: int, limit: int = 500) -> tuple[list[CodingEvent], int]:
    """Feed events of one transcript with id > ``after`` that the user may see, and the id to resume
    from (the last id read, including hidden events, so a reconnect never repeats or skips one)."""
    rows = list(CodingEvent.objects.filter(transcript_id=transcript_id, id__gt=after).order_by("id")[:limit])
    last = rows[-1].id if rows else after
    hidden = hidden_coders(user=user, transcript_id=transcript_id) if rows else set()
    return [e for e in rows if e.coder_id not in hidden], last


def feed_head(*, transcript_id: int) -> int:
    last = CodingEvent.objects.filter(transcript_id=transcript_id).order_by("-id").values_list("id", flat=True).first()
    return int(last or 0)


# Retrieval (a code's segments, the codebook's counts, progress) lives in selectors/retrieval.py.


# Memos ---------------------------------------------------------------------------------------------


def memos_visible(*, user: Any, study_id: int) -> QuerySet[Memo]:
    """Memos of the study the user may read: study and code memos for every analysis member; memos
    on a transcript or a coding only when that transcript (and coding) is visible to them."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_VIEW)
    visible_t = transcripts_visible(user=user, study_id=study_id).values("pk")
    qs = Memo.objects.filter(study_id=study_id).filter(Q(transcript__isnull=True) | Q(transcript__in=visible_t))
    excl = blind_exclusion_q(user=user, study_id=study_id)
    if excl:
        hidden = Coding.objects.filter(study_id=study_id).filter(excl).values("pk")
        qs = qs.exclude(coding__in=hidden)
    return qs


def memo_search(*, user: Any, study_id: int, query: str = "", target: str = "") -> QuerySet[Memo]:
    qs = memos_visible(user=user, study_id=study_id).select_related(
        "author", "code", "transcript__participant", "coding__code"
    )
    query = (query or "").strip()[:200]
    for word in query.split():
        qs = qs.filter(Q(title__icontains=word) | Q(body__icontains=word))
    if target == "study":
        qs = qs.filter(transcript__isnull=True, code__isnull=True, coding__isnull=True)
    elif target == "transcript":
        qs = qs.filter(transcript__isnull=False, coding__isnull=True)
    elif target == "code":
        qs = qs.filter(code__isnull=False)
    elif target == "coding":
        qs = qs.filter(coding__isnull=False)
    return qs.order_by("-updated_at", "-id")


def memo_changeable(*, user: Any, study_id: int, memo_id: Any) -> Memo:
    """A memo the user may edit or delete: 404 when they cannot see it, 403 when it is not theirs to
    change (the same answers as the writes in services/memos.py)."""
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.MEMO_WRITE)
    memo = memos_visible(user=user, study_id=study_id).select_related(
        "code", "transcript__participant", "coding__code").filter(pk=_int_or_404(memo_id)).first()
    if memo is None:
        raise Http404("No such memo.")
    if not policy.may_change_authored(membership=membership, author_id=memo.author_id):
        raise PermissionDenied("Only the memo's author (or a lead) can change it.")
    return memo


@dataclass
class MemoEntry:
    """One row of the Memos page: a memo, or the short memo written on a coding in the coding
    panel (kept on the coding itself), shown side by side so no note is out of sight."""

    title: str
    body: str
    author: str
    updated_at: Any
    target: str  # study, transcript, code or coding
    memo: Memo | None = None
    coding: Coding | None = None
    quote: str = ""
    line: int = 0
    can_change: bool = False  # a memo the user may edit and delete here (its author, or a lead)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def memo_entries(*, user: Any, study_id: int, query: str = "", target: str = "", limit: int = 200) -> list[MemoEntry]:
    """Memos and coding memos the user may read, newest first, filtered like :func:`memo_search`."""
    membership = policy.membership_get(user=user, study_id=study_id)
    writer = membership is not None and policy.role_allows(membership.role, Perm.MEMO_WRITE)
    out = [
        MemoEntry(title=m.title, body=m.body, author=m.author.display_name, updated_at=m.updated_at,
                  target=m.target_label, memo=m,
                  can_change=writer and membership is not None
                  and policy.may_change_authored(membership=membership, author_id=m.author_id))
        for m in memo_search(user=user, study_id=study_id, query=query, target=target)[:limit]
    ]
    if target in ("", "coding"):
        notes = codings_visible(user=user, study_id=study_id).exclude(memo="").filter(lost=False).select_related(
            "code", "coder")
        for word in (query or "").strip()[:200].split():
            notes = notes.filter(Q(memo__icontains=word) | Q(code__name__icontains=word))
        rows = list(notes.order_by("-updated_at", "-id")[:limit])
        # Each transcript's text once, however many of its codings carry a memo.
        transcripts = Transcript.objects.select_related("participant").in_bulk({c.transcript_id for c in rows})
        for c in rows:
            c.transcript = transcripts[c.transcript_id]
            text = c.transcript.text
            out.append(MemoEntry(
                title=f"On a coding of “{c.code.name}”", body=c.memo, author=c.coder.display_name,
                updated_at=c.updated_at, target="coding", coding=c, quote=text[c.start:c.end],
                line=_line_of(text, c.start),
            ))
    out.sort(key=lambda e: e.updated_at, reverse=True)
    return out[:limit]
