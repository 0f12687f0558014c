"""Bulk transcript import: check and match every file first (the preview), import on confirmation
in a Celery job with progress and a result per file.

A refused file is never stored: its item keeps the file name and the reason only.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.http import Http404

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.transcripts.importers import (
    FORMATS,
    ImportRefused,
    ParsedTranscript,
    max_file_bytes,
    parse_transcript,
    zip_limits,
)
from analysis.transcripts.importers.base import parsed_dump, parsed_load
from analysis.transcripts.importers.safezip import is_docx_zip, is_zip, open_zip, read_member
from analysis.transcripts.models import (
    ImportStatus,
    ItemStatus,
    Transcript,
    TranscriptImport,
    TranscriptImportItem,
    TranscriptTurn,
)
from analysis.transcripts.services.transcripts import NewTranscript, consent_refusal, transcripts_create_bulk
from config.db import tables_refresh_statistics
from config.input_guard import format_bytes
from jobs.models import Job
from jobs.services import JobCancelled, JobError, job_create, job_progress, job_run
from participants.models import Participant

MAX_FILES = 2000
_SKIP = re.compile(r"(^|/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)|(^|/)\._", re.IGNORECASE)


@dataclass
class Upload:
    name: str
    data: bytes


def expand_uploads(uploads: list[Upload]) -> list[Upload | tuple[str, str]]:
    """Files, with every zip (not a .docx) replaced by its members. A refused zip becomes
    ``(name, reason)``."""
    out: list[Upload | tuple[str, str]] = []
    for up in uploads:
        if not (is_zip(up.data) and not is_docx_zip(up.data)):
            out.append(up)
            continue
        try:
            out.extend(_zip_members(up))
        except ImportRefused as exc:
            out.append((up.name, str(exc)))
    return out


def is_project_archive(up: Upload) -> bool:
    """A .qdpx (by name, or a zip with a .qde at its root): it belongs on the project import page."""
    if up.name.lower().endswith(".qdpx"):
        return True
    if not (is_zip(up.data) and not is_docx_zip(up.data)):
        return False
    import io
    import zipfile

    try:
        names = zipfile.ZipFile(io.BytesIO(up.data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return any("/" not in n and n.lower().endswith(".qde") for n in names)


def _zip_members(up: Upload) -> list[Upload]:
    limits = zip_limits()
    zf = open_zip(up.data, what=f"zip file {up.name}", limits=limits)
    members: list[Upload] = []
    for info in zf.infolist():
        if info.is_dir() or _SKIP.search(info.filename):
            continue
        data = read_member(zf, info.filename, what=f"zip file {up.name}", limits=limits)
        if info.filename.lower().endswith((".zip", ".qdpx")) or (is_zip(data) and not is_docx_zip(data)):
            raise ImportRefused(
                f"The zip file {up.name} contains another zip ({info.filename}); nothing was imported. "
                "Put the transcripts themselves in one zip."
            )
        members.append(Upload(posixpath.basename(info.filename), data))
    if not members:
        raise ImportRefused(f"The zip file {up.name} contains no files.")
    return members


def match_participant(filename: str, participants: dict[str, Participant]) -> Participant | None:
    """The participant whose pseudonym is the file name (``SU01.docx``) or starts it
    (``SU01 interview.txt``, ``SU01_transcript.vtt``)."""
    stem = posixpath.basename(filename)
    for ext in (*FORMATS, ".text"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    key = stem.strip().lower()
    if key in participants:
        return participants[key]
    first = re.split(r"[\s_\-.()\[\],]+", key, maxsplit=1)[0]
    return participants.get(first)


@transaction.atomic
def import_preview(
    *, actor: User, study_id: int, uploads: list[Upload], encoding: str | None = None, ip: str | None = None
) -> TranscriptImport:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.TRANSCRIPT_UPLOAD)
    if not uploads:
        raise ValidationError("Choose at least one file.")
    for up in uploads:
        if is_project_archive(up):
            from django.urls import reverse

            url = reverse("project-import", kwargs={"study_id": study_id})
            raise ValidationError(
                f"{up.name[:100]} is a REFI-QDA project, not a transcript. Projects (with their codes, codings "
                f"and participants) are imported from the Import project page: {url}", code="qdpx")
    expanded = expand_uploads(uploads)
    if len(expanded) > MAX_FILES:
        raise ValidationError(f"Too many files in one upload ({len(expanded)}; at most {MAX_FILES}).")
    visible = policy.filter_visible(
        user=actor, study=study_id, perm=Perm.TRANSCRIPT_UPLOAD,
        queryset=Participant.objects.filter(study_id=study_id),
    )
    participants = {p.pseudonym.lower(): p for p in visible}
    batch = TranscriptImport.objects.create(study=membership.study, created_by=actor, encoding=encoding or "")
    existing = set(
        Transcript.objects.filter(study_id=study_id).values_list("participant_id", "original_sha256")
    )
    claimed: dict[int, str] = {}
    items: list[TranscriptImportItem] = []
    for pos, entry in enumerate(expanded):
        item = TranscriptImportItem(batch=batch, position=pos)
        items.append(item)
        if isinstance(entry, tuple):
            item.filename, item.status, item.message = entry[0][:255], ItemStatus.REFUSED, entry[1]
            continue
        item.filename, item.size = entry.name[:255], len(entry.data)
        _check_item(item, entry, participants, existing, claimed, encoding)
    TranscriptImportItem.objects.bulk_create(items, batch_size=200)
    counts = {s: batch.items.filter(status=s).count() for s in (ItemStatus.READY, ItemStatus.REFUSED)}
    audit_record(actor=actor, action="transcript.import_preview", study=membership.study, obj=batch, ip=ip,
                 details={"files": len(expanded), "ready": counts[ItemStatus.READY],
                          "refused": counts[ItemStatus.REFUSED]})
    return batch


def _check_item(
    item: TranscriptImportItem, up: Upload, participants: dict[str, Participant],
    existing: set[tuple[int, str]], claimed: dict[int, str], encoding: str | None,
) -> None:
    item.status = ItemStatus.REFUSED
    participant = match_participant(up.name, participants)
    if participant is None:
        item.message = (
            "No participant in this study matches this file name. Name each file after the participant's "
            "pseudonym, for example SU01.docx."
        )
        return
    item.participant = participant
    if participant.pk in claimed:
        item.message = f"Another file in this upload ({claimed[participant.pk]}) is already for {participant.pseudonym}."
        return
    if len(up.data) > max_file_bytes():
        item.message = f"The file is too large (the limit is {format_bytes(max_file_bytes())})."
        return
    reason = consent_refusal(participant)
    if reason:
        item.message = reason
        return
    sha = hashlib.sha256(up.data).hexdigest()
    item.sha256 = sha
    if (participant.pk, sha) in existing:
        item.message = f"This file has already been imported for {participant.pseudonym}."
        return
    try:
        parsed = parse_transcript(up.data, filename=up.name, pseudonym=participant.pseudonym, encoding=encoding)
    except ImportRefused as exc:
        item.message = str(exc)
        return
    claimed[participant.pk] = up.name
    item.status = ItemStatus.READY
    item.format, item.encoding = parsed.format, parsed.encoding
    item.characters, item.turn_count = len(parsed.text), len(parsed.turns)
    item.speakers = parsed.speakers
    notes = list(parsed.warnings)
    if any(pid == participant.pk for pid, _ in existing):
        notes.append(f"{participant.pseudonym} already has a transcript: this one will be added as another interview.")
    if not parsed.turns or not any(t.speaker for t in parsed.turns):
        notes.append("No speaker labels were recognised (expected lines like “Interviewer: …”).")
    item.message = " ".join(notes)
    item.parsed = parsed_dump(parsed)
    item.staged_file.save("staged", ContentFile(up.data), save=False)


def import_get(*, user: Any, study_id: int, batch_id: int) -> TranscriptImport:
    """Imports are private to who started them, like jobs."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.TRANSCRIPT_UPLOAD)
    batch = TranscriptImport.objects.filter(study_id=study_id, pk=batch_id, created_by=user).first()
    if batch is None:
        raise Http404("No such import.")
    return batch


@transaction.atomic
def import_commit(*, actor: User, study_id: int, batch_id: int, ip: str | None = None) -> TranscriptImport:
    batch = import_get(user=actor, study_id=study_id, batch_id=batch_id)
    batch = TranscriptImport.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportStatus.PREVIEW:
        raise ValidationError("This import has already been confirmed or cancelled.")
    ready = batch.items.filter(status=ItemStatus.READY).count()
    if not ready:
        raise ValidationError("No file in this upload can be imported.")
    batch.job = job_create(
        study=batch.study, kind="transcript_import", created_by=actor, perm=Perm.TRANSCRIPT_UPLOAD,
        params={"batch": batch.pk},
        task="transcripts.transcript_import",
    )
    batch.status = ImportStatus.QUEUED
    batch.save(update_fields=["job", "status"])
    audit_record(actor=actor, action="transcript.import_start", study=batch.study, obj=batch, ip=ip,
                 details={"files": ready, "job": batch.job.pk})
    return batch


@transaction.atomic
def import_cancel(*, actor: User, study_id: int, batch_id: int, ip: str | None = None) -> TranscriptImport:
    batch = import_get(user=actor, study_id=study_id, batch_id=batch_id)
    if batch.status != ImportStatus.PREVIEW:
        raise ValidationError("Only an import waiting for confirmation can be cancelled.")
    staged = [i.staged_file for i in batch.items.exclude(staged_file="")]
    names = [(f.storage, f.name) for f in staged if f.name]
    batch.items.update(staged_file="", parsed=None)
    batch.status = ImportStatus.CANCELLED
    batch.save(update_fields=["status"])

    def remove_files() -> None:
        for storage, name in names:
            storage.delete(name)

    transaction.on_commit(remove_files)
    audit_record(actor=actor, action="transcript.import_cancel", study=batch.study, obj=batch, ip=ip)
    return batch


def import_run(*, job_id: int) -> Job | None:
    """The Celery side: import each ready file as the user who confirmed (their permission, scope
    and the participant's consent are checked again for every file).

    It resumes: a file is imported and marked imported in one transaction, so a job run again after
    its worker died continues with the files not yet imported, and none is imported twice."""

    def work(job: Job) -> dict[str, Any]:
        batch = TranscriptImport.objects.filter(pk=job.params.get("batch"), study_id=job.study_id).first()
        if batch is None:
            raise JobError("The import no longer exists.")
        worked = batch.items.exclude(status=ItemStatus.REFUSED)
        total = worked.count()
        items = list(batch.items.filter(status=ItemStatus.READY).select_related("participant"))
        done = total - len(items)
        chunk_size = max(1, int(settings.CHORUS_IMPORT_CHUNK))
        try:
            job_progress(job_id=job.pk, done=done, total=total)
            # A chunk of files is one transaction, written in a fixed number of statements (one commit and
            # a few statements per file were most of an import's time on PostgreSQL). Files are marked
            # imported in the same transaction, so a job taken over after its worker died never imports a
            # file twice, and a chunk that fails half-way leaves nothing behind.
            for first in range(0, len(items), chunk_size):
                chunk = items[first:first + chunk_size]
                with transaction.atomic():
                    _bulk_write_session()
                    _import_chunk(job=job, batch=batch, item_ids=[item.pk for item in chunk])
                done += len(chunk)
                job_progress(job_id=job.pk, done=done)  # the checkpoint: Cancel stops here
        except JobCancelled:
            batch.items.filter(status=ItemStatus.READY).update(
                status=ItemStatus.FAILED, message="Not imported: the import was cancelled.", parsed=None,
            )
            TranscriptImport.objects.filter(pk=batch.pk).update(status=ImportStatus.DONE)
            raise
        TranscriptImport.objects.filter(pk=batch.pk).update(status=ImportStatus.DONE)
        _flush_search_index()
        return {"imported": batch.items.filter(status=ItemStatus.IMPORTED).count(),
                "not imported": batch.items.filter(status=ItemStatus.FAILED).count()}

    return job_run(job_id=job_id, work=work)




def _import_chunk(*, job: Job, batch: TranscriptImport, item_ids: list[int]) -> None:
    """Import staged files as the job's creator (their permission and scope, and each participant's consent,
    checked again) and record each file's outcome, inside the caller's transaction. A file that cannot be
    imported is marked failed with the reason; the others are imported together."""
    # Locked and re-read: a second worker that took the job over must not import them again.
    items = list(
        TranscriptImportItem.objects.select_for_update(of=("self",)).select_related("participant")
        .filter(pk__in=item_ids, status=ItemStatus.READY).order_by("position")
    )
    failed: dict[int, str] = {}
    ready: list[tuple[TranscriptImportItem, NewTranscript]] = []
    for item in items:
        try:
            if item.participant_id is None:
                raise ValidationError("The participant no longer exists.")
            ready.append((item, NewTranscript(
                participant_id=item.participant_id, parsed=_item_parsed(batch=batch, item=item),
                original_name=item.filename, stored_name=item.staged_file.name, sha256=item.sha256, size=item.size,
            )))
        except (ValidationError, ImportRefused, OSError) as exc:
            failed[item.pk] = _reason(exc)
    results: list[Any]
    try:
        results = transcripts_create_bulk(
            actor=job.created_by, study_id=job.study_id, entries=[e for _, e in ready], via="bulk",
        ) if ready else []
    except Http404 as exc:  # the creator is no longer a member of the study
        results = [exc] * len(ready)
    for (item, _), result in zip(ready, results, strict=True):
        if isinstance(result, Transcript):
            item.status, item.transcript = ItemStatus.IMPORTED, result
        else:
            failed[item.pk] = _reason(result)
    for item in items:
        if item.pk in failed:
            item.status, item.message = ItemStatus.FAILED, failed[item.pk]
        item.parsed = None
    TranscriptImportItem.objects.bulk_update(items, ["status", "message", "transcript", "parsed"])


def _bulk_write_session() -> None:
    """PostgreSQL, for the current transaction only: do not wait for the commit's WAL flush (a crash of the
    database server can lose the last chunks committed, files and their 'imported' mark together, so the
    job imports them again; the job's final status commit flushes everything before it), and let the
    search index collect the chunk's entries in its pending list, merged once at the end of the job
    (``_flush_search_index``) instead of every 4 MB. Waiting for 40 flushes was ~9 s of a 1,000-file import."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SET LOCAL gin_pending_list_limit = '64MB'")


def _item_parsed(*, batch: TranscriptImport, item: TranscriptImportItem) -> ParsedTranscript:
    """The preview's parse of the staged file, or a new parse (an import previewed before the parse was
    kept). The staged file must still be there: it becomes the transcript's original."""
    storage, name = item.staged_file.storage, item.staged_file.name
    if not name or not storage.exists(name):
        raise OSError("The uploaded file is no longer available; upload it again.")
    if item.parsed is not None:
        try:
            return parsed_load(item.parsed)
        except ValueError:
            pass
    with item.staged_file.open("rb") as f:
        data = f.read()
    return parse_transcript(
        data, filename=item.filename, pseudonym=item.participant.pseudonym if item.participant else None,
        encoding=batch.encoding or None,
    )


def _reason(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc) or "Not allowed."


def _flush_search_index() -> None:
    """After a bulk import: fresh planner statistics for the tables it filled, and the GIN index's pending
    entries moved into the index proper, so the first searches neither misplan nor scan a long pending list
    (PostgreSQL only)."""
    tables_refresh_statistics(
        tables=[Transcript._meta.db_table, TranscriptTurn._meta.db_table, TranscriptImportItem._meta.db_table],
        gin_indexes=["transcripts_turn_search_gin"],
    )
