"""Degrade, don't die: with Redis stopped, people still sign in, read, search and code (sessions are
written through to the database; the cache, the rate limiter and token authentication fail open with
a logged warning), and only starting a job answers a clear 503.

The test starts its own redis-server on a spare port, points the app at it (cache, sessions, rate
limiter, Celery broker), uses it, stops it, and carries on. Skipped when redis-server is not installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from jobs.models import Job

from .factories import SU01_TEXT, add_transcript
from .factories import participant_row as make_participant
from .helpers import celery_pools_reset

pytestmark = [pytest.mark.django_db, pytest.mark.fault]

PASSWORD = "a-long-test-password-9"


def _spare_port(preferred: int = 6390) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


class OwnRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = _spare_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        import redis

        self.client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path, settings: Any) -> Iterator[OwnRedis]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed: this test starts and stops a Redis of its own")
    from config import cache as cache_module
    from config import throttling
    from config.celery import app

    server = OwnRedis(tmp_path)
    opts = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
    settings.REDIS_URL = server.url
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailOpenRedisCache", "LOCATION": server.url,
                                   "OPTIONS": opts}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # Throttle at the production rates, so the rate limiter really runs its Redis script.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "1200/minute"}}
    throttling._redis_script.cache_clear()
    cache_module._last_warning = 0.0
    saved = (app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.task_always_eager = False
    app.conf.broker_url = server.url
    app.conf.broker_transport_options = {**opts, "visibility_timeout": 3600}
    celery_pools_reset(app)
    try:
        yield server
    finally:
        server.stop()
        app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options = saved
        celery_pools_reset(app)
        throttling._redis_script.cache_clear()


def _sign_in(email: str) -> Client:
    c = Client()
    r = c.post("/accounts/login/", {"username": email, "password": PASSWORD})
    assert r.status_code == 302, r.content[:500]
    return c


def test_with_redis_stopped_people_sign_in_read_search_and_code_and_jobs_say_503(
    cast: Any, own_redis: OwnRedis, caplog: Any, settings: Any,
) -> None:
    from analysis.coding.services.codebook import code_create

    for role in ("lead", "coder"):
        cast.users[role].set_password(PASSWORD)
        cast.users[role].save()
    su01 = make_participant(cast, "SU01", "service_user", cast.north)
    transcript = add_transcript(cast, su01, SU01_TEXT)
    code = code_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Loss of non-verbal cues")
    sid = cast.study.pk
    token = Token.objects.create(user=cast.users["coder"]).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    # Redis up: the session is cached there, a job can be started, the limiter counts in Redis.
    coder = _sign_in("coder@example.org")
    assert coder.get(f"/studies/{sid}/transcripts/{transcript.pk}/").status_code == 200
    assert own_redis.client.dbsize() > 0
    assert api.get("/api/v1/me/").status_code == 200
    assert list(own_redis.client.scan_iter("chorus:throttle:*"))
    lead = _sign_in("lead@example.org")
    assert lead.post(f"/studies/{sid}/participants/export/").status_code == 302
    from analysis.transcripts.services.imports import Upload, import_preview

    make_participant(cast, "SU02", "service_user", cast.north)
    batch = import_preview(actor=cast.users["lead"], study_id=sid,
                           uploads=[Upload("SU02.txt", b"Interviewer: Hello?\nSU02: Hello.\n")])
    jobs, exports = Job.objects.count(), AuditEvent.objects.filter(action="participants.export").count()

    own_redis.stop()
    started = time.monotonic()

    # The signed-in coder carries on: reading, search, coding (page and API).
    assert coder.get(f"/studies/{sid}/").status_code == 200
    r = coder.get(f"/studies/{sid}/transcripts/{transcript.pk}/")
    assert r.status_code == 200
    assert "tearful" in r.content.decode()
    r = coder.get(f"/studies/{sid}/search/", {"q": "tearful"})
    assert r.status_code == 200
    assert "SU01" in r.content.decode()
    r = coder.get(f"/studies/{sid}/transcripts/{transcript.pk}/code/")
    assert r.status_code == 200
    # The live-update stream (presence is kept in the cache) still streams.
    settings.CHORUS_CODING_STREAM_SECONDS = 0.5
    r = coder.get(f"/studies/{sid}/transcripts/{transcript.pk}/code/stream/")
    assert r.status_code == 200
    assert "event: presence" in b"".join(r.streaming_content).decode()
    r = api.post(f"/api/v1/studies/{sid}/transcripts/{transcript.pk}/codings/",
                 {"code": code.pk, "start": 40, "end": 60}, format="json")
    assert r.status_code == 201, r.content
    r = api.get(f"/api/v1/studies/{sid}/transcripts/{transcript.pk}/codings/")
    assert r.status_code == 200
    assert len(r.json()["results"]) == 1
    # A fresh sign-in works, and so does signing out.
    again = _sign_in("coder@example.org")
    assert again.get(f"/studies/{sid}/transcripts/").status_code == 200
    assert again.post("/accounts/logout/").status_code == 302
    assert again.get(f"/studies/{sid}/").status_code == 302  # signed out for real

    # Starting a job: a clear 503, nothing written.
    r = lead.post(f"/studies/{sid}/participants/export/")
    assert r.status_code == 503
    assert "Jobs are unavailable for the moment" in r.content.decode()
    lead_api = APIClient()
    lead_api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast.users['lead']).key}")
    r = lead_api.post(f"/api/v1/studies/{sid}/agreement/report/")
    assert r.status_code == 503
    assert "Jobs are unavailable" in r.json()["detail"]
    r = lead_api.post(f"/api/v1/studies/{sid}/participants-export/")
    assert r.status_code == 503
    r = lead.post(f"/studies/{sid}/transcripts/imports/{batch.pk}/confirm/")
    assert r.status_code == 503
    batch.refresh_from_db()
    assert batch.status == "preview"  # still waiting for confirmation: nothing half-started
    # A matrix (issue 14), from its page and the API: 503, no matrix row, and the matrix pages still answer.
    from analysis.matrices.models import Matrix

    matrices = Matrix.objects.count()
    r = lead.post(f"/studies/{sid}/matrices/", {"columns": "codes", "rows": "codes", "coder": "all"})
    assert r.status_code == 503
    assert "Jobs are unavailable for the moment" in r.content.decode()
    r = lead_api.post(f"/api/v1/studies/{sid}/matrices/", {"columns": "themes"}, format="json")
    assert r.status_code == 503
    assert Matrix.objects.count() == matrices
    assert lead.get(f"/studies/{sid}/matrices/").status_code == 200
    assert Job.objects.count() == jobs
    assert AuditEvent.objects.filter(action="participants.export").count() == exports

    # All of that took seconds, not timeouts per request, and the log says why.
    assert time.monotonic() - started < 20
    assert "Redis is unavailable" in caplog.text
