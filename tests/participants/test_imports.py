"""CSV imports: the generator's files (65 and 1,000 participants), idempotence, and bad input."""

from __future__ import annotations

import codecs
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent, Site
from jobs.models import Job
from participants import services
from participants.models import AttributeDefinition, ConsentEvent, ConsentForm, Participant

from .conftest import read_csv

pytestmark = pytest.mark.django_db


def imp(cast, data: bytes, **kw):
    return services.participants_import(actor=cast.users["admin"], study_id=cast.study.pk, data=data,
                                        filename="participants.csv", **kw)


def cimp(cast, data: bytes, **kw):
    return services.consent_import(actor=cast.users["admin"], study_id=cast.study.pk, data=data,
                                   filename="consent.csv", **kw)


@pytest.mark.parametrize("n", [65, 1000])
def test_generator_files_import_with_counts_matching(cast, generated, n, django_capture_on_commit_callbacks):
    folder = generated[n]
    people = read_csv(folder / "participants.csv")
    events = read_csv(folder / "consent.csv")
    pdata = (folder / "participants.csv").read_bytes()
    cdata = (folder / "consent.csv").read_bytes()
    assert len(people) == n

    # Unknown sites: the preview says which, and a commit without choosing to create them writes nothing.
    report = imp(cast, pdata, commit=True)
    assert not report.committed
    assert "have errors" in report.blocked
    file_sites = {p["site"] for p in people}
    assert {s["name"] for s in report.new_sites} == file_sites - {"North Trust"}
    assert Participant.objects.count() == 0
    assert Site.objects.filter(study=cast.study).count() == 2

    report = imp(cast, pdata, commit=True, create_sites=True)
    assert report.committed
    assert report.create == n
    assert report.error_rows == 0
    qs = Participant.objects.filter(study=cast.study)
    assert qs.count() == n
    assert Counter(qs.values_list("group__key", flat=True)) == Counter(p["group"] for p in people)
    assert Counter(qs.values_list("site__name", flat=True)) == Counter(p["site"] for p in people)
    sample = people[n // 2]
    p = qs.get(pseudonym=sample["participant_id"])
    assert p.interview_date.isoformat() == sample["interview_date"]
    assert p.attributes["age_band"] == sample["age_band"]
    assert p.attributes["gender"] == sample["gender"]
    kinds = dict(AttributeDefinition.objects.filter(study=cast.study).values_list("key", "kind"))
    assert set(kinds) == {"age_band", "gender", "ethnicity", "interview_mode", "staff_role"}

    # Re-import: idempotent.
    again = imp(cast, pdata, commit=True, create_sites=True)
    assert not again.committed
    assert again.unchanged == n
    assert again.create == again.update == 0
    assert qs.count() == n

    # Consent: versions unknown → offered; deletion must be confirmed.
    report = cimp(cast, cdata, commit=True)
    assert not report.committed
    assert {f["version"] for f in report.new_forms} == {"1.0", "1.1"}
    deleted = [e["participant_id"] for e in events if e["withdrawal_scope"] == "delete_data"]
    retained = [e["participant_id"] for e in events if e["withdrawal_scope"] == "retain_data"]
    report = cimp(cast, cdata, commit=True, create_forms=True)
    assert not report.committed
    assert report.deletions == deleted
    assert ConsentEvent.objects.count() == 0
    assert ConsentForm.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=False):
        report = cimp(cast, cdata, commit=True, create_forms=True, confirm_deletions=True)
    assert report.committed, report.errors[:3]
    assert report.create == len(events)
    assert ConsentEvent.objects.filter(study=cast.study).count() == len(events)
    assert set(ConsentForm.objects.filter(study=cast.study).values_list("version", flat=True)) == {"1.0", "1.1"}

    # States derived from the events, compared with the file.
    withdrawn = set(deleted) | set(retained)
    consents = {e["participant_id"]: e for e in events if e["event"] == "consent"}
    partial = {pid for pid, e in consents.items() if pid not in withdrawn
               and any(e[k] != "yes" for k in ("audio_recording", "anonymised_quotes", "data_archiving", "future_contact"))}
    states = Counter(qs.values_list("consent_state", flat=True))
    assert states["withdrawn_delete"] == len(deleted) == 1
    assert states["withdrawn_retain"] == len(retained) == 1
    assert states["partial"] == len(partial)
    assert states["consented"] == n - 2 - len(partial)
    assert set(qs.filter(consent_state="partial").values_list("pseudonym", flat=True)) == partial
    assert Job.objects.filter(kind="participant_purge", status="queued").count() == 1
    assert AuditEvent.objects.filter(action="consent.import").count() == 1

    again = cimp(cast, cdata, commit=True, create_forms=True, confirm_deletions=True)
    assert not again.committed
    assert again.unchanged == len(events)
    assert again.create == 0
    assert ConsentEvent.objects.count() == len(events)
    # the purged participant's row in participants.csv is skipped, not re-created
    again = imp(cast, pdata, create_sites=True)
    assert again.skipped == 1
    assert again.unchanged == n - 1


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_wrong_headers(cast):
    with pytest.raises(ValidationError, match="participant_id"):
        imp(cast, _csv("id,group,site", "SU01,carer,North Trust"))
    with pytest.raises(ValidationError, match="group column"):
        imp(cast, _csv("participant_id,site", "SU01,North Trust"))
    with pytest.raises(ValidationError, match="more than once"):
        imp(cast, _csv("participant_id,group,Group", "SU01,carer,carer"))
    with pytest.raises(ValidationError, match=r"the column\(s\) date"):
        cimp(cast, _csv("participant_id,event", "SU01,consent"))
    with pytest.raises(ValidationError, match="empty"):
        imp(cast, b"")


def test_row_errors_with_line_numbers_and_nothing_half_imported(cast):
    data = _csv(
        "participant_id,group,site,interview_date",
        "SU01,service_user,North Trust,2020-06-01",   # line 2 ok
        "SU02,servce_user,North Trust,2020-06-01",    # line 3 unknown group
        "SU01,carer,North Trust,2020-06-01",          # line 4 duplicate
        "SU03,carer,Nowhere Trust,2020-06-01",        # line 5 unknown site
        "SU04,carer,south trust,2020-31-12",          # line 6 bad date (site matched case-insensitively)
        '"SU05,x",carer,North Trust,',                 # line 7 bad pseudonym
        "SU06,staff,North Trust",                      # line 8 wrong field count
        "SU07,staff,North Trust,01/07/2020",           # line 9 ok (UK date)
    )
    report = imp(cast, data, commit=True)
    assert not report.committed
    by_line = {e["line"]: e for e in report.errors}
    assert set(by_line) == {3, 4, 5, 6, 7, 8}
    assert by_line[3]["column"] == "group"
    assert "servce_user" in by_line[3]["message"]
    assert "line 2" in by_line[4]["message"]
    assert by_line[5]["column"] == "site"
    assert by_line[6]["column"] == "interview_date"
    assert Participant.objects.count() == 0
    report = imp(cast, data, commit=True, import_valid_rows=True)
    assert report.committed
    assert report.create == 2
    assert set(Participant.objects.values_list("pseudonym", flat=True)) == {"SU01", "SU07"}
    assert str(Participant.objects.get(pseudonym="SU07").interview_date) == "2020-07-01"


def test_typed_attribute_values_checked(cast):
    services.attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Sessions", kind="number")
    services.attribute_create(actor=cast.users["admin"], study_id=cast.study.pk, label="Mode", kind="choice",
                              choices=["telephone", "video"])
    report = imp(cast, _csv("participant_id,group,sessions,mode", "SU01,carer,3,Video", "SU02,carer,three,fax"))
    cols = {(e["line"], e["column"]) for e in report.errors}
    assert cols == {(3, "sessions"), (3, "mode")}
    imp(cast, _csv("participant_id,group,sessions,mode", "SU01,carer,3,Video"), commit=True)
    assert Participant.objects.get().attributes == {"sessions": 3, "mode": "video"}


def test_latin1_detected_and_never_silent(cast):
    data = "participant_id,group,nickname\nSU01,carer,Zoë\n".encode("latin-1")
    report = imp(cast, data, commit=True)
    assert not report.committed
    assert report.needs_encoding_confirmation
    assert ("Windows-1252" in report.encoding_notice and "Zoë" in report.encoding_notice.replace(" ", "")) or "ë" in report.encoding_notice
    assert Participant.objects.count() == 0
    report = imp(cast, data, commit=True, encoding="windows-1252")
    assert report.committed
    assert Participant.objects.get().attributes["nickname"] == "Zoë"
    # a UTF-8 file forced as UTF-8 but actually Latin-1: clear error
    with pytest.raises(ValidationError, match="not valid UTF-8"):
        imp(cast, data, encoding="utf-8")


def test_bom_and_utf16(cast):
    data = codecs.BOM_UTF8 + "participant_id,group,nickname\nSU01,carer,Zoë\n".encode()
    report = imp(cast, data, commit=True)
    assert report.committed
    assert not report.encoding_notice
    assert Participant.objects.get(pseudonym="SU01").attributes == {"nickname": "Zoë"}
    data = "participant_id,group,nickname\nSU02,carer,Zoë 👍\n".encode("utf-16")
    report = imp(cast, data, commit=True)
    assert report.committed
    assert Participant.objects.get(pseudonym="SU02").attributes == {"nickname": "Zoë 👍"}


def test_mojibake_flagged(cast):
    data = "participant_id,group,nickname\nSU01,carer,ZoÃ«\n".encode()
    report = imp(cast, data, commit=True)
    assert not report.committed
    assert "garbled" in report.encoding_notice


def test_100k_rows_refused_with_clear_message(cast):
    rows = ["participant_id,group,site"] + [f"P{i:06d},carer,North Trust" for i in range(100_000)]
    with pytest.raises(ValidationError, match="100,000 rows") as exc:
        imp(cast, _csv(*rows), commit=True, import_valid_rows=True)
    assert "Nothing was imported" in str(exc.value)
    assert Participant.objects.count() == 0


def test_size_limit(cast, settings):
    settings.CHORUS_IMPORT_MAX_BYTES = 1024
    with pytest.raises(ValidationError, match="at most"):
        imp(cast, b"participant_id,group\n" + b"SU01,carer\n" * 200)


def test_consent_row_errors(cast):
    imp(cast, _csv("participant_id,group", "SU01,carer", "SU02,carer", "SU03,carer"), commit=True)
    data = _csv(
        "participant_id,event,date,form_version,method,anonymised_quotes,withdrawal_scope",
        "SU01,consent,2020-06-01,1.0,written,yes,",       # 2 ok
        "SU09,consent,2020-06-01,1.0,written,yes,",       # 3 unknown participant
        "SU02,correction,2020-06-01,1.0,,yes,",           # 4 corrections not importable
        "SU02,withdrawal,2020-06-01,,,,",                 # 5 withdrawal without scope
        "SU03,withdrawal,2020-06-01,,,,retain_data",      # 6 withdrawal before any consent
        "SU02,consent,2099-01-01,1.0,,yes,",              # 7 future
        "SU02,consent,2020-06-01,1.0,,maybe,",            # 8 not yes/no
        "SU01,consent,2020-06-01,1.0,written,yes,",       # 9 same as line 2: counted once
    )
    report = cimp(cast, data, create_forms=True)
    by_line = {e["line"]: e for e in report.errors}
    assert set(by_line) == {3, 4, 5, 6, 7, 8}
    assert "Record corrections" in by_line[4]["message"]
    assert "no consent to withdraw" in by_line[6]["message"]
    assert report.warnings
    assert report.warnings[0]["line"] == 9
    report = cimp(cast, data, commit=True, create_forms=True, import_valid_rows=True)
    assert report.committed
    assert report.create == 1
    assert Participant.objects.get(pseudonym="SU01").consent_state == "consented"


def test_export_neutralises_formula_injection(cast, django_capture_on_commit_callbacks):
    imp(cast, _csv("participant_id,group,note", 'SU01,carer,"=HYPERLINK(""http://evil.example"",""x"")"'), commit=True)
    assert Participant.objects.get().attributes["note"].startswith("=HYPERLINK")
    with django_capture_on_commit_callbacks(execute=False):
        job = services.participants_export_start(actor=cast.users["admin"], study_id=cast.study.pk)
    services.participants_export_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error
    text = job.result_file.open("rb").read().decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert "\n=HYPERLINK" not in text
    assert ",=HYPERLINK" not in text


def test_export_has_no_identifiable_fields_and_respects_scope(cast, django_capture_on_commit_callbacks):
    from tests.factories import make_participant

    make_participant(cast, "SU01", name="Very Secret", contact="07700 900123")
    make_participant(cast, "CA01", group="carer", site=cast.south)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.participants_export_start(actor=cast.users["lead"], study_id=cast.study.pk)
    services.participants_export_run(job_id=job.pk)
    job.refresh_from_db()
    text = job.result_file.open("rb").read().decode("utf-8-sig")
    assert "SU01" in text
    assert "CA01" in text
    assert "Secret" not in text
    assert "07700" not in text
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.participants_export_start(actor=cast.users["coder"], study_id=cast.study.pk)


def test_import_pages_preview_then_commit(cast, clients):
    url = reverse("participants-import", kwargs={"study_id": cast.study.pk})
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = _csv("participant_id,group,site", "SU01,carer,North Trust", "SU02,staff,Leeds Trust")
    r = clients["admin"].post(url, {"file": SimpleUploadedFile("p.csv", data)})
    body = r.content.decode()
    assert r.status_code == 200
    assert "Preview of p.csv" in body
    assert "Leeds Trust" in body
    assert Participant.objects.count() == 0
    from participants.models import ImportBatch

    batch = ImportBatch.objects.get()
    assert b"Leeds" not in batch.content_encrypted.encode()  # encrypted while waiting
    r = clients["admin"].post(url, {"batch": batch.pk, "action": "commit"})
    assert "Nothing was imported" in r.content.decode()
    assert Participant.objects.count() == 0
    r = clients["admin"].post(url, {"batch": batch.pk, "action": "commit", "create_missing": "on"})
    assert r.status_code == 302
    assert Participant.objects.count() == 2
    assert Site.objects.filter(name="Leeds Trust").exists()
    batch.refresh_from_db()
    assert batch.status == "committed"
    assert batch.content_encrypted == ""
    # the batch cannot be used twice, nor by someone else
    r = clients["admin"].post(url, {"batch": batch.pk, "action": "commit"})
    assert "expired" in r.content.decode()
    r = clients["admin"].post(url, {"file": SimpleUploadedFile("p.csv", b"nonsense")})
    assert "needs a participant_id" in r.content.decode()


def test_consent_import_page(cast, clients, generated, django_capture_on_commit_callbacks):
    folder = generated[65]
    imp(cast, (folder / "participants.csv").read_bytes(), commit=True, create_sites=True)
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("consent-import", kwargs={"study_id": cast.study.pk})
    r = clients["admin"].post(url, {"file": SimpleUploadedFile("consent.csv", (folder / "consent.csv").read_bytes())})
    body = r.content.decode()
    assert "Create the consent form versions" in body
    from participants.models import ImportBatch

    batch = ImportBatch.objects.get(kind="consent")
    r = clients["admin"].post(url, {"batch": batch.pk, "action": "preview", "create_missing": "on"})
    assert "with deletion of their data" in r.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        r = clients["admin"].post(url, {"batch": batch.pk, "action": "commit", "create_missing": "on",
                                        "confirm_deletions": "on"})
    assert r.status_code == 302
    assert ConsentEvent.objects.count() == len(read_csv(folder / "consent.csv"))
