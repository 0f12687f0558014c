"""Transcript sets: made, renamed, filled and emptied through the services, the pages and the API; every count
and list as the member may see it (scope, consent); bad input refused with nothing written; a purged
participant's transcripts leave every set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AuditEvent
from analysis.transcripts.models import TranscriptSet, TranscriptSetMember
from analysis.transcripts.services.transcripts import transcripts_purge
from analysis.transcripts.sets import selectors, services
from participants.models import ConsentState, Participant
from tests.factories import ST01_TEXT, SU01_TEXT, add_transcript, participant_row
from tests.roles import db_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cast: Any) -> dict[str, Any]:
    su01 = participant_row(cast, "SU01", "service_user", cast.north)
    st01 = participant_row(cast, "ST01", "staff", cast.south)
    ca01 = participant_row(cast, "CA01", "carer", cast.north)
    return {"su01": su01, "st01": st01, "ca01": ca01,
            "t_north": add_transcript(cast, su01, SU01_TEXT).pk, "t_south": add_transcript(cast, st01, ST01_TEXT).pk,
            "t_carer": add_transcript(cast, ca01, SU01_TEXT.replace("SU01", "CA01")).pk}


def _make(cast: Any, world: dict[str, Any], who: str = "lead", name: str = "Remote interviews") -> TranscriptSet:
    return services.transcript_set_create(actor=cast.users[who], study_id=cast.study.pk, name=name,
                                          description="Telephone and video",
                                          transcript_ids=[world["t_north"], world["t_south"]])


def test_create_counts_and_lists_as_each_member_may_see(cast: Any, world: dict[str, Any]) -> None:
    made = _make(cast, world)
    sid = cast.study.pk
    counts = {role: selectors.set_get(user=cast.users[role], study_id=sid, set_id=made.pk).visible_count
              for role in ("admin", "lead", "coder", "coder_other_site")}
    # The coder of the other site (South only) counts ST01's transcript only, and is never shown SU01's.
    assert counts == {"admin": 2, "lead": 2, "coder": 2, "coder_other_site": 1}
    seen = selectors.set_transcripts(user=cast.users["coder_other_site"], study_id=sid, transcript_set=made)
    assert [t.pk for t in seen] == [world["t_south"]]
    event = AuditEvent.objects.get(action="transcript_set.create")
    assert event.details == {"name": "Remote interviews", "transcripts": 2}
    with pytest.raises(PermissionDenied):
        selectors.sets_list(user=cast.users["ppi"], study_id=sid)


def test_withdrawn_delete_participants_are_not_counted_and_leave_when_purged(cast: Any, world: dict[str, Any]) -> None:
    made = services.transcript_set_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Carers",
                                          transcript_ids=[world["t_carer"], world["t_north"]])
    Participant.objects.filter(pk=world["ca01"].pk).update(consent_state=ConsentState.WITHDRAWN_DELETE)
    assert selectors.set_get(user=cast.users["lead"], study_id=cast.study.pk, set_id=made.pk).visible_count == 1
    transcripts_purge(participant=world["ca01"])
    assert list(TranscriptSetMember.objects.filter(transcript_set=made).values_list("transcript_id", flat=True)) == [
        world["t_north"]]


@pytest.mark.parametrize(("name", "says"), [
    ("", "Give the set a name"), ("   ", "Give the set a name"), ("x" * 201, "At most 200 characters"),
    ("Re\x00mote", "NUL"), ("remote INTERVIEWS", "already a set called"), (17, "Give text"),
])
def test_bad_names_are_refused_and_nothing_is_written(cast: Any, world: dict[str, Any], name: Any, says: str) -> None:
    _make(cast, world)
    before = db_snapshot()
    with pytest.raises(ValidationError) as exc:
        services.transcript_set_create(actor=cast.users["coder"], study_id=cast.study.pk, name=name,
                                       transcript_ids=[world["t_north"]])
    assert says in " ".join(exc.value.message_dict["name"])
    assert db_snapshot() == before


def test_out_of_scope_and_unknown_transcripts_are_refused_alike(cast: Any, world: dict[str, Any]) -> None:
    mine = services.transcript_set_create(actor=cast.users["coder_other_site"], study_id=cast.study.pk, name="South")
    before = db_snapshot()
    for bad in (world["t_north"], 999_999, 2**63):
        with pytest.raises(ValidationError) as exc:
            services.transcript_set_add(actor=cast.users["coder_other_site"], study_id=cast.study.pk,
                                        set_id=mine.pk, transcript_ids=[world["t_south"], bad])
        assert "No such transcript" in exc.value.message_dict["transcript_ids"][0]
    assert db_snapshot() == before
    assert services.transcript_set_add(actor=cast.users["coder_other_site"], study_id=cast.study.pk, set_id=mine.pk,
                                       transcript_ids=[world["t_south"], world["t_south"]]) == 1


def test_who_may_change_a_set(cast: Any, world: dict[str, Any]) -> None:
    leads = _make(cast, world)
    coders = services.transcript_set_create(actor=cast.users["coder"], study_id=cast.study.pk, name="Mine")
    sid = cast.study.pk
    with pytest.raises(PermissionDenied):
        services.transcript_set_update(actor=cast.users["coder"], study_id=sid, set_id=leads.pk, name="Taken over")
    with pytest.raises(PermissionDenied):
        services.transcript_set_delete(actor=cast.users["admin"], study_id=sid, set_id=coders.pk)
    # A lead changes anyone's set; the maker their own.
    services.transcript_set_add(actor=cast.users["lead"], study_id=sid, set_id=coders.pk, transcript_ids=[world["t_north"]])
    services.transcript_set_update(actor=cast.users["coder"], study_id=sid, set_id=coders.pk, name="Mine, renamed")
    coders.refresh_from_db()
    assert (coders.name, coders.members_version) == ("Mine, renamed", 2)
    assert [s.name for s in selectors.sets_changeable(user=cast.users["coder"], study_id=sid)] == ["Mine, renamed"]
    assert services.transcript_set_remove(actor=cast.users["coder"], study_id=sid, set_id=coders.pk,
                                          transcript_ids=[world["t_north"]]) == 1
    services.transcript_set_delete(actor=cast.users["lead"], study_id=sid, set_id=coders.pk)
    assert not TranscriptSet.objects.filter(pk=coders.pk).exists()
    assert {e.action for e in AuditEvent.objects.filter(action__startswith="transcript_set.")} == {
        "transcript_set.create", "transcript_set.add", "transcript_set.update", "transcript_set.remove",
        "transcript_set.delete"}


def test_api_end_to_end(cast: Any, world: dict[str, Any], api: Any) -> None:
    base = f"/api/v1/studies/{cast.study.pk}/transcript-sets/"
    r = api["lead"].post(base, {"name": "Carers and staff", "transcript_ids": [world["t_south"]]}, format="json")
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    assert r.json()["transcript_count"] == 1
    assert r.json()["created_by"]
    # All the lead may see at the North site (the transcript list's filter).
    r = api["lead"].post(f"{base}{sid}/transcripts/", {"all_matching": True, "site": cast.north.pk}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["changed"] == 2
    assert r.json()["set"]["transcript_count"] == 3
    r = api["coder_other_site"].get(f"{base}{sid}/transcripts/")
    assert [t["pseudonym"] for t in r.json()["results"]] == ["ST01"]
    assert api["coder_other_site"].get(base).json()[0]["transcript_count"] == 1
    r = api["lead"].post(f"{base}{sid}/transcripts/remove/", {"transcript_ids": [world["t_north"]]}, format="json")
    assert r.json()["changed"] == 1
    r = api["lead"].patch(f"{base}{sid}/", {"name": "Staff"}, format="json")
    assert r.json()["name"] == "Staff"


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"name": ""}, "name", "blank"), ({"name": "x" * 201}, "name", "200"), ({"name": "a\x00b"}, "name", "Null"),
    ({"name": "Taken"}, "name", "already a set"), ({"name": "N", "transcript_ids": [999_999]}, "transcript_ids",
                                                     "No such transcript"),
    ({"name": "N", "colour": "red"}, "colour", ""),
])
def test_api_bad_input_is_a_clear_400(cast: Any, world: dict[str, Any], api: Any, body: Any, field: str,
                                      says: str) -> None:
    services.transcript_set_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Taken")
    before = db_snapshot()
    r = api["coder_other_site"].post(f"/api/v1/studies/{cast.study.pk}/transcript-sets/", body, format="json")
    assert r.status_code == 400
    assert says in str(r.json()), r.json()
    assert field in str(r.json())
    assert db_snapshot() == before


def test_api_out_of_scope_add_is_400_and_ppi_gets_404_by_id(cast: Any, world: dict[str, Any], api: Any) -> None:
    mine = services.transcript_set_create(actor=cast.users["coder_other_site"], study_id=cast.study.pk, name="South")
    url = f"/api/v1/studies/{cast.study.pk}/transcript-sets/{mine.pk}/"
    r = api["coder_other_site"].post(url + "transcripts/", {"transcript_ids": [world["t_north"]]}, format="json")
    assert r.status_code == 400
    assert "No such transcript" in str(r.json())
    assert api["ppi"].get(url).status_code == 404
    assert api["ppi"].get(f"/api/v1/studies/{cast.study.pk}/transcript-sets/").status_code == 403


def test_pages_make_a_set_from_the_transcript_list(cast: Any, world: dict[str, Any], clients: Any) -> None:
    sid = cast.study.pk
    listing = clients["coder"].get(f"/studies/{sid}/transcripts/?site={cast.north.pk}").content.decode()
    assert "New set from selection" in listing
    assert 'name="transcripts"' in listing
    assert "style=" not in listing
    assert "onclick" not in listing
    # Everything matching the filter (North: SU01 and CA01) into a new set.
    r = clients["coder"].post(f"/studies/{sid}/transcript-sets/add/", {
        "which": "matching", "site": cast.north.pk, "action": "new", "new_name": "North interviews"})
    assert r.status_code == 302
    made = TranscriptSet.objects.get(name="North interviews")
    assert made.members.count() == 2
    # Ticked ones into an existing set.
    r = clients["coder"].post(f"/studies/{sid}/transcript-sets/add/", {
        "transcripts": [world["t_south"]], "set": made.pk, "action": "add"})
    assert r["Location"] == f"/studies/{sid}/transcript-sets/{made.pk}/"
    assert made.members.count() == 3
    # Nothing ticked: an error on the list, nothing written.
    before = db_snapshot()
    r = clients["coder"].post(f"/studies/{sid}/transcript-sets/add/", {"set": made.pk, "action": "add"}, follow=True)
    assert "Tick the transcripts" in r.content.decode()
    assert db_snapshot() == before
    # The list and the set's page as the South coder sees them: one transcript, no North names.
    page = clients["coder_other_site"].get(f"/studies/{sid}/transcript-sets/").content.decode()
    assert re.search(r"North interviews</a></td>\s*<td>1</td>", page)
    detail = clients["coder_other_site"].get(f"/studies/{sid}/transcript-sets/{made.pk}/").content.decode()
    assert "ST01" in detail
    assert "SU01" not in detail
    assert "CA01" not in detail
    assert re.findall(r'aria-current="page">([^<]+)<', detail) == ["Transcript sets"]
    assert "Delete the set" not in detail  # the coder of the other site did not make it


def test_pages_rename_remove_and_delete_with_confirmation(cast: Any, world: dict[str, Any], clients: Any) -> None:
    made = _make(cast, world)
    base = f"/studies/{cast.study.pk}/transcript-sets/{made.pk}/"
    r = clients["lead"].post(base + "edit/", {"name": "x" * 201, "description": ""})
    assert r.status_code == 400
    assert "at most 200" in r.content.decode()
    r = clients["lead"].post(base + "edit/", {"name": "Phone calls", "description": "Only the phone"})
    assert r.status_code == 302
    clients["lead"].post(base + "remove/", {"transcripts": [world["t_north"]]})
    assert list(made.members.values_list("transcript_id", flat=True)) == [world["t_south"]]
    confirm = clients["lead"].get(base + "delete/").content.decode()
    assert 'class="button warning"' in confirm
    assert "Delete the transcript set “Phone calls”?" in confirm
    assert clients["lead"].post(base + "delete/").status_code == 302
    assert not TranscriptSet.objects.filter(pk=made.pk).exists()


# The coded-material export, limited to a set ------------------------------------------------------------


def test_export_by_set_becomes_its_transcripts_as_the_member_may_see_them(cast: Any, world: dict[str, Any]) -> None:
    from analysis.coding.services.exports import export_request_parse, export_transcript_set_apply

    made = _make(cast, world)
    sid = cast.study.pk
    data = export_transcript_set_apply(user=cast.users["coder_other_site"], study_id=sid,
                                       data={"format": "csv", "transcript_set": str(made.pk), "transcripts": []})
    assert data == {"format": "csv", "transcripts": [world["t_south"]]}
    assert export_request_parse(study_id=sid, data=data).transcripts == (world["t_south"],)
    assert export_transcript_set_apply(user=cast.users["lead"], study_id=sid, data={"format": "csv",
                                                                                  "transcript_set": ""}) == {
        "format": "csv"}


@pytest.mark.parametrize(("extra", "says"), [
    ({"transcript_set": 999_999}, "No such transcript set"), ({"transcript_set": "a\x00"}, "Null characters"),
    ({"transcript_set": [1]}, "No such transcript set"), ({"transcript_set": "{set}", "transcripts": ["{t}"]}, "not both"),
    ({"transcript_set": "{empty}"}, "no transcripts you can export"),
])
def test_export_by_set_bad_input_is_a_400(cast: Any, world: dict[str, Any], api: Any, extra: dict[str, Any],
                                          says: str) -> None:
    values = {"{set}": _make(cast, world).pk, "{t}": world["t_north"],
              "{empty}": services.transcript_set_create(actor=cast.users["lead"], study_id=cast.study.pk,
                                                        name="Empty").pk}
    body = {"format": "csv", **{k: [values.get(x, x) for x in v] if isinstance(v, list) and k == "transcripts"
                                else values.get(v, v) if isinstance(v, str) else v for k, v in extra.items()}}
    before = db_snapshot()
    r = api["lead"].post(f"/api/v1/studies/{cast.study.pk}/exports/codings/", body, format="json")
    assert r.status_code == 400, r.content
    assert says in str(r.json())
    assert db_snapshot() == before


def test_export_page_offers_sets_with_the_members_count(cast: Any, world: dict[str, Any], clients: Any) -> None:
    made = _make(cast, world)
    page = clients["coder_other_site"].get(f"/studies/{cast.study.pk}/exports/codings/").content.decode()
    assert f'<option value="{made.pk}">Remote interviews (1 transcript)</option>' in page
    r = clients["coder_other_site"].post(f"/studies/{cast.study.pk}/exports/codings/",
                                         {"format": "csv", "transcript_set": made.pk})
    assert r.status_code == 302
    from jobs.models import Job

    assert Job.objects.get().params["transcripts"] == [world["t_south"]]
