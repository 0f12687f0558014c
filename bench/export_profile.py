"""The coded-material export job's own time, in-process, on bench/retrieval.py's database (issue 12).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_retrieval \\
        .venv/bin/python bench/export_profile.py --fmt csv [--runs 3] [--profile 30] [--save out.csv]

Runs ``coded_export_run`` as a Celery worker would (the job's work only, no process start) ``--runs``
times for the study's lead and prints wall seconds, this process's CPU seconds, the PostgreSQL backend's
CPU seconds and the load average of each run; the process's peak resident memory at the end.
``--profile N`` prints cProfile's N costliest functions of one more run; ``--save`` keeps the last file
(to compare the output before and after a change). A shared machine: read CPU seconds next to the wall.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fmt", choices=("csv", "xlsx"), default="csv")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0)
    ap.add_argument("--save")
    ap.add_argument("--sheet-per-code", action="store_true")
    args = ap.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from transcripts import _db_cpu_s, _diff  # bench/transcripts.py

    from accounts.models import Study, User
    from analysis.coding.services import exports
    from jobs.models import Job

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    lead = User.objects.get(email="lead@bench.test")
    study = Study.objects.get(name="Retrieval bench")
    req = exports.ExportRequest(fmt=args.fmt, sheet_per_code=args.sheet_per_code)

    def run() -> Job:
        job = Job.objects.create(study=study, kind=exports.KIND, created_by=lead, required_perm="coding.export",
                                 params=req.as_params())
        done = exports.coded_export_run(job_id=job.pk)
        assert done is not None, "the export job was not claimed"
        assert done.status == "done", done.error
        return done

    job = None
    for _ in range(args.runs):
        t0, c0, db0 = time.perf_counter(), time.process_time(), _db_cpu_s()
        job = run()
        dt, cpu, db = time.perf_counter() - t0, time.process_time() - c0, _diff(db0, _db_cpu_s())
        print(json.dumps({"fmt": args.fmt, "seconds": round(dt, 2), "cpu_s": round(cpu, 2), "database_cpu_s": db,
                          "rows": job.result["Codings exported"], "bytes": job.result_file.size,
                          "load": os.getloadavg()}), flush=True)
        if args.save:
            with job.result_file.open("rb") as src, open(args.save, "wb") as dst:
                shutil.copyfileobj(src, dst)
        job.result_file.delete(save=False)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        job = run()
        prof.disable()
        job.result_file.delete(save=False)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    print(json.dumps({"peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
