"""Benchmark: import a generated study's transcripts, search them, open a long transcript.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench \\
        .venv/bin/python bench/transcripts.py --participants 1000 --chars 30000

Generates the study with ../shared/tools/make_study.py (cached under var/bench/), loads participants
straight into the database (consented), runs the real import path (preview: parse, match, consent
check, stage; then the import job's work function in-process), then times searches as a lead and
as a site-scoped coder through the same selector the page and the API use, and the reading view of
a 300,000-character transcript through the Django test client. Prints one JSON summary.

It drops and recreates every table in the target database: point it at a database of its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# The production chunk (config/settings/base.py); the test settings' 1 makes every file its own transaction.
os.environ.setdefault("CHORUS_IMPORT_CHUNK", "25")

QUERIES = [
    "phone", "video", "training", "carer", "assessment", "deteriorating", "safe space", "lockdown",
    '"body language"', '"face to face"', "signal dropping", "telephone -video", "appointment or clinic",
    "privacy", "relapse", "exhausted", "platform", "camera", "rapport", "choice", "digital", "language",
    '"care coordinator"', "respite", "guidance", "bus", "bedroom", "family hear", "ward round", "café",
]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=65)
    ap.add_argument("--chars", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--searches", type=int, default=300)
    ap.add_argument("--skip-import", action="store_true", help="reuse the data already in the database")
    ap.add_argument("--import-only", action="store_true", help="time the import, nothing else")
    ap.add_argument("--codings-per-transcript", type=int, default=90,
                    help="codings added (once) before timing the transcript list, for its coding progress")
    args = ap.parse_args()

    out = ROOT / "var" / "bench" / f"study-{args.participants}-{args.chars}-{args.seed}"
    if not (out / "participants.csv").exists():
        # ../shared next to the main checkout (a worktree sits one level deeper).
        shared = next((p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "tools").exists()),
                      ROOT.parent / "shared")
        subprocess.run([sys.executable, str(shared / "tools" / "make_study.py"), str(out),
                        "--participants", str(args.participants), "--chars", str(args.chars),
                        "--seed", str(args.seed)], check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    settings.ALLOWED_HOSTS = ["*"]
    summary: dict[str, object] = {"participants": args.participants, "chars": args.chars,
                                  "database": connection.vendor}
    if not args.skip_import:
        call_command("flush", interactive=False, verbosity=0) if _has_tables() else None
    call_command("migrate", verbosity=0)

    from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
    from analysis.transcripts import selectors
    from analysis.transcripts.models import Transcript, TranscriptTurn
    from analysis.transcripts.services import imports
    from jobs.models import Job
    from participants.models import Participant

    if not args.skip_import:
        lead = User.objects.create_user("lead@bench", "bench-password-1")
        coder = User.objects.create_user("coder@bench", "bench-password-1")
        study = Study.objects.create(name="Bench", created_by=lead)
        groups = {k: ParticipantGroup.objects.create(study=study, key=k, label=k, position=i)
                  for i, k in enumerate(["service_user", "carer", "staff"])}
        sites: dict[str, Site] = {}
        Membership.objects.create(user=lead, study=study, role=Role.LEAD)
        scoped = Membership.objects.create(user=coder, study=study, role=Role.CODER)
        with open(out / "participants.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        people = []
        for r in rows:
            site = sites.get(r["site"]) or sites.setdefault(r["site"], Site.objects.create(study=study, name=r["site"]))
            people.append(Participant(
                study=study, pseudonym=r["participant_id"], group=groups[r["group"]], site=site,
                attributes={"interview_mode": r["interview_mode"]}, interview_date=r["interview_date"],
                consent_state="consented", consent_answers={"take_part": True, "transcription": True},
                created_by=lead,
            ))
        Participant.objects.bulk_create(people, batch_size=1000)
        scoped.scope_sites.set([sites["North Trust"]])
        files = sorted((out / "transcripts").iterdir())
        uploads = [imports.Upload(p.name, p.read_bytes()) for p in files]
        size = sum(len(u.data) for u in uploads)
        cpu0, db0 = time.process_time(), _db_cpu_s()
        t0 = time.perf_counter()
        batch = imports.import_preview(actor=lead, study_id=study.pk, uploads=uploads)
        t1 = time.perf_counter()
        cpu1, db1 = time.process_time(), _db_cpu_s()
        job = Job.objects.create(study=study, kind="transcript_import", created_by=lead, params={"batch": batch.pk})
        batch.job = job
        batch.status = "queued"
        batch.save()
        imports.import_run(job_id=job.pk)
        t2 = time.perf_counter()
        cpu2, db2 = time.process_time(), _db_cpu_s()
        job.refresh_from_db()
        summary["import"] = {
            "files": len(uploads), "megabytes": round(size / 1e6, 1), "result": job.result,
            "preview_s": round(t1 - t0, 2), "import_job_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
            "files_per_s": round(len(uploads) / (t2 - t0), 1),
            # The wall time follows the machine's load; these do much less.
            "cpu_s": {"preview": round(cpu1 - cpu0, 2), "import_job": round(cpu2 - cpu1, 2)},
            "database_cpu_s": {"preview": _diff(db0, db1), "import_job": _diff(db1, db2)},
            "load_average": os.getloadavg(),
        }
    if args.import_only:
        print(json.dumps(summary, indent=2))
        return
    study = Study.objects.get(name="Bench")
    lead, coder = User.objects.get(email="lead@bench"), User.objects.get(email="coder@bench")
    summary["transcripts"] = Transcript.objects.filter(study=study).count()
    summary["turns"] = TranscriptTurn.objects.filter(study=study).count()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")

    rng = random.Random(1)
    groups = list(study.groups.values_list("pk", flat=True))
    for who, user in (("lead", lead), ("coder_scoped_to_one_site", coder)):
        times, totals = [], []
        for q in QUERIES:  # warm-up
            selectors.transcript_search(user=user, study_id=study.pk, query=q)
        for i in range(args.searches):
            q = QUERIES[i % len(QUERIES)]
            kwargs: dict[str, object] = {}
            if i % 3 == 1:
                kwargs["role"] = "participant"
            if i % 5 == 2:
                kwargs["group_id"] = rng.choice(groups)
            t0 = time.perf_counter()
            result = selectors.transcript_search(user=user, study_id=study.pk, query=q, **kwargs)  # type: ignore[arg-type]
            times.append((time.perf_counter() - t0) * 1000)
            totals.append(result.total)
            user.__dict__.pop("_chorus_memberships", None)  # a fresh request each time
        summary[f"search_ms_{who}"] = {
            "n": len(times), "p50": round(statistics.median(times), 1), "p95": round(percentile(times, 0.95), 1),
            "max": round(max(times), 1), "mean_hits": round(statistics.mean(totals), 1),
        }

    summary["reading_view_300k"] = _reading(study, lead)
    summary["transcript_list"] = _list(study, lead, coder, per_transcript=args.codings_per_transcript)
    print(json.dumps(summary, indent=2))


def _list(study: object, lead: object, coder: object, *, per_transcript: int) -> dict[str, object]:
    """The transcript list (page and API, 50 rows) with its coding progress, through the test
    client: first, middle and last page, 30 times each way, as the lead and as the scoped coder."""
    from django.db import connection
    from django.test import Client

    from analysis.coding.models import Code, Coding
    from analysis.transcripts.models import Transcript

    ts = list(Transcript.objects.filter(study=study).values_list("pk", "study_id"))
    if per_transcript and not Coding.objects.filter(study=study).exists():
        codes = [Code.objects.create(study=study, name=f"Code {i}", position=i, created_by=lead, updated_by=lead)
                 for i in range(30)]
        rng = random.Random(2)
        Coding.objects.bulk_create([
            Coding(study=study, transcript_id=tid, code=rng.choice(codes), coder=rng.choice((lead, coder)),
                   start=(s := rng.randrange(0, 20_000)), end=s + rng.randint(20, 400))
            for tid, _ in ts for _ in range(per_transcript)], batch_size=5000)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    out: dict[str, object] = {"transcripts": len(ts), "codings": Coding.objects.filter(study=study).count()}
    pages = max(1, -(-len(ts) // 50))
    for who, user in (("lead", lead), ("coder_scoped", coder)):
        c = Client()
        c.force_login(user)  # type: ignore[arg-type]
        for name, urls in (
            ("page", [f"/studies/{study.pk}/transcripts/?page={n}" for n in (1, pages // 2 or 1, pages)]),  # type: ignore[attr-defined]
            ("api", [f"/api/v1/studies/{study.pk}/transcripts/?limit=50&offset={o}"  # type: ignore[attr-defined]
                     for o in (0, (pages // 2) * 50, (pages - 1) * 50)]),
        ):
            for u in urls:
                c.get(u)
            times = []
            for i in range(30):
                t0 = time.perf_counter()
                r = c.get(urls[i % 3])
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.status_code
            out[f"{name}_ms_{who}"] = {"p50": round(statistics.median(times), 1),
                                       "p95": round(percentile(times, 0.95), 1), "max": round(max(times), 1)}
    return out


def _db_cpu_s() -> tuple[int, float] | None:
    """(pid, CPU seconds) of this connection's PostgreSQL backend, when the server runs on this machine."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = int(cur.fetchone()[0])
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _diff(a: tuple[int, float] | None, b: tuple[int, float] | None) -> float | None:
    return round(b[1] - a[1], 2) if a and b and a[0] == b[0] else None


def _has_tables() -> bool:
    from django.db import connection

    return "transcripts_transcript" in connection.introspection.table_names()


def _reading(study: object, lead: object) -> dict[str, object]:
    from django.test import Client

    from analysis.transcripts.importers import parse_transcript
    from analysis.transcripts.models import Transcript
    from analysis.transcripts.services.transcripts import transcript_create
    from participants.models import Participant

    p = Participant.objects.filter(study=study, consent_state="consented").order_by("pk").first()
    assert p is not None
    t = Transcript.objects.filter(participant=p, title__contains="(").first()
    if t is None:
        parts, n = [f"Interview {p.pseudonym}"], 0
        while sum(map(len, parts)) < 300_000:
            parts.append(f"Interviewer: Question {n} about the phone?\n{p.pseudonym}: " + "An answer that goes on. " * 8)
            n += 1
        data = "\n".join(parts).encode()
        t = transcript_create(actor=lead, study_id=study.pk, participant_id=p.pk,  # type: ignore[attr-defined]
                              parsed=parse_transcript(data, pseudonym=p.pseudonym), original=data)
    c = Client()
    c.force_login(lead)  # type: ignore[arg-type]
    url = f"/studies/{t.study_id}/transcripts/{t.pk}/"
    c.get(url)
    times = []
    for page in (1, 5, 10):
        t0 = time.perf_counter()
        r = c.get(url, {"page": page})
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    at = len(t.text) - 500
    t0 = time.perf_counter()
    r = c.get(url, {"at": at, "len": 5})
    jump = (time.perf_counter() - t0) * 1000
    return {"characters": len(t.text), "turns": t.turns.count(), "page_ms_max": round(max(times), 1),
            "jump_to_offset_ms": round(jump, 1), "html_kb_per_page": round(len(r.content) / 1024, 1)}


if __name__ == "__main__":
    main()
