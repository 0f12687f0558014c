"""Benchmark: import a generated study's REFI-QDA project (.qdpx) and export it again.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_interop \\
        .venv/bin/python bench/interop.py --participants 65

Generates the study with ../shared/tools/make_study.py (cached under var/bench/), loads its
participants straight into the database (consented, archiving included), then runs the real path: the
preview (archive checks, parsing, placing every selection, the plan) and the import job's work
function in-process (one transaction), then the export of the whole study (built and validated
against the schema), and checks that every coding of the file landed on its text. Prints one JSON
summary, with the process's peak memory.

It drops and recreates every table in the target database: point it at a database of its own.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _shared() -> Path:
    for folder in ROOT.parents:
        if (folder / "shared" / "tools" / "make_study.py").exists():
            return folder / "shared"
    raise SystemExit("../shared/tools/make_study.py not found")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=65)
    ap.add_argument("--chars", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    out = ROOT / "var" / "bench" / f"study-{args.participants}-{args.chars}-{args.seed}"
    if not (out / "study.qdpx").exists():
        subprocess.run([sys.executable, str(_shared() / "tools" / "make_study.py"), str(out), "--participants",
                        str(args.participants), "--chars", str(args.chars), "--seed", str(args.seed)], check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    if "accounts_user" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)

    from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
    from analysis.coding.models import Coding
    from analysis.transcripts.models import Transcript
    from interop.models import ProjectImportStatus
    from interop.services import exports, imports
    from jobs.models import Job
    from participants.models import Participant

    lead = User.objects.create_user("lead@bench", "bench-password-1", full_name="Lead")
    study = Study.objects.create(name="Bench", created_by=lead)
    Membership.objects.create(user=lead, study=study, role=Role.LEAD)
    groups = {k: ParticipantGroup.objects.create(study=study, key=k, label=k, position=i)
              for i, k in enumerate(["service_user", "carer", "staff"])}
    sites: dict[str, Site] = {}
    with open(out / "participants.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    Participant.objects.bulk_create([
        Participant(study=study, pseudonym=r["participant_id"], group=groups[r["group"]],
                    site=sites.get(r["site"]) or sites.setdefault(r["site"], Site.objects.create(study=study, name=r["site"])),
                    consent_state="consented", created_by=lead,
                    consent_answers={"take_part": True, "transcription": True, "data_archiving": True})
        for r in rows
    ], batch_size=1000)
    data = (out / "study.qdpx").read_bytes()

    cpu = time.process_time
    t0, c0 = time.perf_counter(), cpu()
    record = imports.project_import_preview(actor=lead, study_id=study.pk, filename="study.qdpx", data=data)
    t1, c1 = time.perf_counter(), cpu()
    job = Job.objects.create(study=study, kind="project_import", created_by=lead, required_perm="project.import",
                             params={"import": record.pk})
    record.job, record.status = job, ProjectImportStatus.QUEUED
    record.save()
    imports.project_import_run(job_id=job.pk)
    t2, c2 = time.perf_counter(), cpu()
    job.refresh_from_db()
    assert job.status == "done", job.error

    import_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t3, c3 = time.perf_counter(), cpu()
    export, counts = exports.project_export_build(actor=lead, study=study, sel=exports.Selection([], [], [], []))
    t4, c4 = time.perf_counter(), cpu()

    # Every coding of the file is on the text it named (the generator's codings are all placeable).
    texts = {t.original_name: t.text for t in Transcript.objects.filter(study=study)}
    with zipfile.ZipFile(io.BytesIO(export)) as z:
        exported_chars = sum(len(z.read(n).decode()) for n in z.namelist() if n.startswith("sources/"))
    summary = {
        "participants": args.participants, "database": connection.vendor,
        "qdpx_megabytes": round(len(data) / 1e6, 2),
        "characters": sum(map(len, texts.values())),
        "selections_in_file": record.preview["codings"],
        "unplaced": len(record.preview["unplaced"]),
        "import": {"preview_s": round(t1 - t0, 2), "job_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
                   "cpu_s": round(c2 - c0, 2), "preview_cpu_s": round(c1 - c0, 2), "result": job.result},
        "codings_in_db": Coding.objects.filter(study=study).count(),
        "export": {"s": round(t4 - t3, 2), "cpu_s": round(c4 - c3, 2), "megabytes": round(len(export) / 1e6, 2),
                   "counts": counts, "characters": exported_chars},
        "peak_rss_mb_after_import": round(import_peak, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    summary["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
