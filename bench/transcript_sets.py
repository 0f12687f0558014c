"""Benchmark: transcript sets on the large study (issue 14).

    # once: the 1,000-participant study, loaded by the matrix benchmark into a database of its own
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_sets_bench .venv/bin/python bench/matrices.py \\
        --participants 1000 --runs 1 --only none
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_sets_bench .venv/bin/python bench/transcript_sets.py --runs 5

On the loaded study (read as the lead, and as a coder scoped to one site this script adds): making a set of
500 transcripts (the service, with its visibility check and audit event); the *Transcript sets* list with
20 sets of 500 (each set's count of the transcripts the member may see); a set's page (its first 50
transcripts and their number); the matrix job for theme × group (all coders) with no transcript filter,
with 500 transcripts ticked one by one (the most the old filter took), by a set of 500 and by a set of all
1,000 (which the old filter could not express); and the staleness check a matrix page makes, for a matrix
without a set and one asked by a set. Each figure is the median (and the largest) of ``--runs`` runs, with
the process's and the PostgreSQL backend's CPU seconds for all the runs together. Everything it makes is
removed at the end. Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _db_cpu_s() -> tuple[int, float] | None:
    """(pid, CPU seconds) of this connection's PostgreSQL backend, when the server runs on this machine."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = int(cur.fetchone()[0])
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fn: Callable[[], Any], runs: int) -> dict[str, Any]:
    times = []
    cpu0, db0 = time.process_time(), _db_cpu_s()
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    db1 = _db_cpu_s()
    return {"median_ms": round(statistics.median(times) * 1000, 1), "max_ms": round(max(times) * 1000, 1),
            "process_cpu_s": round(time.process_time() - cpu0, 2),
            "db_cpu_s": round(db1[1] - db0[1], 2) if db0 and db1 and db0[0] == db1[0] else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import django

    django.setup()
    from django.core.paginator import Paginator

    from accounts.models import Membership, Role, Site, Study, User
    from accounts.policy import membership_forget
    from analysis.matrices import selectors
    from analysis.matrices.models import Matrix
    from analysis.matrices.services import matrix_compute_run
    from analysis.transcripts.models import Transcript, TranscriptSet
    from analysis.transcripts.sets import selectors as set_selectors
    from analysis.transcripts.sets import services as set_services
    from jobs.models import Job

    study = Study.objects.get(name="Bench")
    lead = User.objects.get(email="lead@bench")
    site = Site.objects.filter(study=study).order_by("name").first()
    coder, _ = User.objects.get_or_create(email="scoped@bench-sets", defaults={"full_name": "Scoped coder"})
    membership, _ = Membership.objects.get_or_create(user=coder, study=study, defaults={"role": Role.CODER})
    membership.scope_sites.set([site])
    membership_forget(user=coder)
    TranscriptSet.objects.filter(study=study).delete()
    ids = sorted(Transcript.objects.filter(study=study).values_list("pk", flat=True))
    rng = random.Random(14)
    half = sorted(rng.sample(ids, 500))
    out: dict[str, Any] = {"transcripts": len(ids), "load_before": os.getloadavg()}

    def create() -> None:
        made = set_services.transcript_set_create(actor=lead, study_id=study.pk, name="Timed", transcript_ids=half)
        made.delete()

    out["set_create_500"] = measure(create, args.runs)
    sets = [set_services.transcript_set_create(actor=lead, study_id=study.pk, name=f"Set {i}",
                                               transcript_ids=sorted(rng.sample(ids, 500))) for i in range(19)]
    sets.append(set_services.transcript_set_create(actor=lead, study_id=study.pk, name="Half", transcript_ids=half))
    everyone = set_services.transcript_set_create(actor=lead, study_id=study.pk, name="Everyone", transcript_ids=ids)
    for who, user in (("lead", lead), ("scoped_coder", coder)):
        out[f"sets_list_21_{who}"] = measure(lambda u=user: list(set_selectors.sets_list(user=u, study_id=study.pk)),
                                             args.runs)

        def page(u: Any = user) -> None:
            s = set_selectors.set_get(user=u, study_id=study.pk, set_id=sets[-1].pk)
            p = Paginator(set_selectors.set_transcripts(user=u, study_id=study.pk, transcript_set=s), 50).get_page(1)
            list(p)
            p.paginator.count  # noqa: B018

        out[f"set_page_{who}"] = measure(page, args.runs)

    def job(raw: dict[str, Any]) -> Matrix:
        spec = selectors.spec_parse(raw)
        Matrix.objects.filter(study=study).delete()
        matrix = Matrix.objects.create(study=study, created_by=lead, spec=spec.as_dict(), key=spec.key,
                                       data_version=selectors.data_version(study_id=study.pk))
        j = Job.objects.create(study=study, kind="matrix", created_by=lead, required_perm="matrix.view",
                               params={"matrix_id": matrix.pk})
        matrix_compute_run(job_id=j.pk)
        j.refresh_from_db()
        assert j.status == "done", j.error
        return matrix

    def by_set(set_id: int) -> dict[str, Any]:
        # What matrix_request does for a set: the set's transcripts the member may count, written into the spec.
        now = selectors.set_transcripts_now(user=lead, study_id=study.pk, set_id=set_id)
        return {"columns": "themes", "transcript_set_id": set_id, "transcript_ids": now}

    for label, raw in (("no_filter", lambda: {"columns": "themes"}),
                       ("500_ticked", lambda: {"columns": "themes", "transcript_ids": half}),
                       ("set_of_500", lambda: by_set(sets[-1].pk)),
                       ("set_of_1000", lambda: by_set(everyone.pk))):
        out[f"theme_x_group_{label}"] = measure(lambda r=raw: job(r()), args.runs)
    plain = job({"columns": "themes"})
    out["stale_check_no_set"] = measure(lambda: selectors.matrix_is_stale(matrix=plain), args.runs * 2)
    by = job(by_set(sets[-1].pk))
    out["stale_check_set_of_500"] = measure(lambda: selectors.matrix_is_stale(matrix=by), args.runs * 2)
    Matrix.objects.filter(study=study).delete()
    TranscriptSet.objects.filter(study=study).delete()
    membership.delete()
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
