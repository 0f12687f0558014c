"""Benchmark retrieval side by side with Taguette 1.5.2: the same documents, tags and highlights.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval \\
        .venv/bin/python bench/retrieval.py [--docs 65] [--scale-to 650] [--rounds 2]

Not a test: it prints one JSON summary (and writes it to var/bench/retrieval-results.json). It drops
and recreates every table in the target database: point it at a database of its own.

The work is rebuilt from ../shared/tools/taguette_bench.py's generator with the same seed: the same
65 interviews of ~50,000 characters (uploaded to Taguette as HTML, here as .txt files), the same 30
tags as codes, and the same 80 highlights per document (one or two tags each: ~7,800 codings). Then:

1. upload + import of the 65 files through the real import path in-process (preview: sniff, parse,
   match the participant, check consent, stage; then the import job's work);
2. the same operations Taguette's bench times, through HTTP against gunicorn with ONE worker (so its
   memory compares with Taguette's single process): opening a coded document (the coding page, and
   the transcript + codings API calls), one code's segments (first page of 50 with the total, and
   every page), the transcript list (page and API, 50 rows);
3. exporting all codings as CSV and XLSX in a separate process running the export job's work, with
   its peak memory;
4. the documents cloned (in SQL, as Taguette's bench clones in SQLite) to ``--scale-to`` and 2.-3.
   again, ``--rounds`` times, reading the web worker's resident memory after each round.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# ../shared next to the main checkout (a worktree sits one level deeper): CHORUS_SHARED overrides.
SHARED = Path(os.environ.get("CHORUS_SHARED") or next(
    (p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "tools").exists()), ROOT.parent / "shared"))
sys.path.insert(0, str(SHARED / "tools"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("CHORUS_IMPORT_CHUNK", "25")  # production's chunk; the test settings' 1 is a commit per file
SEED = 20261127  # taguette_bench.py's default seed
TAG_NO = 3  # taguette_bench.py lists the highlights of its fourth tag


def pct(xs: list[float], p: float) -> float:
    # The same nearest-rank percentile as taguette_bench.py.
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, round(p / 100.0 * len(xs) + 0.5) - 1))
    return xs[k]


def summ(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "median_ms": round(statistics.median(xs) * 1e3, 2), "p95_ms": round(pct(xs, 95) * 1e3, 2),
            "max_ms": round(max(xs) * 1e3, 2)}


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def taguette_work(docs: int, hl_per_doc: int, tags: int) -> tuple[list[str], list[str], list[list[tuple[int, int, list[int]]]]]:
    """Documents, tag names and per-document highlights (start, end, tag indexes), drawn from the
    random sequence taguette_bench.py draws them from."""
    import taguette_bench as tb

    rng = random.Random(SEED)
    texts = ["\n".join(tb.make_interview(rng, f"P{i % 99 + 1:02d}")) for i in range(docs)]
    names = [tb.TAG_NAMES[i % len(tb.TAG_NAMES)] + ("" if i < len(tb.TAG_NAMES) else str(i)) for i in range(tags)]
    highlights = []
    for text in texts:
        n = len(text)
        doc = []
        for _ in range(hl_per_doc):
            length = rng.randint(80, 600)
            start = rng.randint(0, n - length - 1)
            chosen = rng.sample(range(tags), rng.choice((1, 2)))
            doc.append((start, start + length, chosen))
        highlights.append(doc)
    return texts, names, highlights


def setup(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
    from analysis.coding.models import Code, Coding
    from analysis.transcripts.models import Transcript
    from analysis.transcripts.services import imports
    from participants.models import ConsentState, Participant

    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    texts, tag_names, highlights = taguette_work(args.docs, args.hl_per_doc, args.tags)
    lead = User.objects.create_user(email="lead@bench.test", password="bench-password-1", full_name="Bench Lead")
    study = Study.objects.create(name="Retrieval bench", created_by=lead)
    Membership.objects.create(user=lead, study=study, role=Role.LEAD)
    sites = [Site.objects.create(study=study, name=n) for n in ("North", "South")]
    groups = list(ParticipantGroup.objects.filter(study=study).order_by("position")) or [
        ParticipantGroup.objects.create(study=study, key=k, label=k.replace("_", " ").capitalize(), position=i)
        for i, k in enumerate(("service_user", "carer", "staff"))]
    Participant.objects.bulk_create([
        Participant(study=study, pseudonym=f"P{i + 1:02d}", group=groups[i % len(groups)], site=sites[i % 2],
                    consent_state=ConsentState.CONSENTED, consent_answers={"take_part": True, "transcription": True},
                    created_by=lead)
        for i in range(args.docs)])
    uploads = [imports.Upload(f"P{i % 99 + 1:02d}-{i:03d}.txt", t.encode()) for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    batch = imports.import_preview(actor=lead, study_id=study.pk, uploads=uploads)
    t1 = time.perf_counter()
    batch = imports.import_commit(actor=lead, study_id=study.pk, batch_id=batch.pk)
    # The job's work in-process (the test settings run Celery tasks eagerly: on commit, above).
    t2 = time.perf_counter()
    assert Transcript.objects.filter(study=study).count() == args.docs, "not every file was imported"
    imported = {"files": args.docs, "total_s": round(t2 - t0, 2), "preview_s": round(t1 - t0, 2),
                "import_job_s": round(t2 - t1, 2)}
    codes = [Code.objects.create(study=study, name=n, position=i, created_by=lead, updated_by=lead)
             for i, n in enumerate(tag_names)]
    by_name = {t.participant.pseudonym: t for t in Transcript.objects.filter(study=study).select_related("participant")}
    rows = []
    for i, doc in enumerate(highlights):
        t = by_name[f"P{i % 99 + 1:02d}"]
        for start, end, chosen in doc:
            for k in chosen:
                rows.append(Coding(study=study, transcript=t, code=codes[k], coder=lead, start=start, end=end))
    Coding.objects.bulk_create(rows, batch_size=2000)
    return {"study": study.pk, "lead": lead.pk, "codes": [c.pk for c in codes], "import": imported,
            "codings": len(rows), "probe": by_name[f"P{(args.docs - 1) % 99 + 1:02d}"].pk}


def clone(ctx: dict[str, Any], target: int) -> dict[str, Any]:
    """Copy transcripts (with their turns and codings) to new participants until ``target`` exist."""
    from django.db import connection

    t0 = time.perf_counter()
    sid = ctx["study"]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM transcripts_transcript WHERE study_id = %s", [sid])
        n = cur.fetchone()[0]
        cur.execute("SELECT id FROM transcripts_transcript WHERE study_id = %s ORDER BY id", [sid])
        sources = [r[0] for r in cur.fetchall()]
        k = 0
        while n < target:
            src = sources[k % len(sources)]
            k += 1
            n += 1
            cur.execute("""
                INSERT INTO participants_participant (study_id, pseudonym, group_id, site_id, attributes,
                    name_encrypted, contact_encrypted, consent_state, consent_answers, created_at, created_by_id,
                    updated_at, interview_date)
                SELECT p.study_id, %s, p.group_id, p.site_id, p.attributes, '', '', p.consent_state,
                       p.consent_answers, now(), p.created_by_id, now(), p.interview_date
                FROM participants_participant p JOIN transcripts_transcript t ON t.participant_id = p.id
                WHERE t.id = %s RETURNING id""", [f"C{n:04d}", src])
            pid = cur.fetchone()[0]
            cur.execute("""
                INSERT INTO transcripts_transcript (study_id, participant_id, title, text, newlines, version,
                    interview_date, interview_mode, interviewer, source_format, source_encoding, original_name,
                    original_file, original_sha256, original_size, imported_by_id, imported_at, edited_at)
                SELECT study_id, %s, %s, text, newlines, version, interview_date, interview_mode, interviewer, source_format,
                       source_encoding, original_name, '', '', original_size, imported_by_id, now(), NULL
                FROM transcripts_transcript WHERE id = %s RETURNING id""", [pid, f"Interview C{n:04d}", src])
            tid = cur.fetchone()[0]
            cur.execute("""
                INSERT INTO transcripts_transcriptturn (transcript_id, study_id, index, speaker, role, start, "end",
                    time_ms, text, search)
                SELECT %s, study_id, index, speaker, role, start, "end", time_ms, text, search
                FROM transcripts_transcriptturn WHERE transcript_id = %s""", [tid, src])
            cur.execute("""
                INSERT INTO coding_coding (study_id, transcript_id, code_id, coder_id, start, "end", lost, memo,
                    version, created_at, updated_at)
                SELECT study_id, %s, code_id, coder_id, start, "end", lost, memo, version, now(), now()
                FROM coding_coding WHERE transcript_id = %s""", [tid, src])
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM coding_coding WHERE study_id = %s", [sid])
        codings = cur.fetchone()[0]
    return {"transcripts": n, "codings": codings, "clone_s": round(time.perf_counter() - t0, 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key + "_MiB"] = round(int(value.split()[0]) / 1024, 1)
    return out


def worker_pid(master: int) -> int:
    kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(kids[0])


def measure(base: str, ctx: dict[str, Any], session: Any, token: str) -> dict[str, Any]:
    import requests

    s = requests.Session()
    s.cookies.set("sessionid", session)
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    sid, probe, tag = ctx["study"], ctx["probe"], ctx["codes"][TAG_NO]
    out: dict[str, Any] = {}

    def timed(fn: Any, n: int) -> list[float]:
        fn()  # warm
        xs = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            xs.append(time.perf_counter() - t0)
        return xs

    def ok(r: Any) -> Any:
        assert r.status_code == 200, (r.status_code, r.url, r.text[:200])
        return r

    page = f"{base}/studies/{sid}/transcripts/{probe}/code/"
    out["open_document_coding_page"] = summ(timed(lambda: ok(s.get(page)), 20))
    out["open_document_coding_page"]["bytes"] = len(s.get(page).content)
    tr, cd = f"{base}/api/v1/studies/{sid}/transcripts/{probe}/", f"{base}/api/v1/studies/{sid}/transcripts/{probe}/codings/"
    out["open_document_api_transcript_and_codings"] = summ(timed(lambda: (ok(api.get(tr)), ok(api.get(cd))), 20))
    out["open_document_api_transcript_and_codings"]["codings"] = len(api.get(cd).json()["results"])
    seg = f"{base}/api/v1/studies/{sid}/codes/{tag}/segments/"
    first = api.get(seg).json()
    out["code_segments_first_page_api"] = {**summ(timed(lambda: ok(api.get(seg)), 20)), "total": first["count"],
                                           "pages": first["pages"]}

    def all_pages() -> int:
        n, url = 0, seg
        while url:
            body = ok(api.get(url)).json()
            n += len(body["segments"])
            url = body["next"]
        return n

    out["code_segments_all_pages_api"] = {**summ(timed(all_pages, 5)), "segments": all_pages()}
    segpage = f"{base}/studies/{sid}/codebook/{tag}/segments/"
    out["code_segments_page_groups"] = summ(timed(lambda: ok(s.get(segpage)), 10))
    out["code_segments_page_list"] = summ(timed(lambda: ok(s.get(segpage + "?view=list")), 10))
    lst = f"{base}/studies/{sid}/transcripts/"
    out["transcript_list_page"] = summ(timed(lambda: ok(s.get(lst)), 30))
    lapi = f"{base}/api/v1/studies/{sid}/transcripts/?limit=50"
    out["transcript_list_api_50"] = summ(timed(lambda: ok(api.get(lapi)), 30))
    out["codebook_page"] = summ(timed(lambda: ok(s.get(f"{base}/studies/{sid}/codebook/")), 10))
    return out


def export_in_subprocess(ctx: dict[str, Any], fmt: str, codes: list[int] | None = None) -> dict[str, Any]:
    """Run the export job's work in a fresh process (as a Celery worker would), for its peak memory."""
    args = [sys.executable, __file__, "--export", fmt, "--ctx", json.dumps({**ctx, "export_codes": codes or []})]
    r = subprocess.run(args, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(r.stdout.strip().splitlines()[-1])


def export_child(fmt: str, ctx: dict[str, Any]) -> None:
    import django

    django.setup()
    from accounts.models import User
    from analysis.coding.services import exports
    from jobs.models import Job

    lead = User.objects.get(pk=ctx["lead"])
    req = exports.ExportRequest(fmt=fmt, codes=tuple(ctx.get("export_codes") or ()))
    job = Job.objects.create(study_id=ctx["study"], kind=exports.KIND, created_by=lead, required_perm="coding.export",
                             params=req.as_params())
    from transcripts import _db_cpu_s, _diff  # bench/transcripts.py

    t0, c0, db0 = time.perf_counter(), time.process_time(), _db_cpu_s()
    job = exports.coded_export_run(job_id=job.pk)
    dt, cpu, db = time.perf_counter() - t0, time.process_time() - c0, _diff(db0, _db_cpu_s())
    assert job is not None, "the export job was not claimed"
    assert job.status == "done", job.error
    size = job.result_file.size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(dt, 2), "cpu_s": round(cpu, 2), "database_cpu_s": db,
                      "rows": job.result["Codings exported"],
                      "bytes": size, "peak_rss_MiB": round(peak, 1), "load": os.getloadavg()}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=65)
    ap.add_argument("--hl-per-doc", type=int, default=80)
    ap.add_argument("--tags", type=int, default=30)
    ap.add_argument("--scale-to", type=int, default=650)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--export")
    ap.add_argument("--ctx")
    args = ap.parse_args()
    if args.export:
        export_child(args.export, json.loads(args.ctx))
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own (e.g. .../chorus_bench_retrieval).")
    ensure_database(url)
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    os.environ["CHORUS_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    ctx = setup(args)
    lead = User.objects.get(pk=ctx["lead"])
    token = Token.objects.create(user=lead).key
    c = Client()
    c.force_login(lead)
    session = c.cookies["sessionid"].value
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_before": os.getloadavg(),
                              "docs": args.docs, "codings": ctx["codings"], "import": ctx["import"]}
    print(json.dumps(result), file=sys.stderr, flush=True)
    port = free_port()
    shim = Path(tempfile.mkdtemp()) / "bench_retrieval_settings.py"
    shim.write_text(f"from {os.environ['DJANGO_SETTINGS_MODULE']} import *  # noqa\nWHITENOISE_USE_FINDERS = True\n"
                    f"MEDIA_ROOT = {str(settings.MEDIA_ROOT)!r}\nALLOWED_HOSTS = ['*']\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_retrieval_settings",
           "PYTHONPATH": f"{shim.parent}{os.pathsep}{ROOT}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(args.threads), "--access-logfile", "/dev/null", "--log-level", "warning"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        for _ in range(200):
            try:
                requests.get(base + "/accounts/login/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        wpid = worker_pid(server.pid)
        result["worker_idle"] = proc_status(wpid)
        key = f"at_{args.docs}_docs"
        result[key] = measure(base, ctx, session, token)
        result[key]["worker"] = proc_status(wpid)
        result[key]["export_all_csv"] = export_in_subprocess(ctx, "csv")
        result[key]["export_all_xlsx"] = export_in_subprocess(ctx, "xlsx")
        print(json.dumps(result, indent=1), file=sys.stderr, flush=True)
        if args.scale_to > args.docs:
            result["clone"] = clone(ctx, args.scale_to)
            for r in range(1, args.rounds + 1):
                key = f"at_{args.scale_to}_docs_round{r}"
                result[key] = measure(base, ctx, session, token)
                result[key]["worker"] = proc_status(wpid)
                print(json.dumps({key: result[key]}, indent=1), file=sys.stderr, flush=True)
            key = f"at_{args.scale_to}_docs_round1"
            result[key]["export_all_csv"] = export_in_subprocess(ctx, "csv")
            result[key]["export_all_xlsx"] = export_in_subprocess(ctx, "xlsx")
            result[key]["export_one_code_csv"] = export_in_subprocess(ctx, "csv", [ctx["codes"][TAG_NO]])
        result["load_after"] = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    out = ROOT / "var" / "bench" / "retrieval-results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
