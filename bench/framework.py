"""Benchmark: a framework chart on a generated study — the grid, a cell's supporting segments, and the
XLSX and CSV exports (to decide whether the export can answer synchronously or needs a job).

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE chorus_bench_framework"   # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_framework \\
        .venv/bin/python bench/framework.py --participants 65 [--reuse]

Loads the study exactly as bench/matrices.py does (its ``_load``: participants, the REFI-QDA project
through the real import, the themes of themes.json), makes one chart over every theme as the lead and
writes a summary in every cell, then times (median of ``--runs``): ``chart_grid`` (the page's three
statements), a cell's first page of supporting segments (the busiest cell), and the whole export path
(``chart_data`` + ``chart_xlsx`` / ``chart_csv``). Prints JSON with the peak memory and the load average.

Without --reuse it drops and recreates every table in the target database: point it at a database of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _median(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=65)
    ap.add_argument("--chars", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="keep the study an earlier run loaded")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import matrices as matrix_bench  # bench/matrices.py: the same generated study, loaded the same way

    out = ROOT / "var" / "bench" / f"study-{args.participants}-{args.chars}-{args.seed}"
    if not (out / "study.qdpx").exists():
        subprocess.run([sys.executable, str(matrix_bench._shared() / "tools" / "make_study.py"), str(out),
                        "--participants", str(args.participants), "--chars", str(args.chars),
                        "--seed", str(args.seed)], check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.MEDIA_ROOT = ROOT / "var" / "bench-media"
    t0 = time.perf_counter()
    if not args.reuse:
        matrix_bench._load(out)
    load_s = time.perf_counter() - t0

    from accounts.models import Study, User
    from analysis.matrices.framework import exports, selectors, services
    from analysis.matrices.framework.models import FrameworkCell, FrameworkCellEdit, FrameworkChart

    study = Study.objects.get(name="Bench")
    lead = User.objects.get(email="lead@bench")
    FrameworkChart.objects.filter(study=study).delete()
    chart = services.framework_chart_create(actor=lead, study_id=study.pk, name="Bench chart")
    grid = selectors.chart_grid(user=lead, study_id=study.pk, chart=chart)
    now = chart.created_at
    cells = FrameworkCell.objects.bulk_create([
        FrameworkCell(chart=chart, participant=row.participant, theme_id=c.theme_id, updated_by=lead, updated_at=now,
                      summary=f"{row.participant.pseudonym}: a summary of a few sentences about this theme. " * 4)
        for row in grid.rows for c in row.cells], batch_size=1000)
    FrameworkCellEdit.objects.bulk_create([FrameworkCellEdit(cell=c, version=1, summary=c.summary, actor=lead)
                                           for c in cells], batch_size=1000)

    grid_s, grid = _median(args.runs, lambda: selectors.chart_grid(user=lead, study_id=study.pk, chart=chart))
    busiest = max((c.segments, row.participant.pk, c.theme_id) for row in grid.rows for c in row.cells)
    view = selectors.cell_get(user=lead, study_id=study.pk, chart=chart, participant_id=busiest[1], theme_id=busiest[2])
    cell_s, _ = _median(10, lambda: selectors.cell_segments(user=lead, study_id=study.pk, view=view))

    def xlsx() -> int:
        data = exports.chart_data(user=lead, study_id=study.pk, chart=chart)
        f = exports.chart_xlsx(data, chart_name=chart.name)
        size = len(f.read())
        f.close()
        return size

    xlsx_s, xlsx_bytes = _median(args.runs, xlsx)
    csv_s, csv_bytes = _median(args.runs, lambda: len(exports.chart_csv(
        exports.chart_data(user=lead, study_id=study.pk, chart=chart, references=False))))
    print(json.dumps({
        "participants": args.participants, "database": connection.vendor, "load_s": round(load_s, 1),
        "rows": len(grid.rows), "themes": len(grid.themes), "cells": len(cells),
        "chart_grid_ms": round(grid_s * 1000, 1),
        "cell_first_page_ms": round(cell_s * 1000, 1), "cell_segments": busiest[0],
        "export_xlsx_s": round(xlsx_s, 3), "xlsx_kb": round(xlsx_bytes / 1024),
        "export_csv_s": round(csv_s, 3), "csv_kb": round(csv_bytes / 1024),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }, indent=2))


if __name__ == "__main__":
    main()
