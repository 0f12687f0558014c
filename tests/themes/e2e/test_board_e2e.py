"""The board in a real browser: a lead curates a quote, a PPI member reads it on a phone-sized screen,
reacts and suggests a new name, the lead accepts it and the board says so; the quote vanishes when its
participant withdraws; a PPI member opening a transcript URL gets 404; axe-core finds nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analysis.themes.models import Quote, Theme
from participants.models import ConsentState, Participant
from tests import factories

from ..conftest import SU01_WORDS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
AXE = (Path(__file__).resolve().parents[2] / "e2e" / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "e2e-screenshots"
PHONE = {"width": 360, "height": 740}


def violations(page: Any) -> list[str]:
    page.evaluate(AXE)  # through DevTools: an added inline <script> is refused by the policy
    result = page.evaluate("tags => axe.run(document, {runOnly: tags})", TAGS)
    return [f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in result["violations"]]


@pytest.fixture
def sign_in(browser: Any, live_server: Any) -> Any:
    contexts: list[Any] = []

    def make(user: Any, viewport: dict[str, int] | None = None) -> Any:
        ctx = browser.new_context(base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900},
                                  locale="en-GB")
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_curate_read_on_a_phone_react_suggest_and_close_the_loop(cast: Any, world: Any, sign_in: Any) -> None:
    sid, theme = cast.study.pk, world.theme
    # SU01's consent as the register holds it: a signed form with every item answered yes.
    factories.consent(cast, world.su01, factories.make_form(cast))
    assert Participant.objects.get(pk=world.su01.pk).consent_state == ConsentState.CONSENTED
    # The lead picks SU01's segment, trims it and adds a content note.
    lead = sign_in(cast.users["lead"])
    lead.goto(f"/studies/{sid}/themes/{theme.pk}/")
    lead.get_by_role("link", name="Use as a quote (SU01").click()
    lead.fill("#id_text", "you cannot see if someone is tearful")
    lead.fill("#id_content_note", "mentions distress")
    lead.get_by_role("button", name="Add quote").click()
    lead.wait_for_selector("#quotes")
    q = Quote.objects.get()
    assert world.t_north.text[q.start:q.end] == "you cannot see if someone is tearful"
    assert violations(lead) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    lead.screenshot(path=str(SCREENSHOTS / "themes-lead-theme-page.png"), full_page=True)

    # A PPI member on a phone: the board from the study navigation, the quote behind its content note.
    ppi = sign_in(cast.users["ppi"], PHONE)
    ppi.goto(f"/studies/{sid}/")
    ppi.get_by_role("navigation", name="Study sections").get_by_role("link", name="Theme board").click()
    assert violations(ppi) == []
    assert no_sideways_scroll(ppi)
    ppi.get_by_role("link", name="Seeing each other").click()
    quote = ppi.locator(".quote-card blockquote")
    assert ppi.get_by_text("Content note: mentions distress").is_visible()
    assert not quote.is_visible()
    ppi.get_by_text("Show the quote").click()
    assert quote.is_visible()
    assert "you cannot see if someone is tearful" in quote.inner_text()
    assert ppi.locator(".quote-card .who").inner_text() == "Group: Service user"
    assert "SU01" not in ppi.content()
    assert "North Trust" not in ppi.content()
    assert no_sideways_scroll(ppi)
    assert violations(ppi) == []
    ppi.screenshot(path=str(SCREENSHOTS / "themes-board-ppi-360.png"), full_page=True)

    ppi.get_by_label("Rings true").check()
    ppi.get_by_role("button", name="Save my answer").click()
    assert ppi.get_by_text("Rings true: 1").is_visible()
    ppi.select_option("#id_kind", "rename")
    ppi.fill("#id_suggested_name", "Missing faces")
    ppi.fill("#id_body", "A plainer name, please. **Faces** is what we miss.")
    ppi.get_by_role("button", name="Post", exact=True).click()
    assert ppi.get_by_text("waiting for the team to decide").is_visible()

    # The lead accepts; the theme is renamed and the board tells the PPI member what became of it.
    lead.goto(f"/studies/{sid}/board/{theme.pk}/")
    lead.get_by_role("link", name="Accept or decline").click()
    lead.get_by_label("Accept").check()
    lead.fill("#id_reason", "Clearer for everyone")
    lead.get_by_role("button", name="Save decision").click()
    assert Theme.objects.get(pk=theme.pk).name == "Missing faces"
    ppi.reload()
    assert ppi.get_by_text("The team renamed this theme from “Seeing each other” to “Missing faces”").is_visible()
    assert ppi.locator("h1").inner_text() == "Missing faces"

    # A PPI member typing a transcript's address is told nothing about it.
    response = ppi.goto(f"/studies/{sid}/transcripts/{world.t_north.pk}/")
    assert response is not None
    assert response.status == 404

    # SU01 takes back their agreement to quotes: the admin records the re-consent on SU01's page, as
    # the data manager would from the signed form. The quote disappears from the board at once, and the
    # lead is told why.
    admin = sign_in(cast.users["admin"])
    admin.goto(f"/studies/{sid}/participants/")
    admin.get_by_role("link", name="SU01", exact=True).click()
    admin.get_by_role("link", name="Record re-consent").click()
    admin.fill("#id_date", "2021-01-05")
    quotes_item = "I agree to anonymised quotes from my interview being used in reports and publications."
    admin.get_by_role("group", name=quotes_item).get_by_label("No", exact=True).check()
    for other in ("I agree to my interview being audio-recorded.",
                  "I agree to my anonymised data being shared with the study team and PPI co-designers."):
        admin.get_by_role("group", name=other).get_by_label("Yes", exact=True).check()
    admin.get_by_role("button", name="Record re-consent").click()
    assert admin.get_by_text("Re-consent recorded for SU01").is_visible()
    assert Participant.objects.get(pk=world.su01.pk).consent_answers["anonymised_quotes"] is not True
    ppi.goto(f"/studies/{sid}/board/{theme.pk}/")
    assert ppi.locator(".quote-card").count() == 0
    assert SU01_WORDS[:20] not in ppi.content()
    ppi.goto(f"/studies/{sid}/board/")
    assert ppi.get_by_text("0 examples of what people said").is_visible()
    lead.goto(f"/studies/{sid}/themes/{theme.pk}/")
    assert lead.get_by_text("The participant has not agreed to anonymised quotes").is_visible()
