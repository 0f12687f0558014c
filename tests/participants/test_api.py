"""Every API endpoint for every member of the cast: 404 outside study or scope, 403 wrong role."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from tests.factories import consent, make_form, make_participant
from tests.helpers import ppi_expect

pytestmark = pytest.mark.django_db
ROLES = ("admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous")
VIEW = {"admin", "lead", "coder", "coder_other_site"}


@pytest.fixture
def world(cast):
    form = make_form(cast)
    north = make_participant(cast, "SU01", name="Alice Secretname")
    south = make_participant(cast, "CA01", group="carer", site=cast.south)
    return {"form": form, "north": north, "south": south, "event": consent(cast, north, form),
            "south_event": consent(cast, south, form)}


ANON = 401  # no credentials: 401 with a Token challenge (token auth is listed first)


def expected(role: str, allowed: set[str]) -> int:
    if role == "anonymous":
        return ANON
    if role == "outsider":
        return 404
    return 200 if role in allowed else 403


@pytest.mark.parametrize("role", ROLES)
def test_reads(cast, api, world, role):
    s, n = cast.study.pk, world["north"].pk
    base = f"/api/v1/studies/{s}"
    for url, allowed in (
        (f"{base}/participants/", VIEW), (f"{base}/participant-attributes/", VIEW),
        (f"{base}/consent-forms/", VIEW), (f"{base}/consent-forms/{world['form'].pk}/", VIEW),
        (f"{base}/consent-events/", VIEW), (f"{base}/consent-dashboard/", VIEW), (f"{base}/sampling-frame/", VIEW),
    ):
        r = api[role].get(url)
        assert r.status_code == ppi_expect(role, expected(role, allowed), url), (url, role, r.status_code)
    # one participant in the North: the South-scoped coder gets 404
    for url in (f"{base}/participants/{n}/", f"{base}/participants/{n}/consent-events/"):
        r = api[role].get(url)
        want = 404 if role == "coder_other_site" else expected(role, VIEW)
        assert r.status_code == ppi_expect(role, want, url), (url, role)
    url = f"{base}/participants/{n}/identifiable/"
    r = api[role].get(url)
    assert r.status_code == ppi_expect(role, {"admin": 200, "anonymous": ANON, "outsider": 404}.get(role, 403), url), role


def test_list_payload_is_pseudonymised_and_scoped(cast, api, world):
    s = cast.study.pk
    r = api["admin"].get(f"/api/v1/studies/{s}/participants/")
    assert r.data["count"] == 2
    text = r.content.decode()
    assert "Secretname" not in text
    assert "name_encrypted" not in text
    first = next(p for p in r.data["results"] if p["pseudonym"] == "SU01")
    assert first["consent_state"] == "consented"
    assert first["data_uses"]["coding"] is True
    r = api["coder_other_site"].get(f"/api/v1/studies/{s}/participants/")
    assert [p["pseudonym"] for p in r.data["results"]] == ["CA01"]
    r = api["coder_other_site"].get(f"/api/v1/studies/{s}/consent-events/")
    assert {e["participant"] for e in r.data["results"]} == {"CA01"}
    r = api["lead"].get(f"/api/v1/studies/{s}/participants/?state=bogus")
    assert r.status_code == 400
    r = api["lead"].get(f"/api/v1/studies/{s}/participants/?state=consented&group={cast.group('carer').pk}")
    assert [p["pseudonym"] for p in r.data["results"]] == ["CA01"]
    r = api["admin"].get(f"/api/v1/studies/{s}/participants/{world['north'].pk}/identifiable/")
    assert r.data == {"name": "Alice Secretname", "contact": ""}


@pytest.mark.parametrize("role", ROLES)
def test_writes_refused_for_non_admins(cast, api, world, role):
    if role == "admin":
        return
    s, n = cast.study.pk, world["north"].pk
    base = f"/api/v1/studies/{s}"
    code = expected(role, set())
    calls = [
        ("post", f"{base}/participants/", {"pseudonym": "X1", "group_id": cast.group("carer").pk}),
        ("patch", f"{base}/participants/{n}/", {"interview_date": "2020-01-01"}),
        ("post", f"{base}/participant-attributes/", {"label": "Age", "kind": "text"}),
        ("post", f"{base}/consent-forms/", {"version": "9", "effective_from": "2020-01-01", "items": []}),
        ("post", f"{base}/participants/{n}/consent-events/", {"kind": "withdrawal", "date": "2020-07-01",
                                                              "withdrawal_scope": "retain_data"}),
    ]
    for method, url, data in calls:
        r = getattr(api[role], method)(url, data, format="json")
        assert r.status_code == ppi_expect(role, code, url), (url, role, r.status_code)
    r = api[role].post(f"{base}/imports/participants/", {"file": SimpleUploadedFile("p.csv", b"participant_id,group\n")},
                       format="multipart")
    assert r.status_code == code
    url = f"{base}/consent-events/{world['event'].pk}/signed-form/"
    r = api[role].post(url, {"signed_form": SimpleUploadedFile("f.pdf", b"%PDF-1.4")}, format="multipart")
    assert r.status_code == ppi_expect(role, code, url)
    # sampling targets: the lead's job
    r = api[role].put(f"{base}/sampling-frame/", {"targets": []}, format="json")
    assert r.status_code == (200 if role == "lead" else code)
    r = api[role].post(f"{base}/participants-export/")
    assert r.status_code == (202 if role == "lead" else code)


def test_admin_writes_end_to_end(cast, api, world, django_capture_on_commit_callbacks):
    s = cast.study.pk
    base = f"/api/v1/studies/{s}"
    a = api["admin"]
    r = a.post(f"{base}/participant-attributes/", {"label": "Age band", "kind": "choice", "choices": ["18-24", "25-34"]},
               format="json")
    assert r.status_code == 201
    r = a.post(f"{base}/participants/", {"pseudonym": "SU02", "group_id": cast.group("service_user").pk,
                                         "site_id": cast.north.pk, "attributes": {"age_band": "18-24"},
                                         "name": "Zed Hidden"}, format="json")
    assert r.status_code == 201
    assert "Zed" not in r.content.decode()
    pid = r.data["id"]
    r = a.post(f"{base}/participants/", {"pseudonym": "SU03", "group_id": cast.group("service_user").pk,
                                         "attributes": {"age_band": "99"}}, format="json")
    assert r.status_code == 400
    assert "not one of" in str(r.data)
    r = a.patch(f"{base}/participants/{pid}/", {"interview_date": "2020-06-02"}, format="json")
    assert r.status_code == 200
    assert r.data["interview_date"] == "2020-06-02"
    assert r.data["attributes"] == {"age_band": "18-24"}
    r = a.post(f"{base}/consent-forms/", {"version": "2.0", "effective_from": "2020-01-01", "items": [
        {"key": "transcription", "label": "Transcribed", "mandatory": True},
        {"key": "anonymised_quotes", "label": "Quotes", "mandatory": False}]}, format="json")
    assert r.status_code == 201
    assert [i["key"] for i in r.data["items"]] == ["take_part", "transcription", "anonymised_quotes"]
    fid = r.data["id"]
    r = a.post(f"{base}/participants/{pid}/consent-events/", {"kind": "consent", "date": "2020-06-01", "form_id": fid,
                                                             "answers": {"anonymised_quotes": "no"}}, format="json")
    assert r.status_code == 201
    assert r.data["participant"]["consent_state"] == "partial"
    eid = r.data["event"]["id"]
    r = a.post(f"{base}/participants/{pid}/consent-events/", {"kind": "consent", "date": "2020-06-01", "form_id": fid},
               format="json")
    assert r.status_code == 400
    assert "re-consent" in str(r.data)
    r = a.post(f"{base}/participants/{pid}/consent-events/", {"kind": "correction", "date": "2020-06-01",
                                                             "corrects": eid, "answers": {"anonymised_quotes": "yes"},
                                                             "note": "typo"}, format="json")
    assert r.status_code == 201
    assert r.data["participant"]["consent_state"] == "consented"
    r = a.post(f"{base}/consent-events/{eid}/signed-form/", {"signed_form": SimpleUploadedFile("f.pdf", b"GIF89a")},
               format="multipart")
    assert r.status_code == 400
    r = a.post(f"{base}/consent-events/{eid}/signed-form/", {"signed_form": SimpleUploadedFile("f.pdf", b"%PDF-1.7 x")},
               format="multipart")
    assert r.status_code == 201
    assert r.data["has_signed_form"] is True
    with django_capture_on_commit_callbacks(execute=False):
        r = a.post(f"{base}/participants/{pid}/consent-events/", {"kind": "withdrawal", "date": "2020-08-01",
                                                                 "withdrawal_scope": "delete_data"}, format="json")
    assert r.status_code == 201
    assert r.data["purge_job"]
    assert r.data["participant"]["consent_state"] == "withdrawn_delete"
    assert AuditEvent.objects.filter(action="participant.purge_start").count() == 1


def test_api_out_of_scope_writes_are_404(cast, api, world):
    from accounts.models import Membership, Role

    # an admin scoped to the South cannot touch a North participant
    m = Membership.objects.get(user=cast.users["admin"], study=cast.study)
    m.scope_sites.set([cast.south])
    other_admin = Membership.objects.create(user=cast.users["outsider"], study=cast.study, role=Role.ADMIN)
    assert other_admin
    n = world["north"].pk
    r = api["admin"].post(f"/api/v1/studies/{cast.study.pk}/participants/{n}/consent-events/",
                          {"kind": "withdrawal", "date": "2020-07-01", "withdrawal_scope": "retain_data"}, format="json")
    assert r.status_code == 404
    r = api["admin"].get(f"/api/v1/studies/{cast.study.pk}/participants/{n}/identifiable/")
    assert r.status_code == 404


def test_attribute_delete_and_purge_retry_through_the_api(cast, api, django_capture_on_commit_callbacks):
    """The two participants-page actions the API lacked (issue 15's coverage audit)."""
    import datetime as dt

    from participants import services
    from participants.models import AttributeDefinition, Participant

    s, a = cast.study.pk, api["admin"]
    base = f"/api/v1/studies/{s}"
    r = a.post(f"{base}/participant-attributes/", {"label": "Unused", "kind": "text"}, format="json")
    assert r.status_code == 201
    r = a.delete(f"{base}/participant-attributes/{r.data['id']}/")
    assert r.status_code == 204
    assert not AttributeDefinition.objects.filter(study_id=s, label="Unused").exists()
    assert AuditEvent.objects.filter(action="attribute.delete").exists()
    assert a.delete(f"{base}/participant-attributes/999999/").status_code == 404

    form = make_form(cast)
    p = make_participant(cast, "SU77")
    consent(cast, p, form)
    r = a.post(f"{base}/participants/{p.pk}/purge/")
    assert r.status_code == 400
    assert "withdrew with deletion" in r.content.decode()
    services.participant_withdraw(actor=cast.users["admin"], study_id=s, participant_id=p.pk, scope="delete_data",
                                  date=dt.date(2020, 7, 1))
    with django_capture_on_commit_callbacks(execute=True):
        r = a.post(f"{base}/participants/{p.pk}/purge/")
    assert r.status_code == 202, r.content
    job = a.get(r.data["url"]).json()
    assert job["kind"] == "participant_purge"
    assert job["status"] in ("queued", "running", "done")
    assert Participant.objects.get(pk=p.pk).consent_state == "withdrawn_delete"
