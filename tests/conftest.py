"""The fixed test cast, used by every test module.

One study with two sites (North, South). The cast:
  admin, lead, coder            – whole-study members
  coder_other_site              – a coder scoped to the South site only
  ppi                           – a PPI co-designer
  outsider                      – signed in, member of another study only
Each has a logged-in Django test client (``clients[role]``) and a token-authenticated DRF client
(``api[role]``). ``other_study`` is the outsider's study, for cross-study checks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Membership, ParticipantGroup, Role, Site, Study, User
from analysis.transcripts.models import Transcript
from participants.models import Participant

from .factories import (
    ST01_TEXT,
    SU01_TEXT,
    MembershipFactory,
    SiteFactory,
    StudyFactory,
    UserFactory,
    add_transcript,
    participant_row,
)

CAST = ("admin", "lead", "coder", "coder_other_site", "ppi", "outsider")
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # In parallel runs (pytest-xdist, --dist loadgroup) the tests that kill workers, cut database
    # sessions or stop Redis run one after another in one process: their short leases and timeouts are
    # tuned for a process that is not also racing another fault test for the same two cores.
    for item in items:
        if item.get_closest_marker("fault"):
            item.add_marker(pytest.mark.xdist_group("faults"))


@dataclass
class Cast:
    study: Study
    other_study: Study
    north: Site
    south: Site
    users: dict[str, User]
    memberships: dict[str, Membership]

    def group(self, key: str) -> ParticipantGroup:
        return ParticipantGroup.objects.get(study=self.study, key=key)


@pytest.fixture
def cast(db: None) -> Cast:
    study = StudyFactory(name="Remote mental-health care")
    north = SiteFactory(study=study, name="North Trust")
    south = SiteFactory(study=study, name="South Trust")
    users = {role: UserFactory(email=f"{role}@example.org") for role in CAST}
    memberships = {}
    for role in ("admin", "lead", "coder", "ppi"):
        memberships[role] = MembershipFactory(user=users[role], study=study, role=role)
    memberships["coder_other_site"] = MembershipFactory(
        user=users["coder_other_site"], study=study, role=Role.CODER
    )
    memberships["coder_other_site"].scope_sites.set([south])
    other_study = StudyFactory(name="Another study", created_by=users["outsider"])
    MembershipFactory(user=users["outsider"], study=other_study, role=Role.ADMIN)
    return Cast(study, other_study, north, south, users, memberships)


@pytest.fixture
def clients(cast: Cast) -> dict[str, Client]:
    out = {}
    for role, user in cast.users.items():
        c = Client()
        c.force_login(user)
        out[role] = c
    out["anonymous"] = Client()
    return out


@pytest.fixture
def api(cast: Cast) -> dict[str, APIClient]:
    out = {}
    for role, user in cast.users.items():
        c = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        out[role] = c
    out["anonymous"] = APIClient()
    return out


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "tools" / "make_study.py").exists():
        pytest.skip("../shared (the study generator) is absent: this test needs the shared test data")
    return SHARED


# Jobs ---------------------------------------------------------------------------------------------
# With REDIS_URL set (CI), tests marked ``job`` run their tasks in a real Celery worker process that
# reads the test database; without it, tasks run eagerly in-process (CELERY_TASK_ALWAYS_EAGER).


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None, django_db_blocker: object) -> object:
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django.db import connection

    if not settings.REDIS_URL:
        yield None
        return
    from config.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "PGAPPNAME": TEST_WORKER_APP,  # so that run_jobs can tell when the worker is done with the database
    }
    log_path = Path(settings.VAR_DIR) / f"test-worker{os.environ.get('PYTEST_XDIST_WORKER', '')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited early; see {log_path}")
        if "ready." in log_path.read_text():
            break
        time.sleep(0.2)
    else:
        proc.terminate()
        raise RuntimeError(f"Celery worker did not start within 60 s; see {log_path}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


TEST_WORKER_APP = "chorus-test-worker"


def _worker_settle(queue: str, timeout: float = 60) -> None:
    """Before the test's data is emptied (a TRUNCATE, which waits for every lock the worker holds, and
    under load past the statement timeout): drop this test's messages still queued, and wait until no job
    runs and the worker holds no transaction open."""
    import time

    from django.db import connection

    from config.celery import app
    from jobs.models import Job, JobStatus

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    deadline = time.monotonic() + timeout
    with connection.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = %s AND state <> 'idle'", [TEST_WORKER_APP])
            busy = cur.fetchone()[0]
            if not busy and not Job.objects.filter(status=JobStatus.RUNNING).exists():
                return
            time.sleep(0.1)


@pytest.fixture
def run_jobs(transactional_db: None, celery_worker_process: object) -> Iterator[object]:
    """For job tests: committed data (so a worker can see it) and a worker when one is configured.
    Returns ``wait(job_id)`` which polls the Job row until it finishes."""
    import time

    from django.conf import settings
    from django.db import connection

    from jobs.models import Job

    def wait(job_id: int, timeout: float = 120) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = Job.objects.get(pk=job_id)
            if job.is_finished:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish within {timeout} s")

    yield wait
    if celery_worker_process is not None and connection.vendor == "postgresql":
        _worker_settle(settings.CELERY_TASK_DEFAULT_QUEUE)


# Browser (e2e) ------------------------------------------------------------------------------------
# One Chromium for the whole run: Playwright's sync API allows one running instance per thread, so
# every e2e module shares this fixture.
CHROMIUM = os.environ.get("CHORUS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# Every page an e2e test opens is watched for Content-Security-Policy violations: the browser's
# `securitypolicyviolation` events (from an init script, reported through a binding, so none is lost
# when the page navigates) and its console errors about the policy or Permissions-Policy. Any of them
# fails the test (``_csp_guard``); a test that provokes one on purpose takes ``csp_violations``.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__chorusCspViolation({
    directive: e.effectiveDirective, blocked: e.blockedURI, document: e.documentURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample,
  });
}, true);
"""
_CONSOLE_PROBLEM = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy", "Refused to")


class CspWatch:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, context: Any) -> Any:
        context.expose_binding("__chorusCspViolation", self._violation)
        context.add_init_script(_CSP_LISTENER)
        context.on("page", lambda page: page.on("console", lambda msg: self._console(page, msg)))
        return context

    def _violation(self, source: Any, v: dict[str, Any]) -> None:
        where = f"{v.get('source') or '?'}:{v.get('line') or '?'}"
        sample = f" sample={v['sample']!r}" if v.get("sample") else ""
        self.problems.append(
            f"{v.get('document')}: {v.get('directive')} blocked {v.get('blocked') or 'inline'} at {where}{sample}"
        )

    def _console(self, page: Any, msg: Any) -> None:
        if msg.type in ("error", "warning") and any(k in msg.text for k in _CONSOLE_PROBLEM):
            self.problems.append(f"{page.url}: console {msg.type}: {msg.text}")


CSP_WATCH = CspWatch()


class CspWatchingBrowser:
    """The Playwright browser, with every new context (and page) watched by CSP_WATCH."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.owned: list[Any] = []

    def new_context(self, **kwargs: Any) -> Any:
        return CSP_WATCH.attach(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs: Any) -> Any:
        context = self.new_context(**kwargs)
        self.owned.append(context)  # closed after the test, as Playwright's own new_page would on close
        return context.new_page()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture
def csp_violations() -> list[str]:
    """The violations seen so far in this test; a test that causes one on purpose clears the list."""
    return CSP_WATCH.problems


@pytest.fixture(autouse=True)
def _csp_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("e2e") is None:
        yield
        return
    CSP_WATCH.problems.clear()
    yield
    seen = list(CSP_WATCH.problems)
    CSP_WATCH.problems.clear()
    if seen:
        pytest.fail("Content-Security-Policy violations in the browser:\n  " + "\n  ".join(seen), pytrace=False)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        # Failing, not skipping: CI must not pass without having run the browser tests.
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make e2e` installs it with apt (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM (fixtures, assertions)
    # would otherwise refuse to run "from an async context". Set only while the browser runs, so
    # the rest of the suite keeps Django's async-safety check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_ARGS,
            )
            watched = CspWatchingBrowser(b)
            yield watched
            for context in watched.owned:
                context.close()
            b.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# SU01 (service user, North) and ST01 (staff, South), both consented, each with a transcript;
# coder_other_site (South only) sees ST01's transcript but not SU01's.


@pytest.fixture
def su01(cast: Cast) -> Participant:
    return participant_row(cast, "SU01", "service_user", cast.north)


@pytest.fixture
def st01(cast: Cast) -> Participant:
    return participant_row(cast, "ST01", "staff", cast.south)


@pytest.fixture
def t_north(cast: Cast, su01: Participant) -> Transcript:
    return add_transcript(cast, su01, SU01_TEXT)


@pytest.fixture
def t_south(cast: Cast, st01: Participant) -> Transcript:
    return add_transcript(cast, st01, ST01_TEXT)

# Files go to the test settings' MEDIA_ROOT (var/test-media), which a real Celery worker shares.
