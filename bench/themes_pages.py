"""Requests and SQL statements of the theme pages and the board on the demo study.

    DATABASE_URL=sqlite:////tmp/themes-demo.sqlite3 DJANGO_SETTINGS_MODULE=config.settings.local \\
        .venv/bin/python manage.py migrate -v0
    ... manage.py demo_data -v0
    ... manage.py shell < bench/themes_pages.py

Prints, per page, its status, the number of SQL statements one request runs and the mean time of 20
requests through Django's test client (no network, no browser). The machine is shared: compare counts
across runs, and times only within one run.
"""

import time

from django.db import connection
from django.test import Client

from accounts.models import Study, User
from analysis.themes.models import Theme

study = Study.objects.get(name__startswith="Remote mental-health care")
theme = Theme.objects.get(study=study, name="Seeing each other at a distance")


def client(email: str) -> Client:
    c = Client(HTTP_HOST="localhost")
    c.force_login(User.objects.get(email=email))
    return c


lead, ppi = client("lead@demo.chorus"), client("ppi@demo.chorus")
for label, c, url in [
    ("theme list (lead)", lead, f"/studies/{study.pk}/themes/"),
    ("theme page (lead)", lead, f"/studies/{study.pk}/themes/{theme.pk}/"),
    ("board (ppi)", ppi, f"/studies/{study.pk}/board/"),
    ("board theme (ppi)", ppi, f"/studies/{study.pk}/board/{theme.pk}/"),
    ("API board (ppi)", ppi, f"/api/v1/studies/{study.pk}/board/"),
]:
    c.get(url)
    statements: list[int] = []

    def count(execute, sql, params, many, context, statements=statements):  # type: ignore[no-untyped-def]
        statements.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        r = c.get(url)
    t0 = time.perf_counter()
    for _ in range(20):
        c.get(url)
    ms = (time.perf_counter() - t0) / 20 * 1000
    print(f"{label:20} {r.status_code} {len(statements):3} statements {ms:6.1f} ms/request")
