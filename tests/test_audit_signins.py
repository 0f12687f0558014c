"""Sign-in events belong to no study; a study's audit log shows those of its members only."""

from django.test import Client

from accounts.models import AuditEvent


def _login(email: str, password: str) -> None:
    Client().post("/accounts/login/", {"username": email, "password": password})


def test_study_audit_log_shows_members_signins_not_outsiders(cast, clients):
    before = AuditEvent.objects.filter(action__startswith="auth.login").count()
    _login("coder@example.org", "correct horse battery")
    _login("coder@example.org", "wrong password")
    _login("outsider@example.org", "correct horse battery")
    _login("nobody@example.org", "wrong password")
    assert AuditEvent.objects.filter(action__startswith="auth.login").count() == before + 4

    r = clients["admin"].get(f"/studies/{cast.study.pk}/audit/?action=auth")
    body = r.content.decode()
    assert r.status_code == 200
    assert body.count("coder@example.org") >= 2  # the sign-in and the failed one
    assert "auth.login_failed" in body
    assert "outsider@example.org" not in body
    assert "nobody@example.org" not in body

    api = clients["admin"].get(f"/api/v1/studies/{cast.study.pk}/audit-events/?action=auth").json()
    rows = {(row["actor_email"], row["action"]) for row in api["results"]}
    assert ("coder@example.org", "auth.login_failed") in rows
    members = {u.email for role, u in cast.users.items() if role != "outsider"}
    assert {email for email, _ in rows} <= members


def test_password_change_is_audited(cast, clients):
    r = clients["lead"].post(
        "/accounts/password/",
        {"old_password": "correct horse battery", "new_password1": "a new long passphrase 42",
         "new_password2": "a new long passphrase 42"},
    )
    assert r.status_code == 302
    event = AuditEvent.objects.get(action="auth.password_change")
    assert event.actor == cast.users["lead"]
    r = clients["admin"].get(f"/studies/{cast.study.pk}/audit/?action=auth.password_change")
    assert "lead@example.org" in r.content.decode()
