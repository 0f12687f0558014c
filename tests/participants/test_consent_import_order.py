"""A consent row dated before a consent already recorded: the preview refuses that row, with its line
and why, instead of promising "create 1" and then failing the commit with a bare message."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from participants.models import ConsentEvent
from tests.factories import consent, make_form, make_participant

pytestmark = pytest.mark.django_db


def test_a_row_dated_before_a_recorded_consent_is_refused_in_the_preview(cast, api):
    form = make_form(cast)
    p = make_participant(cast, "SU01")
    consent(cast, p, form, date=dt.date(2020, 6, 1))
    csv = b"participant_id,event,date,form_version\nSU01,consent,2020-05-01,1.0\n"
    url = f"/api/v1/studies/{cast.study.pk}/imports/consent/"
    preview = api["admin"].post(url, {"file": SimpleUploadedFile("c.csv", csv)}, format="multipart").json()
    assert preview["create"] == 0
    (error,) = preview["errors"]
    assert error["line"] == 2
    assert "before the consent already recorded on 2020-06-01" in error["message"]
    commit = api["admin"].post(url, {"file": SimpleUploadedFile("c.csv", csv), "commit": "true"}, format="multipart")
    assert commit.status_code == 400
    assert "row(s) have errors" in commit.json()["blocked"]
    assert ConsentEvent.objects.filter(participant=p).count() == 1


def test_import_audit_keeps_the_file_hash_not_its_name(cast, api):
    from accounts.models import AuditEvent

    csv = b"participant_id,group\nSU05,service_user\n"
    r = api["admin"].post(f"/api/v1/studies/{cast.study.pk}/imports/participants/",
                          {"file": SimpleUploadedFile("Joan Realname people.csv", csv), "commit": "true"},
                          format="multipart")
    assert r.status_code == 200, r.content
    event = AuditEvent.objects.get(action="participants.import")
    assert "Realname" not in str(event.details)
    assert len(event.details["sha256"]) == 64
