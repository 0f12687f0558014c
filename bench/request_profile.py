"""Where a request's time goes: Python CPU against SQL time, in-process through the test client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval .venv/bin/python bench/request_profile.py [--runs 10] [--queries]

On a study already loaded (by bench/retrieval.py), as its first lead: the coding page and the two API calls it
makes (the transcript with the most codings), the first page of the code with the most codings, and the
transcript list (page and API). For each, medians of wall time, of this process's CPU time and of the time spent
in SQL statements, and the number of statements; with ``--queries``, the slowest statements of each (best of
five). On a loaded machine wall and SQL time stretch with the load; CPU time much less.
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
    args = ap.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from accounts.models import Membership
    from analysis.coding.models import Coding

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
    for name, url in urls.items():
        r = client.get(url)
        assert r.status_code == 200, (name, r.status_code)
        wall, cpu, sql = [], [], []
        slowest: dict[int, tuple[float, str]] = {}
        for i in range(args.runs):
            statements.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            with connection.execute_wrapper(timed):
                client.get(url)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            sql.append(sum(ms for ms, _ in statements))
            if i < 5:
                for k, (ms, s) in enumerate(statements):
                    slowest[k] = min(slowest.get(k, (ms, s)), (ms, s))
        out[name] = {"wall_ms": round(statistics.median(wall), 1), "cpu_ms": round(statistics.median(cpu), 1),
                     "sql_ms": round(statistics.median(sql), 1), "statements": len(statements),
                     "bytes": len(r.content)}
        if args.queries:
            out[name]["slowest"] = [f"{ms:.1f} ms: {' '.join(s.split())[:160]}"
                                    for ms, s in sorted(slowest.values(), reverse=True)[:3]]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
