"""Code colours under the Content-Security-Policy, in Chromium: no page sends a style attribute, so
chips, swatches and segments take their colour from data-colour through the CSSOM
(static/js/paint.js). The colour picker shows every choice in its colour, and a chosen colour is saved
and shown. Any refused style would also fail the test through the e2e CSP watcher."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.coding.colours import PALETTE
from analysis.coding.services import codings as coding_services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def rgb(colour: str) -> str:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


def background(locator: Any) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).backgroundColor"))


def test_codebook_chips_and_the_colour_picker(login: Any, cast: Any, book: Any) -> None:
    page = login(cast.users["lead"])
    study = cast.study.pk
    page.goto(f"/studies/{study}/codebook/")
    chip = page.locator(".code-chip", has_text="Telephone versus video").first
    assert background(chip) == rgb(book.video.colour)
    assert chip.evaluate("el => getComputedStyle(el).color") == rgb(book.video.label_colour)

    page.goto(f"/studies/{study}/codebook/{book.video.pk}/edit/")
    choices = page.locator(".colour-choice")
    assert choices.count() >= len(PALETTE)
    for i in range(choices.count()):
        value = choices.nth(i).locator("input[type=radio]").get_attribute("value")
        assert background(choices.nth(i).locator(".swatch")) == rgb(value), value
    new = next(c for c in PALETTE if c.lower() != book.video.colour.lower())
    page.locator(f".colour-choice:has(input[value='{new}']) label").click()  # as a user picks it
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    book.video.refresh_from_db()
    assert book.video.colour.lower() == new.lower()
    heading_chip = page.locator("h1 .code-chip")
    assert heading_chip.inner_text() == "Telephone versus video"  # the name, not only a colour
    assert background(heading_chip) == rgb(new)


def test_coded_segments_carry_their_code_colour(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    coding_services.coding_create(
        actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk, code_id=book.cues.pk,
        start=0, end=10,
    )
    page = login(cast.users["lead"])
    page.goto(f"/studies/{cast.study.pk}/codebook/{book.cues.pk}/segments/")
    segment = page.locator("article.segment").first
    assert segment.evaluate("el => getComputedStyle(el).borderLeftColor") == rgb(book.cues.colour)
