"""Per-user API limits (config/throttling.py): the API rate for every request, a stricter rate for a
view's writes, one Redis call (or one cache read and one write without Redis) per request, a clear
429 with Retry-After. CI runs these with Redis, a fresh clone without."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from config.throttling import parse_rate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def test_parse_rate() -> None:
    assert parse_rate("240/minute") == (240, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("1000/day") == (1000, 86400)


def test_the_api_rate_limits_each_user(cast: Any, api: dict[str, Any]) -> None:
    rates = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "3/minute"}}
    url = f"/api/v1/studies/{cast.study.pk}/codes/"
    with override_settings(REST_FRAMEWORK=rates):
        codes = [api["coder"].get(url).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = api["coder"].get(url)
        assert r.status_code == 429
        assert 0 < int(r["Retry-After"]) <= 60
        assert "throttled" in r.json()["detail"]
        assert api["lead"].get(url).status_code == 200  # per user


def test_one_cache_read_and_one_write_per_request(cast: Any, api: dict[str, Any], monkeypatch: Any) -> None:
    from analysis.coding.services import codebook as code_services
    from tests.factories import add_transcript, participant_row

    p = participant_row(cast, "R1", "service_user", cast.north)
    t = add_transcript(cast, p, "Interviewer: hi\nR1: hello there.\n")
    code = code_services.code_create(actor=cast.users["lead"], study_id=cast.study.pk, name="Greeting")
    calls: list[str] = []
    depth = [0]

    def spy(name: str, real: Any) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            if depth[0] == 0:  # what the throttle asks for, not the backend's own inner calls
                calls.append(name)
            depth[0] += 1
            try:
                return real(*a, **k)
            finally:
                depth[0] -= 1
        return call

    for name in ("get", "set", "get_many", "set_many", "add", "incr"):
        monkeypatch.setattr(cache, name, spy(name, getattr(cache, name)))
    r = api["coder"].post(f"/api/v1/studies/{cast.study.pk}/transcripts/{t.pk}/codings/",
                          {"code": code.pk, "start": 0, "end": 5}, format="json")
    assert r.status_code == 201
    uid = cast.users["coder"].pk
    if settings.REDIS_URL:  # one Lua call on Redis itself, nothing through Django's cache
        import redis

        assert calls == []
        client = redis.Redis.from_url(settings.REDIS_URL)
        assert client.zcard(f"chorus:throttle:user:{uid}") == 1
        assert client.zcard(f"chorus:throttle:coding:{uid}") == 1  # both limits recorded the write
    else:
        assert calls == ["get_many", "set_many"]
        stored = cache.get_many([f"throttle_user_{uid}", f"throttle_coding_{uid}"])
        assert len(stored) == 2  # both limits recorded the write


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis path only (set REDIS_URL); the embedded default is one process")
def test_simultaneous_requests_cannot_share_the_last_slot() -> None:
    import threading

    from config.throttling import UserRateLimits

    results: list[bool] = []
    barrier = threading.Barrier(12)

    def hit() -> None:
        barrier.wait()
        results.append(UserRateLimits()._allow_redis("race", [("user", 5, 60), ("coding", 7, 60)]))

    threads = [threading.Thread(target=hit) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 5
    throttled = UserRateLimits()
    assert throttled._allow_redis("race", [("user", 5, 60)]) is False
    assert 59 < (throttled.wait() or 0) <= 60
