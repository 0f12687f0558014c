"""The reading view in a real browser: a lead selects text after an emoji, the selection becomes
code point offsets (static/js/offsets.js), and the server redacts exactly that span."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_reading_view_selection_redacts_exact_span(live_server: Any, cast: Any, su01: Any, browser: Any) -> None:
    from tests.factories import SU01_TEXT, add_transcript

    t = add_transcript(cast, su01, SU01_TEXT)
    _redact_in_browser(browser, live_server.url, cast, t)


def _redact_in_browser(browser: Any, base: str, cast: Any, t: Any) -> None:
    live_server = type("L", (), {"url": base})
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", cast.users["lead"].email)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/studies/{cast.study.pk}/transcripts/{t.pk}/")
    # Select "café" (after an emoji in the same paragraph) as a user would.
    page.evaluate("""() => {
        const el = [...document.querySelectorAll('[data-start]')].find(e => e.textContent.includes('café'));
        const node = el.firstChild, i = node.textContent.indexOf('café');
        const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 4);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
    }""")
    page.wait_for_selector("#replace-form:not([hidden])")
    page.fill("input[name=replacement]", "[PLACE]")
    page.click("#replace-form button[type=submit]")
    page.wait_for_load_state()
    t.refresh_from_db()
    assert "the [PLACE]." in t.text
    assert t.version == 2
    assert "[PLACE]" in page.inner_text("mark#hit")
    ctx.close()
