"""Co-occurrence on PostgreSQL: the array statement against the portable sweep, every cell and every pair list.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_cooc_bench .venv/bin/python bench/cooccurrence_compare.py [--cooc30]

Runs on the study that ``bench/matrices.py`` loaded (``--reuse`` state). For all coders, coder_a, interviewer
turns left out and one site, computes the matrix with ``_statement_arrays`` and with ``_statement_sweep`` (the
form used before issue 14's change and still used on SQLite) and compares the three measures of every cell,
then the overlapping pairs of the busiest cells. ``--cooc30``: the same with every second coding of each
code moved to a twin code (committed, then moved back, as ``bench/matrices.py --cooc30`` does). Exits 1 on
any difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cooc30", action="store_true")
    ap.add_argument("--pairs", type=int, default=5, help="how many of the busiest off-diagonal cells' pairs to compare")
    args = ap.parse_args()
    import django

    django.setup()
    from django.db import connection
    from matrices import TWIN, _twins_undo, _vacuum

    from accounts.models import Site, Study, User
    from analysis.coding.models import Code, Coding
    from analysis.matrices import cooccurrence, selectors

    study = Study.objects.get(name="Bench")
    lead = User.objects.get(email="lead@bench")
    coder_a = User.objects.get(full_name__icontains="coder_a")
    site = Site.objects.filter(study=study).order_by("name").first()
    _twins_undo(study)
    if args.cooc30:
        from django.db.models.functions import Mod

        for code in list(Code.objects.filter(study=study, is_codable=True)):
            twin = Code.objects.create(study=study, name=code.name + TWIN, parent=code.parent, created_by=lead,
                                       updated_by=lead)
            Coding.objects.filter(code=code).alias(odd=Mod("id", 2)).filter(odd=0).update(code=twin)
        _vacuum(connection)
    bad = 0
    try:
        specs: dict[str, dict[str, Any]] = {"all coders": {}, "coder_a": {"coder": str(coder_a.pk)}, "no interviewer turns": {"skip_interviewer": "1"},
                 "one site": {"site_ids": [site.pk] if site else []}}
        for label, raw in specs.items():
            spec = selectors.spec_parse({"rows": "codes", **raw})
            got = {}
            for form in ("_statement_arrays", "_statement_sweep"):
                original = cooccurrence._statement
                cooccurrence._statement = getattr(cooccurrence, form)
                try:
                    t = time.perf_counter()
                    result = cooccurrence.cooccurrence_compute(user=lead, study_id=study.pk, spec=spec, checkpoint=lambda _n: None)
                    took = time.perf_counter() - t
                finally:
                    cooccurrence._statement = original
                got[form] = (result, took)
            a, b = got["_statement_arrays"][0], got["_statement_sweep"][0]
            same = a.cells == b.cells and a.row_bases == b.row_bases and [h.id for h in a.columns] == [h.id for h in b.columns]
            bad += not same
            n = len(a.columns)
            print(f"{label}: {n} codes, {n * n} cells x 3 measures {'identical' if same else 'DIFFER'}; "
                  f"arrays {got['_statement_arrays'][1]:.2f} s, sweep {got['_statement_sweep'][1]:.2f} s")
            cells = sorted(((a.cells[i][j]["segments"], i, j) for i in range(n) for j in range(n) if i < j), reverse=True)
            for _n, i, j in cells[: args.pairs]:
                lists = []
                for sweep in (False, True):
                    sql, params = cooccurrence._pairs_sql(user=lead, study_id=study.pk, spec=spec, code_a=a.columns[i].id,
                                                          code_b=a.columns[j].id, sweep=sweep)
                    with connection.cursor() as cur, cooccurrence._planned(cur):
                        cur.execute(f"SELECT q.* FROM ({sql}) q ORDER BY q.tr, q.us, 1, 2", params)
                        lists.append(cur.fetchall())
                same = lists[0] == lists[1] and len(lists[0]) == a.cells[i][j]["segments"]
                bad += not same
                print(f"   pairs of cell ({i}, {j}): {len(lists[0])} {'identical' if same else 'DIFFER'}")
    finally:
        if args.cooc30:
            _twins_undo(study)
            _vacuum(connection)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
