"""Writes for transcripts: create one from a parsed file, refresh search vectors, purge.

Every service checks its permission through the policy module and consent through
``participants.consent_rules``, and writes in one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.http import Http404

from accounts import policy
from accounts.models import AuditEvent, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.transcripts.importers import ParsedTranscript, Role
from analysis.transcripts.models import SpeakerRole, Transcript, TranscriptImportItem, TranscriptTurn
from analysis.transcripts.text import newline_offsets
from participants.consent_rules import DataUse, data_use_allowed
from participants.models import ConsentState, Participant

_GENERIC_INTERVIEWER = re.compile(r"^(interviewer|facilitator|researcher|moderator|int|iv|i|q)$", re.IGNORECASE)
_HEADER = re.compile(r"\b(telephone|phone|video|in person|face to face|online)\b.*?(\d{4}-\d{2}-\d{2})?", re.IGNORECASE)


def consent_refusal(participant: Participant) -> str | None:
    """Why a transcript may not be added for this participant, or None if it may."""
    if data_use_allowed(participant=participant, use=DataUse.TRANSCRIPT_ADD):
        return None
    p = participant.pseudonym
    state = participant.consent_state
    if participant.purged_at is not None or state == ConsentState.WITHDRAWN_DELETE:
        return f"{p} withdrew and asked for their data to be deleted: no transcript may be added."
    if state == ConsentState.WITHDRAWN_RETAIN:
        return f"{p} has withdrawn from the study: no new transcript may be added (their existing data is frozen)."
    if state == ConsentState.NONE:
        return f"{p} has no consent recorded yet: record consent to take part and to transcription first."
    return f"{p} did not consent to transcription, so a transcript cannot be added."


def participant_for_upload(*, actor: User, study_id: int, participant_id: int) -> Participant:
    """The participant, if the actor may upload for them (404 outside scope)."""
    qs = Participant.objects.filter(study_id=study_id)
    return policy.get_visible_or_404(
        user=actor, study=study_id, perm=Perm.TRANSCRIPT_UPLOAD, queryset=qs, pk=participant_id
    )


def _metadata(parsed: ParsedTranscript, participant: Participant) -> dict[str, Any]:
    attrs = participant.attributes or {}
    mode = str(attrs.get("interview_mode") or attrs.get("mode") or "")
    date = participant.interview_date
    interviewer = str(attrs.get("interviewer") or "")
    header = parsed.text.split("\n", 1)[0][:200]
    if not mode and (m := _HEADER.search(header)):
        mode = m.group(1).lower()
    if date is None and (d := re.search(r"\b(\d{4}-\d{2}-\d{2})\b", header)):
        try:
            date = dt.date.fromisoformat(d.group(1))
        except ValueError:
            date = None
    if not interviewer:
        names = [t.speaker for t in parsed.turns if t.role == Role.INTERVIEWER and not _GENERIC_INTERVIEWER.match(t.speaker)]
        interviewer = names[0] if names else ""
    return {"interview_mode": mode[:50], "interview_date": date, "interviewer": interviewer[:150]}


def refresh_search(*, transcript_id: int, turn_ids: list[int] | None = None) -> None:
    """Recompute the PostgreSQL full-text vectors of a transcript's turns (no-op elsewhere)."""
    if connection.vendor != "postgresql":
        return
    sql = "UPDATE transcripts_transcriptturn SET search = to_tsvector('english', text) WHERE transcript_id = %s"
    params: list[Any] = [transcript_id]
    if turn_ids is not None:
        if not turn_ids:
            return
        sql += " AND id = ANY(%s)"
        params.append(turn_ids)
    with connection.cursor() as cur:
        cur.execute(sql, params)


@dataclass
class NewTranscript:
    """One transcript to add: the parsed file and where its original is (bytes, or already stored with
    its digest and size, as a bulk import's staged file is)."""

    participant_id: int
    parsed: ParsedTranscript
    original: bytes | None = None
    original_name: str = ""
    stored_name: str | None = None
    sha256: str = ""
    size: int = 0


def _transcript_row(*, actor: User, participant: Participant, entry: NewTranscript, title: str) -> Transcript:
    parsed = entry.parsed
    transcript = Transcript(
        study_id=participant.study_id, participant=participant, text=parsed.text, newlines=newline_offsets(parsed.text),
        title=title,
        source_format=parsed.format, source_encoding=parsed.encoding, original_name=entry.original_name[:255],
        imported_by=actor, **_metadata(parsed, participant),
    )
    if entry.original is not None:
        transcript.original_sha256 = hashlib.sha256(entry.original).hexdigest()
        transcript.original_size = len(entry.original)
    elif entry.sha256:
        transcript.original_sha256, transcript.original_size = entry.sha256, entry.size
    if entry.stored_name:
        transcript.original_file.name = entry.stored_name
    elif entry.original is not None:
        transcript.original_file.save("original", ContentFile(entry.original), save=False)
    return transcript


def _turn_rows(transcripts: list[Transcript], entries: list[NewTranscript]) -> Iterator[tuple[Any, ...]]:
    for transcript, entry in zip(transcripts, entries, strict=True):
        text = entry.parsed.text
        for i, t in enumerate(entry.parsed.turns):
            role = t.role if t.role in _ROLES else SpeakerRole.OTHER
            yield (transcript.pk, transcript.study_id, i, t.speaker[:150], role, t.start, t.end, t.time_ms,
                   text[t.start:t.end])


_ROLES = frozenset(SpeakerRole.values)
_TURN_COLUMNS = ("transcript_id", "study_id", "index", "speaker", "role", "start", "end", "time_ms", "text")
# COPY cannot compute the search vector, and an UPDATE afterwards writes every turn twice: the rows go to a
# temporary table (no WAL, no index) and one INSERT … SELECT per batch moves them with their vectors.
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS chorus_turn_stage (transcript_id bigint, study_id bigint, index int, "
    "speaker text, role text, start int, \"end\" int, time_ms int, text text) ON COMMIT DELETE ROWS"
)
_MOVE = (
    "INSERT INTO transcripts_transcriptturn (transcript_id, study_id, index, speaker, role, start, \"end\", "
    "time_ms, text, search) SELECT transcript_id, study_id, index, speaker, role, start, \"end\", time_ms, text, "
    "to_tsvector('english', text) FROM chorus_turn_stage"
)


def _insert_turns(transcripts: list[Transcript], entries: list[NewTranscript]) -> None:
    """Every turn of the batch. PostgreSQL: COPY into a temporary table, then one INSERT … SELECT with the
    search vectors (the statement of arrays it replaces was composed client-side: ~40 ms a file). Elsewhere
    the ORM's bulk insert (no search vectors outside PostgreSQL)."""
    rows = _turn_rows(transcripts, entries)
    if connection.vendor != "postgresql":
        TranscriptTurn.objects.bulk_create(
            (TranscriptTurn(**dict(zip(_TURN_COLUMNS, row, strict=True))) for row in rows), batch_size=1000,
        )
        return
    with connection.cursor() as cur:
        cur.execute(_STAGE)
        columns = ", ".join(connection.ops.quote_name(c) for c in _TURN_COLUMNS)
        with cur.cursor.copy(f"COPY chorus_turn_stage ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(_MOVE)
        cur.execute("TRUNCATE chorus_turn_stage")  # for the next batch in this transaction


@transaction.atomic
def transcripts_create_bulk(
    *, actor: User, study_id: int, entries: list[NewTranscript], ip: str | None = None, via: str = "upload",
) -> list[Transcript | ValidationError | Http404]:
    """Add transcripts, each for one participant (admin or lead, participant in scope and consenting), in a
    fixed number of statements whatever their number: the bulk import's write path and the single upload's.

    Returns, for each entry in order, its transcript or why it was not added (out of scope: Http404; consent:
    ValidationError); the ones refused write nothing. Participants are locked (in id order) so that a
    withdrawal cannot slip in between the consent check and the insert."""
    visible = policy.filter_visible(
        user=actor, study=study_id, perm=Perm.TRANSCRIPT_UPLOAD,
        queryset=Participant.objects.filter(study_id=study_id, pk__in={e.participant_id for e in entries}),
    )
    people = {
        p.pk: p for p in Participant.objects.select_related("study").select_for_update(of=("self",))
        .filter(pk__in=visible.values("pk")).order_by("pk")
    }
    existing = dict(
        Transcript.objects.filter(participant_id__in=people).values("participant_id")
        .annotate(n=Count("id")).values_list("participant_id", "n")
    )
    results: list[Transcript | ValidationError | Http404] = []
    added: list[tuple[Transcript, NewTranscript]] = []
    for entry in entries:
        participant = people.get(entry.participant_id)
        if participant is None:
            results.append(Http404("Not found."))
            continue
        reason = consent_refusal(participant)
        if reason:
            results.append(ValidationError(reason))
            continue
        n = existing[participant.pk] = existing.get(participant.pk, 0) + 1
        title = f"Interview {participant.pseudonym}" + (f" ({n})" if n > 1 else "")
        transcript = _transcript_row(actor=actor, participant=participant, entry=entry, title=title)
        results.append(transcript)
        added.append((transcript, entry))
    if not added:
        return results
    transcripts = Transcript.objects.bulk_create([t for t, _ in added])
    _insert_turns(transcripts, [e for _, e in added])
    AuditEvent.objects.bulk_create([
        AuditEvent(
            actor=actor, actor_email=actor.email[:254], action="transcript.import", study=t.participant.study,
            object_type=Transcript._meta.label_lower, object_id=str(t.pk), ip=ip,
            details={"participant": t.participant.pseudonym, "format": e.parsed.format, "via": via,
                     "characters": len(e.parsed.text), "turns": len(e.parsed.turns), "sha256": t.original_sha256},
        )
        for t, e in added
    ])
    return results


def transcript_create(
    *, actor: User, study_id: int, participant_id: int, parsed: ParsedTranscript,
    original: bytes | None = None, original_name: str = "", stored_name: str | None = None,
    ip: str | None = None, via: str = "upload",
) -> Transcript:
    """Add a transcript for one participant (admin or lead, participant in scope and consenting)."""
    (result,) = transcripts_create_bulk(
        actor=actor, study_id=study_id, ip=ip, via=via,
        entries=[NewTranscript(participant_id=participant_id, parsed=parsed, original=original,
                               original_name=original_name, stored_name=stored_name)],
    )
    if isinstance(result, Exception):
        raise result
    return result


def transcripts_purge(*, participant: Participant) -> dict[str, int]:
    """Purger for a withdrawal with data deletion (registered in settings.CHORUS_PURGERS): deletes
    the participant's transcripts with their turns and edit history, their original files and any
    staged upload. Runs inside the purge job's transaction; files go after it commits."""
    transcripts: QuerySet[Transcript] = Transcript.objects.filter(participant=participant)
    items = TranscriptImportItem.objects.filter(participant=participant)
    files = [t.original_file for t in transcripts if t.original_file] + [
        i.staged_file for i in items if i.staged_file
    ]
    names = {(f.storage, f.name) for f in files if f.name}
    n_transcripts = transcripts.count()
    n_turns = TranscriptTurn.objects.filter(transcript__participant=participant).count()
    items.delete()
    transcripts.delete()

    def remove_files() -> None:
        for storage, name in names:
            storage.delete(name)

    transaction.on_commit(remove_files)
    return {"transcripts": n_transcripts, "speaker turns": n_turns, "original files": len(names)}


def transcript_read_audit(
    *, actor: User, transcript: Transcript, via: str, ip: str | None = None, details: dict[str, Any] | None = None,
) -> None:
    """Every read of a transcript is an audit event: the reading view, a search hit opened, an API
    fetch, a download of the original."""
    audit_record(
        actor=actor, action="transcript.read", study=transcript.study, obj=transcript, ip=ip,
        details={"via": via, "participant": transcript.participant.pseudonym, "version": transcript.version,
                 **(details or {})},
    )


def transcript_original_open(*, actor: User, transcript: Transcript, via: str, ip: str | None = None) -> Any:
    """The original uploaded file of a transcript, opened for reading, its download audited like a read.
    ``transcript`` comes from ``selectors.transcript_get(..., perm=Perm.TRANSCRIPT_ORIGINAL)``."""
    from django.http import Http404

    if not transcript.original_file:
        raise Http404("No original file was kept for this transcript.")
    transcript_read_audit(actor=actor, transcript=transcript, via=via, ip=ip,
                          details={"sha256": transcript.original_sha256})
    try:
        return transcript.original_file.open("rb")
    except OSError as exc:
        raise Http404("The original file is missing from storage.") from exc


def transcript_search_audit(
    *, actor: User, study_id: int, query: str, filters: dict[str, Any], total: int, transcript_ids: list[int],
    ip: str | None = None, via: str = "web",
) -> None:
    """Searching is audited like reading: the filters and which transcripts' text was shown. Not the query's
    words: audit rows outlive a purge, and a search for a participant's real name would keep it there."""
    from accounts.models import Study

    audit_record(
        actor=actor, action="transcript.search", study=Study.objects.get(pk=study_id), ip=ip,
        details={"query_words": len(query.split()), "filters": filters, "results": total,
                 "transcripts_shown": sorted(set(transcript_ids)), "via": via},
    )
