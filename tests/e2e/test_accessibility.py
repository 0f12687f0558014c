"""Automated WCAG 2.2 AA checks with axe-core (vendored in tests/e2e/vendor, MPL-2.0) on every
section of a study filled with the demo data, as each role sees it, plus the sign-in page, a
transcript, its coding page and a participant. Automated checks find only part of what WCAG asks;
keyboard-only coding and labels are tested in the other e2e modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.e2e
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
ROLES = ["admin@demo.chorus", "lead@demo.chorus", "coder@demo.chorus", "ppi@demo.chorus"]


def _violations(page: Any) -> list[str]:
    # Evaluated through the DevTools protocol: an added inline <script> would be refused by the
    # pages' Content-Security-Policy (and rightly reported as a violation).
    page.evaluate(AXE)
    result = page.evaluate("tags => axe.run(document, {runOnly: tags})", TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]


@pytest.fixture
def demo(transactional_db: None) -> Any:
    from accounts.models import Study
    from analysis.transcripts.models import Transcript
    from participants.models import Participant

    call_command("demo_data", verbosity=0)
    study = Study.objects.get(name__startswith="Remote mental-health care")
    transcript = Transcript.objects.filter(study=study).order_by("pk").first()
    participant = Participant.objects.filter(study=study).order_by("pk").first()
    assert transcript is not None
    assert participant is not None
    return study, transcript, participant


@pytest.mark.parametrize("email", ROLES)
def test_every_page_of_a_role_passes_axe(browser: Any, live_server: Any, demo: Any, email: str) -> None:
    from accounts.management.commands.demo_data import DEMO_PASSWORD

    study, transcript, participant = demo
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found: dict[str, list[str]] = {}
    page.goto("/accounts/login/")
    if email.startswith("admin"):
        found["/accounts/login/"] = _violations(page)
    page.fill("#id_username", email)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/studies/{study.pk}/")
    paths = [href.replace(live_server.url, "") for href in
             page.eval_on_selector_all(".study-nav a", "els => els.map(e => e.href)")]
    paths += ["/studies/", "/accounts/"]
    if not email.startswith("ppi"):
        paths += [
            f"/studies/{study.pk}/transcripts/{transcript.pk}/",
            f"/studies/{study.pk}/transcripts/{transcript.pk}/code/",
            f"/studies/{study.pk}/participants/{participant.pk}/",
        ]
    assert len(paths) >= 3
    for path in paths:
        response = page.goto(path)
        assert response is not None, path
        assert response.status == 200, path
        if path.endswith("/code/"):
            page.wait_for_selector("html[data-coding-ready='1']")
        found[path] = _violations(page)
    context.close()
    problems = {path: v for path, v in found.items() if v}
    assert not problems, problems
