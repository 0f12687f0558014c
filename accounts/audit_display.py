"""The audit log as people read it: each event's object by its name (with a link where the reader
may follow one) and its details as labelled fields, instead of model labels and raw dicts.

The audit trail itself stays exactly as recorded (append-only JSON); this module only reads it.
Objects of other apps are looked up through the app registry, so accounts does not import them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from . import policy
from .models import AuditEvent
from .policy import Perm

# Fields longer than this (characters, all values together) are folded behind a summary.
FOLD_CHARS = 240
MAX_VALUE_CHARS = 2_000

_LABELS = {
    "sha256": "SHA-256", "ip": "IP address", "pseudonym": "Participant", "via": "Through",
    "state_before": "Consent before", "state_after": "Consent after", "error_rows": "Rows with errors",
    "purge_jobs": "Deletion jobs", "form_version": "Form version", "withdrawal_scope": "Withdrawal",
    "new_account": "New account", "kind": "Kind", "rows": "Rows", "events": "Events recorded",
}
_TYPE_NAMES = {
    "accounts.study": "Study", "accounts.site": "Site", "accounts.membership": "Membership",
    "accounts.user": "Account", "participants.participant": "Participant",
    "participants.consentevent": "Consent event", "participants.consentform": "Consent form",
    "participants.importbatch": "CSV import", "participants.attributedefinition": "Attribute",
    "participants.samplingtarget": "Sampling target", "transcripts.transcript": "Transcript",
    "transcripts.importbatch": "Transcript upload", "transcripts.transcriptset": "Transcript set", "coding.code": "Code", "coding.coding": "Coding",
    "coding.assignment": "Double-coding assignment", "coding.disagreement": "Disagreement", "jobs.job": "Job",
}
_RELATED = {
    "transcripts.transcript": ("participant",), "coding.assignment": ("transcript__participant",),
    "accounts.membership": ("user",), "participants.consentevent": ("participant",),
}
_ACTION_OBJECTS = {"participants.import": "Participant import", "consent.import": "Consent import",
                   "sampling.update": "Sampling targets"}


@dataclass
class Field:
    label: str
    value: str = ""
    items: list[str] = field(default_factory=list)


@dataclass
class AuditRow:
    event: AuditEvent
    object_label: str
    object_url: str
    fields: list[Field]
    folded: bool
    summary: str


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " ").capitalize())


def _scalar(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    text = str(value).replace("_", " ") if isinstance(value, str) and value.isidentifier() else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _inline(value: Any) -> str:
    """A nested value on one line: ``key: value; key: value`` for a dict, commas for a list."""
    if isinstance(value, dict):
        return "; ".join(f"{_label(str(k))}: {_inline(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_inline(v) for v in value) or "none"
    return _scalar(value)


def _fields(details: Any, *, spans: dict[str, str]) -> list[Field]:
    if not isinstance(details, dict):
        return [Field("Details", _scalar(details))] if details else []
    out: list[Field] = []
    for key, value in details.items():
        key = str(key)
        if key in ("start", "end") and "span" in spans:
            continue  # shown once as lines of the transcript, below
        if key == "transcript" and "transcript" in spans:
            out.append(Field("Transcript", spans["transcript"]))
            if "span" in spans:
                out.append(Field("Where", spans["span"]))
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append(Field(_label(key), items=[_inline(v) for v in value[:200]]
                             + ([f"… and {len(value) - 200} more"] if len(value) > 200 else [])))
        elif isinstance(value, (dict, list)):
            out.append(Field(_label(key), _inline(value)))
        else:
            out.append(Field(_label(key), _scalar(value)))
    return out


def _model(label: str) -> Any:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit() and 0 < int(v) < 2**63]


def audit_rows(*, user: Any, study_id: int, events: list[AuditEvent]) -> list[AuditRow]:
    """Display rows for one page of events (a few queries per object type, not per event)."""
    policy.membership_require(user=user, study_id=study_id, perm=Perm.AUDIT_VIEW)
    perms = policy.perms_for(user=user, study=study_id)
    wanted: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.object_type and e.object_id:
            wanted[e.object_type].append(e.object_id)
        if isinstance(e.details, dict) and isinstance(e.details.get("transcript"), int):
            wanted["transcripts.transcript"].append(str(e.details["transcript"]))
    found: dict[str, dict[str, tuple[str, str]]] = {}
    texts: dict[int, str] = {}
    for object_type, raw_ids in wanted.items():
        model = _model(object_type)
        ids = _ids(raw_ids)
        if model is None or not ids:
            continue
        qs = model._default_manager.filter(pk__in=ids)
        if object_type in _RELATED:
            qs = qs.select_related(*_RELATED[object_type])
        if hasattr(model, "study_id") or any(f.name == "study" for f in model._meta.fields):
            qs = qs.filter(study_id=study_id)
        found[object_type] = {}
        for obj in qs:
            label, url = _describe(object_type, obj, study_id=study_id, perms=perms, user=user)
            found[object_type][str(obj.pk)] = (label, url)
            if object_type == "transcripts.transcript":
                texts[obj.pk] = obj.text
    rows = []
    for e in events:
        object_label, object_url = "", ""
        if e.object_type:
            hit = found.get(e.object_type, {}).get(e.object_id)
            if hit:
                object_label, object_url = hit
            else:
                name = _ACTION_OBJECTS.get(e.action) or _TYPE_NAMES.get(e.object_type) or _label(e.object_type.split(".")[-1])
                gone = " (no longer exists)" if e.object_id else ""
                object_label = f"{name}{gone}" if e.object_type in _TYPE_NAMES or e.action in _ACTION_OBJECTS else name
                if e.action in _ACTION_OBJECTS and isinstance(e.details, dict) and e.details.get("filename"):
                    object_label = f"{_ACTION_OBJECTS[e.action]}: {e.details['filename']}"
        spans: dict[str, str] = {}
        d = e.details if isinstance(e.details, dict) else {}
        tid = d.get("transcript")
        if isinstance(tid, int) and str(tid) in found.get("transcripts.transcript", {}):
            spans["transcript"] = found["transcripts.transcript"][str(tid)][0]
            s, t_end = d.get("start"), d.get("end")
            if isinstance(s, int) and isinstance(t_end, int) and tid in texts:
                text = texts[tid]
                first = text.count("\n", 0, max(0, s)) + 1
                last = first + text.count("\n", max(0, s), max(s, t_end - 1))
                quote = text[s:t_end].replace("\n", " ")
                quote = quote if len(quote) <= 80 else quote[:79] + "…"
                spans["span"] = (f"line {first}" if first == last else f"lines {first}–{last}") + f": “{quote}”"
        fields = _fields(e.details, spans=spans)
        size = sum(len(f.value) + sum(len(i) for i in f.items) for f in fields)
        folded = size > FOLD_CHARS or len(fields) > 6 or any(len(f.items) > 3 for f in fields)
        summary = ", ".join(f.label for f in fields[:4]) + ("…" if len(fields) > 4 else "")
        rows.append(AuditRow(e, object_label, object_url, fields, folded, summary))
    return rows


def _url(name: str, **kwargs: Any) -> str:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


def _describe(object_type: str, obj: Any, *, study_id: int, perms: frozenset[Perm], user: Any) -> tuple[str, str]:
    """A readable name for an audited object, and a link when the reader may open it."""
    if object_type == "participants.participant":
        url = _url("participant-detail", study_id=study_id, participant_id=obj.pk) if not obj.purged_at else ""
        return f"Participant {obj.pseudonym}", url
    if object_type == "transcripts.transcript":
        pseudonym = obj.participant.pseudonym
        title = obj.title or pseudonym
        name = f"Transcript {title}" if title == pseudonym else f"Transcript {title} ({pseudonym})"
        return name, _url("transcript-detail", study_id=study_id, transcript_id=obj.pk)
    if object_type == "transcripts.transcriptset":
        return f"Transcript set “{obj.name}”", _url("transcript-set-detail", study_id=study_id, set_id=obj.pk)
    if object_type == "coding.code":
        return f"Code “{obj.name}”", _url("code-detail", study_id=study_id, code_id=obj.pk)
    if object_type == "coding.assignment":
        return (f"Double coding of {obj.transcript.participant.pseudonym}",
                _url("coding-disagreements", study_id=study_id, transcript_id=obj.transcript_id))
    if object_type == "accounts.membership":
        url = _url("member-edit", study_id=study_id, membership_id=obj.pk) if Perm.MEMBER_MANAGE in perms else ""
        return f"Membership of {obj.user.email}", url
    if object_type == "accounts.site":
        return f"Site {obj.name}", ""
    if object_type == "accounts.study":
        return f"Study “{obj.name}”", _url("study-detail", study_id=study_id)
    if object_type == "participants.consentform":
        return f"Consent form version {obj.version}", _url("consent-form-list", study_id=study_id)
    if object_type == "participants.consentevent":
        return (f"Consent event of {obj.participant.pseudonym}",
                _url("participant-detail", study_id=study_id, participant_id=obj.participant_id))
    if object_type == "transcripts.importbatch":
        return "Transcript upload", _url("transcript-import", study_id=study_id, batch_id=obj.pk)
    if object_type == "jobs.job":
        # Jobs are private to who started them: link only the reader's own.
        url = _url("job-detail", study_id=study_id, job_id=obj.pk) if obj.created_by_id == user.pk else ""
        return f"Job: {obj.label}", url
    return _TYPE_NAMES.get(object_type, _label(object_type.split(".")[-1])), ""

