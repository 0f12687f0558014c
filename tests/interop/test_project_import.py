"""Importing a REFI-QDA project: people, codes, participants, transcripts with exact offsets, codings,
memos, double coding; consent; the preview's conflicts and choices."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
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
    assert names[preview["group_variable"]] == "group"
    assert names[preview["site_variable"]] == "site"
    assert all(t["action"] == "create" for t in preview["transcripts"])
    assert preview["unplaced"] == []
    assert preview["conversions"] == []
    selections = _selections(data)
    assert preview["codings"] == len(selections)

    with django_capture_on_commit_callbacks(execute=True):
        record = imports.project_import_start(actor=cast.users["lead"], study_id=cast.study.pk, import_id=record.pk)
    record.refresh_from_db()
    job = Job.objects.get(pk=record.job_id)
    assert job.status == JobStatus.DONE, job.error
    assert record.status == ProjectImportStatus.DONE
    assert not record.staged_file
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
    assert placeholder.role == "coder"
    assert not placeholder.user.is_active
    # Codes keep their hierarchy and descriptions; attributes arrive.
    child = Code.objects.get(study=cast.study, name="Loss of non-verbal cues")
    assert child.parent.name == "Therapeutic relationship"
    assert child.description
    p = Participant.objects.filter(study=cast.study).first()
    assert {"age_band", "gender", "interview_mode"} <= set(p.attributes)
    assert AuditEvent.objects.filter(action="project.import", study=cast.study).exists()


def test_consent_blocks_transcripts_and_the_preview_says_why(cast: Any, generated: Path,
                                                             django_capture_on_commit_callbacks: Any) -> None:
    people = add_participants(cast, generated)
    withdrawn, unconsented, deleted = people[0], people[1], people[2]
    Participant.objects.filter(pk=withdrawn.pk).update(consent_state=ConsentState.WITHDRAWN_RETAIN)
    Participant.objects.filter(pk=unconsented.pk).update(consent_state=ConsentState.NONE, consent_answers={})
    Participant.objects.filter(pk=deleted.pk).delete()  # not in the study: the import creates it
    record = imports.project_import_preview(actor=cast.users["lead"], study_id=cast.study.pk, filename="s.qdpx",
                                            data=(generated / "study.qdpx").read_bytes())
    reasons = {t["participant"]: t["reason"] for t in record.preview["transcripts"] if t["action"] == "blocked"}
    assert set(reasons) == {withdrawn.pseudonym, unconsented.pseudonym, deleted.pseudonym}
    assert "has withdrawn" in reasons[withdrawn.pseudonym]
    assert "no consent recorded" in reasons[unconsented.pseudonym]
    assert "new to the study" in reasons[deleted.pseudonym]
    assert record.preview["codings_blocked"] > 0
    with django_capture_on_commit_callbacks(execute=True):
        imports.project_import_start(actor=cast.users["lead"], study_id=cast.study.pk, import_id=record.pk)
    added = set(Transcript.objects.filter(study=cast.study).values_list("participant__pseudonym", flat=True))
    assert added.isdisjoint(reasons)
    assert len(added) == 3
    created = Participant.objects.get(study=cast.study, pseudonym=deleted.pseudonym)
    assert created.consent_state == ConsentState.NONE
    assert created.group.key == deleted.group.key
    assert created.site.name == deleted.site.name
    assert created.attributes["age_band"]


def test_choices_map_people_and_resolve_conflicts_on_a_second_import(cast: Any, generated: Path,
                                                                     django_capture_on_commit_callbacks: Any) -> None:
    add_participants(cast, generated)
    data = (generated / "study.qdpx").read_bytes()
    coder = cast.users["coder"]
    with django_capture_on_commit_callbacks(execute=True):
        first = _first_import(cast, data, coder)
    first.refresh_from_db()
    assert first.status == ProjectImportStatus.DONE
    n_codings = Coding.objects.filter(study=cast.study).count()
    assert Coding.objects.filter(study=cast.study, coder=coder).exists()
    # The same project again: everything is a conflict; the defaults add nothing twice.
    lead = cast.users["lead"]
    again = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx", data=data)
    p = again.preview
    assert p["codes_new"] == 0
    assert len(p["code_conflicts"]) == Code.objects.filter(study=cast.study).count()
    assert all(t["action"] == "skip" and "the same text" in t["conflict"] for t in p["transcripts"])
    assert all(r["action"] == "existing" for r in p["participants"])
    one = p["transcripts"][0]
    code = p["code_conflicts"][0]
    again = imports.project_import_choose(actor=lead, study_id=cast.study.pk, import_id=again.pk, choices={
        "transcripts": {one["guid"]: "add"}, "codes": {code["guid"]: "new"}})
    assert again.preview["codes_new"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=again.pk)
    assert Transcript.objects.filter(study=cast.study).count() == 7
    assert Transcript.objects.filter(study=cast.study, title__endswith="(2)").count() == 1
    assert Code.objects.filter(study=cast.study, name__contains="(imported 2)").count() == 1
    assert Coding.objects.filter(study=cast.study).count() > n_codings
    # Bad choices are refused with a message, not stored.
    with pytest.raises(ValidationError):
        imports.project_import_choose(actor=lead, study_id=cast.study.pk, import_id=again.pk, choices={})
    fresh = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx", data=data)
    for bad in ({"users": {"nope": "new"}}, {"users": {p["users"][0]["guid"]: f"member:{cast.users['outsider'].pk}"}},
                {"user_names": {p["users"][0]["guid"]: "a\x00b"}}, {"codes": {"x": "merge"}},
                {"group_variable": "not-a-variable"}):
        with pytest.raises(ValidationError):
            imports.project_import_choose(actor=lead, study_id=cast.study.pk, import_id=fresh.pk, choices=bad)


def _first_import(cast: Any, data: bytes, coder: Any) -> ProjectImport:
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx", data=data)
    a = next(u for u in record.preview["users"] if u["name"] == "coder_a")
    record = imports.project_import_choose(actor=lead, study_id=cast.study.pk, import_id=record.pk,
                                           choices={"users": {a["guid"]: f"member:{coder.pk}"}})
    imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    record.refresh_from_db()
    return record


def test_cancel_deletes_the_file_and_imports_nothing(cast: Any, generated: Path) -> None:
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx",
                                            data=(generated / "study.qdpx").read_bytes())
    imports.project_import_cancel(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    record.refresh_from_db()
    assert record.status == ProjectImportStatus.CANCELLED
    assert not record.staged_file
    with pytest.raises(ValidationError):
        imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    assert not Transcript.objects.exists()
    assert not Code.objects.exists()


def test_a_failure_during_the_write_leaves_nothing_half_imported(cast: Any, generated: Path, monkeypatch: Any,
                                                                 django_capture_on_commit_callbacks: Any) -> None:
    add_participants(cast, generated)
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx",
                                            data=(generated / "study.qdpx").read_bytes())

    def fail(*args: Any, **kwargs: Any) -> int:
        raise ValidationError("the database refused a memo")

    monkeypatch.setattr(imports, "_write_memos", fail)
    with django_capture_on_commit_callbacks(execute=True):
        imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    job = Job.objects.get(pk=ProjectImport.objects.get(pk=record.pk).job_id)
    assert job.status == JobStatus.FAILED
    assert "Nothing was imported" in job.error
    assert not Transcript.objects.exists()
    assert not Code.objects.exists()
    assert not Coding.objects.exists()
    assert not Membership.objects.filter(user__is_active=False).exists()


def test_choices_with_nul_characters_or_unknown_keys_are_refused_not_stored(cast: Any, generated: Path,
                                                                           clients: Any) -> None:
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s\x00.qdpx",
                                            data=(generated / "study.qdpx").read_bytes())
    assert record.filename == "s.qdpx"
    for bad in ({"default_group": "staff\x00"}, {"participants": {"su99\x00": "keep"}},
                {"transcripts": {"\x00": "add"}}, {"default_group": "nobody"}):
        with pytest.raises(ValidationError):
            imports.project_import_choose(actor=lead, study_id=cast.study.pk, import_id=record.pk, choices=bad)
    r = clients["lead"].post(f"/studies/{cast.study.pk}/project/import/{record.pk}/", {"default_group": "a\x00"})
    assert r.status_code == 302
    record.refresh_from_db()
    assert record.choices == {}
