"""Writes to codings: create (one or many), update (re-code, adjust boundaries, memo), delete.

Every write:
* asks the policy module (``Perm.CODING_WRITE``; the transcript must be in the actor's scope, else 404),
* locks the transcript row, so offsets are checked against the text as it is (a redaction takes the
  same lock) and the change-feed ids of one transcript are allocated in commit order,
* checks consent (``DataUse.CODING``: a withdrawn-retain participant's transcript is frozen),
* writes one :class:`~analysis.coding.models.CodingEvent` per changed coding in the same transaction.

Offsets are Unicode code points, half-open ``[start, end)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Code, Coding, CodingEvent, EventKind
from analysis.transcripts.models import Transcript
from analysis.transcripts.selectors import transcript_lock_visible
from participants.consent_rules import DataUse, data_use_allowed

BULK_MAX = 500
MEMO_MAX = 5_000


class CodingFrozen(Exception):
    """The participant's consent does not allow new coding (withdrawn, data retained)."""


class CodingConflict(Exception):
    """The client's view is stale: the coding or the transcript changed since it was read."""

    def __init__(self, message: str, current: Coding | None = None) -> None:
        super().__init__(message)
        self.current = current


# Shapes -------------------------------------------------------------------------------------------


def coding_as_dict(c: Coding, *, code: Code | None = None, coder_name: str | None = None) -> dict[str, Any]:
    code = code or c.code
    return {
        "id": c.pk, "transcript": c.transcript_id, "code": c.code_id, "code_name": code.name,
        "colour": code.colour, "coder": c.coder_id,
        "coder_name": coder_name if coder_name is not None else c.coder.display_name,
        "start": c.start, "end": c.end, "lost": c.lost, "memo": c.memo, "version": c.version,
        "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
    }


def _event(*, coding: Coding, kind: str, actor: User) -> CodingEvent:
    return CodingEvent(
        transcript_id=coding.transcript_id, kind=kind, coding_id=coding.pk, coder_id=coding.coder_id,
        actor_id=actor.pk, data=coding_as_dict(coding) if kind != EventKind.DELETED else {"id": coding.pk},
    )


# Checks -------------------------------------------------------------------------------------------


def _as_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ValidationError({field: "A whole number is required."})
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "A whole number is required."}) from None
    if isinstance(value, float) and value != out:
        raise ValidationError({field: "A whole number is required."})
    if not -(2**62) < out < 2**62:
        raise ValidationError({field: "Out of range."})
    return out


def transcript_lock_for_coding(
    *, actor: User, study_id: int, transcript_id: Any, transcript_version: Any = None
) -> tuple[Transcript, int]:
    """The transcript (locked, in scope, consent allowing coding) and its length in code points."""
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.CODING_WRITE)
    try:
        tid = int(transcript_id)
    except (TypeError, ValueError):
        raise Http404("No such transcript.") from None
    if not policy.id_ok(tid):
        raise Http404("No such transcript.")
    found = transcript_lock_visible(user=actor, study_id=study_id, transcript_id=tid, perm=Perm.CODING_WRITE)
    if found is None:
        raise Http404("No such transcript.")
    transcript, length = found
    if not data_use_allowed(participant=transcript.participant, use=DataUse.CODING):
        raise CodingFrozen(
            f"{transcript.participant.pseudonym}'s consent does not allow new coding (for example, they "
            "withdrew and their data is kept as it is): this transcript is read-only."
        )
    if transcript_version is not None and transcript_version != "":
        version = _as_int(transcript_version, "transcript_version")
        if version != transcript.version:
            raise CodingConflict(
                f"The transcript was corrected since you opened it (now version {transcript.version}, you had "
                f"version {version}); reload it so your selection points at the right words."
            )
    return transcript, length


def _span(start: Any, end: Any, length: int) -> tuple[int, int]:
    s, e = _as_int(start, "start"), _as_int(end, "end")
    if s < 0:
        raise ValidationError({"start": "The start cannot be negative."})
    if e <= s:
        raise ValidationError({"end": "The end must come after the start (select at least one character)."})
    if e > length:
        raise ValidationError({"end": f"The end is past the end of the transcript ({length} characters)."})
    return s, e


def _codes_load(*, study_id: int, ids: Iterable[int]) -> dict[int, Code | None]:
    """The study's codes with these ids, in one statement (``None`` for an id that is not one).

    Only what a coding needs from its code, and plain SQL: this is on the hot path of adding a
    coding, where an ORM query cost ~1.5 ms of Python to build.

    On PostgreSQL the rows are locked ``FOR KEY SHARE`` until commit, so the code cannot be deleted
    or merged away under a coding being written (its foreign key is checked only at commit). Call it
    before locking the transcript: code deletes and merges lock their codes first, then transcripts,
    and the same order here means the two wait for each other instead of deadlocking."""
    wanted = sorted({i for i in ids if policy.id_ok(i)})
    found: dict[int, Code | None] = dict.fromkeys(wanted)
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    for i in range(0, len(wanted), 500):  # SQLite limits the number of parameters
        chunk = wanted[i:i + 500]
        marks = ", ".join(["%s"] * len(chunk))
        sql = f"SELECT id, study_id, name, colour, is_codable FROM coding_code WHERE study_id = %s AND id IN ({marks}){lock}"  # noqa: S608 (only placeholders)
        for code in Code.objects.raw(sql, [study_id, *chunk]):
            found[code.pk] = code
    return found


def _codable(*, study_id: int, code_id: Any, cache: dict[int, Code | None] | None = None) -> Code:
    cid = _as_int(code_id, "code")
    if cache is None or cid not in cache:
        cache = {**(cache or {}), **_codes_load(study_id=study_id, ids=[cid])}
    code = cache.get(cid)
    if code is None:
        raise ValidationError({"code": "Choose a code of this study's codebook (this one does not exist or was deleted)."})
    if not code.is_codable:
        raise ValidationError({"code": f"“{code.name}” is a grouping code: choose one of its sub-codes."})
    return code


def _memo(value: Any) -> str:
    text = str(value or "").strip()
    if len(text) > MEMO_MAX:
        raise ValidationError({"memo": f"A memo on a coding has at most {MEMO_MAX} characters."})
    return text


def _may_change(*, actor: User, study_id: int, coding: Coding) -> None:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.CODING_WRITE)
    if not policy.may_change_authored(membership=membership, author_id=coding.coder_id):
        raise PermissionDenied("Only the coder who made this coding (or a lead) can change it.")


# Services -----------------------------------------------------------------------------------------


@transaction.atomic
def codings_bulk_create(
    *, actor: User, study_id: int, transcript_id: Any, items: Sequence[Mapping[str, Any]],
    transcript_version: Any = None,
) -> list[Coding]:
    """Create codings on one transcript, all or nothing. Each item: ``code``, ``start``, ``end``,
    optional ``memo``. An exact duplicate of one of the actor's own codings is not doubled: the
    existing coding is returned instead."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise ValidationError({"codings": "Send at least one coding."})
    if len(items) > BULK_MAX:
        raise ValidationError({"codings": f"At most {BULK_MAX} codings at once."})
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.CODING_WRITE)
    codes = _codes_load(study_id=study_id, ids=_code_ids(items))  # first: see _codes_load
    transcript, length = transcript_lock_for_coding(
        actor=actor, study_id=study_id, transcript_id=transcript_id, transcript_version=transcript_version
    )
    wanted: list[tuple[Code, int, int, str]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValidationError({"codings": f"Item {i + 1} is not an object."})
        try:
            code = _codable(study_id=study_id, code_id=item.get("code"), cache=codes)
            start, end = _span(item.get("start"), item.get("end"), length)
            memo = _memo(item.get("memo"))
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ValidationError({f"codings[{i}]": exc.messages}) from None
        wanted.append((code, start, end, memo))
    repeats = _repeats(transcript_id=transcript.pk, coder_id=actor.pk, spans=[(c.pk, s, e) for c, s, e, _m in wanted])
    existing = {
        (c.code_id, c.start, c.end): c
        for c in Coding.objects.filter(pk__in=repeats).select_related("code", "coder")
    } if repeats else {}
    now = timezone.now()
    out: list[Coding] = []
    new: list[Coding] = []
    for code, start, end, memo in wanted:
        key = (code.pk, start, end)
        if key in existing:
            out.append(existing[key])
            continue
        c = Coding(study_id=study_id, transcript=transcript, code=code, coder=actor, start=start, end=end,
                   memo=memo, created_at=now, updated_at=now)
        existing[key] = c
        new.append(c)
        out.append(c)
    if new:
        if len(new) == 1 and connection.vendor == "postgresql":
            _insert_with_event(coding=new[0], actor=actor)
            return out
        if len(new) == 1:
            new[0].save()
        else:
            Coding.objects.bulk_create(new)
            if any(c.pk is None for c in new):  # a backend that does not return ids
                raise RuntimeError("bulk_create returned no ids")
        CodingEvent.objects.bulk_create([_event(coding=c, kind=EventKind.CREATED, actor=actor) for c in new])
    return out


def _insert_with_event(*, coding: Coding, actor: User) -> None:
    """PostgreSQL: one new coding and its change-feed event (``_event``'s, the event's copy of the coding
    given its new id by ``jsonb_set``) in one statement, where ``save()`` and ``bulk_create`` were two
    statements and ~2 ms of Python on every coding added (docs/decisions/0001). SQLite keeps the ORM's two
    inserts (it has no INSERT in a WITH)."""
    data = coding_as_dict(coding, coder_name=actor.display_name)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_WITH_EVENT_SQL, [
            coding.study_id, coding.transcript_id, coding.code_id, coding.coder_id, coding.start, coding.end,
            coding.lost, coding.memo, coding.version, coding.created_at, coding.updated_at,
            coding.transcript_id, EventKind.CREATED, coding.coder_id, actor.pk, json.dumps(data), timezone.now(),
        ])
        coding.pk = cursor.fetchone()[0]
    coding._state.adding = False
    coding._state.db = connection.alias


_INSERT_WITH_EVENT_SQL = """
WITH c AS (
    INSERT INTO coding_coding (study_id, transcript_id, code_id, coder_id, start, "end", lost, memo, version,
                               created_at, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
), e AS (
    INSERT INTO coding_codingevent (transcript_id, kind, coding_id, coder_id, actor_id, data, at)
    SELECT %s, %s, c.id, %s, %s, jsonb_set(%s::jsonb, '{id}', to_jsonb(c.id)), %s FROM c
)
SELECT id FROM c
"""


def _code_ids(items: Sequence[Any]) -> list[int]:
    """The code ids the items name (the malformed ones are reported item by item later)."""
    out = []
    for item in items:
        try:
            out.append(_as_int(item.get("code"), "code"))
        except (AttributeError, ValidationError):
            continue
    return out


def _repeats(*, transcript_id: int, coder_id: int, spans: Sequence[tuple[int, int, int]]) -> list[int]:
    """Ids of the coder's codings on exactly these (code, start, end) spans: usually none.

    Plain SQL for the hot path (see :func:`_codes_load`); an indexed lookup of the spans asked for,
    not every coding the coder made on the transcript."""
    out: list[int] = []
    with connection.cursor() as cursor:
        for i in range(0, len(spans), 300):  # SQLite limits the number of parameters
            chunk = spans[i:i + 300]
            match = " OR ".join(['(code_id = %s AND start = %s AND "end" = %s)'] * len(chunk))
            cursor.execute(
                "SELECT id FROM coding_coding WHERE transcript_id = %s AND coder_id = %s AND NOT lost "  # noqa: S608 (only placeholders)
                f"AND ({match})",
                [transcript_id, coder_id, *(v for span in chunk for v in span)],
            )
            out.extend(row[0] for row in cursor.fetchall())
    return out


def coding_create(
    *, actor: User, study_id: int, transcript_id: Any, code_id: Any, start: Any, end: Any, memo: str = "",
    transcript_version: Any = None,
) -> Coding:
    return codings_bulk_create(
        actor=actor, study_id=study_id, transcript_id=transcript_id, transcript_version=transcript_version,
        items=[{"code": code_id, "start": start, "end": end, "memo": memo}],
    )[0]


def _coding_locked(*, actor: User, study_id: int, transcript_id: Any, coding_id: Any) -> tuple[Coding, Transcript, int]:
    from analysis.coding.selectors.codings import hidden_coders

    transcript, length = transcript_lock_for_coding(actor=actor, study_id=study_id, transcript_id=transcript_id)
    try:
        cid = int(coding_id)
    except (TypeError, ValueError):
        raise Http404("No such coding.") from None
    coding = (
        Coding.objects.select_for_update(of=("self",)).select_related("code", "coder")
        .filter(transcript=transcript, pk=cid).first() if policy.id_ok(cid) else None
    )
    if coding is None or coding.coder_id in hidden_coders(user=actor, transcript_id=transcript.pk):
        raise Http404("No such coding.")
    _may_change(actor=actor, study_id=study_id, coding=coding)
    return coding, transcript, length


@transaction.atomic
def coding_update(
    *, actor: User, study_id: int, transcript_id: Any, coding_id: Any, version: Any,
    changes: Mapping[str, Any],
) -> Coding:
    """Re-code (``code``), adjust boundaries (``start``/``end``) or change the memo. ``version`` is the
    coding version the client read: a stale one raises :class:`CodingConflict` with the current row."""
    unknown = set(changes) - {"code", "start", "end", "memo"}
    if unknown:
        raise ValidationError({k: "This field cannot be changed." for k in sorted(unknown)})
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.CODING_WRITE)
    codes = _codes_load(study_id=study_id, ids=_code_ids([changes])) if "code" in changes else {}  # see _codes_load
    coding, _transcript, length = _coding_locked(
        actor=actor, study_id=study_id, transcript_id=transcript_id, coding_id=coding_id
    )
    if _as_int(version, "version") != coding.version:
        raise CodingConflict(
            f"This coding was changed by {coding.coder.display_name if coding.coder_id != actor.pk else 'you'} "
            f"since you read it (now version {coding.version}); your change was not saved.",
            current=coding,
        )
    if "code" in changes:
        coding.code = _codable(study_id=study_id, code_id=changes["code"], cache=codes)
    if "start" in changes or "end" in changes:
        coding.start, coding.end = _span(changes.get("start", coding.start), changes.get("end", coding.end), length)
        coding.lost = False
    if "memo" in changes:
        coding.memo = _memo(changes["memo"])
    coding.version += 1
    coding.updated_at = timezone.now()
    coding.save()
    CodingEvent.objects.create(**_event_fields(_event(coding=coding, kind=EventKind.UPDATED, actor=actor)))
    return coding


def _event_fields(e: CodingEvent) -> dict[str, Any]:
    return {f: getattr(e, f) for f in ("transcript_id", "kind", "coding_id", "coder_id", "actor_id", "data")}


@transaction.atomic
def coding_delete(*, actor: User, study_id: int, transcript_id: Any, coding_id: Any) -> None:
    coding, _t, _n = _coding_locked(actor=actor, study_id=study_id, transcript_id=transcript_id, coding_id=coding_id)
    CodingEvent.objects.create(**_event_fields(_event(coding=coding, kind=EventKind.DELETED, actor=actor)))
    coding.delete()


@transaction.atomic
def codings_bulk_delete(
    *, actor: User, study_id: int, transcript_id: Any, coding_ids: Iterable[Any], ip: str | None = None
) -> int:
    """Delete several of one transcript's codings (audited)."""
    ids = [_as_int(i, "ids") for i in coding_ids]
    if not ids or len(ids) > BULK_MAX:
        raise ValidationError({"ids": f"Name between 1 and {BULK_MAX} codings."})
    rows = []
    for cid in ids:
        coding, transcript, _n = _coding_locked(
            actor=actor, study_id=study_id, transcript_id=transcript_id, coding_id=cid
        )
        rows.append(coding)
    CodingEvent.objects.bulk_create([_event(coding=c, kind=EventKind.DELETED, actor=actor) for c in rows])
    Coding.objects.filter(pk__in=[c.pk for c in rows]).delete()
    audit_record(
        actor=actor, action="coding.bulk_delete", study=transcript.study, obj=transcript, ip=ip,
        details={"codings": [{"id": c.pk, "code": c.code.name, "start": c.start, "end": c.end} for c in rows]},
    )
    return len(rows)


# Registries: code dependents (merge / delete), purge ----------------------------------------------


def _lock_transcripts(ids: Iterable[int]) -> None:
    list(Transcript.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk").values_list("pk"))


def codings_count_for_codes(code_ids: list[int]) -> int:
    return Coding.objects.filter(code_id__in=code_ids).count()


def codings_merge_codes(source_id: int, target_id: int) -> int:
    """Move the source code's codings onto the target; one the same coder already made with the
    target on the same span is dropped, not doubled. Each change goes to the live feed."""
    source = Coding.objects.filter(code_id=source_id)
    _lock_transcripts(source.values_list("transcript_id", flat=True))
    twin = Coding.objects.filter(
        code_id=target_id, coder_id=OuterRef("coder_id"), transcript_id=OuterRef("transcript_id"),
        start=OuterRef("start"), end=OuterRef("end"),
    )
    dupes = list(source.filter(Exists(twin)).select_related("code", "coder"))
    events = [CodingEvent(transcript_id=c.transcript_id, kind=EventKind.DELETED, coding_id=c.pk,
                          coder_id=c.coder_id, actor_id=c.coder_id, data={"id": c.pk}) for c in dupes]
    source.filter(Exists(twin)).delete()
    moving = list(Coding.objects.filter(code_id=source_id).values_list("pk", flat=True))
    Coding.objects.filter(code_id=source_id).update(code_id=target_id, version=F("version") + 1,
                                                    updated_at=timezone.now())
    for i in range(0, len(moving), 500):  # chunks: SQLite limits the number of query parameters
        for c in Coding.objects.filter(pk__in=moving[i:i + 500]).select_related("code", "coder"):
            events.append(CodingEvent(transcript_id=c.transcript_id, kind=EventKind.UPDATED, coding_id=c.pk,
                                      coder_id=c.coder_id, actor_id=c.coder_id, data=coding_as_dict(c)))
    CodingEvent.objects.bulk_create(events, batch_size=1000)
    return len(moving)


def codings_delete_for_codes(code_ids: list[int]) -> int:
    rows = list(Coding.objects.filter(code_id__in=code_ids).values_list("pk", "transcript_id", "coder_id"))
    _lock_transcripts(t for _, t, _ in rows)
    CodingEvent.objects.bulk_create([
        CodingEvent(transcript_id=t, kind=EventKind.DELETED, coding_id=pk, coder_id=coder, actor_id=coder,
                    data={"id": pk}) for pk, t, coder in rows
    ], batch_size=1000)
    Coding.objects.filter(code_id__in=code_ids).delete()
    return len(rows)


def codings_purge(*, participant: Any) -> dict[str, int]:
    """Purger (settings.CHORUS_PURGERS) for a withdrawal with deletion: the participant's codings,
    memos on their transcripts and codings, assignments and change feed."""
    from analysis.coding.models import Assignment, Memo

    transcripts = Transcript.objects.filter(participant=participant).values("pk")
    n_codings = Coding.objects.filter(transcript__in=transcripts).count()
    n_memos = Memo.objects.filter(transcript__in=transcripts).count()
    Memo.objects.filter(transcript__in=transcripts).delete()
    Coding.objects.filter(transcript__in=transcripts).delete()
    CodingEvent.objects.filter(transcript__in=transcripts).delete()
    Assignment.objects.filter(transcript__in=transcripts).delete()
    return {"codings": n_codings, "memos": n_memos}
