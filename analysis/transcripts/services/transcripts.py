"""Writes for transcripts: create one from a parsed file, refresh search vectors, purge.

Every service checks its permission through the policy module and consent through
``participants.consent_rules``, and writes in one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import QuerySet

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.transcripts.importers import ParsedTranscript, Role
from analysis.transcripts.models import SpeakerRole, Transcript, TranscriptImportItem, TranscriptTurn
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


def _create(
    *, actor: User, participant: Participant, parsed: ParsedTranscript, original: bytes | None,
    original_name: str, stored_name: str | None = None,
) -> Transcript:
    meta = _metadata(parsed, participant)
    transcript = Transcript(
        study_id=participant.study_id, participant=participant, text=parsed.text,
        title=f"Interview {participant.pseudonym}", source_format=parsed.format,
        source_encoding=parsed.encoding, original_name=original_name[:255], imported_by=actor, **meta,
    )
    if original is not None:
        transcript.original_sha256 = hashlib.sha256(original).hexdigest()
        transcript.original_size = len(original)
        if stored_name:
            transcript.original_file.name = stored_name
        else:
            transcript.original_file.save("original", ContentFile(original), save=False)
    transcript.save()
    n = participant.transcripts.count()
    if n > 1:
        Transcript.objects.filter(pk=transcript.pk).update(title=f"Interview {participant.pseudonym} ({n})")
        transcript.title = f"Interview {participant.pseudonym} ({n})"
    roles = [t.role if t.role in SpeakerRole.values else SpeakerRole.OTHER for t in parsed.turns]
    if connection.vendor == "postgresql":
        _insert_turns_pg(transcript=transcript, parsed=parsed, roles=roles)
        return transcript
    TranscriptTurn.objects.bulk_create(
        [
            TranscriptTurn(
                transcript=transcript, study_id=transcript.study_id, index=i, speaker=t.speaker[:150],
                role=role, start=t.start, end=t.end, time_ms=t.time_ms, text=parsed.text[t.start:t.end],
            )
            for i, (t, role) in enumerate(zip(parsed.turns, roles, strict=True))
        ],
        batch_size=1000,
    )
    refresh_search(transcript_id=transcript.pk)
    return transcript


_INSERT_TURNS = """
INSERT INTO transcripts_transcriptturn (transcript_id, study_id, index, speaker, role, start, "end", time_ms, text,
                                        search)
SELECT %s, %s, u.i, u.speaker, u.role, u.s, u.e, u.t, u.txt, to_tsvector('english', u.txt)
FROM unnest(%s::int[], %s::text[], %s::text[], %s::int[], %s::int[], %s::int[], %s::text[])
     AS u(i, speaker, role, s, e, t, txt)
"""


def _insert_turns_pg(*, transcript: Transcript, parsed: ParsedTranscript, roles: list[str]) -> None:
    """All turns of a transcript, with their search vectors, in one statement of arrays: the ORM's
    bulk insert and a second pass for the vectors were most of an import's time (~65 ms a file)."""
    turns = parsed.turns
    with connection.cursor() as cur:
        cur.execute(_INSERT_TURNS, [
            transcript.pk, transcript.study_id, list(range(len(turns))), [t.speaker[:150] for t in turns], roles,
            [t.start for t in turns], [t.end for t in turns], [t.time_ms for t in turns],
            [parsed.text[t.start:t.end] for t in turns],
        ])


@transaction.atomic
def transcript_create(
    *, actor: User, study_id: int, participant_id: int, parsed: ParsedTranscript,
    original: bytes | None = None, original_name: str = "", stored_name: str | None = None,
    ip: str | None = None, via: str = "upload",
) -> Transcript:
    """Add a transcript for one participant (admin or lead, participant in scope and consenting)."""
    participant = participant_for_upload(actor=actor, study_id=study_id, participant_id=participant_id)
    # The study comes with it for the audit event (a query per file in a bulk import otherwise).
    participant = Participant.objects.select_related("study").select_for_update(of=("self",)).get(pk=participant.pk)
    reason = consent_refusal(participant)
    if reason:
        raise ValidationError(reason)
    transcript = _create(
        actor=actor, participant=participant, parsed=parsed, original=original, original_name=original_name,
        stored_name=stored_name,
    )
    audit_record(
        actor=actor, action="transcript.import", study=participant.study, obj=transcript, ip=ip,
        details={"participant": participant.pseudonym, "format": parsed.format, "via": via,
                 "characters": len(parsed.text), "turns": len(parsed.turns),
                 "sha256": transcript.original_sha256},
    )
    return transcript


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
