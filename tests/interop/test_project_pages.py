"""The project pages, clicked through as a lead: upload, preview with choices, import, result; export
with its preview of who is left out; reachable from the study navigation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.coding.models import Coding
from analysis.transcripts.models import Transcript
from interop.models import ProjectImport
from jobs.models import Job, JobStatus
from participants.models import ConsentState, Participant

from .conftest import add_participants

pytestmark = pytest.mark.django_db


def test_lead_imports_a_project_through_the_pages(cast: Any, clients: Any, generated: Path,
                                                  django_capture_on_commit_callbacks: Any) -> None:
    people = add_participants(cast, generated)
    Participant.objects.filter(pk=people[0].pk).update(consent_state=ConsentState.WITHDRAWN_RETAIN)
    lead = clients["lead"]
    home = lead.get(f"/studies/{cast.study.pk}/").content.decode()
    assert f'href="/studies/{cast.study.pk}/project/import/"' in home
    assert f'href="/studies/{cast.study.pk}/project/export/"' in home
    page = lead.get(f"/studies/{cast.study.pk}/project/import/")
    assert page.status_code == 200
    assert 'type="file"' in page.content.decode()
    r = lead.post(f"/studies/{cast.study.pk}/project/import/",
                  {"project_file": SimpleUploadedFile("study.qdpx", (generated / "study.qdpx").read_bytes())})
    assert r.status_code == 302
    detail_url = r["Location"]
    html = lead.get(detail_url).content.decode()
    assert "Check the project before importing" in html
    assert "Transcripts that cannot be added (1)" in html
    assert people[0].pseudonym in html
    assert "has withdrawn" in html
    assert "coder_a" in html
    assert "New placeholder coder" in html
    assert re.search(r"<label for=\"user-1\">", html)  # every control has a label
    assert "style=" not in html
    assert "<script>" not in html
    assert " onclick" not in html
    record = ProjectImport.objects.get()
    guid = record.preview["users"][0]["guid"]
    r = lead.post(detail_url, {f"user-{guid}": "new", f"username-{guid}": "Dr A. Coder"})
    assert r.status_code == 302
    assert "Dr A. Coder" in lead.get(detail_url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = lead.post(f"{detail_url}start/")
    assert r.status_code == 302
    job = Job.objects.get(kind="project_import")
    assert job.status == JobStatus.DONE, job.error
    html = lead.get(detail_url).content.decode()
    assert "Transcripts added" in html
    assert "Go to the transcripts" in html
    assert Transcript.objects.filter(study=cast.study).count() == 5
    assert Coding.objects.filter(coder__full_name="Dr A. Coder").exists()


def test_a_refused_project_shows_every_problem_on_the_page(cast: Any, clients: Any) -> None:
    from .conftest import qdpx

    bad = qdpx('<Project xmlns="urn:QDA-XML:project:1.0" name="x"><CodeBook><Codes>'
               '<Code guid="00000000-0000-4000-8000-000000000001" name="A" isCodable="true"/>'
               '<Code guid="00000000-0000-4000-8000-000000000001" name="B" isCodable="true"/></Codes></CodeBook></Project>')
    r = clients["lead"].post(f"/studies/{cast.study.pk}/project/import/",
                             {"project_file": SimpleUploadedFile("bad.qdpx", bad)})
    html = r.content.decode()
    assert r.status_code == 200
    assert "There is a problem" in html
    assert "duplicate GUID" in html
    assert not ProjectImport.objects.exists()


def test_export_page_previews_who_is_left_out_and_starts_a_job(cast: Any, clients: Any, generated: Path,
                                                               django_capture_on_commit_callbacks: Any) -> None:
    people = add_participants(cast, generated)
    Participant.objects.filter(pk=people[1].pk).update(consent_state=ConsentState.NONE, consent_answers={})
    lead = clients["lead"]
    html = lead.get(f"/studies/{cast.study.pk}/project/export/").content.decode()
    assert "Left out (1)" in html
    assert people[1].pseudonym in html
    assert "Has no consent recorded" in html
    assert "style=" not in html
    assert "<script>" not in html
    assert re.search(r'<label for="id_sites_0">', html)  # every checkbox has its label
    html = lead.get(f"/studies/{cast.study.pk}/project/export/?sites={people[1].site_id}").content.decode()
    assert "This export would contain" in html
    with django_capture_on_commit_callbacks(execute=True):
        r = lead.post(f"/studies/{cast.study.pk}/project/export/", {"sites": [cast.north.pk]})
    assert r.status_code == 302
    assert "/jobs/" in r["Location"]
    job = Job.objects.get(kind="project_export")
    assert job.status == JobStatus.DONE, job.error
    assert job.params["selection"]["sites"] == [cast.north.pk]
    download = lead.get(f"/studies/{cast.study.pk}/jobs/{job.pk}/download/")
    assert download.status_code == 200


def test_api_import_and_export(cast: Any, api: Any, generated: Path, django_capture_on_commit_callbacks: Any) -> None:
    add_participants(cast, generated)
    base = f"/api/v1/studies/{cast.study.pk}"
    with open(generated / "study.qdpx", "rb") as f:
        r = api["lead"].post(f"{base}/project-imports/", {"file": f}, format="multipart")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "preview"
    assert len(body["preview"]["transcripts"]) == 6
    guid = body["preview"]["users"][0]["guid"]
    r = api["lead"].patch(f"{base}/project-imports/{body['id']}/", {"user_names": {guid: "Coder One"}}, format="json")
    assert r.status_code == 200
    assert r.json()["choices"]["user_names"] == {guid: "Coder One"}
    r = api["lead"].patch(f"{base}/project-imports/{body['id']}/", {"codes": {"x": "merge"}}, format="json")
    assert r.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        r = api["lead"].post(f"{base}/project-imports/{body['id']}/start/")
    assert r.status_code == 202
    job = api["lead"].get(f"{base}/jobs/{r.json()['job_id']}/").json()
    assert job["status"] == "done"
    assert job["result"]["Transcripts added"] == 6
    r = api["lead"].post(f"{base}/project-exports/preview/", {"sites": ["x"]}, format="json")
    assert r.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        r = api["lead"].post(f"{base}/project-exports/", {}, format="json")
    assert r.status_code == 202
    job = api["lead"].get(f"{base}/jobs/{r.json()['job_id']}/").json()
    assert job["status"] == "done"
    assert job["download_url"]
    assert api["lead"].get(job["download_url"]).status_code == 200


def test_import_into_a_new_study_in_one_step(cast: Any, clients: Any, api: Any, generated: Path,
                                             django_capture_on_commit_callbacks: Any) -> None:
    """Issue 15: a project into a new study, from the upload page (a choice) and from the API (one call).
    The importer becomes the new study's lead, audited; a refused project leaves no study behind."""
    from accounts.models import AuditEvent, Membership, Study

    from .conftest import qdpx

    data = (generated / "study.qdpx").read_bytes()
    lead = clients["lead"]
    page = lead.get(f"/studies/{cast.study.pk}/project/import/").content.decode()
    assert "A new study, with me as its lead" in page
    r = lead.post(f"/studies/{cast.study.pk}/project/import/", {"project_file": SimpleUploadedFile("study.qdpx", data),
                                                               "target": "new", "new_study_name": ""})
    assert r.status_code == 200
    assert "Name the new study." in r.content.decode()
    r = lead.post(f"/studies/{cast.study.pk}/project/import/", {"project_file": SimpleUploadedFile("study.qdpx", data),
                                                               "target": "new", "new_study_name": "From NVivo"})
    assert r.status_code == 302
    new = Study.objects.get(name="From NVivo")
    assert r["Location"].startswith(f"/studies/{new.pk}/project/import/")
    assert Membership.objects.get(study=new, user=cast.users["lead"]).role == "lead"
    created = AuditEvent.objects.get(study=new, action="study.create")
    assert created.details["from_project"] == "study.qdpx"
    record = ProjectImport.objects.get(study=new)
    html = lead.get(r["Location"]).content.decode()
    assert "Check the project before importing" in html
    # Nobody in the new study has consented yet: the preview says transcripts cannot be added (consent rule).
    assert "Transcripts that cannot be added" in html
    with django_capture_on_commit_callbacks(execute=True):
        r = lead.post(f"/studies/{new.pk}/project/import/{record.pk}/start/")
    assert Job.objects.get(kind="project_import").status == JobStatus.DONE
    assert Participant.objects.filter(study=new).count() > 0
    assert Participant.objects.filter(study=cast.study).count() == 0  # the other study is untouched

    # The API: one call makes the study and the preview; anyone signed in may (as anyone may make a study).
    r = api["coder"].post("/api/v1/project-imports/", {"file": SimpleUploadedFile("p.qdpx", data),
                                                        "study_name": "API study"}, format="multipart")
    assert r.status_code == 201, r.content
    body = r.json()
    api_study = Study.objects.get(name="API study")
    assert body["study"] == api_study.pk
    assert body["status"] == "preview"
    assert Membership.objects.get(study=api_study, user=cast.users["coder"]).role == "lead"
    assert api["coder"].get(f"/api/v1/studies/{api_study.pk}/project-imports/{body['id']}/").status_code == 200
    # Refused: a bad project, or no name; nothing is created.
    bad = qdpx('<Project xmlns="urn:QDA-XML:project:1.0" name="x"><CodeBook><Codes>'
               '<Code guid="00000000-0000-4000-8000-000000000001" name="A" isCodable="true"/>'
               '<Code guid="00000000-0000-4000-8000-000000000001" name="B" isCodable="true"/></Codes></CodeBook></Project>')
    before = Study.objects.count()
    r = api["coder"].post("/api/v1/project-imports/", {"file": SimpleUploadedFile("bad.qdpx", bad),
                                                        "study_name": "Bad"}, format="multipart")
    assert r.status_code == 400
    assert "duplicate GUID" in r.json()["detail"]
    r = api["coder"].post("/api/v1/project-imports/", {"file": SimpleUploadedFile("p.qdpx", data)}, format="multipart")
    assert r.status_code == 400
    assert "study_name" in r.json()
    assert Study.objects.count() == before
