"""Exporting a study as .qdpx: valid against the official schema, consent honoured (who is left out
and why), no identifiable fields, audited; and a re-import into another study loses nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from accounts.models import AuditEvent, Membership, Role, Study
from analysis.coding.models import Assignment, Code, Coding, Memo
from analysis.transcripts.models import Transcript
from interop.services import exports, imports
from jobs.models import Job, JobStatus
from jobs.services import job_download_open
from participants.crypto import encrypt_text as encrypt
from participants.models import ConsentState, Participant

from .conftest import CONSENTED, add_participants

pytestmark = pytest.mark.django_db
ALL = exports.Selection([], [], [], [])


@pytest.fixture
def imported(cast: Any, generated: Path, django_capture_on_commit_callbacks: Any) -> list[Participant]:
    """The generated study imported into the cast's study, with a memo of each kind and a double coding."""
    people = add_participants(cast, generated)
    lead = cast.users["lead"]
    record = imports.project_import_preview(actor=lead, study_id=cast.study.pk, filename="s.qdpx",
                                            data=(generated / "study.qdpx").read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        imports.project_import_start(actor=lead, study_id=cast.study.pk, import_id=record.pk)
    t = Transcript.objects.filter(study=cast.study).order_by("pk").first()
    coding = Coding.objects.filter(transcript=t).first()
    code = Code.objects.filter(study=cast.study, parent__isnull=False).first()
    for target in ({}, {"transcript": t}, {"code": code}, {"coding": coding, "transcript": t}):
        Memo.objects.create(study=cast.study, author=lead, title=f"Memo on {sorted(target) or 'study'}",
                            body="Thinking about “cues” 👀", **target)
    coders = sorted({c.coder for c in Coding.objects.filter(transcript=t)}, key=lambda u: u.pk)
    Assignment.objects.create(study=cast.study, transcript=t, coder_a=coders[0], coder_b=coders[1],
                              created_by=lead)
    return people


def test_export_validates_honours_consent_and_carries_nothing_identifiable(cast: Any, imported: list[Participant]) -> None:
    withdrawn, no_archive, secret = imported[0], imported[1], imported[2]
    Participant.objects.filter(pk=withdrawn.pk).update(consent_state=ConsentState.WITHDRAWN_RETAIN)
    Participant.objects.filter(pk=no_archive.pk).update(consent_answers={**CONSENTED, "data_archiving": False})
    Participant.objects.filter(pk=secret.pk).update(name_encrypted=encrypt("Jane Realname"),
                                                    contact_encrypted=encrypt("jane@example.net"))
    preview = exports.project_export_preview(actor=cast.users["lead"], study_id=cast.study.pk, sel=ALL)
    reasons = {e["pseudonym"]: e["reason"] for e in preview["excluded"]}
    assert reasons == {withdrawn.pseudonym: "withdrew from the study (data kept for the analysis, but never archived "
                                            "or shared)", no_archive.pseudonym: "did not consent to archiving"}
    data, counts = exports.project_export_build(actor=cast.users["lead"], study=cast.study, sel=ALL)
    assert counts["Participants"] == 4
    assert counts["Transcripts"] == 4
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        qde = z.read("project.qde")
        everything = b"".join(z.read(n) for n in z.namelist())
    assert exports.project_validate(qde) == []
    assert withdrawn.pseudonym.encode() not in qde
    assert no_archive.pseudonym.encode() not in qde
    assert b"Realname" not in everything
    assert b"jane@example.net" not in everything
    assert b"basePath" not in qde


def test_export_job_is_audited_and_downloadable_by_its_lead(cast: Any, imported: list[Participant],
                                                            django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = exports.project_export_start(actor=cast.users["lead"], study_id=cast.study.pk, sel=ALL)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    event = AuditEvent.objects.get(action="project.export", study=cast.study)
    assert event.details["participants"] == 6
    assert event.details["excluded"] == []
    f, name = job_download_open(user=cast.users["lead"], study_id=cast.study.pk, job_id=job.pk, ip=None)
    assert name.endswith(".qdpx")
    assert zipfile.is_zipfile(f)
    assert AuditEvent.objects.filter(action="export.download", study=cast.study).exists()


def test_selection_limits_sites_codes_and_coders(cast: Any, imported: list[Participant]) -> None:
    site = imported[0].site
    top = Code.objects.filter(study=cast.study, parent__isnull=True).first()
    coder = Coding.objects.filter(study=cast.study).first().coder
    sel = exports.selection_clean(study_id=cast.study.pk, sites=[site.pk], codes=[top.pk], coders=[coder.pk])
    _data, counts = exports.project_export_build(actor=cast.users["lead"], study=cast.study, sel=sel)
    expected = Coding.objects.filter(study=cast.study, transcript__participant__site=site, code__parent=top,
                                     coder=coder).count()
    assert counts["Codings"] == expected > 0
    assert counts["Codes"] == 1 + top.children.count()
    with pytest.raises(Exception, match="not one of this study's"):
        exports.selection_clean(study_id=cast.study.pk, sites=[cast.other_study.pk * 1000])


def test_round_trip_into_another_study_loses_nothing(cast: Any, imported: list[Participant],
                                                     django_capture_on_commit_callbacks: Any) -> None:
    lead = cast.users["lead"]
    data, _ = exports.project_export_build(actor=lead, study=cast.study, sel=ALL)
    other = Study.objects.create(name="Re-import", created_by=lead)
    for pos, g in enumerate(cast.study.groups.all()):
        other.groups.create(key=g.key, label=g.label, position=pos)
    Membership.objects.create(user=lead, study=other, role=Role.LEAD)
    for p in imported:  # the same people, consented in the new study, without their attributes yet
        Participant.objects.create(study=other, pseudonym=p.pseudonym, group=other.groups.get(key=p.group.key),
                                   consent_state=ConsentState.CONSENTED, consent_answers=CONSENTED, created_by=lead)
    record = imports.project_import_preview(actor=lead, study_id=other.pk, filename="round.qdpx", data=data)
    assert {u["name"] for u in record.preview["users"]} >= {"coder_a", "coder_b"}
    with django_capture_on_commit_callbacks(execute=True):
        imports.project_import_start(actor=lead, study_id=other.pk, import_id=record.pk)
    job = Job.objects.filter(study=other).get()
    assert job.status == JobStatus.DONE, job.error

    def codes(study: Study) -> set[tuple[str, str | None, str, str, bool]]:
        return {(c.name, c.parent.name if c.parent else None, c.colour.lower(), c.description, c.is_codable)
                for c in Code.objects.filter(study=study).select_related("parent")}

    def texts(study: Study) -> dict[str, bytes]:
        return {t.participant.pseudonym: t.text.encode() for t in Transcript.objects.filter(study=study)}

    def codings(study: Study) -> set[tuple[str, str, str, int, int]]:
        return {(c.transcript.participant.pseudonym, c.code.name, c.coder.display_name, c.start, c.end)
                for c in Coding.objects.filter(study=study).select_related("transcript__participant", "code", "coder")}

    def memos(study: Study) -> set[tuple[str, str, str]]:
        return {(m.title, m.body, m.target_label) for m in Memo.objects.filter(study=study)}

    assert codes(other) == codes(cast.study)
    assert texts(other) == texts(cast.study)
    assert codings(other) == codings(cast.study)
    assert memos(other) == memos(cast.study)
    attrs = {p.pseudonym: p.attributes for p in Participant.objects.filter(study=other)}
    assert attrs == {p.pseudonym: p.attributes for p in Participant.objects.filter(study=cast.study)}
    assert Assignment.objects.filter(study=other).count() == 1


def test_a_lead_scoped_to_one_site_exports_only_that_site(cast: Any, imported: list[Participant]) -> None:
    lead = cast.memberships["lead"]
    site = imported[0].site
    lead.scope_sites.set([site])
    user = cast.users["lead"]
    user.__dict__.pop("_chorus_memberships", None)
    data, counts = exports.project_export_build(actor=user, study=cast.study, sel=ALL)
    in_site = [p for p in imported if p.site_id == site.pk]
    assert counts["Participants"] == len(in_site) < len(imported)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        qde = z.read("project.qde").decode()
    for p in imported:
        assert (f'name="{p.pseudonym}"' in qde) == (p.site_id == site.pk)


def test_schema_validation_catches_an_invalid_document(shared_dir: Path) -> None:
    assert exports.project_validate(b'<Project xmlns="urn:QDA-XML:project:1.0"><Users/></Project>')
    sample = shared_dir / "refi-qda" / "samples" / "atlasti-8.4-standard-project.qde"
    assert exports.project_validate(sample.read_bytes()) == []


def test_characters_xml_cannot_hold_are_dropped_not_a_failed_export(cast: Any, imported: list[Participant],
                                                                     api: Any) -> None:
    """A control character pasted into a code's name, a memo or a pseudonym (the API fuzz sent one) must not
    stop the codebook or project export: XML 1.0 cannot hold it at all, so it is left out."""
    code = Code.objects.filter(study=cast.study).first()
    assert code is not None
    Code.objects.filter(pk=code.pk).update(name="Cues\x01 lost\x0b", description="Bell\x07 rings")
    Memo.objects.filter(study=cast.study).update(title="Memo\x1f", body="Body\x02 text")
    r = api["lead"].get(f"/api/v1/studies/{cast.study.pk}/codes/export/")
    assert r.status_code == 200
    assert b"Cues lost" in r.content
    assert b"\x01" not in r.content
    data, _ = exports.project_export_build(actor=cast.users["lead"], study=cast.study, sel=ALL)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        qde = z.read("project.qde")
    assert exports.project_validate(qde) == []
    assert b'name="Cues lost"' in qde
    assert b"Body text" in qde
