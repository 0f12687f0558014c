"""A database that stops answering gives a person a clear page within seconds, not a hang: the
connect and statement timeouts (CHORUS_DB_CONNECT_TIMEOUT, CHORUS_DB_STATEMENT_TIMEOUT_MS) and the
503 page. PostgreSQL only (skipped on SQLite, which has no server to freeze)."""

from __future__ import annotations

import copy
import socket
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection

pytestmark = pytest.mark.fault


def _require_pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("database timeouts are PostgreSQL settings (set DATABASE_URL to run this)")


@pytest.mark.django_db
def test_connections_carry_the_statement_timeout() -> None:
    _require_pg()
    with connection.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        shown = cur.fetchone()[0]
    assert shown == f"{settings.CHORUS_DB_STATEMENT_TIMEOUT_MS // 1000}s"
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == settings.CHORUS_DB_CONNECT_TIMEOUT


@pytest.mark.django_db
def test_a_server_that_accepts_but_never_answers_fails_within_the_connect_timeout() -> None:
    _require_pg()
    # A listening socket that never speaks: the TCP handshake succeeds, the startup reply never comes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    from django.db import connections

    frozen = connections.create_connection("default")
    frozen.settings_dict = copy.deepcopy(frozen.settings_dict)
    frozen.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    frozen.settings_dict["OPTIONS"]["connect_timeout"] = 2
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError):
            frozen.ensure_connection()
    finally:
        silent.close()
    assert time.monotonic() - started < 6


def test_a_frozen_table_gives_a_clear_503_page_within_seconds(
    transactional_db: None, cast: Any, clients: Any, api: Any,
) -> None:
    _require_pg()
    import psycopg

    db = connection.settings_dict
    sid = cast.study.pk
    locker = psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or "127.0.0.1",
                             port=db["PORT"] or 5432, autocommit=False)
    with connection.cursor() as cur:
        cur.execute("SET statement_timeout = 1000")  # this test's web requests: 1 s instead of 15
    try:
        locker.execute("LOCK TABLE participants_participant IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        r = clients["admin"].get(f"/studies/{sid}/participants/")
        page_time = time.monotonic() - started
        assert r.status_code == 503
        html = r.content.decode()
        assert "The database is not answering" in html
        assert "try again in a minute" in html
        assert page_time < 5
        r = api["admin"].get(f"/api/v1/studies/{sid}/participants/")
        assert r.status_code == 503
        assert "database is not answering" in r.json()["detail"]
    finally:
        locker.rollback()
        locker.close()
        with connection.cursor() as cur:
            cur.execute("RESET statement_timeout")
    # Unfrozen: the same page answers again.
    assert clients["admin"].get(f"/studies/{sid}/participants/").status_code == 200
