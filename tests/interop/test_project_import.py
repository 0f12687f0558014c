"""Importing a REFI-QDA project: people, codes, participants, transcripts with exact offsets, codings,
memos, double coding; consent; the preview's conflicts and choices."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from accounts.models import AuditEvent, Membership
from analysis.coding.models import Code, Coding
from analysis.transcripts.models import Transcript
from interop.models import ProjectImport, ProjectImportStatus
from interop.services import imports
from jobs.models import Job, JobStatus
from participants.models import ConsentState, Participant

from .conftest import add_participants, source_texts

pytestmark = pytest.mark.django_db


def _run(cast: Any, data: bytes, choices: dict[str, Any] | None = None) -> ProjectImport:
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="study.qdpx", data=data)
    if choices:
        record = imports.project_import_choose(actor=lead, study_id=cast.study.pk, import_id=record.pk, choices=choices)
    record = imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    record.refresh_from_db()
    return record


def _selections(data: bytes) -> list[tuple[str, int, int, str, str]]:
    """(source file, start, end, code guid, user guid) of every coding in a generated project."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(z.read("project.qde"))
    ns = {"q": "urn:QDA-XML:project:1.0"}
    out = []
    for src in root.iterfind(".//q:TextSource", ns):
        path = "sources/" + src.get("plainTextPath").removeprefix("internal://")
        for sel in src.iterfind("q:PlainTextSelection", ns):
            for ref in sel.iterfind("q:Coding/q:CodeRef", ns):
                out.append((path, int(sel.get("startPosition")), int(sel.get("endPosition")), ref.get("targetGUID"),
                            sel.get("creatingUser")))
    return out


def test_generated_study_imports_with_every_selection_on_its_text(cast: Any, generated: Path,
                                                                  django_capture_on_commit_callbacks: Any) -> None:
    add_participants(cast, generated)
    data = (generated / "study.qdpx").read_bytes()
    record = imports.project_import_preview(actor=cast.users["lead"], study_id=cast.study.pk,
                                            filename="study.qdpx", data=data)
    preview = record.preview
    assert {u["name"] for u in preview["users"]} == {"coder_a", "coder_b"}
    assert all(u["choice"] == "new" for u in preview["users"])
    names = {v["guid"]: v["name"] for v in preview["variables"]}
    assert names[preview["group_variable"]] == "group" and names[preview["site_variable"]] == "site"
    assert all(t["action"] == "create" for t in preview["transcripts"])
    assert preview["unplaced"] == [] and preview["conversions"] == []
    selections = _selections(data)
    assert preview["codings"] == len(selections)

    with django_capture_on_commit_callbacks(execute=True):
        record = imports.project_import_start(actor=cast.users["lead"], study_id=cast.study.pk, import_id=record.pk)
    record.refresh_from_db()
    job = Job.objects.get(pk=record.job_id)
    assert job.status == JobStatus.DONE, job.error
    assert record.status == ProjectImportStatus.DONE and not record.staged_file
    texts = source_texts(data)
    by_name = {t.original_name: t for t in Transcript.objects.filter(study=cast.study)}
    assert len(by_name) == 6
    # Offsets are exact: the stored text is the source's, and every coding covers the source's characters.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(z.read("project.qde"))
    path_of = {s.get("name"): "sources/" + s.get("plainTextPath").removeprefix("internal://")
               for s in root.iter("{urn:QDA-XML:project:1.0}TextSource")}
    for name, t in by_name.items():
        assert t.text == texts[path_of[name]]
    codings = list(Coding.objects.filter(study=cast.study).select_related("transcript", "code", "coder"))
    assert len(codings) == len({(s[0], s[1], s[2], s[3], s[4]) for s in selections})
    expected = sorted((texts[p][s:e], g.lower()) for p, s, e, g, _ in selections)
    got = sorted((c.transcript.text[c.start:c.end], str(c.code.guid)) for c in codings)
    assert got == expected
    coders = {c.coder.full_name for c in codings}
    assert coders == {"coder_a", "coder_b"}
    placeholder = Membership.objects.get(study=cast.study, user__full_name="coder_a")
    assert placeholder.role == "coder" and not placeholder.user.is_active
    # Codes keep their hierarchy and descriptions; attributes arrive.
    child = Code.objects.get(study=cast.study, name="Loss of non-verbal cues")
    assert child.parent.name == "Therapeutic relationship" and child.description
    p = Participant.objects.filter(study=cast.study).first()
    assert {"age_band", "gender", "interview_mode"} <= set(p.attributes)
    assert AuditEvent.objects.filter(action="project.import", study=cast.study).exists()
