"""Corrections and redactions by a lead: replace a selection, find-and-replace-all, revert.

Each edit is one transaction: lock the transcript, check the version the lead saw (so two leads
cannot overwrite each other), apply the batch, re-anchor every registered anchored model
(speaker turns, codings, memos, quotes...), refresh the turns' text and search vectors, record a
versioned :class:`TranscriptEdit` with the old text (so it can be reverted) and an audit event.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import policy
from accounts.models import User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.transcripts.models import EditKind, Transcript, TranscriptEdit, TranscriptTurn
from analysis.transcripts.services.anchors import reanchor
from analysis.transcripts.services.transcripts import refresh_search
from analysis.transcripts.text import (
    Edit,
    EditError,
    EditMap,
    apply_edits,
    find_all,
    invert_edits,
    newline_offsets,
)
from participants.consent_rules import DataUse, data_use_allowed

MAX_REPLACEMENT = 500
MAX_OPS = 20000


class EditConflict(Exception):
    """The transcript changed since the lead loaded it."""


class TranscriptFrozen(EditConflict):
    """The participant withdrew with their data kept as it is: the transcript is read-only, like its
    coding (a 409 in the API, a message on the pages)."""


@dataclass
class EditResult:
    edit: TranscriptEdit
    transcript: Transcript


def _clean(s: str) -> str:
    return unicodedata.normalize("NFC", s.replace("\r\n", "\n").replace("\r", "\n"))


def _lock(*, actor: User, study_id: int, transcript_id: int, base_version: int | None) -> Transcript:
    visible = policy.filter_visible(
        user=actor, study=study_id, perm=Perm.TRANSCRIPT_EDIT,
        queryset=Transcript.objects.filter(study_id=study_id),
    )
    if not visible.filter(pk=transcript_id).exists():
        from django.http import Http404

        raise Http404("No such transcript.")
    transcript = Transcript.objects.select_for_update().select_related("participant").get(pk=transcript_id)
    if not data_use_allowed(participant=transcript.participant, use=DataUse.CODING):
        raise TranscriptFrozen(
            f"{transcript.participant.pseudonym}'s consent does not allow changes (for example, they withdrew and "
            "their data is kept as it is): this transcript is read-only."
        )
    if base_version is not None and transcript.version != base_version:
        raise EditConflict(
            f"The transcript was changed by someone else (it is now version {transcript.version}, "
            f"you were editing version {base_version}). Reload it and try again."
        )
    return transcript


def _apply(
    *, actor: User, transcript: Transcript, edits: list[Edit], kind: str, summary: str,
    reverts: TranscriptEdit | None = None, ip: str | None,
) -> EditResult:
    if not edits:
        raise ValidationError("Nothing to change.")
    if len(edits) > MAX_OPS:
        raise ValidationError(f"Too many changes at once ({len(edits)}); narrow the search term.")
    old_text = transcript.text
    try:
        edit_map = EditMap(edits, len(old_text))
    except EditError as exc:
        raise ValidationError(str(exc)) from exc
    ordered = edit_map.edits
    new_text = apply_edits(old_text, ordered)
    if not new_text.strip():
        raise ValidationError("An edit may not remove the whole transcript.")
    reports = reanchor(transcript_id=transcript.pk, edit_map=edit_map)
    # Speaker turns are anchored spans too: their text (and search vector) follows the new text.
    turn_report = reports.get(TranscriptTurn._meta.label)
    touched = set(turn_report.changed + turn_report.lost) if turn_report else set()
    turns = list(TranscriptTurn.objects.filter(transcript=transcript, pk__in=touched))
    for t in turns:
        t.text = new_text[t.start:t.end]
    TranscriptTurn.objects.bulk_update(turns, ["text"], batch_size=500)
    if kind == EditKind.REPLACE_ALL:
        _rename_speakers(transcript, ordered, old_text)
    refresh_search(transcript_id=transcript.pk, turn_ids=[t.pk for t in turns])
    transcript.text = new_text
    transcript.newlines = newline_offsets(new_text)
    transcript.version += 1
    transcript.edited_at = timezone.now()
    transcript.save(update_fields=["text", "newlines", "version", "edited_at"])
    edit = TranscriptEdit.objects.create(
        transcript=transcript, version=transcript.version, kind=kind, actor=actor, summary=summary[:300],
        ops=[[e.start, e.end, old_text[e.start:e.end], e.replacement] for e in ordered], reverts=reverts,
        report={label: r.as_dict() for label, r in reports.items()},
    )
    lost = {label: r.lost for label, r in reports.items() if r.lost}
    audit_record(
        actor=actor, action=f"transcript.{kind}", study=transcript.study, obj=transcript, ip=ip,
        # Counts and ids only: the summary quotes the removed words, which may be a participant's name.
        details={"version": transcript.version, "kind": kind, "changes": len(ordered), "edit": edit.pk,
                 "lost_anchors": lost},
    )
    return EditResult(edit=edit, transcript=transcript)


def _rename_speakers(transcript: Transcript, edits: list[Edit], old_text: str) -> None:
    """Find-and-replace-all also applies to speaker names, which live in the text's labels."""
    replacements = {old_text[e.start:e.end]: e.replacement for e in edits}
    for turn in TranscriptTurn.objects.filter(transcript=transcript):
        for old, new in replacements.items():
            if old and old in turn.speaker:
                turn.speaker = turn.speaker.replace(old, new)[:150]
                turn.save(update_fields=["speaker"])


@transaction.atomic
def transcript_replace(
    *, actor: User, study_id: int, transcript_id: int, start: int, end: int, expected: str,
    replacement: str, base_version: int, ip: str | None = None,
) -> EditResult:
    """Replace ``[start, end)`` (which must still read ``expected``) with ``replacement``."""
    transcript = _lock(actor=actor, study_id=study_id, transcript_id=transcript_id, base_version=base_version)
    replacement, expected = _clean(replacement), _clean(expected)
    if len(replacement) > MAX_REPLACEMENT:
        raise ValidationError(f"The replacement is too long (at most {MAX_REPLACEMENT} characters).")
    if not (0 <= start < end <= len(transcript.text)):
        raise ValidationError("Select some text of the transcript first.")
    if transcript.text[start:end] != expected:
        raise EditConflict("The selected text no longer matches the transcript. Reload it and select again.")
    if expected == replacement:
        raise ValidationError("The replacement is the same as the selected text.")
    summary = f"Replaced “{_short(expected)}” with “{_short(replacement)}”"
    return _apply(actor=actor, transcript=transcript, edits=[Edit(start, end, replacement)],
                  kind=EditKind.REPLACE, summary=summary, ip=ip)


def replace_all_preview(
    *, text: str, find: str, match_case: bool, whole_word: bool, limit: int = 10
) -> tuple[int, list[dict[str, Any]]]:
    spans = find_all(text, _clean(find), match_case=match_case, whole_word=whole_word)
    out = []
    for s, e in spans[:limit]:
        out.append({"start": s, "end": e, "before": text[max(0, s - 50):s], "match": text[s:e],
                    "after": text[e:e + 50]})
    return len(spans), out


@transaction.atomic
def transcript_replace_all(
    *, actor: User, study_id: int, transcript_id: int, find: str, replacement: str, match_case: bool = False,
    whole_word: bool = True, base_version: int, ip: str | None = None,
) -> EditResult:
    transcript = _lock(actor=actor, study_id=study_id, transcript_id=transcript_id, base_version=base_version)
    find, replacement = _clean(find), _clean(replacement)
    if not find.strip():
        raise ValidationError("Enter the text to find.")
    if len(replacement) > MAX_REPLACEMENT or len(find) > MAX_REPLACEMENT:
        raise ValidationError(f"Search and replacement text are limited to {MAX_REPLACEMENT} characters.")
    spans = find_all(transcript.text, find, match_case=match_case, whole_word=whole_word)
    edits = [Edit(s, e, replacement) for s, e in spans if transcript.text[s:e] != replacement]
    if not edits:
        raise ValidationError(f"“{_short(find)}” does not occur in this transcript.")
    summary = f"Replaced all {len(edits)} × “{_short(find)}” with “{_short(replacement)}”"
    return _apply(actor=actor, transcript=transcript, edits=edits, kind=EditKind.REPLACE_ALL, summary=summary, ip=ip)


@transaction.atomic
def transcript_edit_revert(
    *, actor: User, study_id: int, transcript_id: int, edit_id: int, base_version: int | None = None,
    ip: str | None = None,
) -> EditResult:
    """Undo one edit. Its replacements are followed through every later edit; if a later edit
    changed them, the revert is refused (revert the later edit first)."""
    transcript = _lock(actor=actor, study_id=study_id, transcript_id=transcript_id, base_version=base_version)
    target = TranscriptEdit.objects.filter(transcript=transcript, pk=edit_id).first()
    if target is None:
        from django.http import Http404

        raise Http404("No such edit.")
    if target.reverted_by.exists():
        raise ValidationError(f"Version {target.version} has already been reverted.")
    ops = [Edit(o[0], o[1], o[3]) for o in target.ops]
    inverse = invert_edits(ops, [o[2] for o in target.ops])
    later = TranscriptEdit.objects.filter(transcript=transcript, version__gt=target.version).order_by("version")
    for edit in later:
        emap = EditMap([Edit(o[0], o[1], o[3]) for o in edit.ops])
        moved = []
        for inv in inverse:
            m = emap.map_span(inv.start, inv.end)
            if m.status != "unchanged" or (inv.start == inv.end and emap.touches(inv.start - 1, inv.start + 1)):
                raise ValidationError(
                    f"Version {target.version} cannot be reverted on its own: version {edit.version} later "
                    "changed the same text. Revert that one first."
                )
            moved.append(Edit(m.start, m.end, inv.replacement))
        inverse = moved
    for inv, op in zip(inverse, target.ops, strict=True):
        if transcript.text[inv.start:inv.end] != op[3]:
            raise ValidationError(f"Version {target.version} cannot be reverted: its text has changed since.")
    summary = f"Reverted version {target.version} ({_short(target.summary, 200)})"
    return _apply(actor=actor, transcript=transcript, edits=inverse, kind=EditKind.REVERT, summary=summary,
                  reverts=target, ip=ip)


def _short(s: str, n: int = 60) -> str:
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"
