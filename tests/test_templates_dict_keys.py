"""Dicts with keys such as "items" must render: `{{ d.items }}` in a template looks up the key
first, which crashed the audit log once an import wrote details={"items": [...]}."""

from accounts.services import audit_record
from jobs.models import Job, JobStatus


def test_audit_log_renders_details_with_items_key(cast, clients):
    audit_record(
        actor=cast.users["admin"], action="import.commit", study=cast.study,
        details={"items": [1, 2, 3], "keys": "k", "values": "v"},
    )
    r = clients["admin"].get(f"/studies/{cast.study.pk}/audit/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "<dt>Items</dt><dd>1, 2, 3</dd>" in body
    assert "<dt>Values</dt><dd>v</dd>" in body


def test_job_status_renders_result_with_items_key(cast, clients):
    job = Job.objects.create(
        study=cast.study, kind="audit_export", created_by=cast.users["admin"],
        status=JobStatus.DONE, result={"items": 4, "rows": 2}, required_perm="audit.view",
    )
    r = clients["admin"].get(f"/studies/{cast.study.pk}/jobs/{job.pk}/")
    assert r.status_code == 200
    assert "<dt>items</dt><dd>4</dd>" in r.content.decode()
