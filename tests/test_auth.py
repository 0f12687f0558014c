"""Signing in and out, passwords, lockout after failed sign-ins, session lifetime, sign-in audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher
from django.test import Client, override_settings
from django.utils import timezone

from accounts.middleware import SESSION_LAST_SEEN
from accounts.models import AuditEvent, User
from accounts.receivers import SESSION_AUTH_AT
from config.settings import base as base_settings

from .factories import UserFactory
from .helpers import PASSWORD, audit_actions

LOGIN = "/accounts/login/"


def sign_in(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": email, "password": password}, **extra)


def is_signed_in(client: Client) -> bool:
    r = client.get("/studies/")
    return r.status_code == 200


# Signing in and out ----------------------------------------------------------------------------


def test_sign_in_with_email_is_case_insensitive(cast: Any) -> None:
    c = Client()
    r = sign_in(c, "  Coder@EXAMPLE.org ")
    assert r.status_code == 302
    assert r["Location"] == "/studies/"
    assert is_signed_in(c)
    assert int(c.session["_auth_user_id"]) == cast.users["coder"].pk


def test_wrong_password_shows_the_problem_and_does_not_sign_in(cast: Any) -> None:
    c = Client()
    r = sign_in(c, "coder@example.org", "not the password")
    assert r.status_code == 200
    assert "There is a problem" in r.content.decode()
    assert not is_signed_in(c)


def test_sign_in_follows_a_local_next_but_not_an_external_one(cast: Any) -> None:
    c = Client()
    target = f"/studies/{cast.study.pk}/"
    r = c.post(f"{LOGIN}?next={target}", {"username": "coder@example.org", "password": PASSWORD, "next": target})
    assert r["Location"] == target
    c = Client()
    r = c.post(LOGIN, {"username": "coder@example.org", "password": PASSWORD, "next": "https://evil.example/"})
    assert r["Location"] == "/studies/"


def test_inactive_user_cannot_sign_in(cast: Any) -> None:
    User.objects.filter(pk=cast.users["coder"].pk).update(is_active=False)
    c = Client()
    assert sign_in(c, "coder@example.org").status_code == 200
    assert not is_signed_in(c)


def test_sign_out_needs_post_and_ends_the_session(cast: Any) -> None:
    c = Client()
    sign_in(c, "lead@example.org")
    assert c.get("/accounts/logout/").status_code == 405
    assert is_signed_in(c)
    r = c.post("/accounts/logout/")
    assert r.status_code == 302
    assert r["Location"] == "/accounts/login/"
    assert not is_signed_in(c)


def test_sign_in_sign_out_and_failures_are_audited(cast: Any) -> None:
    lead = cast.users["lead"]
    start = AuditEvent.objects.count()
    c = Client(REMOTE_ADDR="10.1.2.3")
    sign_in(c, "lead@example.org", "wrong password")
    sign_in(c, "nobody@example.org", "wrong password")
    sign_in(c, "LEAD@example.org")
    c.post("/accounts/logout/")
    events = list(AuditEvent.objects.order_by("id")[start:])
    assert [(e.action, e.actor_id, e.actor_email, e.ip) for e in events] == [
        ("auth.login_failed", None, "lead@example.org", "10.1.2.3"),
        ("auth.login_failed", None, "nobody@example.org", "10.1.2.3"),
        ("auth.login", lead.pk, "lead@example.org", "10.1.2.3"),
        ("auth.logout", lead.pk, "lead@example.org", "10.1.2.3"),
    ]
    # The password typed is never in the trail.
    assert all("wrong password" not in str(e.details) for e in events)


def test_change_password(cast: Any) -> None:
    c = Client()
    sign_in(c, "coder@example.org")
    r = c.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "a much longer passphrase 42",
        "new_password2": "a much longer passphrase 42",
    })
    assert r.status_code == 302
    assert r["Location"] == "/accounts/password/done/"
    assert is_signed_in(c), "changing the password keeps the current session"
    user = User.objects.get(pk=cast.users["coder"].pk)
    assert user.check_password("a much longer passphrase 42")
    assert not user.check_password(PASSWORD)
    c2 = Client()
    assert sign_in(c2, "coder@example.org", "a much longer passphrase 42").status_code == 302


def test_change_password_needs_the_old_one_and_a_strong_new_one(cast: Any) -> None:
    c = Client()
    sign_in(c, "coder@example.org")
    r = c.post("/accounts/password/", {"old_password": "wrong", "new_password1": "x", "new_password2": "x"})
    assert r.status_code == 200
    r = c.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"})
    assert r.status_code == 200
    assert "too short" in r.content.decode()
    assert User.objects.get(pk=cast.users["coder"].pk).check_password(PASSWORD)


# Argon2 ----------------------------------------------------------------------------------------


def test_argon2_is_the_first_hasher_in_the_real_settings() -> None:
    assert base_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    # The test settings swap in MD5 for speed; production and local inherit base.
    assert settings.PASSWORD_HASHERS[0].endswith("MD5PasswordHasher")


@override_settings(PASSWORD_HASHERS=base_settings.PASSWORD_HASHERS)
def test_passwords_are_hashed_with_argon2_and_sign_in_works(db: None) -> None:
    user = User.objects.create_user(email="argon@example.org", password="a strong passphrase 7")
    assert user.password.startswith("argon2$argon2id$")
    assert identify_hasher(user.password).algorithm == "argon2"
    assert check_password("a strong passphrase 7", user.password)
    c = Client()
    assert sign_in(c, "argon@example.org", "a strong passphrase 7").status_code == 302
    assert is_signed_in(c)


@override_settings(PASSWORD_HASHERS=base_settings.PASSWORD_HASHERS)
def test_an_older_hash_is_upgraded_to_argon2_on_sign_in(db: None) -> None:
    from django.contrib.auth.hashers import make_password

    user = UserFactory(email="old@example.org")
    User.objects.filter(pk=user.pk).update(password=make_password("old passphrase 123", hasher="pbkdf2_sha256"))
    assert sign_in(Client(), "old@example.org", "old passphrase 123").status_code == 302
    assert User.objects.get(pk=user.pk).password.startswith("argon2$")


# Lockout ---------------------------------------------------------------------------------------


def _fail(c: Client, email: str, n: int) -> list[int]:
    return [sign_in(c, email, f"wrong {i}").status_code for i in range(n)]


def test_five_failures_lock_the_account_and_not_another(cast: Any) -> None:
    c = Client()
    # Case variants of one address count against one account.
    statuses = [sign_in(c, e, "wrong").status_code for e in (
        "admin@example.org", "ADMIN@example.org", "Admin@Example.org", "admin@example.org", "admin@EXAMPLE.ORG",
    )]
    assert statuses[:4] == [200, 200, 200, 200]
    assert statuses[4] == 429  # the fifth failure locks

    r = sign_in(Client(), "admin@example.org")  # the right password, from another browser
    assert r.status_code == 429
    body = r.content.decode()
    assert "Account locked" in body
    assert "30 minutes" in body
    assert "_auth_user_id" not in Client().session

    other = Client()
    assert sign_in(other, "lead@example.org").status_code == 302
    assert is_signed_in(other)


def test_four_failures_then_success_resets_the_count(cast: Any) -> None:
    c = Client()
    assert _fail(c, "coder@example.org", 4) == [200] * 4
    assert sign_in(c, "coder@example.org").status_code == 302
    c.post("/accounts/logout/")
    assert _fail(c, "coder@example.org", 4) == [200] * 4
    assert sign_in(c, "coder@example.org").status_code == 302, "the success reset the failure count"


def test_lock_expires_after_30_minutes(cast: Any) -> None:
    c = Client()
    _fail(c, "ppi@example.org", 5)
    assert sign_in(Client(), "ppi@example.org").status_code == 429
    # Time travel: move every recorded attempt back by just under, then just over, the cool-off.
    AccessAttempt.objects.filter(username="ppi@example.org").update(
        attempt_time=timezone.now() - dt.timedelta(minutes=29)
    )
    assert sign_in(Client(), "ppi@example.org").status_code == 429, "still locked at 29 minutes"
    AccessAttempt.objects.filter(username="ppi@example.org").update(
        attempt_time=timezone.now() - dt.timedelta(minutes=31)
    )
    c = Client()
    assert sign_in(c, "ppi@example.org").status_code == 302
    assert is_signed_in(c)


def test_lockout_settings() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert dt.timedelta(minutes=30) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]


# Session lifetime ------------------------------------------------------------------------------


def _age_session(c: Client, *, idle: dt.timedelta | None = None, since_login: dt.timedelta | None = None) -> None:
    s = c.session
    now = timezone.now().timestamp()
    if idle is not None:
        s[SESSION_LAST_SEEN] = now - idle.total_seconds()
    if since_login is not None:
        s[SESSION_AUTH_AT] = now - since_login.total_seconds()
    s.save()


@pytest.fixture
def signed_in(cast: Any) -> Client:
    c = Client()
    assert sign_in(c, "coder@example.org").status_code == 302
    assert is_signed_in(c)
    assert SESSION_AUTH_AT in c.session
    assert SESSION_LAST_SEEN in c.session
    return c


def test_idle_session_expires_after_30_minutes(signed_in: Client, cast: Any) -> None:
    _age_session(signed_in, idle=dt.timedelta(minutes=29))
    assert signed_in.get("/studies/").status_code == 200
    _age_session(signed_in, idle=dt.timedelta(minutes=31))
    r = signed_in.get("/studies/", follow=True)
    assert r.redirect_chain[0][0].startswith("/accounts/login/")
    assert "signed out after a period of inactivity" in r.content.decode()
    assert not is_signed_in(signed_in)
    assert audit_actions(actor=cast.users["coder"])[-1] == "auth.logout"


def test_activity_keeps_the_session_alive(signed_in: Client) -> None:
    _age_session(signed_in, idle=dt.timedelta(minutes=20))
    assert signed_in.get("/studies/").status_code == 200
    last_seen = signed_in.session[SESSION_LAST_SEEN]
    assert timezone.now().timestamp() - last_seen < 5, "a request refreshes the idle clock"


def test_absolute_session_expiry_after_12_hours_even_when_active(signed_in: Client) -> None:
    _age_session(signed_in, idle=dt.timedelta(seconds=10), since_login=dt.timedelta(hours=11, minutes=59))
    assert signed_in.get("/studies/").status_code == 200
    _age_session(signed_in, idle=dt.timedelta(seconds=10), since_login=dt.timedelta(hours=12, minutes=1))
    r = signed_in.get("/studies/", follow=True)
    assert r.redirect_chain[0][0].startswith("/accounts/login/")
    assert "a session lasts at most 12 hours" in r.content.decode()
    assert not is_signed_in(signed_in)


def test_expired_session_is_refused_by_the_api_too(signed_in: Client) -> None:
    assert signed_in.get("/api/v1/me/").status_code == 200
    _age_session(signed_in, idle=dt.timedelta(minutes=31))
    r = signed_in.get("/api/v1/me/")
    assert r.status_code in (401, 403)


def test_session_settings() -> None:
    assert dt.timedelta(minutes=30) == settings.SESSION_IDLE_TIMEOUT
    assert dt.timedelta(hours=12) == settings.SESSION_ABSOLUTE_TIMEOUT
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY


def _api_works(key: str, study_id: int) -> int:
    from rest_framework.test import APIClient

    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return c.get(f"/api/v1/studies/{study_id}/").status_code


def test_changing_the_password_revokes_the_api_token(cast: Any) -> None:
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=cast.users["coder"]).key
    assert _api_works(key, cast.study.pk) == 200
    c = Client()
    sign_in(c, "coder@example.org")
    assert "cancels your API token" in c.get("/accounts/password/").content.decode()
    r = c.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "a much longer passphrase 42",
        "new_password2": "a much longer passphrase 42",
    }, follow=True)
    assert "no longer works" in r.content.decode()
    assert _api_works(key, cast.study.pk) == 401
    assert not Token.objects.filter(user=cast.users["coder"]).exists()
    event = AuditEvent.objects.filter(action="auth.password_change").get()
    assert event.details == {"tokens_revoked": 1}


def test_resetting_the_password_revokes_the_api_token(cast: Any) -> None:
    import re as _re

    from django.core import mail
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=cast.users["lead"]).key
    Client().post("/accounts/reset/", {"email": "lead@example.org"})
    link = _re.search(r"/accounts/reset/[^/\s]+/[^/\s]+/", mail.outbox[-1].body)
    assert link
    c = Client()
    form_url = c.get(link.group(0))["Location"]  # Django swaps the token for a session marker
    r = c.post(form_url, {"new_password1": "another long passphrase 9", "new_password2": "another long passphrase 9"},
               follow=True)
    assert "no longer works" in r.content.decode()
    assert _api_works(key, cast.study.pk) == 401
    assert AuditEvent.objects.filter(action="auth.password_reset").get().details == {"tokens_revoked": 1}
