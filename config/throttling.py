"""Per-user API rate limits: DRF's sliding-window rule, cheaper.

Every API request counts against the user's API rate (``CHORUS_API_RATE``); a view may add a stricter
limit for its writes with ``write_rate_setting`` (the codings API: ``CHORUS_CODING_RATE``). DRF's
throttle classes read and write the cache once per limit, and Django's Redis cache costs ~0.5 ms per
call: four calls were ~3.5 ms of the ~15 ms it takes to add a coding. Here:

* with Redis (``REDIS_URL``), one round trip: a short Lua script keeps each limit's recent requests
  in a sorted set, checks every limit and records the request only if all allow it — atomically,
  so simultaneous requests cannot both take the last free slot;
* without (the embedded default, one process), one ``get_many`` and one ``set_many`` on the cache.
"""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .cache import redis_down

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def parse_rate(rate: str) -> tuple[int, int]:
    """``"240/minute"`` -> (240, 60), as DRF reads rates (the period's first letter counts)."""
    num, period = rate.split("/")
    return int(num), _PERIODS[period[0]]


class UserRateLimits(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def _limits(self, request: Request, view: Any) -> list[tuple[str, int, int]]:
        rates = cast(dict[str, str], settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
        limits = [("user", *parse_rate(rates["user"]))]
        setting = getattr(view, "write_rate_setting", None)
        if setting and request.method not in SAFE_METHODS:
            limits.append((getattr(view, "write_rate_scope", "write"), *parse_rate(getattr(settings, setting))))
        return limits

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        ident = str(user.pk) if user and user.is_authenticated else self.get_ident(request)
        limits = self._limits(request, view)
        if settings.REDIS_URL:
            return self._allow_redis(ident, limits)
        keys = {scope: f"throttle_{scope}_{ident}" for scope, _n, _d in limits}
        stored = cache.get_many(list(keys.values()))
        now = time.time()
        histories: dict[str, list[float]] = {}
        for scope, num, duration in limits:
            history = [t for t in stored.get(keys[scope], []) if t > now - duration]
            if len(history) >= num:
                self._wait = history[-1] - (now - duration) if history else duration
                return False
            histories[keys[scope]] = [now, *history]
        cache.set_many(histories, timeout=max(d for _s, _n, d in limits))
        return True

    def _allow_redis(self, ident: str, limits: list[tuple[str, int, int]]) -> bool:
        keys = [f"chorus:throttle:{scope}:{ident}" for scope, _n, _d in limits]
        args: list[Any] = [time.time(), uuid.uuid4().hex]
        for _scope, num, duration in limits:
            args += [num, duration]
        try:
            wait = float(_redis_script()(keys=keys, args=args))
        except RedisError as exc:
            # Fail open: with Redis down people keep working, unlimited, and the log says why.
            redis_down("rate limiter", exc)
            return True
        if wait < 0:
            return True
        self._wait = wait
        return False

    def wait(self) -> float | None:
        return self._wait


# KEYS: one sorted set per limit (score = request time). ARGV: now, a unique member, then each
# limit's (count, seconds). Answers -1 when the request is allowed (and recorded under every key),
# else the seconds until the fullest limit frees a slot.
_SLIDING_WINDOW = """
local now, member, wait = tonumber(ARGV[1]), ARGV[2], -1
for i, key in ipairs(KEYS) do
  local limit, duration = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
  if redis.call('ZCARD', key) >= limit then
    local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
    wait = math.max(wait, oldest + duration - now, 0)
  end
end
if wait >= 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i])))
end
return '-1'
"""


@lru_cache(maxsize=1)
def _redis_script() -> Any:
    import redis

    timeout = settings.REDIS_SOCKET_TIMEOUT
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    return client.register_script(_SLIDING_WINDOW)
