"""Benchmark: matrix job time and a cell's first page on a generated study.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE chorus_bench_matrices"   # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_matrices \\
        .venv/bin/python bench/matrices.py --participants 65 [--reuse]

Generates the study with ../shared/tools/make_study.py (cached under var/bench/), loads its participants
(consented) and its REFI-QDA project through the real import, adds the candidate themes of themes.json,
then runs the matrix job's work function (``matrix_compute_run``, in-process) for code × group and
theme × group, for coder_a and for all coders, and code co-occurrence (codes × codes) for the study's
codes and for 30 codes (``--cooc30``: the study has 15 codable codes, so every second coding of each code
is moved to a twin code, committed and vacuumed before the timing and moved back afterwards), and times a cell's first
page of segments (``cell_segments``) and of a co-occurrence cell's overlapping passages. ``--reuse`` keeps a study already loaded by an earlier run. Prints one JSON summary
with the process's peak memory.

Without --reuse it drops and recreates every table in the target database: point it at a database of
its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _shared() -> Path:
    for folder in ROOT.parents:
        if (folder / "shared" / "tools" / "make_study.py").exists():
            return folder / "shared"
    raise SystemExit("../shared/tools/make_study.py not found")


def _load(out: Path) -> None:
    from django.core.management import call_command
    from django.db import connection

    if "accounts_user" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)

    from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
    from analysis.coding.models import Code
    from analysis.themes.services.themes import theme_create
    from interop.models import ProjectImportStatus
    from interop.services import imports
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
                    consent_state="consented", created_by=lead, attributes={"age_band": r["age_band"]},
                    consent_answers={"take_part": True, "transcription": True, "anonymised_quotes": True})
        for r in rows
    ], batch_size=1000)
    record = imports.project_import_preview(actor=lead, study_id=study.pk, filename="study.qdpx",
                                            data=(out / "study.qdpx").read_bytes())
    job = Job.objects.create(study=study, kind="project_import", created_by=lead, required_perm="project.import",
                             params={"import": record.pk})
    record.job, record.status = job, ProjectImportStatus.QUEUED
    record.save()
    imports.project_import_run(job_id=job.pk)
    codes = {c.name: c.pk for c in Code.objects.filter(study=study, is_codable=True)}
    for name, members in json.loads((out / "themes.json").read_text(encoding="utf-8")).items():
        theme_create(actor=lead, study_id=study.pk, name=name, code_ids=[codes[m] for m in members])


TWIN = " (twin)"


def _twins_undo(study: Any) -> None:
    """Moves the codings of ``--cooc30``'s twin codes back to their codes and deletes the twins (also what a
    run interrupted while they existed left behind)."""
    from analysis.coding.models import Code, Coding

    for twin in Code.objects.filter(study=study, name__endswith=TWIN):
        code = Code.objects.get(study=study, parent=twin.parent, name=twin.name[: -len(TWIN)])
        Coding.objects.filter(code=twin).update(code=code)
        twin.delete()


def _vacuum(connection: Any) -> None:
    """Dead row versions out and statistics in after the codings were moved (PostgreSQL only)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE coding_coding")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=65)
    ap.add_argument("--chars", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="keep the study an earlier run loaded")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated labels of the matrices to time (default all)")
    ap.add_argument("--cooc30", action="store_true", help="also co-occurrence over 30 codes (see above)")
    ap.add_argument("--memory", action="store_true", help="also each job's peak Python memory (an extra run each)")
    args = ap.parse_args()
    out = ROOT / "var" / "bench" / f"study-{args.participants}-{args.chars}-{args.seed}"
    if not (out / "study.qdpx").exists():
        subprocess.run([sys.executable, str(_shared() / "tools" / "make_study.py"), str(out), "--participants",
                        str(args.participants), "--chars", str(args.chars), "--seed", str(args.seed)], check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    t0 = time.perf_counter()
    if not args.reuse:
        _load(out)
    load_s = time.perf_counter() - t0

    from accounts.models import Study, User
    from analysis.coding.models import Coding
    from analysis.matrices import engine, selectors
    from analysis.matrices.models import Matrix
    from analysis.matrices.services import matrix_compute_run
    from jobs.models import Job

    study = Study.objects.get(name="Bench")
    lead = User.objects.get(email="lead@bench")
    coder_a = User.objects.get(full_name__icontains="coder_a")
    if args.reuse:
        _twins_undo(study)

    def backend_cpu() -> float:
        """CPU seconds the PostgreSQL backend of this connection has used (user + system), read from
        /proc: the database runs on this machine. 0 where that is not possible."""
        if connection.vendor != "postgresql":
            return 0.0
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    cpu: dict[str, dict[str, float]] = {}

    def job_time(raw: dict[str, str], runs: int = 0, label: str = "") -> tuple[float, Matrix]:
        """Median wall time of the matrix job's work (a fresh job each run); with ``label``, the median CPU
        time of this process and of the PostgreSQL backend and the slowest run go to ``cpu``."""
        times, matrix = [], None
        proc_cpu, db_cpu = [], []
        for _ in range(runs or args.runs):
            spec = selectors.spec_parse(raw)
            Matrix.objects.filter(study=study).delete()
            matrix = Matrix.objects.create(study=study, created_by=lead, spec=spec.as_dict(), key=spec.key,
                                           data_version="bench")
            job = Job.objects.create(study=study, kind="matrix", created_by=lead, required_perm="matrix.view",
                                     params={"matrix_id": matrix.pk})
            c0, b0 = time.process_time(), backend_cpu()
            t = time.perf_counter()
            matrix_compute_run(job_id=job.pk)
            times.append(time.perf_counter() - t)
            proc_cpu.append(time.process_time() - c0)
            db_cpu.append(backend_cpu() - b0)
            job.refresh_from_db()
            assert job.status == "done", job.error
        assert matrix is not None
        matrix.refresh_from_db()
        if label:
            cpu[label] = {"max_s": round(max(times), 3), "process_cpu_s": round(statistics.median(proc_cpu), 3),
                          "postgres_cpu_s": round(statistics.median(db_cpu), 3)}
        return statistics.median(times), matrix

    figures: dict[str, float] = {}
    memory: dict[str, float] = {}
    only = {x for x in args.only.split(",") if x}

    def timed(label: str, raw: dict[str, str]) -> Matrix | None:
        if only and label not in only:
            return None
        s, matrix = job_time(raw, label=label)
        figures[label + "_s"] = round(s, 3)
        if args.memory:
            # One more run under tracemalloc (it slows Python down, so not timed): the Python memory the job
            # allocates at its peak, i.e. what this matrix adds to a worker.
            tracemalloc.start()
            job_time(raw, runs=1)
            memory[label + "_python_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
        return matrix

    for label, raw in [
        ("code_x_group_coder_a", {"coder": str(coder_a.pk)}),
        ("theme_x_group_coder_a", {"coder": str(coder_a.pk), "columns": "themes"}),
        ("code_x_group_all_coders", {}),
        ("theme_x_group_all_coders", {"columns": "themes"}),
        ("code_x_participant_all_coders", {"rows": "participant"}),
        ("cooccurrence_15_codes_coder_a", {"rows": "codes", "coder": str(coder_a.pk)}),
        ("cooccurrence_15_codes_all_coders", {"rows": "codes"}),
    ]:
        timed(label, raw)
    pages: list[float] = []
    page = None
    # A cell's first page: the busiest cell of the theme × group matrix.
    matrix = timed("theme_x_group_all_coders_again", {"columns": "themes"})
    if matrix is not None:
        result = matrix.result or {}
        cells = [(c["segments"], i, j) for i, row in enumerate(result["cells"]) for j, c in enumerate(row)]
        _, i, j = max(cells)
        for _ in range(10):
            t = time.perf_counter()
            page = engine.cell_segments(user=lead, study_id=study.pk, matrix=matrix, row=i, column=j, page=1)
            pages.append(time.perf_counter() - t)
    cooc_pages: list[float] = []
    cooc_page = None
    matrix = timed("cooccurrence_15_codes_all_coders_again", {"rows": "codes"})
    if matrix is not None:
        result = matrix.result or {}
        cells = [(c["segments"], i, j) for i, row in enumerate(result["cells"]) for j, c in enumerate(row) if i != j]
        _, i, j = max(cells)
        for _ in range(5):
            t = time.perf_counter()
            cooc_page = engine.cell_segments(user=lead, study_id=study.pk, matrix=matrix, row=i, column=j, page=1)
            cooc_pages.append(time.perf_counter() - t)
    if args.cooc30:
        # The twin codes are committed (and the table vacuumed) before timing, then taken back: timed inside
        # an open transaction, every moved coding had two row versions and the figures were inflated.
        from django.db.models.functions import Mod

        from analysis.coding.models import Code

        for code in list(Code.objects.filter(study=study, is_codable=True)):
            twin = Code.objects.create(study=study, name=code.name + TWIN, parent=code.parent,
                                       created_by=lead, updated_by=lead)
            Coding.objects.filter(code=code).alias(odd=Mod("id", 2)).filter(odd=0).update(code=twin)
        try:
            _vacuum(connection)
            timed("cooccurrence_30_codes_coder_a", {"rows": "codes", "coder": str(coder_a.pk)})
            timed("cooccurrence_30_codes_all_coders", {"rows": "codes"})
        finally:
            _twins_undo(study)
            _vacuum(connection)
    summary = {
        "participants": args.participants, "database": connection.vendor, "load_s": round(load_s, 1),
        "codings": Coding.objects.filter(study=study).count(),
        "characters": sum(len(t) for t in study.transcripts.values_list("text", flat=True).iterator()),
        "job_seconds_median_of_runs": figures,
        "job_slowest_run_and_cpu_medians": cpu,
        "job_python_peak_mb": memory,
        "cell_first_page_ms_median": round(statistics.median(pages) * 1000, 1) if pages else None,
        "cell_segments": page.total if page else None,
        "cooccurrence_cell_first_page_ms_median": round(statistics.median(cooc_pages) * 1000, 1) if cooc_pages else None,
        "cooccurrence_cell_first_page_ms_each": [round(x * 1000, 1) for x in cooc_pages],
        "cooccurrence_cell_pairs": cooc_page.total if cooc_page else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": round(os.getloadavg()[0], 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
