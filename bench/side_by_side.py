"""Chorus and Taguette 1.5.2 measured in alternating rounds on the same machine, at the same size.

    TAGUETTE=/work/taguette-venv/bin/taguette \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval \\
        .venv/bin/python bench/side_by_side.py --taguette-db var/bench/taguette-run/taguette.sqlite3 [--rounds 3]

Needs the data both benchmarks leave behind: ../shared/tools/taguette_bench.py's SQLite database
(``--scale-to 650`` leaves 650 documents) and bench/retrieval.py's database (same documents, tags
and highlights, cloned to 650). The Taguette database is copied first (Taguette writes to it).
Each round runs every operation on Taguette, then on Chorus: opening a coded document (the two
calls each front end makes), the first page of one tag's / code's highlights (50, with the total),
all its pages, listing the documents, adding a coding (a random span of 80–600 characters with one
code, on the probe document), and with ``--exports`` exporting every coding as CSV and XLSX (Taguette's
export request; Chorus' export job's work in a fresh process, as a Celery worker runs it, including
that process's start). A shared, noisy machine makes absolute times move from minute to minute:
compare the ratios within a round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def timed(fn: Any, n: int) -> list[float]:
    if n > 1:
        fn()  # warm; a single slow run (all pages) is not repeated
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--taguette-db", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=7473)
    ap.add_argument("--taguette-probe", type=int, default=65)
    ap.add_argument("--adds", type=int, default=50, help="codings added per round and server")
    ap.add_argument("--exports", action="store_true", help="also the CSV and XLSX exports of every coding")
    args = ap.parse_args()
    import django

    django.setup()
    import requests
    import retrieval as rb
    import taguette_bench as tb
    from django.conf import settings
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from analysis.coding.models import Code
    from analysis.transcripts.models import Transcript

    work = Path(tempfile.mkdtemp())
    db = work / "taguette.sqlite3"
    shutil.copy(args.taguette_db, db)
    tsrv = tb.Server(str(db), args.port, str(work / "server.log")).start()
    tc = tb.Client(args.port, tsrv.token)
    pid = 1
    t_probe = args.taguette_probe  # taguette_bench.py opens the last uploaded document (its 65th)
    lead = User.objects.get(email="lead@bench.test")
    code = Code.objects.filter(study__name="Retrieval bench").order_by("position")[rb.TAG_NO]
    sid = code.study_id
    c_probe = Transcript.objects.filter(study_id=sid, participant__pseudonym="P65").values_list("pk", flat=True).first()
    token = Token.objects.get_or_create(user=lead)[0].key
    client = Client()
    client.force_login(lead)
    session = client.cookies["sessionid"].value
    port = rb.free_port()
    shim = Path(tempfile.mkdtemp()) / "bench_side_settings.py"
    shim.write_text(f"from {os.environ['DJANGO_SETTINGS_MODULE']} import *  # noqa\nWHITENOISE_USE_FINDERS = True\n"
                    f"MEDIA_ROOT = {str(ROOT / 'var' / 'bench-media')!r}\nALLOWED_HOSTS = ['*']\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_side_settings", "PYTHONPATH": f"{shim.parent}{os.pathsep}{ROOT}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--access-logfile", "/dev/null", "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "rounds": []}
    try:
        for _ in range(200):
            try:
                requests.get(base + "/accounts/login/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        s = requests.Session()
        s.cookies.set("sessionid", session)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        seg = f"{base}/api/v1/studies/{sid}/codes/{code.pk}/segments/"

        def chorus_all() -> int:
            n, url = 0, seg
            while url:
                body = api.get(url).json()
                n += len(body["segments"])
                url = body["next"]
            return n

        import random

        rng = random.Random(20261203)
        contents = tc.get(f"/api/project/{pid}/document/{t_probe}/contents").json()["contents"]
        t_len = sum(tb.text_len(c["contents"]) for c in contents)  # Taguette's offsets: bytes of the text
        with sqlite3.connect(db) as con:
            t_tags = [r[0] for r in con.execute("SELECT id FROM tags WHERE project_id = ?", (pid,))]
        c_len = len(Transcript.objects.get(pk=c_probe).text)
        c_codes = list(Code.objects.filter(study_id=sid).values_list("pk", flat=True))

        def taguette_add() -> None:
            length = rng.randint(80, 600)
            start = rng.randint(0, t_len - length - 1)
            tc.post_json(f"/api/project/{pid}/document/{t_probe}/highlight/new",
                         {"start_offset": start, "end_offset": start + length, "tags": [rng.choice(t_tags)]})

        def chorus_add() -> None:
            length = rng.randint(80, 600)
            start = rng.randint(0, c_len - length - 1)
            api.post(f"{base}/api/v1/studies/{sid}/transcripts/{c_probe}/codings/",
                     json={"code": rng.choice(c_codes), "start": start, "end": start + length}).raise_for_status()

        def taguette_export(fmt: str) -> Any:
            return lambda: tc.get(f"/project/{pid}/export/highlights/.{fmt}")

        job_runs: list[dict[str, Any]] = []

        def chorus_export(fmt: str) -> Any:
            ctx = {"study": sid, "lead": lead.pk}
            return lambda: job_runs.append(rb.export_in_subprocess(ctx, fmt))

        ops = {
            "open_document": (
                lambda: tb.load_document(tc, pid, t_probe),
                lambda: (api.get(f"{base}/api/v1/studies/{sid}/transcripts/{c_probe}/").raise_for_status(),
                         api.get(f"{base}/api/v1/studies/{sid}/transcripts/{c_probe}/codings/").raise_for_status()),
                10),
            "open_document_chorus_page": (None, lambda: s.get(f"{base}/studies/{sid}/transcripts/{c_probe}/code/")
                                          .raise_for_status(), 10),
            "code_first_page": (lambda: tc.get(f"/api/project/{pid}/highlights/{code.name}?page=1"),
                                lambda: api.get(seg).raise_for_status(), 10),
            "code_all_pages": (lambda: tb.list_tag(tc, pid, code.name), chorus_all, 1),
            "list_documents": (lambda: tc.get(f"/project/{pid}"),
                               lambda: s.get(f"{base}/studies/{sid}/transcripts/").raise_for_status(), 10),
            "add_coding": (taguette_add, chorus_add, args.adds),
        }
        if args.exports:
            ops["export_all_csv"] = (taguette_export("csv"), chorus_export("csv"), 1)
            ops["export_all_xlsx"] = (taguette_export("xlsx"), chorus_export("xlsx"), 1)
        for _ in range(args.rounds):
            row: dict[str, Any] = {"load": round(os.getloadavg()[0], 1)}
            for name, (t_fn, c_fn, n) in ops.items():
                t = timed(t_fn, n) if t_fn else None
                job_runs.clear()
                c = timed(c_fn, n)
                extra = {}
                if job_runs:
                    # The export job's own time, as a running Celery worker spends it; the wall time above
                    # also holds starting Python and Django in a fresh process (~1.5 s).
                    extra = {"chorus_with_process_start_s": round(c[0], 2), "chorus_job": job_runs[-1]}
                    c = [job_runs[-1]["seconds"]]
                row[name] = {"taguette": tb.summ(t) if t else None, "chorus": tb.summ(c), **extra,
                             "ratio_p95": round(tb.pct(t, 95) / tb.pct(c, 95), 1) if t else None}
            row["taguette_rss_MiB"] = round(tsrv.vmrss_kb() / 1024, 1)
            row["chorus_worker"] = rb.proc_status(rb.worker_pid(server.pid))
            out["rounds"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        tsrv.stop()
        shutil.rmtree(work, ignore_errors=True)
    out["settings"] = {"media": str(settings.MEDIA_ROOT)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
