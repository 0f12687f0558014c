"""Issue 11, first use: the consent register as a data manager meets it (trips 11, 12 and 13)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from participants import services
from participants.models import ConsentEvent
from tests.factories import consent, make_form, make_participant

pytestmark = pytest.mark.django_db


def _upload(client, url: str, content: str, name: str = "file.csv"):
    return client.post(url, {"file": SimpleUploadedFile(name, content.encode("utf-8"), content_type="text/csv")})


# 11. Errors that follow from one cause are shown once, with the rows they affect -------------------


def test_unknown_form_version_is_one_root_cause_not_one_error_per_row(cast, clients):
    for pseudonym in ("SU01", "SU02", "SU03", "ST02"):
        make_participant(cast, pseudonym, group="staff" if pseudonym.startswith("ST") else "service_user")
    csv = (
        "participant_id,event,date,form_version,withdrawal_scope,take_part\n"
        "SU01,consent,2020-08-11,1.1,,yes\n"
        "SU02,consent,2020-08-12,1.1,,yes\n"
        "SU03,consent,2020-08-13,1.1,,yes\n"
        "ST02,consent,2020-08-14,1.1,,yes\n"
        "ST02,withdrawal,2020-09-01,,retain_data,\n"
    )
    r = _upload(clients["admin"], reverse("consent-import", kwargs={"study_id": cast.study.pk}), csv)
    html = r.content.decode()
    assert r.status_code == 200
    assert html.count("Unknown consent form version “1.1”") == 1  # once, not once per row
    assert "This affects 4 rows: lines 2, 3, 4, 5" in html
    # The withdrawal fails only because ST02's consent row was refused: listed under the cause.
    assert "1 more row fails only because of it (line 6)" in html
    assert "Other errors" not in html
    # Choosing to create the missing version clears the cause and its consequence.
    batch = r.context["batch_id"]
    r2 = clients["admin"].post(reverse("consent-import", kwargs={"study_id": cast.study.pk}),
                               {"batch": batch, "create_missing": "on", "action": "preview"})
    html2 = r2.content.decode()
    assert "Unknown consent form version" not in html2
    assert "no consent to withdraw" not in html2.lower()
    assert not ConsentEvent.objects.filter(study=cast.study).exists()  # a preview writes nothing


def test_api_report_groups_errors_by_cause(cast, api):
    make_participant(cast, "SU01")
    report = services.consent_import(actor=cast.users["admin"], study_id=cast.study.pk, filename="c.csv", data=(
        b"participant_id,event,date,form_version,withdrawal_scope,take_part\n"
        b"SU01,consent,2020-08-11,9.9,,yes\nSU01,withdrawal,2020-09-01,,retain_data,\n"))
    groups = report.as_dict()["error_groups"]
    assert len(groups) == 1
    assert groups[0]["cause"].startswith("Unknown consent form version “9.9”")
    assert [e["line"] for e in groups[0]["lines"]] == [2]
    assert [e["line"] for e in groups[0]["consequences"]] == [3]


# 12. A withdrawal shows its own date and is not offered again ---------------------------------------


def test_withdrawal_shows_its_date_and_no_second_withdrawal(cast, clients):
    form = make_form(cast)
    p = make_participant(cast, "SU05")
    consent(cast, p, form, date=dt.date(2020, 8, 11))
    services.participant_withdraw(actor=cast.users["admin"], study_id=cast.study.pk, participant_id=p.pk,
                                  scope="retain_data", date=dt.date(2021, 3, 2), method="", note="")
    html = clients["admin"].get(reverse("participant-detail", kwargs={"study_id": cast.study.pk,
                                                                      "participant_id": p.pk})).content.decode()
    consent_dd = html.split("<dt>Consent</dt>", 1)[1].split("</dd>", 1)[0]
    assert "Withdrawn, data retained" in consent_dd
    assert "on 2 Mar 2021" in consent_dd
    assert "11 Aug 2020" in consent_dd.split("Had consented", 1)[1]  # the consent date, labelled as such
    assert "Record withdrawal" not in html
    assert "Record re-consent" in html


# 13. The participant import preview shows its rows; "Check again" only when there is a choice ------


def test_participant_preview_shows_rows_and_offers_check_again_only_with_choices(cast, clients):
    make_participant(cast, "SU01", site=cast.north)
    url = reverse("participants-import", kwargs={"study_id": cast.study.pk})
    csv = "participant_id,group,site\nSU01,service_user,North Trust\nSU02,carer,South Trust\n"
    html = _upload(clients["admin"], url, csv).content.decode()
    rows = html.split('class="table preview-rows"', 1)[1].split("</table>", 1)[0]
    assert "SU02" in rows
    assert "Added" in rows
    assert "SU01" in rows
    assert "Already in Chorus, unchanged" in rows
    assert "Check again with these choices" not in html  # nothing to choose
    html = _upload(clients["admin"], url, "participant_id,group,site\nSU03,carer,East Trust\n").content.decode()
    assert "Check again with these choices" in html  # creating the East Trust site is a choice


# 6. The audit log: labelled fields, folded when long, objects by name with links -------------------


def test_audit_log_reads_as_fields_with_named_linked_objects(cast, clients):
    from accounts.services import audit_record

    p = make_participant(cast, "SU09")
    events = [{"pseudonym": f"SU{i:02d}", "kind": "consent", "date": "2020-08-11", "form_version": "1.1",
               "withdrawal_scope": ""} for i in range(40)]
    audit_record(actor=cast.users["admin"], action="consent.import", study=cast.study,
                 object_type="participants.importbatch", details={"filename": "consent.csv", "rows": 40,
                                                                  "events": events, "error_rows": 0})
    audit_record(actor=cast.users["admin"], action="participant.update", study=cast.study, obj=p,
                 details={"pseudonym": "SU09", "changed": ["site"]})
    html = clients["admin"].get(reverse("audit-log", kwargs={"study_id": cast.study.pk})).content.decode()
    table = html.split('class="table audit"', 1)[1].split("</table>", 1)[0]
    assert "participants.importbatch" not in table
    assert "participants.participant" not in table
    assert "Consent import: consent.csv" in table
    detail_url = reverse("participant-detail", kwargs={"study_id": cast.study.pk, "participant_id": p.pk})
    assert f'<a href="{detail_url}">Participant SU09</a>' in table
    assert "{'" not in table
    assert "[{" not in table
    # The 40-event import is folded behind a summary; its events are a list, one line each.
    folded = table.split("Consent import: consent.csv", 1)[1].split("</tr>", 1)[0]
    assert "<details><summary>" in folded
    assert "<dt>Events recorded</dt>" in folded
    assert folded.count("<li>") == 40
    item = next(li for li in folded.split("<li>")[1:] if "Participant: SU03;" in li or li.startswith("Participant: SU03"))
    item = item.split("</li>", 1)[0]
    # PostgreSQL's jsonb keeps keys in its own order: each labelled part, in any order.
    assert sorted(item.split("; ")) == sorted(["Participant: SU03", "Kind: consent", "Date: 2020-08-11",
                                               "Form version: 1.1", "Withdrawal: —"])
    short = table.split("Participant SU09</a>", 1)[1].split("</tr>", 1)[0]
    assert "<details>" not in short
    assert "<dt>Changed</dt><dd>site</dd>" in short
