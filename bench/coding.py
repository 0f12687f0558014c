"""Benchmark coding: adding a coding with 20 concurrent coders, and opening a long coded transcript.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench5 \\
        .venv/bin/python bench/coding.py [--coders 20] [--per-coder 50] [--think-ms 0] [--chars 50000] [--browser]

Not a test: it prints one JSON summary. It drops and recreates every table in the target database
(creating the database if needed), so point it at a database of its own. Steps:

1. Loads a study, 20 coders (API tokens), a lead, a consented participant, a 50,000-character
   transcript with speaker turns and emoji, a 25-code codebook and 200 codings on it.
2. Starts gunicorn with the production settings (``config/gunicorn.conf.py``: 4 workers × 32 threads) on loopback and has 20 threads, one per coder,
   POST codings to /api/v1/.../codings/ as fast as they can (every coder on the same transcript: the
   worst case for the per-transcript row lock), then every coder on a transcript of their own.
   Reported: round trip on loopback (an upper bound of server time) p50/p95/max.
3. Opening the 50,000-character transcript with 200 codings: the coding page's server time
   (in-process through Django's test client, as the reading-view benchmark does) and the codings
   API; with ``--browser``, the time until the page is usable in Chromium (the ``coding-ready``
   performance mark set by coder.js after the highlights and stripes are drawn).

Server time is what Django spends on a request (a bench-only middleware adds a ``Server-Timing``
header); the round trip adds gunicorn's queueing and the client. ``--reuse`` skips the loading.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
PASSWORD = "bench-password-not-secret-1"
WORDS = ["the", "phone", "video", "appointment", "felt", "different", "you", "lose", "body", "language", "my", "care", "coordinator", "rang", "every", "week", "and", "I", "could", "not", "always", "talk", "at", "home", "because", "the", "walls", "are", "thin", "👍", "sometimes", "it", "was", "easier", "café"]


# The bench-only middleware lives in the settings shim written at run time (see main()).
TIMING_MIDDLEWARE = '''
import time


class ServerTimingMiddleware:
    """Bench only (added by the settings shim): the time Django spends on a request, as a
    ``Server-Timing`` header, so the load script reports server time apart from queueing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        t0, c0 = time.perf_counter(), time.thread_time()
        response = self.get_response(request)
        response["Server-Timing"] = (f"app;dur={(time.perf_counter() - t0) * 1000:.2f}, "
                                     f"cpu;dur={(time.thread_time() - c0) * 1000:.2f}")
        return response
'''


RUN_SEED = time.time_ns()
SCENARIO = itertools.count()


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p95_ms": round(pct(ms, 0.95), 2),
            "max_ms": round(max(ms), 2)}


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def transcript_text(chars: int, rng: random.Random) -> str:
    lines, n, i = ["Interview BENCH01, video, 2021-03-01", ""], 0, 0
    while n < chars:
        speaker = "Interviewer" if i % 2 == 0 else "BENCH01"
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 120)))
        line = f"{speaker}: {words}."
        lines += [line, ""]
        n += len(line) + 2
        i += 1
    return "\n".join(lines)


def setup(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
    from analysis.coding.services import codebook as services
    from analysis.coding.services import codings as coding_services
    from analysis.transcripts.importers import parse_transcript
    from analysis.transcripts.services.transcripts import transcript_create
    from participants.models import ConsentState, Participant

    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    rng = random.Random(5)
    lead = User.objects.create_user(email="lead@bench.test", password=PASSWORD, full_name="Bench Lead")
    study = Study.objects.create(name="Coding bench", created_by=lead)
    Membership.objects.create(user=lead, study=study, role=Role.LEAD)
    site = Site.objects.create(study=study, name="Bench site")
    group = ParticipantGroup.objects.filter(study=study).first() or ParticipantGroup.objects.create(
        study=study, key="service_user", label="Service user")
    coders = []
    for i in range(args.coders):
        u = User.objects.create_user(email=f"coder{i}@bench.test", password=PASSWORD, full_name=f"Coder {i}")
        Membership.objects.create(user=u, study=study, role=Role.CODER)
        coders.append((u, Token.objects.create(user=u).key))
    codes = [services.code_create(actor=lead, study_id=study.pk, name=f"Code {i}") for i in range(25)]
    transcripts = []
    for i in range(args.coders + 1):
        p = Participant.objects.create(
            study=study, pseudonym=f"BENCH{i:02d}", group=group, site=site, consent_state=ConsentState.CONSENTED,
            consent_answers={"take_part": True, "transcription": True}, created_by=lead)
        text = transcript_text(args.chars if i == 0 else 5000, rng).replace("BENCH01", f"BENCH{i:02d}")
        parsed = parse_transcript(text.encode(), filename=f"BENCH{i:02d}.txt", pseudonym=p.pseudonym)
        transcripts.append(transcript_create(actor=lead, study_id=study.pk, participant_id=p.pk, parsed=parsed,
                                             original=text.encode(), original_name="b.txt"))
    big = transcripts[0]
    n = len(big.text)
    items = []
    for _ in range(200):
        s = rng.randrange(0, n - 400)
        items.append({"code": rng.choice(codes).pk, "start": s, "end": s + rng.randint(20, 400)})
    coding_services.codings_bulk_create(actor=lead, study_id=study.pk, transcript_id=big.pk, items=items)
    return {"study": study.pk, "big": big.pk, "length": n, "codes": [c.pk for c in codes],
            "own": [t.pk for t in transcripts[1:]], "tokens": [tok for _, tok in coders], "lead": lead.pk}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(
    base: str, ctx: dict[str, Any], *, per_coder: int, same: bool, coders: int | None = None, think_ms: float = 0
) -> dict[str, Any]:
    import requests

    lat: list[float] = []
    server: list[float] = []
    cpu: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()
    tokens = ctx["tokens"][: coders or len(ctx["tokens"])]
    barrier = threading.Barrier(len(tokens))

    def work(i: int, token: str) -> None:
        # A fresh sequence per run and per scenario: a repeated span is a duplicate, which the
        # service answers with the existing coding (a different path from adding one).
        rng = random.Random(f"{RUN_SEED}-{next(SCENARIO)}-{i}")
        # Same: every coder on one shared transcript (not the 50k one, which keeps its 200 codings).
        tid = ctx["own"][0] if same else ctx["own"][i]
        length = 4000
        url = f"{base}/api/v1/studies/{ctx['study']}/transcripts/{tid}/codings/"
        with requests.Session() as s:
            s.headers["Authorization"] = f"Token {token}"
            s.get(url)  # warm the connection
            barrier.wait()
            for _ in range(per_coder):
                if think_ms:  # a person selects and picks a code between codings: exponential pauses
                    time.sleep(rng.expovariate(1000 / think_ms))
                start = rng.randrange(0, length - 200)
                body = {"code": rng.choice(ctx["codes"]), "start": start, "end": start + rng.randint(5, 200)}
                t0 = time.perf_counter()
                r = s.post(url, json=body)
                dt = (time.perf_counter() - t0) * 1000
                with lock:
                    if r.status_code == 201:
                        lat.append(dt)
                        timing = dict(part.strip().split(";dur=") for part in r.headers.get("Server-Timing", "").split(","))
                        server.append(float(timing.get("app", 0)))
                        cpu.append(float(timing.get("cpu", 0)))
                    else:
                        errors[r.status_code] = errors.get(r.status_code, 0) + 1

    threads = [threading.Thread(target=work, args=(i, tok)) for i, tok in enumerate(tokens)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"server_time": summary(server), "server_cpu": summary(cpu), "round_trip": summary(lat), "errors": errors,
            "throughput_per_s": round(len(lat) / wall, 1)}


def open_page(ctx: dict[str, Any], repeat: int) -> dict[str, Any]:
    from django.test import Client

    from accounts.models import User

    c = Client(HTTP_HOST="localhost")
    c.force_login(User.objects.get(pk=ctx["lead"]))
    page = f"/studies/{ctx['study']}/transcripts/{ctx['big']}/code/"
    api = f"/api/v1/studies/{ctx['study']}/transcripts/{ctx['big']}/codings/"
    out: dict[str, Any] = {}
    for name, path in (("coding_page", page), ("codings_api", api)):
        c.get(path)
        ms = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = c.get(path)
            ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.status_code
        out[name] = {**summary(ms), "bytes": len(r.content)}
    return out


def browser_ready(base: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", "lead@bench.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        runs = []
        for _ in range(5):
            page.goto(f"{base}/studies/{ctx['study']}/transcripts/{ctx['big']}/code/")
            page.wait_for_selector("html[data-coding-ready='1']")
            runs.append(page.evaluate("performance.getEntriesByName('coding-ready')[0].startTime"))
        segs = page.evaluate("document.querySelectorAll('.seg').length")
        stripes = page.evaluate("document.querySelectorAll('.stripe').length")
        b.close()
    return {**summary(runs), "segments": segs, "stripes": stripes}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--coders", type=int, default=20)
    ap.add_argument("--per-coder", type=int, default=50)
    ap.add_argument("--chars", type=int, default=50000)
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--nice", type=int, default=10,
                    help="lower the load generator's CPU priority by this much (0: compete with the server)")
    ap.add_argument("--reuse", action="store_true", help="keep the data already loaded (skip setup)")
    ap.add_argument("--think-ms", type=float, default=0,
                    help="mean pause between one coder's codings (0: as fast as possible, a saturation test)")
    args = ap.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own (e.g. .../chorus_bench5).")
    ensure_database(url)
    saved = ROOT / "var" / "bench" / "coding-ctx.json"
    if args.reuse and saved.exists():
        import django

        django.setup()
        ctx = json.loads(saved.read_text())
    else:
        ctx = setup(args)
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(ctx))
    port = free_port()
    # The served pages need their static files (coder.js): serve them from the finders, no collectstatic.
    shim = Path(tempfile.mkdtemp()) / "bench_coding_settings.py"
    shim.write_text(
        f"from {os.environ['DJANGO_SETTINGS_MODULE']} import *  # noqa\nWHITENOISE_USE_FINDERS = True\n"
        + TIMING_MIDDLEWARE
        + "MIDDLEWARE = ['bench_coding_settings.ServerTimingMiddleware', *MIDDLEWARE]  # noqa\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_coding_settings",
           "PYTHONPATH": f"{shim.parent}{os.pathsep}{ROOT}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--threads", str(args.threads), "--access-logfile", "/dev/null",
         "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    # The 20 coders stand in for 20 browsers on other machines: on a small machine the generator's own
    # threads would otherwise take CPU from the server whose time is being measured.
    os.nice(args.nice)
    try:
        import requests

        for _ in range(100):
            try:
                requests.get(base + "/accounts/login/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        result: dict[str, Any] = {
            "transcript_chars": ctx["length"], "coders": args.coders, "per_coder": args.per_coder,
            "gunicorn": f"--workers {args.workers} --threads {args.threads}",
            "open_50k_with_200_codings_server": open_page(ctx, repeat=20),
        }
        if args.browser:
            try:
                result["open_50k_browser_usable"] = browser_ready(base, ctx)
            except Exception as exc:  # report what was measured even if the browser is missing
                result["open_50k_browser_usable"] = {"error": str(exc)[:300]}
        print(json.dumps(result, indent=2), file=sys.stderr, flush=True)
        result["add_coding_one_coder_sequential"] = load(base, ctx, per_coder=100, same=False, coders=1)
        # The person's-pace run comes before the saturation runs, whose thousands of inserts leave
        # PostgreSQL's autovacuum busy for a while afterwards.
        if args.think_ms:
            result[f"add_coding_shared_transcript_think_{args.think_ms:g}ms"] = load(
                base, ctx, per_coder=args.per_coder, same=True, think_ms=args.think_ms
            )
        result["add_coding_same_transcript"] = load(base, ctx, per_coder=args.per_coder, same=True)
        result["add_coding_own_transcripts"] = load(base, ctx, per_coder=args.per_coder, same=False)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
