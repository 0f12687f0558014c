"""REFI-QDA project export (``.qdpx``) of a study or a selection of it, as a job.

What goes in: participants in the exporter's scope whose consent allows archiving
(``DataUse.ARCHIVING``: the archiving item, never after a withdrawal) as cases with their group,
site and attributes as variables; their transcripts as text sources (UTF-8, code point positions);
codings as selections; memos as notes; double codings as sets; the codebook with hierarchy, colours
and descriptions. What never goes in: identifiable fields (name, contact), consent records, internal
ids. The document is validated against the official schema before it is written (a failure is a
bug, not the user's). GUIDs are stable for a study: a code keeps its own, the rest are derived from
the study and the row, so two exports of the same study agree.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import uuid
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from lxml import etree

from accounts import policy
from accounts.models import Study, User
from accounts.policy import Perm
from accounts.services import audit_record
from analysis.coding.models import Assignment, Code, Coding, Memo
from analysis.transcripts.models import Transcript
from interop.qdc import description_compose
from jobs.models import Job
from jobs.services import JobError, job_attach_file, job_create, job_progress, job_run
from jobs.xlsx import xml_clean
from participants.consent_rules import DataUse, data_use_allowed
from participants.models import AttributeDefinition, AttributeKind, ConsentState, Participant

PROJECT_NS = "urn:QDA-XML:project:1.0"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "Project-mrt2019.xsd"
_NS_GUID = uuid.UUID("6c0f2a52-3d1e-4f5a-9a63-0c1b2d3e4f50")  # Chorus's namespace for derived GUIDs


class ExportInvalidError(RuntimeError):
    """The export does not validate against the REFI-QDA schema (a bug, never user input)."""


@dataclass
class Selection:
    site_ids: list[int]
    group_ids: list[int]
    code_ids: list[int]
    coder_ids: list[int]

    def as_dict(self) -> dict[str, list[int]]:
        return {"sites": self.site_ids, "groups": self.group_ids, "codes": self.code_ids, "coders": self.coder_ids}


def selection_clean(*, study_id: int, sites: Any = None, groups: Any = None, codes: Any = None,
                    coders: Any = None) -> Selection:
    """Ids from a form or the API, each checked to belong to the study (empty list = all)."""
    from accounts.models import Membership, ParticipantGroup, Site

    def ids(value: Any, what: str, valid: set[int]) -> list[int]:
        if value in (None, ""):
            return []
        if not isinstance(value, list | tuple):
            raise ValidationError(f"{what}: give a list of ids.")
        out = []
        for v in value:
            try:
                i = int(v)
            except (TypeError, ValueError):
                raise ValidationError(f"{what}: “{str(v)[:20]}” is not an id.") from None
            if i not in valid:
                raise ValidationError(f"{what}: {i} is not one of this study's.")
            out.append(i)
        return sorted(set(out))

    return Selection(
        ids(sites, "Sites", set(Site.objects.filter(study_id=study_id).values_list("pk", flat=True))),
        ids(groups, "Groups", set(ParticipantGroup.objects.filter(study_id=study_id).values_list("pk", flat=True))),
        ids(codes, "Codes", set(Code.objects.filter(study_id=study_id).values_list("pk", flat=True))),
        ids(coders, "Coders", set(Membership.objects.filter(study_id=study_id).values_list("user_id", flat=True))),
    )


def exclusion_reason(p: Participant) -> str | None:
    """Why a participant is left out of an archive export, or None when they are included."""
    if data_use_allowed(participant=p, use=DataUse.ARCHIVING):
        return None
    state = p.consent_state
    if p.purged_at is not None or state == ConsentState.WITHDRAWN_DELETE:
        return "withdrew and asked for their data to be deleted"
    if state == ConsentState.WITHDRAWN_RETAIN:
        return "withdrew from the study (data kept for the analysis, but never archived or shared)"
    if state == ConsentState.NONE:
        return "has no consent recorded"
    if (p.consent_answers or {}).get("data_archiving") is not True:
        return "did not consent to archiving"
    return "did not consent to transcription"


def _participants(*, user: User, study_id: int, sel: Selection) -> list[Participant]:
    qs = Participant.objects.filter(study_id=study_id).select_related("group", "site")
    if sel.site_ids:
        qs = qs.filter(site_id__in=sel.site_ids)
    if sel.group_ids:
        qs = qs.filter(group_id__in=sel.group_ids)
    return list(policy.filter_visible(user=user, study=study_id, perm=Perm.PROJECT_EXPORT, queryset=qs))


def _codes(study_id: int, sel: Selection) -> list[Code]:
    """The chosen codes with their descendants, and their ancestors (so the hierarchy holds)."""
    codes = list(Code.objects.filter(study_id=study_id).order_by("position", "id"))
    if not sel.code_ids:
        return codes
    by_id = {c.pk: c for c in codes}
    children: dict[int | None, list[Code]] = defaultdict(list)
    for c in codes:
        children[c.parent_id].append(c)
    keep: set[int] = set()
    stack = list(sel.code_ids)
    while stack:
        i = stack.pop()
        if i not in keep:
            keep.add(i)
            stack.extend(c.pk for c in children[i])
    for i in list(keep):
        parent = by_id[i].parent_id
        while parent is not None and parent not in keep:
            keep.add(parent)
            parent = by_id[parent].parent_id
    return [c for c in codes if c.pk in keep]


def project_export_preview(*, actor: User, study_id: int, sel: Selection) -> dict[str, Any]:
    """Who and what an export would carry, and who is left out and why."""
    policy.membership_require(user=actor, study_id=study_id, perm=Perm.PROJECT_EXPORT)
    participants = _participants(user=actor, study_id=study_id, sel=sel)
    included = [p for p in participants if exclusion_reason(p) is None]
    excluded = [{"pseudonym": p.pseudonym, "group": p.group.label, "reason": exclusion_reason(p)}
                for p in participants if exclusion_reason(p) is not None]
    transcripts = Transcript.objects.filter(study_id=study_id, participant__in=included)
    codes = _codes(study_id, sel)
    codings = Coding.objects.filter(study_id=study_id, transcript__in=transcripts, code__in=codes, lost=False)
    if sel.coder_ids:
        codings = codings.filter(coder_id__in=sel.coder_ids)
    return {"participants": len(included), "excluded": excluded, "transcripts": transcripts.count(),
            "codes": len(codes), "codings": codings.count()}


@transaction.atomic
def project_export_start(*, actor: User, study_id: int, sel: Selection, ip: str | None = None) -> Job:
    membership = policy.membership_require(user=actor, study_id=study_id, perm=Perm.PROJECT_EXPORT)
    preview = project_export_preview(actor=actor, study_id=study_id, sel=sel)
    job = job_create(study=membership.study, kind="project_export", created_by=actor, perm=Perm.PROJECT_EXPORT,
                     params={"selection": sel.as_dict()}, task="interop.project_export")
    audit_record(actor=actor, action="project.export", study=membership.study, obj=job, ip=ip,
                 details={"selection": sel.as_dict(), "participants": preview["participants"],
                          "transcripts": preview["transcripts"], "codings": preview["codings"],
                          "excluded": [e["pseudonym"] for e in preview["excluded"]]})
    return job


def project_export_run(*, job_id: int) -> Job | None:
    def work(job: Job) -> dict[str, Any]:
        actor = job.created_by
        if not policy.has_perm(user=actor, study=job.study_id, perm=Perm.PROJECT_EXPORT):
            raise JobError("You no longer have permission to export this study.")
        s = job.params["selection"]
        sel = Selection(s["sites"], s["groups"], s["codes"], s["coders"])
        data, counts = project_export_build(actor=actor, study=job.study, sel=sel, job_id=job.pk)
        job_attach_file(job=job, name=f"chorus-study-{job.study_id}-{timezone.now():%Y%m%d}.qdpx", content=data)
        return counts

    return job_run(job_id=job_id, work=work)


# Building the document --------------------------------------------------------------------------------


def _guid(study_id: int, kind: str, pk: Any) -> str:
    return str(uuid.uuid5(_NS_GUID, f"{study_id}:{kind}:{pk}")).upper()


def _q(tag: str) -> str:
    return f"{{{PROJECT_NS}}}{tag}"


@lru_cache(maxsize=4096)
def _when_cached(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: dt.datetime | None) -> str:
    # Cached: an imported study's codings share a handful of timestamps.
    return _when_cached(value or timezone.now())


_VAR_TYPES = {AttributeKind.NUMBER: "Float", AttributeKind.DATE: "Date"}
_VALUE_TAGS = {"Float": "FloatValue", "Date": "DateValue", "Text": "TextValue"}


def _el(tag: str, **attrib: str) -> etree._Element:
    return etree.Element(_q(tag), attrib, nsmap={None: PROJECT_NS})


def project_export_build(*, actor: User, study: Study, sel: Selection, job_id: int | None = None) -> tuple[bytes, dict[str, int]]:
    """The ``.qdpx`` bytes and what they contain.

    Streamed: ``project.qde`` is written element by element to a temporary file (one transcript's
    selections in memory at a time), validated against the schema while it is read back
    incrementally, and the text sources go straight into the zip, so memory stays flat with the
    size of the study (a 1,000-interview study built as one tree took over 3 GB)."""
    sid = study.pk
    participants = [p for p in _participants(user=actor, study_id=sid, sel=sel) if exclusion_reason(p) is None]
    codes = _codes(sid, sel)
    code_ids = {c.pk for c in codes}
    transcripts = list(Transcript.objects.filter(study_id=sid, participant__in=participants)
                       .select_related("participant").defer("text", "newlines").order_by("participant__pseudonym", "id"))
    t_ids = [t.pk for t in transcripts]
    codings_q = Q(study_id=sid, code_id__in=code_ids, lost=False)
    if sel.coder_ids:
        codings_q &= Q(coder_id__in=sel.coder_ids)
    coder_ids: set[int] = set()
    for i in range(0, len(t_ids), 500):  # chunks: SQLite limits the number of query parameters
        coder_ids |= set(Coding.objects.filter(codings_q, transcript_id__in=t_ids[i:i + 500])
                         .values_list("coder_id", flat=True).distinct())
    coding_memo_ids = set(Memo.objects.filter(study_id=sid, coding__isnull=False)
                          .values_list("coding_id", flat=True))
    kept_codings = set()
    for i in range(0, len(t_ids), 500):
        kept_codings |= set(Coding.objects.filter(codings_q, transcript_id__in=t_ids[i:i + 500],
                                                  pk__in=coding_memo_ids).values_list("pk", flat=True))
    t_set = set(t_ids)
    memos = [m for m in Memo.objects.filter(study_id=sid).order_by("created_at", "id")
             if (m.coding_id is None or m.coding_id in kept_codings)
             and (m.transcript_id is None or m.transcript_id in t_set)
             and (m.code_id is None or m.code_id in code_ids)]
    assignments = [a for a in Assignment.objects.filter(study_id=sid, transcript_id__in=t_ids)
                   if not sel.coder_ids or {a.coder_a_id, a.coder_b_id} <= set(sel.coder_ids)]
    users = {u.pk: u for u in User.objects.filter(pk__in=coder_ids | {m.author_id for m in memos} | {actor.pk})}
    user_guid = {pk: _guid(sid, "user", pk) for pk in users}
    memos_by: dict[tuple[str, int | None], list[Memo]] = defaultdict(list)
    for m in memos:
        memo_key: tuple[str, int | None] = ("coding", m.coding_id) if m.coding_id else ("code", m.code_id) if m.code_id else (
            "transcript", m.transcript_id) if m.transcript_id else ("study", None)
        memos_by[memo_key].append(m)

    def note_refs(el: etree._Element, key: tuple[str, int | None]) -> None:
        for m in memos_by.get(key, []):
            etree.SubElement(el, _q("NoteRef"), targetGUID=_guid(sid, "memo", m.pk))

    counts = {"Participants": len(participants), "Transcripts": len(transcripts), "Codes": len(codes),
              "Codings": 0, "Memos": len(memos), "Double codings": len(assignments)}
    archive = io.BytesIO()
    with tempfile.TemporaryFile() as qde, zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        with etree.xmlfile(qde, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(_q("Project"), nsmap={None: PROJECT_NS}, name=xml_clean(study.name) or "Chorus study",
                            origin="Chorus", creatingUserGUID=user_guid[actor.pk], creationDateTime=_when(None)):
                xusers = _el("Users")
                for u in sorted(users.values(), key=lambda u: (u.display_name.lower(), u.pk)):
                    etree.SubElement(xusers, _q("User"), guid=user_guid[u.pk], name=xml_clean(u.display_name))
                xf.write(xusers)
                if codes:
                    xf.write(_codebook(codes, code_ids, note_refs))
                by_participant: dict[int, list[Transcript]] = defaultdict(list)
                for t in transcripts:
                    by_participant[t.participant_id].append(t)
                if participants:
                    for el in _cases(sid, participants, by_participant):
                        xf.write(el)
                code_guid = {c.pk: str(c.guid).upper() for c in codes}
                q_selection, q_coding, q_ref = _q("PlainTextSelection"), _q("Coding"), _q("CodeRef")
                if transcripts:
                    with xf.element(_q("Sources")):
                        for i, t in enumerate(transcripts):
                            g = _guid(sid, "transcript", t.pk)
                            name = (t.participant.pseudonym if len(by_participant[t.participant_id]) == 1
                                    else t.title or t.participant.pseudonym)
                            xs = _el("TextSource", guid=g, name=xml_clean(name), plainTextPath=f"internal://{g}.txt",
                                     creatingUser=user_guid.get(t.imported_by_id, user_guid[actor.pk]),
                                     creationDateTime=_when(t.imported_at))
                            text = Transcript.objects.filter(pk=t.pk).values_list("text", flat=True).get()
                            z.writestr(f"sources/{g}.txt", text.encode("utf-8"))
                            rows = Coding.objects.filter(codings_q, transcript_id=t.pk).order_by(
                                "start", "end", "id").values_list("pk", "code_id", "coder_id", "start", "end", "memo",
                                                                  "created_at")
                            for pk, code_id, coder_id, start, end, memo, created_at in rows:
                                when = _when(created_at)
                                sel_el = etree.SubElement(xs, q_selection, guid=_guid(sid, "coding", pk),
                                                          startPosition=str(start), endPosition=str(end),
                                                          creatingUser=user_guid[coder_id], creationDateTime=when)
                                if memo:
                                    etree.SubElement(sel_el, _q("Description")).text = xml_clean(memo)
                                coding_el = etree.SubElement(sel_el, q_coding, guid=_guid(sid, "coding-ref", pk),
                                                             creatingUser=user_guid[coder_id], creationDateTime=when)
                                etree.SubElement(coding_el, q_ref, targetGUID=code_guid[code_id])
                                note_refs(sel_el, ("coding", pk))
                                counts["Codings"] += 1
                            note_refs(xs, ("transcript", t.pk))
                            xf.write(xs)
                            if job_id and i % 10 == 0:
                                job_progress(job_id=job_id, done=i, total=len(transcripts) + 1)
                if memos:
                    xnotes = _el("Notes")
                    for m in memos:
                        xn = etree.SubElement(xnotes, _q("Note"), guid=_guid(sid, "memo", m.pk), name=xml_clean(m.title),
                                              creatingUser=user_guid[m.author_id], creationDateTime=_when(m.created_at))
                        etree.SubElement(xn, _q("PlainTextContent")).text = xml_clean(m.body)
                    xf.write(xnotes)
                if assignments:
                    xsets = _el("Sets")
                    for a in assignments:
                        names = " and ".join(sorted(users[u].display_name if u in users else "a coder"
                                                    for u in (a.coder_a_id, a.coder_b_id)))
                        xset = etree.SubElement(xsets, _q("Set"), guid=_guid(sid, "assignment", a.pk),
                                                name=xml_clean(f"Double coding: {names}"))
                        etree.SubElement(xset, _q("MemberSource"), targetGUID=_guid(sid, "transcript", a.transcript_id))
                    xf.write(xsets)
                for m in memos_by.get(("study", None), []):
                    xf.write(_el("NoteRef", targetGUID=_guid(sid, "memo", m.pk)))
        qde.seek(0)
        errors = project_validate(qde)
        if errors:
            raise ExportInvalidError("; ".join(errors[:5]))
        qde.seek(0)
        with z.open("project.qde", "w") as dst:
            shutil.copyfileobj(qde, dst, 1 << 20)
    return archive.getvalue(), counts


def _codebook(codes: list[Code], code_ids: set[int], note_refs: Any) -> etree._Element:
    book = _el("CodeBook")
    xcodes = etree.SubElement(book, _q("Codes"))
    children: dict[int | None, list[Code]] = defaultdict(list)
    for c in codes:
        children[c.parent_id if c.parent_id in code_ids else None].append(c)

    def add_code(container: etree._Element, c: Code) -> None:
        el = etree.SubElement(container, _q("Code"), guid=str(c.guid).upper(), name=xml_clean(c.name),
                              isCodable="true" if c.is_codable else "false", color=c.colour.upper())
        text = description_compose(c)
        if text:
            etree.SubElement(el, _q("Description")).text = xml_clean(text)
        note_refs(el, ("code", c.pk))
        for child in children[c.pk]:
            add_code(el, child)

    for c in children[None]:
        add_code(xcodes, c)
    return book


def _cases(sid: int, participants: list[Participant], by_participant: dict[int, list[Transcript]]) -> list[etree._Element]:
    definitions = list(AttributeDefinition.objects.filter(study_id=sid).order_by("position", "id"))
    variables = [("group", "Group", "Text"), ("site", "Site", "Text")] + [
        (d.key, d.label, _VAR_TYPES.get(AttributeKind(d.kind), "Text")) for d in definitions]
    xvars = _el("Variables")
    for key, label, kind in variables:
        etree.SubElement(xvars, _q("Variable"), guid=_guid(sid, "variable", key), name=xml_clean(label),
                         typeOfVariable=kind)
    xcases = _el("Cases")
    for p in sorted(participants, key=lambda p: p.pseudonym.lower()):
        xc = etree.SubElement(xcases, _q("Case"), guid=_guid(sid, "participant", p.pk), name=xml_clean(p.pseudonym))
        values = {"group": p.group.label, "site": p.site.name if p.site else None, **(p.attributes or {})}
        for key, _, kind in variables:
            value = values.get(key)
            if value is None or value == "":
                continue
            vv = etree.SubElement(xc, _q("VariableValue"))
            etree.SubElement(vv, _q("VariableRef"), targetGUID=_guid(sid, "variable", key))
            etree.SubElement(vv, _q(_VALUE_TAGS[kind])).text = xml_clean(str(value))
        for t in by_participant[p.pk]:
            etree.SubElement(xc, _q("SourceRef"), targetGUID=_guid(sid, "transcript", t.pk))
    return [xvars, xcases]


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


def project_validate(data: bytes | IO[bytes]) -> list[str]:
    """Schema errors of a project document (empty when valid), read incrementally: elements are
    freed as they are validated, so a large export is checked without holding its tree."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        for _, el in etree.iterparse(source, events=("end",), schema=_schema(), resolve_entities=False,
                                     no_network=True, load_dtd=False, huge_tree=True):
            if el.getparent() is not None and el.getparent().getparent() is not None:
                el.clear()
                while el.getprevious() is not None:
                    del el.getparent()[0]
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.msg}"]
    return []
