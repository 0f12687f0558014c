"""Where a request's time goes: Python CPU against SQL time, in-process through the test client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval .venv/bin/python bench/request_profile.py \
        [--runs 10] [--queries] [--only api_transcript,api_codings] [--cprofile api_codings]

On a study already loaded (by bench/retrieval.py), as its first lead: the coding page and the two API calls it
makes (the transcript with the most codings), the first page of the code with the most codings, and the
transcript list (page and API), and adding a coding (a POST to the codings API, 80–600 characters, one
code; the codings added are deleted at the end). The API calls authenticate with the lead's token, as the
HTTP benchmarks (``retrieval.py``, ``side_by_side.py``) do; the pages with a session. For each, medians of
wall time, of this process's CPU time and of the time spent in SQL statements, and the number of
statements, and the Python function calls one request makes (counted by cProfile: unlike the times, the same
however loaded the machine); with ``--queries``, the slowest statements of each (best of five); with ``--cprofile NAME``,
cProfile's 40 costliest functions (cumulative; ``PSTATS_FILTER`` a regular expression to keep some,
``CALLEES`` one whose callees to list) of that request. On a loaded machine wall and SQL time stretch with
the load; CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--queries", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated names of the requests to time")
    ap.add_argument("--cprofile", default="", help="profile this request (its name) with cProfile")
    args = ap.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.models import Membership
    from analysis.coding.models import Code, Coding
    from analysis.transcripts.models import Transcript

    settings.ALLOWED_HOSTS = ["*"]
    m = Membership.objects.filter(role="lead").select_related("user", "study").order_by("pk").first()
    assert m is not None, "no study loaded: run bench/retrieval.py first"
    sid = m.study_id
    busiest = Coding.objects.filter(study_id=sid).values("transcript_id").annotate(n=Count("id")).order_by("-n")[0]
    code = Coding.objects.filter(study_id=sid).values("code_id").annotate(n=Count("id")).order_by("-n")[0]
    tid = busiest["transcript_id"]
    urls = {
        "coding_page": f"/studies/{sid}/transcripts/{tid}/code/",
        "api_transcript": f"/api/v1/studies/{sid}/transcripts/{tid}/",
        "api_codings": f"/api/v1/studies/{sid}/transcripts/{tid}/codings/",
        "code_segments_api_first_page": f"/api/v1/studies/{sid}/codes/{code['code_id']}/segments/",
        "transcript_list_api_50": f"/api/v1/studies/{sid}/transcripts/?limit=50",
        "transcript_list_page": f"/studies/{sid}/transcripts/",
    }
    client = Client()
    client.force_login(m.user)
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=m.user)[0].key}")
    add_url = f"/api/v1/studies/{sid}/transcripts/{tid}/codings/"
    length = len(Transcript.objects.get(pk=tid).text)
    codes = list(Code.objects.filter(study_id=sid).values_list("pk", flat=True))
    rng = __import__("random").Random(12)
    added_before = set(Coding.objects.filter(transcript_id=tid).values_list("pk", flat=True))

    def add_coding() -> Any:
        n = rng.randint(80, 600)
        start = rng.randint(0, length - n - 1)
        return api.post(add_url, {"code": rng.choice(codes), "start": start, "end": start + n},
                        content_type="application/json")
    statements: list[tuple[float, str]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(((time.perf_counter() - t) * 1000, sql))

    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "load": os.getloadavg(),
                           "codings": Coding.objects.filter(study_id=sid).count(), "busiest_transcript_codings": busiest["n"],
                           "code_segments": code["n"]}
    def getter(url: str) -> Any:
        c = api if url.startswith("/api/") else client
        return lambda: c.get(url)

    calls: dict[str, Any] = {name: getter(url) for name, url in urls.items()}
    calls["add_coding"] = add_coding
    only = set(filter(None, args.only.split(",")))
    for name, call in calls.items():
        if only and name not in only:
            continue
        r = call()
        assert r.status_code in (200, 201), (name, r.status_code)
        if name == args.cprofile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for _ in range(args.runs):
                call()
            prof.disable()
            st = pstats.Stats(prof, stream=sys.stderr)
            st.sort_stats("cumulative").print_stats(os.environ.get("PSTATS_FILTER", ""), 40)
            if os.environ.get("CALLEES"):
                st.print_callees(os.environ["CALLEES"])
        wall, cpu, sql = [], [], []
        slowest: dict[int, tuple[float, str]] = {}
        for i in range(args.runs):
            statements.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            with connection.execute_wrapper(timed):
                call()
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            sql.append(sum(ms for ms, _ in statements))
            if i < 5:
                for k, (ms, s) in enumerate(statements):
                    slowest[k] = min(slowest.get(k, (ms, s)), (ms, s))
        # Python function calls of one request: unlike times, the same on a loaded machine.
        import cProfile
        import pstats

        counter = cProfile.Profile()
        counter.enable()
        call()
        counter.disable()
        calls_made = pstats.Stats(counter).total_calls  # type: ignore[attr-defined]
        out[name] = {"python_calls": calls_made, "wall_ms": round(statistics.median(wall), 1),
                     "cpu_ms": round(statistics.median(cpu), 1),
                     "cpu_min_ms": round(min(cpu), 1),
                     "sql_ms": round(statistics.median(sql), 1), "statements": len(statements),
                     "bytes": len(r.content)}
        if args.queries:
            out[name]["slowest"] = [f"{ms:.1f} ms: {' '.join(s.split())[:160]}"
                                    for ms, s in sorted(slowest.values(), reverse=True)[:3]]
    Coding.objects.filter(transcript_id=tid).exclude(pk__in=added_before).delete()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
