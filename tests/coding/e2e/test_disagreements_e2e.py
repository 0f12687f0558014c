"""Disagreements after blind double coding, in a real browser: a coder discusses one, the lead
resolves it by keeping coder A's coding, and the codings really change."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role
from analysis.coding.models import Coding, Disagreement
from tests.coding.test_disagreements import _assign
from tests.factories import MembershipFactory, UserFactory

from .conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_discuss_and_resolve_a_disagreement(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    coder_b = UserFactory(email="coder_b@example.org")
    MembershipFactory(user=coder_b, study=cast.study, role=Role.CODER)
    cast.users["coder_b"] = coder_b
    s = _assign(cast, book, t_north)
    url = f"/studies/{s.sid}/transcripts/{s.tid}/disagreements/"

    # Coder A explains their reading in the thread (htmx swaps the panel in place).
    page = login(cast.users["coder"])
    page.goto(url)
    panel = page.locator(f"#d-{s.cues_key}")
    assert "Open" in panel.locator(".status").text_content()
    panel.get_by_label("Add a comment").fill("The whole sentence is about missing cues, not only the start.")
    panel.get_by_role("button", name="Add comment").click()
    page.wait_for_selector(f"#d-{s.cues_key} .thread >> text=missing cues")

    # The lead reads the thread and keeps A's coding; the confirmation names what will change.
    lead = login(cast.users["lead"])
    lead.goto(url)
    panel = lead.locator(f"#d-{s.cues_key}")
    assert "missing cues" in panel.locator(".thread").inner_text()
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    lead.on("dialog", accept)
    panel.get_by_role("button", name="Keep A's coding").click()
    lead.wait_for_selector(f"#d-{s.cues_key}[data-status='resolved']")
    shot(lead, "disagreement-resolved")
    assert "B's codings" in asked[0]
    resolved = lead.locator(f"#d-{s.cues_key}")
    assert "Resolved" in resolved.locator(".status").text_content()
    assert "Keep A" in resolved.locator(".resolution").inner_text()

    # B's shorter span of the code is replaced by A's span; the record keeps who resolved it.
    spans_b = list(Coding.objects.filter(transcript_id=s.tid, coder=coder_b, code=book.cues).values_list("start", "end"))
    assert spans_b == [s.cues_span]
    start, end = s.cues_span
    record = Disagreement.objects.get(assignment=s.a, code=book.cues, start=start, end=end)
    assert record.resolved_by == cast.users["lead"]
    # The other disagreement is still open.
    assert lead.locator(f"#d-{s.conv_key}").get_attribute("data-status") == "open"
