"""Live co-coding: the change feed streamed to open coding pages, and who is viewing.

The stream polls the transcript's coding feed (analysis.coding.selectors.codings.events_after) rather
than a pub/sub channel, so it needs nothing but the database; presence lives in the cache (Redis in
production, local memory in the embedded default)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache

from analysis.coding.selectors import codings as coding_selectors
from analysis.transcripts.models import Transcript

PRESENCE_TTL = 12  # seconds a viewer stays listed after their last heartbeat
POLL_SECONDS = 0.3



def _presence_key(transcript_id: int) -> str:
    return f"coding:presence:{transcript_id}"


def presence_beat(*, transcript_id: int, user_id: int, name: str) -> list[dict[str, Any]]:
    """Record a heartbeat and return who is viewing (the cache: Redis in production, local memory
    in the embedded default). A lost concurrent update heals at the next heartbeat."""
    now = time.time()
    key = _presence_key(transcript_id)
    viewers: dict[str, Any] = cache.get(key) or {}
    viewers = {k: v for k, v in viewers.items() if now - v[1] < PRESENCE_TTL}
    viewers[str(user_id)] = [name, now]
    cache.set(key, viewers, PRESENCE_TTL * 2)
    return [{"id": int(k), "name": v[0]} for k, v in sorted(viewers.items(), key=lambda kv: kv[1][0])]


def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def coding_events_stream(*, user: Any, transcript_id: int, after: int) -> Iterator[str]:
    """Server-Sent Events for one transcript: who is viewing (presence), coding changes from the feed,
    and a version event after a correction; closes after CHORUS_CODING_STREAM_SECONDS so the browser's
    EventSource reconnects with Last-Event-ID (nothing lost or repeated)."""
    seconds = float(getattr(settings, "CHORUS_CODING_STREAM_SECONDS", 25))
    deadline = time.monotonic() + seconds
    last_beat = 0.0
    last_viewers: list[dict[str, Any]] | None = None
    version: int | None = None
    yield "retry: 1000\n\n"
    # The database connection is released by Django's request_finished when the server closes the
    # streamed response (the generator runs in the request's thread under WSGI).
    while True:
        now = time.monotonic()
        if now - last_beat >= 2:
            last_beat = now
            viewers = presence_beat(transcript_id=transcript_id, user_id=user.pk, name=user.display_name)
            if viewers != last_viewers:
                last_viewers = viewers
                yield _sse("presence", viewers)
            else:
                yield ": keep-alive\n\n"
            # A correction or redaction re-anchors codings without feed events: tell the page.
            now_version = Transcript.objects.filter(pk=transcript_id).values_list("version", flat=True).first()
            if now_version != version:
                version = now_version
                yield _sse("version", {"version": version})
        events, last = coding_selectors.events_after(user=user, transcript_id=transcript_id, after=after)
        for e in events:
            yield _sse("coding", {"kind": e.kind, "coding": e.data, "actor": e.actor_id}, e.id)
        if last != after and (not events or events[-1].id != last):
            yield _sse("skip", {}, last)  # hidden events: move the client's Last-Event-ID on
        after = last
        if now >= deadline:
            break
        time.sleep(POLL_SECONDS)
