"""REFI-QDA project import: preview (the plan and every conflict), the lead's choices, then one job
that writes everything in one transaction.

The plan is computed twice from the same file: for the preview, and again in the job with the lead's
choices against the study as it is then (a code or participant added meanwhile is matched, not
duplicated). Transcripts keep the source's text (``interop.positions``): they never pass through the
transcript importers' normalisation, so every selection covers the characters it covered in the tool
that wrote it. Consent applies as everywhere: a transcript is added only for a participant whose
consent allows it (``participants.consent_rules``); the preview says who is blocked and why.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, models, transaction
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.colours import PALETTE
from analysis.coding.models import Assignment, Code, Coding, Memo
from analysis.transcripts.importers.base import ImportRefused, turns_from_lines
from analysis.transcripts.models import SpeakerRole, Transcript, TranscriptTurn
from analysis.transcripts.services.transcripts import consent_refusal, refresh_search
from analysis.transcripts.text import newline_offsets
from interop.models import ProjectImport, ProjectImportStatus
from interop.qdpx import ParsedProject, ProjectRefused, PSource, read_project
from jobs.models import Job
from jobs.services import JobError, job_create, job_progress, job_run
from participants.models import AttributeDefinition, AttributeKind, Participant
from participants.values import RESERVED_KEYS, ValueProblem, attribute_key, attribute_value, parse_pseudonym

log = logging.getLogger(__name__)
MAX_QDPX_BYTES = 1024 * 1024 * 1024
MAX_ERRORS_SHOWN = 50
_GROUP_NAMES = ("group", "participant group", "participant_group", "participant type", "role group")
_SITE_NAMES = ("site", "trust", "location", "centre", "center")
_KINDS = {"Integer": AttributeKind.NUMBER, "Float": AttributeKind.NUMBER, "Date": AttributeKind.DATE,
          "DateTime": AttributeKind.TEXT, "Boolean": AttributeKind.TEXT, "Text": AttributeKind.TEXT}


def _refusal(exc: Exception | list[str]) -> ValidationError:
    messages = exc if isinstance(exc, list) else [str(exc)]
    shown = messages[:MAX_ERRORS_SHOWN]
    if len(messages) > len(shown):
        shown.append(f"… and {len(messages) - len(shown)} more problems.")
    return ValidationError(["Nothing was imported: the project has problems.", *shown]
                           if isinstance(exc, list) else shown)


def _read(data: bytes, progress: Any = None) -> ParsedProject:
    if len(data) > MAX_QDPX_BYTES:
        raise ValidationError(f"The file is larger than {MAX_QDPX_BYTES // (1024 * 1024)} MB.")
    try:
        project = read_project(data, progress=progress)
    except ProjectRefused as exc:
        raise _refusal(exc) from None
    if project.errors:
        raise _refusal(project.errors)
    if not project.sources and not project.codes:
        raise ValidationError("The project has neither text sources nor codes: there is nothing to import.")
    return project


# The plan -------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What an import will do, as JSON for the preview (``as_dict``) and as objects for the write."""

    users: list[dict[str, Any]] = field(default_factory=list)
    variables: list[dict[str, str]] = field(default_factory=list)
    group_variable: str = ""
    site_variable: str = ""
    default_group: str = ""
    groups_new: list[str] = field(default_factory=list)
    sites_new: list[str] = field(default_factory=list)
    attributes_new: list[str] = field(default_factory=list)
    codes_new: int = 0
    code_conflicts: list[dict[str, Any]] = field(default_factory=list)
    participants: list[dict[str, Any]] = field(default_factory=list)
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    conversions: list[dict[str, Any]] = field(default_factory=list)
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    memos: int = 0
    assignments: list[dict[str, Any]] = field(default_factory=list)
    sets_ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    codings: int = 0
    codings_blocked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _default_variable(variables: list[dict[str, str]], names: tuple[str, ...]) -> str:
    for v in variables:
        if _norm(v["name"]) in names:
            return v["guid"]
    return ""


def _participant_name(project: ParsedProject, src: PSource, case_of: dict[str, Any]) -> tuple[str, dict[str, str]]:
    case = case_of.get(src.guid)
    if case is not None and case.name:
        return case.name, {**src.values, **case.values}
    name = re.sub(r"\.(txt|docx|rtf|pdf)$", "", src.name, flags=re.IGNORECASE).strip()
    return name, dict(src.values)


def _members(study: Study) -> list[Membership]:
    return list(Membership.objects.filter(study=study, role__in=(Role.LEAD, Role.CODER)).select_related("user")
                .order_by("user__full_name", "user__email"))


def _default_user_choice(name: str, members: list[Membership]) -> str:
    n = _norm(name)
    for m in members:
        u = m.user
        if n and n in {_norm(u.full_name), u.email.lower(), u.email.split("@")[0].lower()}:
            return f"member:{u.pk}"
    return "new"


def plan_build(*, project: ParsedProject, study: Study, membership: Membership,
               choices: dict[str, Any] | None = None) -> Plan:
    """The import's plan against the study as it is now, with the lead's choices (defaults where
    they have not chosen)."""
    choices = choices or {}
    plan = Plan(warnings=list(project.warnings))
    members = _members(study)
    # People: who coded or wrote what, and which member (or new placeholder coder) they become.
    work: Counter[str] = Counter()
    for src in project.sources:
        for sel in src.selections:
            for _, user, _ in sel.code_refs:
                if user:
                    work[user] += 1
    for g, person in project.users.items():
        choice = (choices.get("users") or {}).get(g) or _default_user_choice(person.name, members)
        plan.users.append({"guid": g, "name": person.name, "codings": work[g], "choice": choice,
                           "placeholder_name": (choices.get("user_names") or {}).get(g) or person.name})
    plan.users.sort(key=lambda u: (-u["codings"], u["name"].lower()))
    # Variables: the lead picks the group and the site variables; the others become attributes.
    plan.variables = [{"guid": v.guid, "name": v.name, "type": v.kind} for v in project.variables.values()]
    plan.group_variable = choices.get("group_variable", _default_variable(plan.variables, _GROUP_NAMES))
    plan.site_variable = choices.get("site_variable", _default_variable(plan.variables, _SITE_NAMES))
    groups = list(ParticipantGroup.objects.filter(study=study))
    plan.default_group = choices.get("default_group") or (groups[0].key if groups else "")
    _plan_codes(plan, project, study, choices)
    _plan_participants(plan, project, study, membership, groups, choices)
    _plan_work(plan, project)
    return plan


def _code_key(path: list[str]) -> tuple[str, ...]:
    return tuple(p.lower() for p in path)


def _plan_codes(plan: Plan, project: ParsedProject, study: Study, choices: dict[str, Any]) -> None:
    existing: list[dict[str, Any]] = [dict(c) for c in Code.objects.filter(study=study).values(
        "id", "parent_id", "name", "guid")]
    by_id = {c["id"]: c for c in existing}

    def path_of(c: dict[str, Any]) -> tuple[str, ...]:
        out: list[str] = []
        while c is not None:
            out.append(c["name"].lower())
            c = by_id.get(c["parent_id"])  # type: ignore[assignment]
        return tuple(reversed(out))

    by_path = {path_of(c): c for c in existing}
    by_guid = {str(c["guid"]).lower(): c for c in existing}
    code_choices = choices.get("codes") or {}
    for code in project.codes:
        match = by_guid.get(code.guid) or by_path.get(_code_key(code.path))
        if match is None:
            plan.codes_new += 1
            continue
        choice = code_choices.get(code.guid, "existing")
        plan.code_conflicts.append({"guid": code.guid, "path": code.path, "choice": choice,
                                    "matched_by": "the same code" if by_guid.get(code.guid) else "the same name"})
        if choice == "new":
            plan.codes_new += 1


def _plan_participants(plan: Plan, project: ParsedProject, study: Study, membership: Membership,
                       groups: list[ParticipantGroup], choices: dict[str, Any]) -> None:
    case_of = {g: case for case in project.cases for g in case.source_guids}
    existing = {p.pseudonym.lower(): p for p in Participant.objects.filter(study=study).select_related("group", "site")}
    sites = {s.name.lower(): s for s in Site.objects.filter(study=study)}
    group_by = {**{g.key.lower(): g for g in groups}, **{g.label.lower(): g for g in groups}}
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(study=study)}
    participant_choices = choices.get("participants") or {}
    transcript_choices = choices.get("transcripts") or {}
    variables = project.variables
    seen: dict[str, dict[str, Any]] = {}
    texts: dict[int, set[str]] = {}
    for pid, sha in Transcript.objects.filter(study=study).values_list("participant_id", "original_sha256"):
        texts.setdefault(pid, set()).add(sha)
    # Cases without a source still become participants (attributes only).
    units: list[tuple[str, dict[str, str], PSource | None]] = []
    for src in project.sources:
        name, values = _participant_name(project, src, case_of)
        units.append((name, values, src))
    for case in project.cases:
        if case.name and not case.source_guids:
            units.append((case.name, case.values, None))
    for name, values, unit_source in units:
        key = name.lower()
        row = seen.get(key)
        if row is None:
            row = _participant_row(plan, name, values, variables, existing, sites, group_by, definitions,
                                   membership, participant_choices)
            seen[key] = row
            plan.participants.append(row)
        if unit_source is None:
            continue
        src = unit_source
        t = {"guid": src.guid, "name": src.name, "participant": name, "characters": len(src.text),
             "codings": sum(len(s.code_refs) for s in src.selections), "action": "create", "reason": "",
             "conflict": "", "choice": ""}
        if row["blocked"]:
            t["action"], t["reason"] = "blocked", row["blocked"]
        elif row["participant_id"]:
            p = existing[key]
            refusal = consent_refusal(p)
            if refusal:
                t["action"], t["reason"] = "blocked", refusal
            elif p.pk in texts:
                same = hashlib.sha256(src.text.encode()).hexdigest() in texts[p.pk]
                t["conflict"] = ("already has this transcript (the same text)" if same
                                 else "already has a transcript")
                t["choice"] = transcript_choices.get(src.guid, "skip" if same else "add")
                if t["choice"] == "skip":
                    t["action"], t["reason"] = "skip", "you chose to keep the study's transcript only"
        else:
            t["action"], t["reason"] = "blocked", (
                f"{name} is new to the study and has no consent recorded yet: the participant is created "
                "now; record their consent, then import the project again to add the transcript."
            )
        plan.transcripts.append(t)


def _participant_row(plan: Plan, name: str, values: dict[str, str], variables: dict[str, Any],
                     existing: dict[str, Participant], sites: dict[str, Site],
                     group_by: dict[str, ParticipantGroup], definitions: dict[str, AttributeDefinition],
                     membership: Membership, participant_choices: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"pseudonym": name, "participant_id": None, "group": "", "site": "",
                           "attributes": {}, "action": "create", "choice": "", "blocked": ""}
    try:
        parse_pseudonym(name)
    except ValueProblem as exc:
        row["action"], row["blocked"] = "blocked", f"{exc} Rename the case in the tool that wrote the project."
        return row
    group_value = values.get(plan.group_variable, "").strip() if plan.group_variable else ""
    site_value = values.get(plan.site_variable, "").strip() if plan.site_variable else ""
    for g, value in values.items():
        if g in (plan.group_variable, plan.site_variable) or g not in variables or not value:
            continue
        var = variables[g]
        key = attribute_key(var.name)
        if not key or key in RESERVED_KEYS:
            continue
        definition = definitions.get(key)
        kind = definition.kind if definition else _KINDS.get(var.kind, AttributeKind.TEXT)
        probe = definition or AttributeDefinition(key=key, label=var.name[:100], kind=kind)
        try:
            stored = attribute_value(probe, value)
        except ValueProblem as exc:
            plan.warnings.append(f"{name}: {exc} (left out)")
            continue
        row["attributes"][key] = stored
        if definition is None and key not in plan.attributes_new:
            plan.attributes_new.append(key)
    p = existing.get(name.lower())
    if p is not None:
        row["participant_id"] = p.pk
        row["action"] = "existing"
        row["group"], row["site"] = p.group.label, p.site.name if p.site else ""
        row["choice"] = participant_choices.get(name.lower(), "fill")
        if not policy.in_scope(membership=membership, site_id=p.site_id, group_id=p.group_id):
            row["action"], row["blocked"] = "blocked", f"{p.pseudonym} is outside your part of the study (scope)."
        return row
    group = group_by.get(group_value.lower()) if group_value else None
    if group is None and group_value:
        if group_value not in plan.groups_new:
            plan.groups_new.append(group_value[:100])
        row["group"] = group_value[:100]
    else:
        chosen = group or group_by.get(plan.default_group.lower())
        row["group"] = chosen.label if chosen else plan.default_group
    if site_value:
        site = sites.get(site_value.lower())
        row["site"] = site.name if site else site_value[:200]
        if site is None and site_value[:200] not in plan.sites_new:
            plan.sites_new.append(site_value[:200])
    scoped_sites, scoped_groups = policy._scope_ids(membership)
    if scoped_sites or scoped_groups:
        site_ok = not scoped_sites or (site_value.lower() in sites and sites[site_value.lower()].pk in scoped_sites)
        grp = group or group_by.get((group_value or plan.default_group).lower())
        group_ok = not scoped_groups or (grp is not None and grp.pk in scoped_groups)
        if not (site_ok and group_ok):
            row["action"], row["blocked"] = "blocked", f"{name} would be outside your part of the study (scope)."
    return row


def _plan_work(plan: Plan, project: ParsedProject) -> None:
    """Codings, memos, conversions and unplaced selections, per transcript that will be added."""
    action = {t["guid"]: t["action"] for t in plan.transcripts}
    conversions: dict[str, list[str]] = defaultdict(list)
    for src in project.sources:
        for c in src.conversions:
            conversions[c].append(src.name)
        adding = action.get(src.guid) == "create"
        for sel in src.selections:
            if sel.problem or (sel.code_refs and sel.e is not None and sel.s == sel.e):
                width = max(1, sel.end - sel.start)
                if sel.hint:
                    text = sel.hint
                elif sel.s is not None:  # the text from the end that can be placed, about as long
                    text = src.text[sel.s:sel.e if sel.e is not None else sel.s + width]
                elif sel.e is not None:
                    text = src.text[max(0, sel.e - width):sel.e]
                else:
                    text = ""
                reason = {"inside": "a position falls inside a character (for example between the two halves "
                                    "of an emoji, or inside a line end)",
                          "text": "the quoted text differs from the text at these positions"}.get(
                    sel.problem, "the selection is empty")
                plan.unplaced.append({"source": src.name, "line": sel.line, "text": text[:300], "reason": reason,
                                      "codings": len(sel.code_refs)})
                continue
            if adding:
                plan.codings += len(sel.code_refs)
                plan.memos += len(sel.note_guids)
            else:
                plan.codings_blocked += len(sel.code_refs)
        if adding:
            plan.memos += len(src.note_guids)
    plan.memos += sum(len(c.note_guids) for c in project.codes) + len(project.project_note_guids)
    plan.conversions = [{"message": m, "sources": names} for m, names in conversions.items()]
    _plan_sets(plan, project, action)


def _plan_sets(plan: Plan, project: ParsedProject, action: dict[str, str]) -> None:
    by_guid = {s.guid: s for s in project.sources}
    chosen = {u["guid"]: u["choice"] if u["choice"] != "new" else f"new:{u['guid']}" for u in plan.users}
    names = {u["guid"]: u["name"] for u in plan.users}
    for pset in project.sets:
        paired = 0
        for g in pset.source_guids:
            src = by_guid.get(g)
            if src is None or action.get(g) != "create":
                continue
            coders = {chosen.get(u or "", "") for sel in src.selections for _, u, _ in sel.code_refs if u}
            coders.discard("")
            if len(coders) == 2:
                users = sorted({u for sel in src.selections for _, u, _ in sel.code_refs if u},
                               key=lambda x: names.get(x, ""))
                plan.assignments.append({"set": pset.name, "source": src.guid, "name": src.name,
                                         "coders": [names.get(u, "") for u in users], "user_guids": users})
                paired += 1
        if not paired:
            plan.sets_ignored.append(pset.name)


# Preview, choices, run --------------------------------------------------------------------------------


def project_import_get(*, user: Any, study_id: int, import_id: int) -> ProjectImport:
    qs = ProjectImport.objects.filter(study_id=study_id, created_by=user)
    membership = policy.membership_require(user=user, study_id=study_id, perm=Perm.PROJECT_IMPORT)
    obj = qs.filter(pk=import_id).select_related("job").first() if 0 < int(import_id) <= policy.MAX_ID else None
    if obj is None or membership is None:
        raise Http404("No such import.")
    return obj


@transaction.atomic
def project_import_preview(*, actor: User, study_id: int, filename: str, data: bytes,
                           ip: str | None = None) -> ProjectImport:
    """Read and check the file; refused files are not stored (ValidationError naming every problem)."""
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.PROJECT_IMPORT)
    if not data:
        raise ValidationError("Choose a .qdpx file.")
    project = _read(data)
    plan = plan_build(project=project, study=membership.study, membership=membership)
    shown_name = (filename or "").replace("\x00", "").strip() or "project.qdpx"
    record = ProjectImport(study=membership.study, created_by=actor, filename=shown_name[:255],
                           size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                           preview={"project": project.name, "origin": project.origin, **plan.as_dict()})
    record.staged_file.save("project", ContentFile(data), save=False)
    record.save()
    audit_record(actor=actor, action="project.import_preview", study=membership.study, obj=record, ip=ip,
                 details={"sources": len(project.sources), "codes": len(project.codes),
                          "selections": project.selection_count})
    return record


@transaction.atomic
def project_import_new_study(*, actor: User, name: str, filename: str, data: bytes,
                             ip: str | None = None) -> ProjectImport:
    """A new study made to receive a project, in one step: the study (its creator becomes its lead, the role
    that imports and analyses) and the project's preview in it. A project that is refused leaves no study
    behind (one transaction). The import then goes on as in any study: choices, start, a job."""
    from accounts.services import study_create

    if not data:
        raise ValidationError("Choose a .qdpx file.")
    study = study_create(actor=actor, name=name, role=Role.LEAD, ip=ip,
                         details={"from_project": (filename or "").replace("\x00", "")[:255]})
    return project_import_preview(actor=actor, study_id=study.pk, filename=filename, data=data, ip=ip)


def _clean_choices(raw: dict[str, Any], record: ProjectImport, study: Study) -> dict[str, Any]:
    """The lead's choices, checked against the preview: unknown keys and values are refused."""
    preview = record.preview
    if not isinstance(raw, dict):
        raise ValidationError("Choices must be an object.")
    member_ids = {f"member:{m.user_id}" for m in _members(study)}
    out: dict[str, Any] = {"users": {}, "user_names": {}, "codes": {}, "participants": {}, "transcripts": {}}
    user_guids = {u["guid"] for u in preview.get("users", [])}
    for g, v in (raw.get("users") or {}).items():
        if g not in user_guids or not isinstance(v, str) or (v != "new" and v not in member_ids):
            raise ValidationError("Choose a member or “new placeholder coder” for each person in the project.")
        out["users"][g] = v
    for g, v in (raw.get("user_names") or {}).items():
        if g not in user_guids or not isinstance(v, str) or "\x00" in v or not v.strip() or len(v) > 150:
            raise ValidationError("A placeholder coder's name must be 1 to 150 characters.")
        out["user_names"][g] = v.strip()
    variable_guids = {v["guid"] for v in preview.get("variables", [])} | {""}
    for key in ("group_variable", "site_variable"):
        if key in raw:
            if raw[key] not in variable_guids:
                raise ValidationError("Choose one of the project's variables (or none).")
            out[key] = raw[key]
    if out.get("group_variable") and out.get("group_variable") == out.get("site_variable"):
        raise ValidationError("The group and the site cannot come from the same variable.")
    if "default_group" in raw:
        keys = set(ParticipantGroup.objects.filter(study=study).values_list("key", flat=True))
        if raw["default_group"] not in keys:
            raise ValidationError("Choose one of the study's participant groups.")
        out["default_group"] = raw["default_group"]
    # Keys must be ones the preview showed (GUIDs, pseudonyms): nothing else is stored.
    known = {"codes": {c["guid"] for c in preview.get("code_conflicts", [])},
             "participants": {p["pseudonym"].lower() for p in preview.get("participants", [])},
             "transcripts": {t["guid"] for t in preview.get("transcripts", [])}}
    allowed = {"codes": ("existing", "new"), "participants": ("keep", "fill"), "transcripts": ("skip", "add")}
    for section, values in allowed.items():
        for k, v in (raw.get(section) or {}).items():
            if k not in known[section] or v not in values:
                raise ValidationError(f"Unknown choice for {section}: choose one of {', '.join(values)} for an "
                                      "item the preview shows.")
            out[section][k] = v
    return out


@transaction.atomic
def project_import_choose(*, actor: User, study_id: int, import_id: int, choices: dict[str, Any]) -> ProjectImport:
    """Record the lead's choices and recompute the preview with them."""
    record = project_import_get(user=actor, study_id=study_id, import_id=import_id)
    record = ProjectImport.objects.select_for_update().get(pk=record.pk)
    if record.status != ProjectImportStatus.PREVIEW:
        raise ValidationError("This import has already started or was cancelled.")
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.PROJECT_IMPORT)
    clean = _clean_choices(choices, record, membership.study)
    if not record.staged_file:
        raise ValidationError("The uploaded file is no longer here: upload the project again.")
    merged = {**record.choices}
    for k, v in clean.items():
        merged[k] = {**merged.get(k, {}), **v} if isinstance(v, dict) else v
    with record.staged_file.open("rb") as f:
        project = _read(f.read())
    plan = plan_build(project=project, study=membership.study, membership=membership, choices=merged)
    record.choices = merged
    record.preview = {"project": project.name, "origin": project.origin, **plan.as_dict()}
    record.save(update_fields=["choices", "preview"])
    return record


@transaction.atomic
def project_import_start(*, actor: User, study_id: int, import_id: int, ip: str | None = None) -> ProjectImport:
    record = project_import_get(user=actor, study_id=study_id, import_id=import_id)
    record = ProjectImport.objects.select_for_update().get(pk=record.pk)
    if record.status != ProjectImportStatus.PREVIEW:
        raise ValidationError("This import has already started or was cancelled.")
    job = job_create(study=record.study, kind="project_import", created_by=actor, perm=Perm.PROJECT_IMPORT,
                     params={"import": record.pk}, task="interop.project_import")
    record.job, record.status = job, ProjectImportStatus.QUEUED
    record.save(update_fields=["job", "status"])
    audit_record(actor=actor, action="project.import_start", study=record.study, obj=record, ip=ip,
                 details={"job": job.pk})
    return record


@transaction.atomic
def project_import_cancel(*, actor: User, study_id: int, import_id: int, ip: str | None = None) -> None:
    record = project_import_get(user=actor, study_id=study_id, import_id=import_id)
    record = ProjectImport.objects.select_for_update().get(pk=record.pk)
    if record.status != ProjectImportStatus.PREVIEW:
        raise ValidationError("Only an import waiting for your choices can be cancelled.")
    record.status = ProjectImportStatus.CANCELLED
    record.save(update_fields=["status"])
    _drop_file(record)
    audit_record(actor=actor, action="project.import_cancel", study=record.study, obj=record, ip=ip)


def _drop_file(record: ProjectImport) -> None:
    name, storage = record.staged_file.name, record.staged_file.storage
    if name:
        ProjectImport.objects.filter(pk=record.pk).update(staged_file="")
        transaction.on_commit(lambda: storage.delete(name))


def project_import_run(*, job_id: int) -> Job | None:
    def work(job: Job) -> dict[str, Any]:
        record = ProjectImport.objects.select_related("study", "created_by").get(pk=job.params["import"])
        actor = record.created_by
        membership = policy.membership_get(user=actor, study_id=record.study_id)
        if membership is None or not policy.role_allows(membership.role, Perm.PROJECT_IMPORT):
            raise JobError("You no longer have permission to import projects into this study.")
        with record.staged_file.open("rb") as f:
            data = f.read()
        total = 1
        try:
            project = _read(data, progress=lambda i, n: job_progress(job_id=job.pk, done=i, total=2 * n + 1))
        except ValidationError as exc:
            raise JobError(" ".join(exc.messages)) from None
        total = 2 * len(project.sources) + 1
        job_progress(job_id=job.pk, done=len(project.sources), total=total)
        try:
            with transaction.atomic():
                result = _write(project=project, record=record, actor=actor, membership=membership, job=job)
        except (ValidationError, ImportRefused) as exc:
            ProjectImport.objects.filter(pk=record.pk).update(status=ProjectImportStatus.FAILED)
            raise JobError("Nothing was imported: " + " ".join(getattr(exc, "messages", [str(exc)]))) from None
        return result

    return job_run(job_id=job_id, work=work)


# The write -------------------------------------------------------------------------------------------


def _write(*, project: ParsedProject, record: ProjectImport, actor: User, membership: Membership,
           job: Job) -> dict[str, Any]:
    study = Study.objects.select_for_update().get(pk=record.study_id)  # one import at a time per study
    plan = plan_build(project=project, study=study, membership=membership, choices=record.choices)
    users = _write_users(plan, study)
    groups = {g.label.lower(): g for g in ParticipantGroup.objects.filter(study=study)}
    groups.update({g.key.lower(): g for g in groups.values()})
    for label in plan.groups_new:
        key = attribute_key(label)[:50] or f"group_{len(groups) + 1}"
        g, _ = ParticipantGroup.objects.get_or_create(study=study, key=key,
                                                      defaults={"label": label[:100], "position": len(groups)})
        groups[label.lower()] = g
    sites = {s.name.lower(): s for s in Site.objects.filter(study=study)}
    for name in plan.sites_new:
        sites[name.lower()] = Site.objects.create(study=study, name=name)
    var_by_key = {attribute_key(v.name): v for v in project.variables.values()}
    position = AttributeDefinition.objects.filter(study=study).count()
    for i, key in enumerate(plan.attributes_new):
        var = var_by_key[key]
        AttributeDefinition.objects.create(study=study, key=key, label=var.name[:100],
                                           kind=_KINDS.get(var.kind, AttributeKind.TEXT), position=position + i)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 2)
        clock = now

    participants = _write_participants(plan, study, actor, groups, sites)
    codes = _write_codes(plan, project, study, actor)
    lap("people, participants and codes")
    transcripts = _write_transcripts(plan, project, study, actor, participants, job)
    lap("transcripts and turns")
    n_codings, coding_of_selection = _write_codings(project, study, transcripts, codes, users, actor)
    lap("codings")
    n_memos = _write_memos(project, study, transcripts, codes, coding_of_selection, users, actor)
    n_assignments = _write_assignments(plan, study, transcripts, users, actor)
    refresh_search_many(list(transcripts.values()))
    lap("memos, double coding and search vectors")
    # Where a large import spends its time, for operators (the job itself shows counts only).
    log.info("project import %s into study %s: %s", record.pk, study.pk, timings)
    for t in transcripts.values():
        audit_record(actor=actor, action="transcript.import", study=study, obj=t,
                     details={"participant": t.participant.pseudonym, "format": "qdpx", "via": "project import",
                              "characters": len(t.text)})
    result = {
        "Participants created": sum(1 for p in plan.participants if p["action"] == "create"),
        "Transcripts added": len(transcripts),
        "Transcripts not added": sum(1 for t in plan.transcripts if t["action"] in ("blocked", "skip")),
        "Codes created": plan.codes_new,
        "Codings added": n_codings,
        "Selections not placed": len(plan.unplaced),
        "Memos added": n_memos,
        "Double codings": n_assignments,
        "Placeholder coders": sum(1 for u in plan.users if u["choice"] == "new" and u["codings"]),
    }
    ProjectImport.objects.filter(pk=record.pk).update(status=ProjectImportStatus.DONE, result=result)
    _drop_file(record)
    audit_record(actor=actor, action="project.import", study=study, obj=record,
                 details={**result, "conversions": [c["message"] for c in plan.conversions]})
    job_progress(job_id=job.pk, done=2 * len(project.sources) + 1)
    return result


def insert_rows(model: type[models.Model], fields: list[str], rows: list[tuple[Any, ...]], *,
                returning: bool = False) -> list[int]:
    """Insert many rows at once; with ``returning`` their new ids, in order. On PostgreSQL this is
    COPY with ids drawn from the table's sequence first (the ORM's bulk_create spent most of a large
    import building SQL); elsewhere bulk_create. Values are already in column form (ids, not objects)."""
    if not rows:
        return []
    columns: list[str] = [str(model._meta.get_field(f).column) for f in fields]  # type: ignore[union-attr]
    table = model._meta.db_table
    if connection.vendor != "postgresql":
        objs = [model(**{model._meta.get_field(f).attname: v for f, v in zip(fields, row, strict=True)})  # type: ignore[union-attr]
                for row in rows]
        model.objects.bulk_create(objs, batch_size=1000)  # type: ignore[attr-defined]
        return [o.pk for o in objs] if returning else []
    ids: list[int] = []
    with connection.cursor() as cur:
        if returning:
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        [table, len(rows)])
            ids = [r[0] for r in cur.fetchall()]
            columns = ["id", *columns]
            rows = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with cur.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return ids


def refresh_search_many(transcripts: list[Transcript]) -> None:
    """The full-text vectors of every imported transcript's turns, in one statement on PostgreSQL
    (the same expression as ``refresh_search``)."""
    if connection.vendor != "postgresql" or not transcripts:
        for t in transcripts:
            refresh_search(transcript_id=t.pk)
        return
    with connection.cursor() as cur:
        cur.execute("UPDATE transcripts_transcriptturn SET search = to_tsvector('english', text) "
                    "WHERE transcript_id = ANY(%s)", [[t.pk for t in transcripts]])


def _write_users(plan: Plan, study: Study) -> dict[str, User]:
    """Project user GUID → Chorus user. A placeholder coder is an account that cannot sign in (no
    password, inactive), a coder of this study, so their codings keep a named author."""
    out: dict[str, User] = {}
    member_users = {f"member:{m.user_id}": m.user for m in _members(study)}
    for u in plan.users:
        if u["choice"] != "new":
            out[u["guid"]] = member_users[u["choice"]]
            continue
        if not u["codings"]:
            continue  # nobody to name: notes by them are written by the importing lead
        user = User.objects.create_user(email=f"placeholder-{uuid.uuid4().hex}@placeholder.invalid",
                                        full_name=u["placeholder_name"][:150], is_active=False)
        Membership.objects.create(user=user, study=study, role=Role.CODER)
        out[u["guid"]] = user
    return out


def _write_participants(plan: Plan, study: Study, actor: User, groups: dict[str, ParticipantGroup],
                        sites: dict[str, Site]) -> dict[str, Participant]:
    out: dict[str, Participant] = {}
    existing = {p.pseudonym.lower(): p for p in Participant.objects.filter(study=study).select_for_update()}
    new: list[Participant] = []
    for row in plan.participants:
        key = row["pseudonym"].lower()
        if row["action"] == "existing":
            p = existing[key]
            if row["choice"] == "fill":
                filled = {**row["attributes"], **(p.attributes or {})}
                if filled != p.attributes:
                    Participant.objects.filter(pk=p.pk).update(attributes=filled)
                    p.attributes = filled
            out[key] = p
        elif row["action"] == "create":
            group = groups.get(row["group"].lower())
            if group is None:
                raise ValidationError(f"{row['pseudonym']}: no participant group “{row['group']}”.")
            p = Participant(study=study, pseudonym=row["pseudonym"], group=group,
                            site=sites.get(row["site"].lower()) if row["site"] else None,
                            attributes=row["attributes"], created_by=actor)
            new.append(p)
            out[key] = p
    Participant.objects.bulk_create(new, batch_size=500)
    if new and new[0].pk is None:  # backends that do not return ids
        ids = dict(Participant.objects.filter(study=study).annotate(k=Lower("pseudonym")).values_list("k", "pk"))
        for p in new:
            p.pk = ids[p.pseudonym.lower()]
    return out


def _write_codes(plan: Plan, project: ParsedProject, study: Study, actor: User) -> dict[str, Code]:
    """Project code GUID → code. Parents before children (document order); a path's parent that the
    file names only in ``A::B`` is created as a grouping code."""
    choice = {c["guid"]: c["choice"] for c in plan.code_conflicts}
    existing = list(Code.objects.filter(study=study))
    by_guid = {str(c.guid).lower(): c for c in existing}
    children: dict[tuple[int | None, str], Code] = {(c.parent_id, c.name.lower()): c for c in existing}
    by_project: dict[str, Code] = {}
    positions: Counter[int | None] = Counter(c.parent_id for c in existing)
    palette = iter(PALETTE * (len(project.codes) // len(PALETTE) + 2))

    def ensure(parent: Code | None, name: str) -> Code:
        key = (parent.pk if parent else None, name.lower())
        found = children.get(key)
        if found is None:
            found = Code.objects.create(study=study, parent=parent, name=name, is_codable=False,
                                        colour=next(palette), position=positions[key[0]],
                                        created_by=actor, updated_by=actor)
            positions[key[0]] += 1
            children[key] = found
        return found

    for pc in project.codes:
        parent: Code | None = by_project.get(pc.parent_guid) if pc.parent_guid else None
        if pc.parent_guid is None:
            for part in pc.path[:-1]:
                parent = ensure(parent, part)
        match = by_guid.get(pc.guid) or children.get((parent.pk if parent else None, pc.name.lower()))
        if match is not None and choice.get(pc.guid, "existing") == "existing":
            by_project[pc.guid] = match
            continue
        name = pc.name
        if match is not None:  # "import as a new code": a sibling with a distinct name
            n = 2
            while (parent.pk if parent else None, f"{pc.name} (imported {n})".lower()) in children:
                n += 1
            name = f"{pc.name} (imported {n})"[:200]
        from interop.qdc import description_parse

        fields = description_parse(pc.description)
        guid = uuid.UUID(pc.guid) if pc.guid not in by_guid else uuid.uuid4()
        key = (parent.pk if parent else None, name.lower())
        code = Code.objects.create(
            study=study, parent=parent, name=name, guid=guid, colour=pc.colour or next(palette),
            is_codable=pc.is_codable, position=positions[key[0]], created_by=actor, updated_by=actor, **fields,
        )
        positions[key[0]] += 1
        children[key] = code
        by_project[pc.guid] = code
    return by_project


def _write_transcripts(plan: Plan, project: ParsedProject, study: Study, actor: User,
                       participants: dict[str, Participant], job: Job) -> dict[str, Transcript]:
    out: dict[str, Transcript] = {}
    sources = {s.guid: s for s in project.sources}
    counts: Counter[int] = Counter(dict(
        (pid, n) for pid, n in Counter(Transcript.objects.filter(study=study).values_list("participant_id", flat=True)).items()
    ))
    done = len(project.sources)
    for t in plan.transcripts:
        done += 1
        if t["action"] != "create":
            continue
        src = sources[t["guid"]]
        p = participants[t["participant"].lower()]
        parsed = turns_from_lines(src.text, fmt="qdpx", encoding="utf-8", pseudonym=p.pseudonym)
        counts[p.pk] += 1
        attrs = p.attributes or {}
        title = f"Interview {p.pseudonym}" + (f" ({counts[p.pk]})" if counts[p.pk] > 1 else "")
        transcript = Transcript.objects.create(
            study=study, participant=p, text=src.text, newlines=newline_offsets(src.text), title=title,
            source_format="qdpx",
            source_encoding="utf-8", original_name=src.name[:255],
            original_sha256=hashlib.sha256(src.text.encode()).hexdigest(), original_size=src.raw_bytes,
            interview_mode=str(attrs.get("interview_mode") or "")[:50], interview_date=p.interview_date,
            imported_by=actor,
        )
        insert_rows(TranscriptTurn, ["transcript", "study", "index", "speaker", "role", "start", "end", "text"], [
            (transcript.pk, study.pk, i, turn.speaker[:150],
             turn.role if turn.role in SpeakerRole.values else SpeakerRole.OTHER, turn.start, turn.end,
             src.text[turn.start:turn.end])
            for i, turn in enumerate(parsed.turns)
        ])
        out[src.guid] = transcript
        if done % 10 == 0:
            job_progress(job_id=job.pk, done=done)
    return out


def _write_codings(project: ParsedProject, study: Study, transcripts: dict[str, Transcript],
                   codes: dict[str, Code], users: dict[str, User],
                   actor: User) -> tuple[int, dict[str, int]]:
    """Codings in one insert; returns how many, and the first coding id of each selection that has
    notes (their memos attach to it)."""
    rows: list[tuple[str, tuple[Any, ...]]] = []
    seen: set[tuple[int, int, int, int, int]] = set()
    now = timezone.now()
    for src in project.sources:
        t = transcripts.get(src.guid)
        if t is None:
            continue
        for sel in src.selections:
            if sel.problem or sel.s is None or sel.e is None or sel.e <= sel.s:
                continue
            for code_guid, user_guid, _ in sel.code_refs:
                coder = users.get(user_guid or "") or actor
                code = codes[code_guid]
                key = (t.pk, code.pk, coder.pk, sel.s, sel.e)
                if key in seen:
                    continue
                seen.add(key)
                rows.append((sel.guid, (study.pk, t.pk, code.pk, coder.pk, sel.s, sel.e, False,
                                        sel.description[:10000], 1, now, now)))
    ids = insert_rows(Coding, ["study", "transcript", "code", "coder", "start", "end", "lost", "memo", "version",
                               "created_at", "updated_at"], [r for _, r in rows], returning=True)
    noted = {sel.guid for src in project.sources for sel in src.selections if sel.note_guids}
    first: dict[str, int] = {}
    for (g, _), pk in zip(rows, ids, strict=True):
        if g in noted and g not in first:
            first[g] = pk
    return len(rows), first


def _write_memos(project: ParsedProject, study: Study, transcripts: dict[str, Transcript], codes: dict[str, Code],
                 coding_of: dict[str, int], users: dict[str, User], actor: User) -> int:
    memos: list[Memo] = []

    def memo(note_guid: str, **target: Any) -> None:
        note = project.notes.get(note_guid)
        if note is None:
            return
        author = users.get(note.user_guid or "") or actor
        memos.append(Memo(study=study, author=author, title=note.name[:200] or "Note", body=note.text, **target))

    for g in project.project_note_guids:
        memo(g)
    for pc in project.codes:
        for g in pc.note_guids:
            memo(g, code=codes.get(pc.guid))
    referenced = set(project.project_note_guids) | {g for c in project.codes for g in c.note_guids}
    for src in project.sources:
        t = transcripts.get(src.guid)
        referenced |= set(src.note_guids) | {g for s in src.selections for g in s.note_guids}
        if t is None:
            continue
        for g in src.note_guids:
            memo(g, transcript=t)
        for sel in src.selections:
            coding_id = coding_of.get(sel.guid)
            for g in sel.note_guids:
                memo(g, transcript=t, coding_id=coding_id)
            if not sel.code_refs and sel.description:  # a memo written on a selection (MAXQDA, ATLAS.ti)
                memos.append(Memo(study=study, transcript=t, author=users.get(sel.user_guid or "") or actor,
                                  title=f"Memo on “{src.text[sel.s or 0:sel.e or 0][:60]}”",
                                  body=sel.description))
    for g in project.notes:  # notes nothing points at: memos on the study
        if g not in referenced:
            memo(g)
    Memo.objects.bulk_create(memos, batch_size=1000)
    return len(memos)


def _write_assignments(plan: Plan, study: Study, transcripts: dict[str, Transcript], users: dict[str, User],
                       actor: User) -> int:
    from django.utils import timezone

    taken = set(Assignment.objects.filter(study=study).values_list("transcript_id", flat=True))
    n = 0
    for a in plan.assignments:
        t = transcripts.get(a["source"])
        if t is None or t.pk in taken:
            continue
        coders = [users[g] for g in a["user_guids"] if g in users]
        if len(coders) != 2 or coders[0].pk == coders[1].pk:
            continue
        now = timezone.now()
        # Both coded it in the other tool: the double coding is complete, so agreement can be read.
        Assignment.objects.create(study=study, transcript=t, coder_a=coders[0], coder_b=coders[1], done_a=now,
                                  done_b=now, created_by=actor)
        taken.add(t.pk)
        n += 1
    return n
