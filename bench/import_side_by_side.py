"""Upload + import of the same 65 interviews into Taguette 1.5.2 and into Chorus, in alternating
rounds (this machine is shared and noisy: only ratios from one session mean anything).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval \\
        .venv/bin/python bench/import_side_by_side.py --taguette-python /work/taguette-venv/bin/python \\
        [--docs 65] [--rounds 3] [--port 7472]

Taguette: a fresh server and project per round; the documents uploaded one by one through the HTTP
API its front end uses (as ../shared/tools/taguette_bench.py does), timed from the first upload to
the last answer. Chorus: a fresh study per round; the same texts as .txt files through the import
path in-process (the preview, then the import job's work). It adds studies to the database given:
point it at a benchmark database (bench/retrieval.py recreates it).
"""

from __future__ import annotations

import argparse
import json
import os
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
os.environ.setdefault("CHORUS_IMPORT_CHUNK", "25")  # production's chunk; the test settings' 1 is a commit per file

# Run by the Taguette interpreter: one round of uploads, printed as JSON.
TAGUETTE_ROUND = r"""
import html, json, os, random, sys, time
sys.path.insert(0, sys.argv[1])
import taguette_bench as tb
docs, port, workdir = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(tb.SEED if hasattr(tb, "SEED") else 20261127)
texts = [tb.make_interview(rng, "P%02d" % (i % 99 + 1)) for i in range(docs)]
srv = tb.Server(os.path.join(workdir, "t.sqlite3"), port, os.path.join(workdir, "server.log")).start()
try:
    c = tb.Client(port, srv.token)
    pid = c.new_project("bench")
    def cpu():
        f = open("/proc/%d/stat" % srv.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    t0, c0 = time.perf_counter(), cpu()
    for i, paras in enumerate(texts):
        c.upload(pid, "Interview P%02d-%03d" % (i % 99 + 1, i), "\n".join("<p>%s</p>" % html.escape(p) for p in paras))
    total = time.perf_counter() - t0
    print(json.dumps({"seconds": round(total, 2), "server_cpu_s": round(cpu() - c0, 2),
                      "rss_MiB": round(srv.vmrss_kb() / 1024, 1)}))
finally:
    srv.stop()
"""


def chorus_round(docs: int, n: int) -> dict[str, Any]:
    import retrieval as rb

    from accounts.models import Membership, ParticipantGroup, Role, Study, User
    from analysis.transcripts.models import Transcript
    from analysis.transcripts.services import imports
    from participants.models import ConsentState, Participant

    texts, _, _ = rb.taguette_work(docs, 1, 30)
    lead = User.objects.filter(email="import-bench@bench.test").first() or User.objects.create_user(
        email="import-bench@bench.test", password="bench-password-1")
    study = Study.objects.create(name=f"Import bench {n} {time.time()}", created_by=lead)
    Membership.objects.create(user=lead, study=study, role=Role.LEAD)
    group = ParticipantGroup.objects.filter(study=study).first() or ParticipantGroup.objects.create(
        study=study, key="service_user", label="Service user")
    Participant.objects.bulk_create([
        Participant(study=study, pseudonym=f"P{i + 1:02d}", group=group, consent_state=ConsentState.CONSENTED,
                    consent_answers={"take_part": True, "transcription": True}, created_by=lead)
        for i in range(docs)])
    uploads = [imports.Upload(f"P{i % 99 + 1:02d}-{i:03d}.txt", t.encode()) for i, t in enumerate(texts)]
    from transcripts import _db_cpu_s, _diff  # bench/transcripts.py

    t0, c0, db0 = time.perf_counter(), time.process_time(), _db_cpu_s()
    batch = imports.import_preview(actor=lead, study_id=study.pk, uploads=uploads)
    t1 = time.perf_counter()
    imports.import_commit(actor=lead, study_id=study.pk, batch_id=batch.pk)  # eager: the job runs on commit
    t2 = time.perf_counter()
    # Chorus' CPU: this process (Django, the job) plus its PostgreSQL backend; Taguette's: its one process.
    cpu, db = time.process_time() - c0, _diff(db0, _db_cpu_s())
    assert Transcript.objects.filter(study=study).count() == docs
    return {"seconds": round(t2 - t0, 2), "preview_s": round(t1 - t0, 2), "job_s": round(t2 - t1, 2),
            "cpu_s": round(cpu, 2), "database_cpu_s": db}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=65)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=7472)
    ap.add_argument("--taguette-python", required=True)
    args = ap.parse_args()
    import django

    django.setup()
    import retrieval as rb
    from django.conf import settings

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "docs": args.docs, "rounds": []}
    for n in range(args.rounds):
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as work:
            r = subprocess.run([args.taguette_python, "-c", TAGUETTE_ROUND, str(rb.SHARED / "tools"), str(args.docs),
                                str(args.port), work], capture_output=True, text=True, check=True)
        taguette = json.loads(r.stdout.strip().splitlines()[-1])
        chorus = chorus_round(args.docs, n)
        out["rounds"].append({"load": round(load, 1), "taguette": taguette, "chorus": chorus,
                              "ratio_taguette_over_chorus": round(taguette["seconds"] / chorus["seconds"], 2)})
        print(json.dumps(out["rounds"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
