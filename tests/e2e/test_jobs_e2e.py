"""The Jobs pages in a browser: reached from the study navigation, no axe (WCAG 2.2 AA) violations on
the list and on a job page, and Retry on a failed job done with the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest

from .test_accessibility import _violations

pytestmark = pytest.mark.e2e


def test_jobs_from_the_navigation_and_retry_with_the_keyboard(browser: Any, live_server: Any,
                                                                transactional_db: None,
                                                                celery_worker_process: Any) -> None:
    # celery_worker_process: with REDIS_URL set (CI) the retried job needs a real worker to finish.
    from django.core.management import call_command

    from accounts.management.commands.demo_data import DEMO_PASSWORD
    from accounts.models import Study, User
    from jobs.models import Job, JobStatus

    call_command("demo_data", verbosity=0)
    study = Study.objects.get(name__startswith="Remote mental-health care")
    admin = User.objects.get(email="admin@demo.chorus")
    failed = Job.objects.create(
        study=study, kind="audit_export", created_by=admin, required_perm="audit.view", params={"filters": {}},
        task_name="accounts.audit_export", status=JobStatus.FAILED, attempts=3,
        error="The job was started 3 times and its worker stopped each time before it finished.",
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 800})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/studies/{study.pk}/")
    page.click(".study-nav a:text-is('Jobs')")
    assert page.locator("h1").inner_text() == "Your jobs"
    assert _violations(page) == []
    page.click("table a:text-is('Audit log export')")
    assert "started 3 times" in page.locator("[role=alert]").inner_text()
    assert _violations(page) == []

    retry = page.locator("button:text-is('Retry')")
    retry.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=The job will run again.")
    # Tasks run in-process in the browser tests: the job ran again at once.
    page.wait_for_selector("text=Download the file")
    failed.refresh_from_db()
    assert failed.status == JobStatus.DONE
    assert failed.attempts == 1
    context.close()
