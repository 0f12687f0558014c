"""The team's comments on a code in a real browser: a coder on a phone finds the code from the codebook
and asks a question, the lead finds it from the study bar's notifications, replies and resolves it; a PPI
member gets 404 on the code and chooses a weekly e-mail summary by clicking; axe-core finds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.themes.models import BoardVisit, Comment

from .test_board_e2e import PHONE, SCREENSHOTS, no_sideways_scroll, sign_in, violations  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_coder_asks_lead_answers_ppi_never_sees(cast: Any, world: Any, sign_in: Any) -> None:  # noqa: F811
    sid, code = cast.study.pk, world.cues
    coder = sign_in(cast.users["coder"], PHONE)
    coder.goto(f"/studies/{sid}/")
    coder.get_by_role("navigation", name="Study sections").get_by_role("link", name="Codebook").click()
    coder.locator("a.tree-link", has_text="Loss of non-verbal cues").click()
    coder.get_by_label("Your comment").fill("Does crying on a **video** call count here?")
    coder.get_by_role("button", name="Post comment").click()
    assert coder.get_by_text("Your comment is posted.").is_visible()
    assert coder.locator("#code-comments strong", has_text="video").is_visible()  # the Markdown subset
    assert no_sideways_scroll(coder)
    assert violations(coder) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    coder.screenshot(path=str(SCREENSHOTS / "code-comments-coder-360.png"), full_page=True)

    lead = sign_in(cast.users["lead"], {"width": 1366, "height": 900})
    lead.goto(f"/studies/{sid}/codebook/")
    lead.get_by_role("link", name="Notifications: 1 new comment on codes").click()
    assert violations(lead) == []
    lead.get_by_role("link", name="Loss of non-verbal cues").click()
    first = Comment.objects.get(code=code)
    lead.locator(f"#comment-{first.pk} ~ details summary").first.click()
    lead.get_by_label("Your reply").first.fill("Yes: it is about what was missed.")
    lead.get_by_role("button", name="Post reply").first.click()
    assert lead.get_by_text("Yes: it is about what was missed.").is_visible()
    lead.locator("#code-comments button", has_text="Resolve").first.click()
    assert lead.get_by_text("Resolved by").is_visible()
    assert Comment.objects.get(pk=first.pk).resolved_at is not None
    assert violations(lead) == []

    ppi = sign_in(cast.users["ppi"], PHONE)
    response = ppi.goto(f"/studies/{sid}/codebook/{code.pk}/")
    assert response is not None
    assert response.status == 404
    ppi.goto(f"/studies/{sid}/board/")
    ppi.get_by_role("link", name="Your notifications").click()
    assert "Team comments on codes" not in ppi.content()
    assert "Loss of non-verbal cues" not in ppi.content()
    ppi.get_by_role("link", name="Change how often you get them").click()
    ppi.get_by_label("Once a week").check()
    ppi.get_by_role("button", name="Save").click()
    assert ppi.get_by_text("once a week", exact=True).is_visible()
    assert BoardVisit.objects.get(user=cast.users["ppi"]).digest_every == "weekly"
    assert no_sideways_scroll(ppi)
    assert violations(ppi) == []
