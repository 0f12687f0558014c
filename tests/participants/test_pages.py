"""Every page, for every member of the cast (and anonymous): role → 403, outside study or scope → 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from tests.factories import consent, make_form, make_participant
from tests.helpers import ppi_expect

pytestmark = pytest.mark.django_db

ROLES = ("admin", "lead", "coder", "coder_other_site", "ppi", "outsider", "anonymous")


@pytest.fixture
def world(cast):
    form = make_form(cast)
    north = make_participant(cast, "SU01", name="Alice Secretname", contact="alice@example.invalid",
                             attributes={}, interview_date="2020-06-10")
    south = make_participant(cast, "CA01", group="carer", site=cast.south)
    event = consent(cast, north, form)
    consent(cast, south, form)
    return {"form": form, "north": north, "south": south, "event": event}


def _expect(role: str, allowed: set[str], *, scoped_404: bool = False) -> int | str:
    if role == "anonymous":
        return "login"
    if role == "outsider":
        return 404
    if role == "coder_other_site" and scoped_404 and role in allowed:
        return 404
    return 200 if role in allowed else 403


VIEWERS = {"admin", "lead", "coder", "coder_other_site"}
ADMIN = {"admin"}


def pages(w):
    s, n, e = "study_id", w["north"].pk, w["event"].pk
    return [
        ("participant-list", {}, VIEWERS, False),
        ("participant-detail", {"participant_id": n}, VIEWERS, True),
        ("participant-create", {}, ADMIN, False),
        ("participant-edit", {"participant_id": n}, ADMIN, False),
        ("participants-import", {}, ADMIN, False),
        ("attribute-list", {}, ADMIN, False),
        ("consent-record", {"participant_id": n}, ADMIN, False),
        ("participant-withdraw", {"participant_id": n}, ADMIN, False),
        ("consent-correct", {"participant_id": n, "event_id": e}, ADMIN, False),
        ("consent-dashboard", {}, VIEWERS, False),
        ("consent-form-list", {}, VIEWERS, False),
        ("consent-form-create", {}, ADMIN, False),
        ("consent-import", {}, ADMIN, False),
        ("sampling-frame", {}, VIEWERS, False),
    ], s


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(cast, clients, world, role):
    items, _ = pages(world)
    for name, kwargs, allowed, scoped in items:
        url = reverse(name, kwargs={"study_id": cast.study.pk, **kwargs})
        r = clients[role].get(url)
        expected = _expect(role, allowed, scoped_404=scoped)
        if expected == "login":
            assert r.status_code == 302, name
            assert "/accounts/login/" in r["Location"], name
        else:
            assert r.status_code == ppi_expect(role, expected, url), (name, role, r.status_code)


def test_scoped_coder_sees_only_their_site(cast, clients, world):
    r = clients["coder_other_site"].get(reverse("participant-list", kwargs={"study_id": cast.study.pk}))
    body = r.content.decode()
    assert "CA01" in body
    assert "SU01" not in body
    r = clients["coder"].get(reverse("participant-list", kwargs={"study_id": cast.study.pk}))
    assert "CA01" in r.content.decode()
    assert "SU01" in r.content.decode()
    # the scoped coder's dashboard counts only the South participant
    r = clients["coder_other_site"].get(reverse("consent-dashboard", kwargs={"study_id": cast.study.pk}))
    assert "(1 in all)" in r.content.decode()


def test_identifiable_fields_admin_only_and_audited(cast, clients, world):
    n = world["north"]
    url = reverse("participant-identifiable", kwargs={"study_id": cast.study.pk, "participant_id": n.pk})
    for role, code in (("lead", 403), ("coder", 403), ("coder_other_site", 403), ("ppi", 404), ("outsider", 404)):
        assert clients[role].post(url).status_code == code, role  # ppi: board only, told nothing of participants
    assert clients["anonymous"].post(url).status_code == 302
    # never on the detail page itself, for anyone
    for role in ("admin", "lead", "coder"):
        page = clients[role].get(reverse("participant-detail", kwargs={"study_id": cast.study.pk, "participant_id": n.pk}))
        assert "Secretname" not in page.content.decode()
    before = AuditEvent.objects.filter(action="participant.identifiable_view").count()
    r = clients["admin"].post(url)
    assert r.status_code == 200
    assert "Alice Secretname" in r.content.decode()
    assert "alice@example.invalid" in r.content.decode()
    assert r["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(action="participant.identifiable_view").count() == before + 1
    # nothing identifiable in any audit detail
    for ev in AuditEvent.objects.all():
        assert "Secretname" not in str(ev.details)
        assert "alice@example" not in str(ev.details)


def test_identifiable_fields_encrypted_at_rest(cast, world):
    from participants.models import Participant

    row = Participant.objects.values("name_encrypted", "contact_encrypted").get(pk=world["north"].pk)
    assert row["name_encrypted"].startswith("gAAAA")
    assert "Secretname" not in row["name_encrypted"]
    assert "alice" not in row["contact_encrypted"]


def test_participant_create_and_edit_through_pages(cast, clients):
    url = reverse("participant-create", kwargs={"study_id": cast.study.pk})
    r = clients["admin"].post(url, {"pseudonym": "ST09", "group": cast.group("staff").pk, "site": cast.north.pk,
                                    "interview_date": "2020-07-01", "name": "Bob Hidden", "contact": ""})
    assert r.status_code == 302
    from participants.models import Participant

    p = Participant.objects.get(study=cast.study, pseudonym="ST09")
    # duplicate pseudonym: the form says so, nothing written
    r = clients["admin"].post(url, {"pseudonym": "st09", "group": cast.group("staff").pk})
    assert r.status_code == 200
    assert "already has a participant" in r.content.decode()
    assert Participant.objects.filter(study=cast.study).count() == 1
    edit = reverse("participant-edit", kwargs={"study_id": cast.study.pk, "participant_id": p.pk})
    r = clients["admin"].post(edit, {"pseudonym": "ST09", "group": cast.group("carer").pk, "site": cast.south.pk,
                                     "interview_date": "", "name": "", "contact": ""})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.group.key == "carer"
    assert p.site == cast.south
    assert p.interview_date is None
    from participants.crypto import decrypt_text

    assert decrypt_text(p.name_encrypted) == "Bob Hidden"  # empty field = unchanged
    audit = AuditEvent.objects.filter(action="participant.update").last()
    assert set(audit.details["changed"]) == {"group", "site", "interview_date"}
    assert clients["lead"].post(edit, {"pseudonym": "X"}).status_code == 403


def test_consent_withdraw_correct_through_pages(cast, clients, world, django_capture_on_commit_callbacks):
    s = cast.study.pk
    p = make_participant(cast, "SU07")
    url = reverse("consent-record", kwargs={"study_id": s, "participant_id": p.pk})
    page = clients["admin"].get(url).content.decode()
    assert "condition of taking part" in page
    assert "Record consent" in page
    r = clients["admin"].post(url, {"consent_form": world["form"].pk, "date": "2020-06-01", "method": "written",
                                    "item_audio_recording": "yes", "item_anonymised_quotes": "no",
                                    "item_share_team_ppi": "yes", "item_data_archiving": "yes",
                                    "item_future_contact": ""})
    assert r.status_code == 302, r.content.decode()[:3000]
    p.refresh_from_db()
    assert p.consent_state == "partial"
    assert p.consent_answers["anonymised_quotes"] is False
    assert p.consent_answers["future_contact"] is None
    # bad date: error summary, nothing written
    r = clients["admin"].post(url, {"consent_form": world["form"].pk, "date": "not a date"})
    assert r.status_code == 200
    assert "There is a problem" in r.content.decode()
    assert p.consent_events.count() == 1
    event = p.consent_events.get()
    corr = reverse("consent-correct", kwargs={"study_id": s, "participant_id": p.pk, "event_id": event.pk})
    r = clients["admin"].post(corr, {"note": "Paper form says yes to quotes", "date": "2020-06-01",
                                     "item_audio_recording": "yes", "item_anonymised_quotes": "yes",
                                     "item_share_team_ppi": "yes", "item_data_archiving": "yes",
                                     "item_future_contact": "yes"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.consent_state == "consented"
    wd = reverse("participant-withdraw", kwargs={"study_id": s, "participant_id": p.pk})
    # delete without the confirmation: refused
    r = clients["admin"].post(wd, {"scope": "delete_data", "date": "2020-07-01"})
    assert r.status_code == 200
    assert "Confirm that the deletion is final" in r.content.decode()
    r = clients["admin"].post(wd, {"scope": "retain_data", "date": "2020-07-01"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.consent_state == "withdrawn_retain"
    detail = clients["lead"].get(reverse("participant-detail", kwargs={"study_id": s, "participant_id": p.pk}))
    text = detail.content.decode()
    assert "Withdrawn, data retained" in text
    assert "Correction" in text
    assert "Record withdrawal" not in text


def test_signed_form_upload_checked_by_content(cast, clients, world):
    s, p, e = cast.study.pk, world["north"], world["event"]
    url = reverse("consent-signed-form", kwargs={"study_id": s, "participant_id": p.pk, "event_id": e.pk})
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("form.pdf", b"<html>not a pdf</html>", content_type="application/pdf")
    r = clients["admin"].post(url, {"signed_form": fake}, follow=True)
    assert "not a PDF" in r.content.decode()
    e.refresh_from_db()
    assert not e.signed_form
    pdf = b"%PDF-1.4\n% signed by Alice Secretname\n%%EOF\n"
    assert clients["lead"].post(url, {"signed_form": SimpleUploadedFile("f.pdf", pdf)}).status_code == 403
    r = clients["admin"].post(url, {"signed_form": SimpleUploadedFile("f.pdf", pdf)})
    assert r.status_code == 302
    e.refresh_from_db()
    assert e.signed_form
    with e.signed_form.open("rb") as fh:
        assert b"Secretname" not in fh.read()  # encrypted at rest
    r = clients["admin"].get(url)
    assert r.status_code == 200
    assert r.content == pdf
    assert r["Content-Type"] == "application/pdf"
    for role, code in (("lead", 403), ("coder", 403), ("ppi", 404), ("outsider", 404)):
        assert clients[role].get(url).status_code == code
    # a second upload is refused: the log is append-only
    r = clients["admin"].post(url, {"signed_form": SimpleUploadedFile("f.pdf", pdf)}, follow=True)
    assert "already has a signed form" in r.content.decode()


def test_signed_form_size_limit(cast, clients, world, settings):
    settings.CHORUS_SIGNED_FORM_MAX_BYTES = 1000
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("consent-signed-form", kwargs={"study_id": cast.study.pk, "participant_id": world["north"].pk,
                                                 "event_id": world["event"].pk})
    r = clients["admin"].post(url, {"signed_form": SimpleUploadedFile("f.pdf", b"%PDF-" + b"x" * 2000)}, follow=True)
    assert "larger than" in r.content.decode()


def test_consent_form_create_page(cast, clients):
    url = reverse("consent-form-create", kwargs={"study_id": cast.study.pk})
    data = {"version": "2.0", "effective_from": "2021-01-01", "reconsent_required": "on",
            "inc_audio_recording": "on", "inc_anonymised_quotes": "on", "man_transcription": "on",
            "inc_transcription": "on", "extra_items": "photo_elicitation: I agree to share photographs.\nI agree to a follow-up interview."}
    r = clients["admin"].post(url, data)
    assert r.status_code == 302
    from participants.models import ConsentForm

    f = ConsentForm.objects.get(study=cast.study, version="2.0")
    keys = {i.key: i.mandatory for i in f.items.all()}
    assert keys == {"take_part": True, "audio_recording": False, "transcription": True, "anonymised_quotes": False,
                    "photo_elicitation": False, "i_agree_to_a_follow_up_interview": False}
    r = clients["admin"].post(url, data)
    assert r.status_code == 200
    assert "already exists" in r.content.decode()


def test_dashboard_counts_and_reconsent(cast, clients, world):
    s = cast.study.pk
    p = make_participant(cast, "ST01", group="staff")
    consent(cast, p, world["form"], {"audio_recording": "yes", "anonymised_quotes": "no"})
    make_form(cast, version="2.0", effective_from=dt.date(2020, 9, 1), reconsent_required=True)
    r = clients["lead"].get(reverse("consent-dashboard", kwargs={"study_id": s}))
    body = r.content.decode()
    assert "3 participants to re-consent" in body
    assert "1 said no" in body  # quotes
    from participants.selectors import consent_dashboard

    dash = consent_dashboard(user=cast.users["lead"], study_id=s)
    assert dash.total == 3
    assert dash.col_totals["consented"] == 2
    assert dash.col_totals["partial"] == 1


def test_sampling_frame_targets_set_by_lead(cast, clients, world):
    s = cast.study.pk
    url = reverse("sampling-frame", kwargs={"study_id": s})
    key = f"t_{cast.group('service_user').pk}_{cast.north.pk}"
    assert clients["admin"].post(url, {key: "5"}).status_code == 403
    assert clients["coder"].post(url, {key: "5"}).status_code == 403
    r = clients["lead"].post(url, {key: "abc"})
    assert r.status_code == 200
    assert "not a whole number" in r.content.decode()
    r = clients["lead"].post(url, {key: "5"})
    assert r.status_code == 302
    body = clients["coder"].get(url).content.decode()
    assert "1 / 5 consented" in body
    assert "4 short of target" in body
    # interviewed: SU01 has an interview date in the past
    assert "1 interviewed" in body
    scoped = clients["coder_other_site"].get(url).content.decode()
    assert "North Trust" not in scoped
    assert "South Trust" in scoped
    assert AuditEvent.objects.filter(action="sampling.update").count() == 1


def test_nav_entries(cast, clients, world):
    body = clients["coder"].get(reverse("study-detail", kwargs={"study_id": cast.study.pk})).content.decode()
    assert ">Participants<" in body
    assert ">Consent<" in body
    assert ">Sampling<" in body
    body = clients["ppi"].get(reverse("study-detail", kwargs={"study_id": cast.study.pk})).content.decode()
    assert ">Participants<" not in body
    assert ">Consent<" not in body
