"""Chorus' side of side_by_side.py's "one code's segments" rows, without Taguette (issue 12).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval \\
        .venv/bin/python bench/code_pages.py [--first 20] [--all 3]

On bench/retrieval.py's database, through HTTP against gunicorn with one worker (as side_by_side.py runs it),
for the code side_by_side.py lists (the fourth by position): the first page of 50 with the total
(``--first`` times, after one warm call) and every page, following ``next`` (``--all`` times). Prints one
JSON line: median / p95 / min wall time, the CPU seconds the gunicorn worker spent (the server's own work,
whatever the load), the worker's resident memory and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--first", type=int, default=20)
    ap.add_argument("--all", type=int, default=3)
    args = ap.parse_args()
    import django

    django.setup()
    import requests
    import retrieval as rb
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from analysis.coding.models import Code

    lead = User.objects.get(email="lead@bench.test")
    code = Code.objects.filter(study__name="Retrieval bench").order_by("position")[rb.TAG_NO]
    token = Token.objects.get_or_create(user=lead)[0].key
    port = rb.free_port()
    shim = Path(tempfile.mkdtemp()) / "bench_pages_settings.py"
    shim.write_text(f"from {os.environ['DJANGO_SETTINGS_MODULE']} import *  # noqa\nALLOWED_HOSTS = ['*']\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_pages_settings", "PYTHONPATH": f"{shim.parent}{os.pathsep}{ROOT}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--access-logfile", "/dev/null", "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(base + "/accounts/login/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        worker = rb.worker_pid(server.pid)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        seg = f"{base}/api/v1/studies/{code.study_id}/codes/{code.pk}/segments/"

        def all_pages() -> int:
            n, url = 0, seg
            while url:
                r = api.get(url)
                r.raise_for_status()
                body = r.json()
                n += len(body["segments"])
                url = body["next"]
            return n

        out: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "code": code.pk}
        for name, fn, runs in (("first_page", lambda: api.get(seg).raise_for_status(), args.first),
                               ("all_pages", all_pages, args.all)):
            fn()  # warm
            walls, cpus = [], []
            for _ in range(runs):
                c0, t0 = cpu_s(worker), time.perf_counter()
                fn()
                walls.append(time.perf_counter() - t0)
                cpus.append(cpu_s(worker) - c0)
            summ = rb.summ(walls)
            out[name] = {**summ, "min_ms": round(min(walls) * 1e3, 1),
                         "worker_cpu_ms_mean": round(sum(cpus) / len(cpus) * 1e3, 1)}
        out["segments"] = all_pages()
        out["worker"] = rb.proc_status(worker)
        out["load"] = [round(x, 1) for x in os.getloadavg()]
        print(json.dumps(out))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
