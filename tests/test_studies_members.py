"""Studies, sites and members through the pages and the API, with their audit events."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import AuditEvent, Membership, ParticipantGroup, Role, Site, Study, User

from .factories import MembershipFactory, SiteFactory, UserFactory
from .helpers import audit_actions, db_fingerprint


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


# Studies ---------------------------------------------------------------------------------------


def test_any_user_creates_a_study_and_becomes_its_admin(cast: Any, clients: Any) -> None:
    r = clients["ppi"].post("/studies/new/", {
        "name": "  Carers' voices ", "description": "Pilot", "sites": "Leeds\n\n  York \n",
    })
    study = Study.objects.get(name="Carers' voices")
    assert r.status_code == 302
    assert r["Location"] == f"/studies/{study.pk}/"
    assert study.created_by == cast.users["ppi"]
    m = Membership.objects.get(study=study)
    assert (m.user, m.role) == (cast.users["ppi"], Role.ADMIN)
    assert list(study.groups.values_list("key", flat=True)) == ["service_user", "carer", "staff"]
    assert sorted(study.sites.values_list("name", flat=True)) == ["Leeds", "York"]
    assert audit_actions(study=study) == ["study.create", "membership.create"]
    assert last_event("membership.create").details["role"] == "admin"
    # The new admin can manage it straight away.
    assert clients["ppi"].get(f"/studies/{study.pk}/members/").status_code == 200


def test_create_study_through_the_api(cast: Any, api: Any) -> None:
    r = api["coder"].post("/api/v1/studies/", {"name": "API study", "sites": ["A", "B"]}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert body["my_role"] == "admin"
    assert [s["name"] for s in body["sites"]] == ["A", "B"]
    assert [g["key"] for g in body["groups"]] == ["service_user", "carer", "staff"]


def test_create_study_with_duplicate_site_names_writes_nothing(cast: Any, clients: Any, api: Any) -> None:
    before = db_fingerprint()
    r = clients["coder"].post("/studies/new/", {"name": "Dup", "sites": "Leeds\nLEEDS"})
    assert r.status_code == 200
    assert "already has a site" in r.content.decode()
    r = api["coder"].post("/api/v1/studies/", {"name": "Dup", "sites": ["Leeds", "leeds"]}, format="json")
    assert r.status_code == 400
    assert db_fingerprint() == before


def test_study_without_a_name_is_refused(cast: Any, clients: Any) -> None:
    before = db_fingerprint()
    r = clients["coder"].post("/studies/new/", {"name": "   "})
    assert r.status_code == 200
    assert "This field is required" in r.content.decode()
    assert db_fingerprint() == before


def test_study_list_shows_only_member_studies_with_role_and_member_count(cast: Any, clients: Any) -> None:
    html = clients["coder"].get("/studies/").content.decode()
    assert "Remote mental-health care" in html
    assert "Another study" not in html
    row = re.search(r"Remote mental-health care</a></td>(.*?)</tr>", html, re.S)
    assert row
    assert ">Coder<" in row.group(1)
    assert "<td>5</td>" in row.group(1), "five members, not just the viewer"
    html = clients["outsider"].get("/studies/").content.decode()
    assert "Another study" in html
    assert "Remote mental-health care" not in html


def test_study_list_api_shows_only_member_studies(cast: Any, api: Any) -> None:
    assert [s["name"] for s in api["coder"].get("/api/v1/studies/").json()] == ["Remote mental-health care"]
    assert [s["name"] for s in api["outsider"].get("/api/v1/studies/").json()] == ["Another study"]


def test_deactivated_account_loses_access(cast: Any, api: Any, clients: Any) -> None:
    User.objects.filter(pk=cast.users["coder"].pk).update(is_active=False)
    # Its API token is refused outright, and its browser session no longer counts as signed in.
    assert api["coder"].get("/api/v1/studies/").status_code in (401, 403)
    r = clients["coder"].get(f"/studies/{cast.study.pk}/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_study_settings_update_is_audited_with_before_and_after(cast: Any, clients: Any, api: Any) -> None:
    r = clients["admin"].post(f"/studies/{cast.study.pk}/settings/", {"name": "Renamed", "description": "New"})
    assert r.status_code == 302
    e = last_event("study.update")
    assert e.details["before"]["name"] == "Remote mental-health care"
    assert e.details["after"] == {"name": "Renamed", "description": "New"}
    r = api["admin"].patch(f"/api/v1/studies/{cast.study.pk}/", {"description": "Via API"}, format="json")
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed"
    assert Study.objects.get(pk=cast.study.pk).description == "Via API"


# Members ---------------------------------------------------------------------------------------


def test_admin_adds_an_existing_user_by_email(cast: Any, clients: Any) -> None:
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/", {
        "email": "OUTSIDER@example.org", "role": "ppi",
    })
    assert r.status_code == 302
    m = Membership.objects.get(study=cast.study, user=cast.users["outsider"])
    assert m.role == "ppi"
    assert mail.outbox == [], "an existing account gets no invitation"
    e = last_event("membership.create")
    assert e.actor == cast.users["admin"]
    assert e.details == {"email": "outsider@example.org", "role": "ppi", "new_account": False,
                         "sites": [], "groups": []}
    html = clients["admin"].get(f"/studies/{cast.study.pk}/members/").content.decode()
    assert "outsider@example.org" in html
    # The outsider now sees the study.
    assert clients["outsider"].get(f"/studies/{cast.study.pk}/").status_code == 200


def _invite_link(message: Any) -> str:
    match = re.search(r"https?://[^\s]+/accounts/reset/[^\s]+/", message.body)
    assert match, message.body
    return match.group(0)


def test_new_account_gets_an_invitation_whose_link_sets_the_password(
    cast: Any, clients: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["admin"].post(f"/studies/{cast.study.pk}/members/", {
            "email": "New.Person@Example.org", "full_name": "New Person", "role": "coder",
            "scope_sites": [cast.south.pk], "scope_groups": [cast.group("carer").pk],
        })
    assert r.status_code == 302
    user = User.objects.get(email="new.person@example.org")
    assert user.full_name == "New Person"
    assert not user.has_usable_password()
    m = Membership.objects.get(user=user, study=cast.study)
    assert list(m.scope_sites.all()) == [cast.south]
    assert list(m.scope_groups.all()) == [cast.group("carer")]
    assert last_event("membership.create").details["new_account"] is True
    assert "invited" in clients["admin"].get(f"/studies/{cast.study.pk}/members/").content.decode()

    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["new.person@example.org"]
    assert "Remote mental-health care" in msg.subject
    link = _invite_link(msg)
    path = link.split("testserver", 1)[1]

    c = Client()
    r = c.get(path, follow=True)
    assert r.status_code == 200
    assert "Choose a new password" in r.content.decode()
    set_password_url = r.redirect_chain[-1][0]
    r = c.post(set_password_url, {"new_password1": "my own passphrase 99", "new_password2": "my own passphrase 99"})
    assert r.status_code == 302
    assert r["Location"] == "/accounts/reset/done/"
    assert User.objects.get(pk=user.pk).check_password("my own passphrase 99")

    c = Client()
    assert c.post("/accounts/login/", {"username": "new.person@example.org",
                                        "password": "my own passphrase 99"}).status_code == 302
    assert c.get(f"/studies/{cast.study.pk}/").status_code == 200

    # The link works once.
    r = Client().get(path, follow=True)
    assert "has expired or has been used" in r.content.decode()


def test_api_adds_a_member_and_invites(cast: Any, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        r = api["admin"].post(f"/api/v1/studies/{cast.study.pk}/members/", {
            "email": "api.person@example.org", "role": "lead", "scope_sites": [cast.north.pk],
        }, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["role"] == "lead"
    assert r.json()["scope_sites"] == [cast.north.pk]
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


@pytest.mark.parametrize("email", ["coder@example.org", "CODER@Example.org", " coder@example.org "])
def test_duplicate_member_is_refused(cast: Any, clients: Any, api: Any, email: str) -> None:
    before = db_fingerprint()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/", {"email": email, "role": "ppi"})
    assert r.status_code == 200
    assert "already a member" in r.content.decode()
    r = api["admin"].post(f"/api/v1/studies/{cast.study.pk}/members/", {"email": email, "role": "ppi"}, format="json")
    assert r.status_code == 400
    assert "already a member" in str(r.json())
    assert db_fingerprint() == before


def test_scope_must_be_this_studys_sites_and_groups(cast: Any, api: Any, clients: Any) -> None:
    foreign_site = SiteFactory(study=cast.other_study, name="Elsewhere")
    foreign_group = ParticipantGroup.objects.get(study=cast.other_study, key="carer")
    url = f"/api/v1/studies/{cast.study.pk}/members/"
    before = db_fingerprint()
    r = api["admin"].post(url, {"email": "brand.new@example.org", "role": "coder",
                                "scope_sites": [foreign_site.pk]}, format="json")
    assert r.status_code == 400
    assert "scope_sites" in r.json()
    r = api["admin"].post(url, {"email": "brand.new@example.org", "role": "coder",
                                "scope_groups": [foreign_group.pk]}, format="json")
    assert r.status_code == 400
    assert "scope_groups" in r.json()
    r = api["admin"].post(url, {"email": "brand.new@example.org", "role": "coder",
                                "scope_sites": [cast.north.pk, foreign_site.pk]}, format="json")
    assert r.status_code == 400
    # Changing an existing member's scope to another study's site is refused the same way.
    coder_m = cast.memberships["coder"]
    r = api["admin"].patch(f"{url}{coder_m.pk}/", {"scope_sites": [foreign_site.pk]}, format="json")
    assert r.status_code == 400
    # The page form only offers this study's sites: a foreign id is an invalid choice.
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/", {
        "email": "brand.new@example.org", "role": "coder", "scope_sites": [foreign_site.pk],
    })
    assert r.status_code == 200
    assert "Select a valid choice" in r.content.decode()
    assert db_fingerprint() == before
    assert not User.objects.filter(email="brand.new@example.org").exists()
    assert mail.outbox == []


def test_role_change_is_audited_with_before_and_after(cast: Any, clients: Any) -> None:
    m = cast.memberships["coder"]
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/{m.pk}/", {
        "role": "lead", "scope_sites": [cast.north.pk],
    })
    assert r.status_code == 302
    m.refresh_from_db()
    assert m.role == "lead"
    e = last_event("membership.update")
    assert e.actor == cast.users["admin"]
    assert e.object_id == str(m.pk)
    assert e.details == {
        "email": "coder@example.org",
        "before": {"role": "coder", "sites": [], "groups": []},
        "after": {"role": "lead", "sites": ["North Trust"], "groups": []},
    }


def test_saving_a_member_unchanged_writes_no_audit_event(cast: Any, clients: Any) -> None:
    m = cast.memberships["coder"]
    before = AuditEvent.objects.count()
    clients["admin"].post(f"/studies/{cast.study.pk}/members/{m.pk}/", {"role": "coder"})
    assert AuditEvent.objects.count() == before


def test_api_patch_keeps_what_is_not_sent(cast: Any, api: Any) -> None:
    m = cast.memberships["coder_other_site"]
    r = api["admin"].patch(f"/api/v1/studies/{cast.study.pk}/members/{m.pk}/", {"role": "lead"}, format="json")
    assert r.status_code == 200
    assert r.json()["scope_sites"] == [cast.south.pk]
    assert r.json()["role"] == "lead"


def test_remove_member_is_audited_and_ends_access(cast: Any, clients: Any, api: Any) -> None:
    m = cast.memberships["coder"]
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/{m.pk}/remove/")
    assert r.status_code == 302
    assert not Membership.objects.filter(pk=m.pk).exists()
    e = last_event("membership.delete")
    assert e.details == {"email": "coder@example.org", "role": "coder", "sites": [], "groups": []}
    assert e.object_id == str(m.pk)
    assert clients["coder"].get(f"/studies/{cast.study.pk}/").status_code == 404
    assert api["coder"].get(f"/api/v1/studies/{cast.study.pk}/").status_code == 404
    m2 = cast.memberships["ppi"]
    assert api["admin"].delete(f"/api/v1/studies/{cast.study.pk}/members/{m2.pk}/").status_code == 204
    assert not Membership.objects.filter(pk=m2.pk).exists()


def test_last_admin_cannot_be_demoted_or_removed(cast: Any, clients: Any, api: Any) -> None:
    admin_m = cast.memberships["admin"]
    before = db_fingerprint()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/{admin_m.pk}/", {"role": "lead"})
    assert r.status_code == 200
    assert "at least one admin" in r.content.decode()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/{admin_m.pk}/remove/", follow=True)
    assert "at least one admin" in r.content.decode()
    url = f"/api/v1/studies/{cast.study.pk}/members/{admin_m.pk}/"
    r = api["admin"].patch(url, {"role": "coder"}, format="json")
    assert r.status_code == 400
    assert "at least one admin" in str(r.json())
    r = api["admin"].delete(url)
    assert r.status_code == 400
    assert db_fingerprint() == before


def test_an_admin_may_step_down_when_another_admin_remains(cast: Any, api: Any) -> None:
    second = MembershipFactory(user=UserFactory(email="admin2@example.org"), study=cast.study, role=Role.ADMIN)
    admin_m = cast.memberships["admin"]
    r = api["admin"].patch(f"/api/v1/studies/{cast.study.pk}/members/{admin_m.pk}/", {"role": "lead"}, format="json")
    assert r.status_code == 200
    # Now the former admin is a lead and may no longer manage members.
    r = api["admin"].delete(f"/api/v1/studies/{cast.study.pk}/members/{second.pk}/")
    assert r.status_code == 403
    assert Membership.objects.get(pk=second.pk).role == Role.ADMIN


def test_inactive_admin_does_not_count_as_remaining(cast: Any, api: Any) -> None:
    MembershipFactory(user=UserFactory(email="gone@example.org", is_active=False), study=cast.study, role=Role.ADMIN)
    admin_m = cast.memberships["admin"]
    r = api["admin"].patch(f"/api/v1/studies/{cast.study.pk}/members/{admin_m.pk}/", {"role": "lead"}, format="json")
    assert r.status_code == 400


def test_member_of_another_study_cannot_be_edited_through_this_one(cast: Any, api: Any, clients: Any) -> None:
    foreign = Membership.objects.get(study=cast.other_study)
    before = db_fingerprint()
    assert clients["admin"].get(f"/studies/{cast.study.pk}/members/{foreign.pk}/").status_code == 404
    assert clients["admin"].post(f"/studies/{cast.study.pk}/members/{foreign.pk}/remove/").status_code == 404
    url = f"/api/v1/studies/{cast.study.pk}/members/{foreign.pk}/"
    assert api["admin"].get(url).status_code == 404
    assert api["admin"].patch(url, {"role": "ppi"}, format="json").status_code == 404
    assert api["admin"].delete(url).status_code == 404
    assert db_fingerprint() == before


def test_lead_sees_members_but_cannot_change_them(cast: Any, clients: Any) -> None:
    html = clients["lead"].get(f"/studies/{cast.study.pk}/members/").content.decode()
    assert "coder@example.org" in html
    assert "Add a member" not in html
    assert "/remove/" not in html


# Sites -----------------------------------------------------------------------------------------


def test_site_create_rename_delete_through_pages_with_audit(cast: Any, clients: Any) -> None:
    base = f"/studies/{cast.study.pk}"
    r = clients["admin"].post(f"{base}/sites/new/", {"name": " East Trust "}, follow=True)
    assert "Site “East Trust” added" in r.content.decode()
    east = Site.objects.get(study=cast.study, name="East Trust")
    assert last_event("site.create").details == {"name": "East Trust"}
    clients["admin"].post(f"{base}/sites/{east.pk}/edit/", {"name": "West Trust"})
    east.refresh_from_db()
    assert east.name == "West Trust"
    assert last_event("site.update").details == {"before": "East Trust", "after": "West Trust"}
    r = clients["admin"].post(f"{base}/sites/{east.pk}/delete/", follow=True)
    assert "Site deleted" in r.content.decode()
    assert not Site.objects.filter(pk=east.pk).exists()
    e = last_event("site.delete")
    assert (e.object_id, e.details) == (str(east.pk), {"name": "West Trust"})


def test_site_api_create_rename_delete(cast: Any, api: Any) -> None:
    base = f"/api/v1/studies/{cast.study.pk}/sites/"
    r = api["admin"].post(base, {"name": "East Trust"}, format="json")
    assert r.status_code == 201
    sid = r.json()["id"]
    r = api["admin"].patch(f"{base}{sid}/", {"name": "West Trust"}, format="json")
    assert (r.status_code, r.json()["name"]) == (200, "West Trust")
    assert [s["name"] for s in api["coder"].get(base).json()] == ["North Trust", "South Trust", "West Trust"]
    assert api["admin"].delete(f"{base}{sid}/").status_code == 204
    assert api["admin"].get(f"{base}{sid}/").status_code == 404


@pytest.mark.parametrize("name", ["north trust", "NORTH TRUST", "  North Trust  "])
def test_duplicate_site_name_is_refused_case_insensitively(cast: Any, api: Any, clients: Any, name: str) -> None:
    before = db_fingerprint()
    base = f"/api/v1/studies/{cast.study.pk}/sites/"
    r = api["admin"].post(base, {"name": name}, format="json")
    assert r.status_code == 400
    assert "already has a site" in str(r.json())
    r = api["admin"].patch(f"{base}{cast.south.pk}/", {"name": name}, format="json")
    assert r.status_code == 400
    r = clients["admin"].post(f"/studies/{cast.study.pk}/sites/new/", {"name": name}, follow=True)
    assert "already has a site" in r.content.decode()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/sites/{cast.south.pk}/edit/", {"name": name}, follow=True)
    assert "already has a site" in r.content.decode()
    assert db_fingerprint() == before


def test_renaming_a_site_to_a_different_case_of_itself_is_allowed(cast: Any, api: Any) -> None:
    r = api["admin"].patch(f"/api/v1/studies/{cast.study.pk}/sites/{cast.north.pk}/", {"name": "NORTH Trust"},
                           format="json")
    assert r.status_code == 200


def test_same_site_name_in_another_study_is_fine(cast: Any, api: Any) -> None:
    r = api["outsider"].post(f"/api/v1/studies/{cast.other_study.pk}/sites/", {"name": "North Trust"}, format="json")
    assert r.status_code == 201


def test_site_delete_refused_while_a_membership_is_scoped_to_it(cast: Any, api: Any, clients: Any) -> None:
    before = db_fingerprint()
    r = api["admin"].delete(f"/api/v1/studies/{cast.study.pk}/sites/{cast.south.pk}/")
    assert r.status_code == 400
    assert "scoped to this site" in str(r.json())
    r = clients["admin"].post(f"/studies/{cast.study.pk}/sites/{cast.south.pk}/delete/", follow=True)
    assert "scoped to this site" in r.content.decode()
    assert db_fingerprint() == before
    # Once the member's scope no longer names it, it can go.
    cast.memberships["coder_other_site"].scope_sites.clear()
    assert api["admin"].delete(f"/api/v1/studies/{cast.study.pk}/sites/{cast.south.pk}/").status_code == 204


def test_site_of_another_study_is_404_through_this_one(cast: Any, api: Any, clients: Any) -> None:
    foreign = SiteFactory(study=cast.other_study, name="Elsewhere")
    before = db_fingerprint()
    base = f"/api/v1/studies/{cast.study.pk}/sites/{foreign.pk}/"
    assert api["admin"].get(base).status_code == 404
    assert api["admin"].patch(base, {"name": "Mine now"}, format="json").status_code == 404
    assert api["admin"].delete(base).status_code == 404
    assert clients["admin"].post(f"/studies/{cast.study.pk}/sites/{foreign.pk}/edit/", {"name": "x"}).status_code == 404
    assert clients["admin"].post(f"/studies/{cast.study.pk}/sites/{foreign.pk}/delete/").status_code == 404
    assert db_fingerprint() == before


# Account page and API tokens -------------------------------------------------------------------


def test_api_token_create_replace_revoke(cast: Any, clients: Any) -> None:
    from rest_framework.test import APIClient

    c = clients["lead"]
    html = c.post("/accounts/", {"action": "create"}).content.decode()
    key = re.search(r'id="new-token">([0-9a-f]{40})<', html)
    assert key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key.group(1)}")
    assert api.get("/api/v1/me/").json()["email"] == "lead@example.org"
    c.post("/accounts/", {"action": "create"})  # replace: the old key stops working
    assert api.get("/api/v1/me/").status_code in (401, 403)
    c.post("/accounts/", {"action": "revoke"})
    assert audit_actions(actor=cast.users["lead"])[-3:] == ["auth.token_create", "auth.token_create", "auth.token_revoke"]


def test_me_lists_memberships(cast: Any, api: Any) -> None:
    body = api["coder_other_site"].get("/api/v1/me/").json()
    assert body["email"] == "coder_other_site@example.org"
    assert body["memberships"] == [{"study": cast.study.pk, "study_name": cast.study.name, "role": "coder"}]


def test_add_member_form_has_no_preselected_role(cast: Any, clients: Any) -> None:
    html = clients["admin"].get(f"/studies/{cast.study.pk}/members/").content.decode()
    assert '<option value="" selected>Choose a role</option>' in html
    before = db_fingerprint()
    r = clients["admin"].post(f"/studies/{cast.study.pk}/members/", {"email": "someone@example.org", "role": ""})
    assert r.status_code == 200
    assert "This field is required" in r.content.decode()
    assert db_fingerprint() == before


def test_invited_person_can_renew_an_expired_invitation(cast: Any, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        api["admin"].post(f"/api/v1/studies/{cast.study.pk}/members/", {"email": "late@example.org", "role": "ppi"},
                          format="json")
    assert len(mail.outbox) == 1
    # The invitation link has expired (or was lost): "Forgotten your password?" sends a new one,
    # although the account has no usable password yet.
    r = Client().post("/accounts/reset/", {"email": "LATE@example.org"})
    assert r.status_code == 302
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["late@example.org"]
    link = _invite_link(mail.outbox[1]).split("testserver", 1)[1]
    c = Client()
    r = c.get(link, follow=True)
    c.post(r.redirect_chain[-1][0], {"new_password1": "renewed passphrase 5", "new_password2": "renewed passphrase 5"})
    assert User.objects.get(email="late@example.org").check_password("renewed passphrase 5")


def test_password_reset_for_unknown_or_inactive_address_sends_nothing(cast: Any) -> None:
    User.objects.filter(pk=cast.users["ppi"].pk).update(is_active=False)
    for email in ("nobody@example.org", "ppi@example.org"):
        r = Client().post("/accounts/reset/", {"email": email})
        assert r.status_code == 302  # the same answer either way: no account enumeration
    assert mail.outbox == []


def test_study_page_shows_group_keys_only_to_those_who_import_participants(cast: Any, clients: Any) -> None:
    # The key is what a participants CSV names a group by; a PPI member read "Service user (service_user)".
    assert "(in CSV files: service_user)" in clients["admin"].get(f"/studies/{cast.study.pk}/").content.decode()
    for role in ("lead", "coder", "ppi"):
        html = clients[role].get(f"/studies/{cast.study.pk}/").content.decode()
        assert "service_user" not in html, role
        assert "Service user" in html, role
