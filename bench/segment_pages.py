"""Benchmark: the first page of the two "segments behind something" pages, in-process, with where the time goes.

    # a matrix cell: the busiest cell of the theme × group matrix that bench/matrices.py left in its database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_matrices \\
        .venv/bin/python bench/segment_pages.py cell [--runs 30] [--dump out.pkl] [--root ../other-checkout]
    # one code's segments (the code with the most codings), through the API, on bench/retrieval.py's database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval \\
        .venv/bin/python bench/segment_pages.py code [--runs 30] [--dump out.json]

Prints one JSON line: wall time median / p95 / min over ``--runs`` (min is the best estimate of the
uncontended cost on a shared machine), this process's CPU time and its PostgreSQL backend's CPU time (read
from /proc: the server runs on this machine; 10 ms ticks) per request, SQL time; then the median time of
each statement. ``--root`` runs another checkout's code (before/after on the same database, back to back);
``--dump`` writes what the page shows, to compare two checkouts' output byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, round(p / 100.0 * len(xs) + 0.5) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("page", choices=["cell", "code"])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--dump")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    args = ap.parse_args()
    start_dir = os.getcwd()
    sys.path.insert(0, args.root)
    os.chdir(args.root)  # Celery puts the working directory first on sys.path when the app loads
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]

    def backend_cpu() -> float:
        fields = Path(f"/proc/{connection.connection.info.backend_pid}/stat").read_text().split(")")[-1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    request, label = _cell(args) if args.page == "cell" else _code(args)
    shown = request()  # warm: connection, caches
    statements: list[tuple[float, str]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - t, sql))

    walls, cpus, dbs, per = [], [], [], []
    with connection.execute_wrapper(timed):
        for _ in range(args.runs):
            statements.clear()
            d0, c0, t0 = backend_cpu(), time.process_time(), time.perf_counter()
            request()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            dbs.append(backend_cpu() - d0)
            per.append(list(statements))
    ms = lambda x: round(x * 1e3, 1)  # noqa: E731
    print(json.dumps({
        "page": label, "root": args.root, "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "runs": args.runs,
        "wall_ms_median": ms(statistics.median(walls)), "wall_ms_p95": ms(pct(walls, 95)), "wall_ms_min": ms(min(walls)),
        "cpu_ms_median": ms(statistics.median(cpus)), "db_backend_cpu_ms_mean": ms(statistics.mean(dbs)),
        "sql_ms_median": ms(statistics.median(sum(s for s, _ in x) for x in per)), "statements": len(per[-1]),
        "load": [round(x, 1) for x in os.getloadavg()]}))
    for k, (_s, sql) in enumerate(per[-1]):
        print(f"  {ms(statistics.median(x[k][0] for x in per if len(x) > k)):7.1f} ms  {' '.join(sql.split())[:110]}")
    if args.dump:
        with open(os.path.join(start_dir, args.dump), "wb") as f:
            pickle.dump(shown, f)


def _cell(args: argparse.Namespace) -> tuple[Any, str]:
    from accounts.models import Study, User
    from analysis.matrices import engine
    from analysis.matrices.models import Matrix

    study = Study.objects.get(name="Bench")
    lead = User.objects.get(email="lead@bench")
    matrix = Matrix.objects.filter(study=study, spec__columns="themes").exclude(result=None).order_by("-pk").first()
    assert matrix is not None, "no theme matrix stored: run bench/matrices.py first"
    result = matrix.result or {}
    _n, i, j = max((c["segments"], i, j) for i, row in enumerate(result["cells"]) for j, c in enumerate(row))

    def request() -> Any:
        page = engine.cell_segments(user=lead, study_id=study.pk, matrix=matrix, row=i, column=j, page=1)
        return [page.total, page.page, page.pages, [tuple(vars(s).values()) for s in page.segments]]

    return request, f"matrix {matrix.pk} cell ({i}, {j}), {result['cells'][i][j]['segments']} segments"


def _code(args: argparse.Namespace) -> tuple[Any, str]:
    from django.db.models import Count
    from django.test import Client

    from accounts.models import Membership
    from analysis.coding.models import Coding

    m = Membership.objects.filter(role="lead").select_related("user").order_by("pk").first()
    assert m is not None, "no study loaded: run bench/retrieval.py first"
    top = Coding.objects.filter(study_id=m.study_id).values("code_id").annotate(n=Count("id")).order_by("-n", "code_id")[0]
    url = f"/api/v1/studies/{m.study_id}/codes/{top['code_id']}/segments/"
    client = Client()
    client.force_login(m.user)

    def request() -> Any:
        r = client.get(url)
        assert r.status_code == 200, r.status_code
        return r.content

    return request, f"{url} ({top['n']} codings)"


if __name__ == "__main__":
    main()
