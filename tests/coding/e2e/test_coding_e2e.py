"""The coding page in a real browser: select and code, see it; a co-coder's coding appears live;
keyboard-only coding; an emoji before the selection (UTF-16 vs code points)."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.coding.models import Coding
from analysis.coding.services import codings as coding_services

from ...helpers import wait_until
from .conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_coding(page: Any, cast: Any, t: Any) -> None:
    page.goto(f"/studies/{cast.study.pk}/transcripts/{t.pk}/code/")
    page.wait_for_selector("html[data-coding-ready='1']")


def select_words(page: Any, words: str) -> None:
    page.evaluate("""(words) => {
        const el = [...document.querySelectorAll('.words')].find(e => e.textContent.includes(words));
        const node = el.firstChild, i = node.textContent.indexOf(words);
        const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + words.length);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
    }""", words)


def test_select_with_the_mouse_after_an_emoji_and_code_it(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    page = login(cast.users["coder"])
    open_coding(page, cast, t_north)
    select_words(page, "phoning the café")
    wait_until(page, "document.getElementById('sel-summary').textContent.includes('phoning the café')")
    page.fill("#code-search", "non-verbal")
    page.click("#code-options [role=option]")
    page.wait_for_selector(".seg[data-label]")
    c = Coding.objects.get()
    i = t_north.text.index("phoning the café")
    assert (c.start, c.end, c.code_id) == (i, i + len("phoning the café"), book.cues.pk)  # code points, not UTF-16
    seg = page.locator(".seg").first
    assert seg.inner_text() == "phoning the café"
    assert seg.get_attribute("data-label") == "Loss of non-verbal cues"  # a text label, not only a colour
    assert "Loss of non-verbal cues" in page.locator(".stripe").first.inner_text()
    shot(page, "mouse")
    # Click the highlight: its code, coder and memo; re-code it, then remove it.
    seg.click()
    page.wait_for_selector("#details:not([hidden]) .detail")
    assert cast.users["coder"].display_name in page.inner_text("#details")
    page.click("[data-act=recode]")
    page.keyboard.type("Telephone")
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelector('.seg').dataset.label === 'Telephone versus video'")
    c.refresh_from_db()
    assert c.code_id == book.video.pk
    assert c.version == 2
    page.click("[data-act=delete]")
    wait_until(page, "!document.querySelector('.seg')")
    assert not Coding.objects.exists()


def test_keyboard_only_coding(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    page = login(cast.users["lead"])
    open_coding(page, cast, t_north)
    for _ in range(80):  # Tab until the transcript has focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('words')"):
            break
    else:
        raise AssertionError("the transcript is not reachable with Tab")
    # Down to the paragraph with the emoji, then word by word to "phoning".
    for _ in range(10):
        if "Zoë" in page.evaluate("document.activeElement.textContent"):
            break
        page.keyboard.press("ArrowDown")
    for _ in range(11):  # My neighbour Zoë said the same thing 👍 and I was
        page.keyboard.press("ArrowRight")
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")
    wait_until(page, "document.getElementById('sel-summary').textContent.includes('phoning the café.')")
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.id") == "code-search"
    page.keyboard.type("cues")
    page.keyboard.press("Enter")
    page.wait_for_selector(".seg")
    c = Coding.objects.get()
    assert t_north.text[c.start:c.end] == "phoning the café."
    # Focus is back in the text; a recent code applies with its number key.
    assert page.evaluate("document.activeElement.classList.contains('words')")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")
    wait_until(page, "document.querySelectorAll('.stripe').length === 2")
    assert Coding.objects.count() == 2
    # Enter with nothing selected shows the codings at the caret.
    shot(page, "keyboard")


def test_a_co_coders_coding_appears_live(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    mine = login(cast.users["coder"])
    theirs = login(cast.users["lead"])
    open_coding(mine, cast, t_north)
    open_coding(theirs, cast, t_north)
    wait_until(mine, "document.getElementById('presence').textContent.includes('Also here')", timeout=8000)
    assert cast.users["lead"].display_name in mine.inner_text("#presence")
    select_words(theirs, "you cannot see if someone is tearful")
    wait_until(theirs, "document.getElementById('sel-summary').textContent.includes('tearful')")
    theirs.fill("#code-search", "cues")
    theirs.keyboard.press("Enter")
    mine.wait_for_selector(".seg[data-label='Loss of non-verbal cues']", timeout=3000)
    assert "you cannot see if someone is tearful" in mine.inner_text(".seg")
    # Changed and removed by the other coder (through the API this time): followed live too.
    c = Coding.objects.get()
    coding_services.coding_update(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                  coding_id=c.pk, version=c.version, changes={"code": book.video.pk})
    mine.wait_for_selector(".seg[data-label='Telephone versus video']", timeout=3000)
    shot(mine, "live")
    coding_services.coding_delete(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk, coding_id=c.pk)
    wait_until(mine, "!document.querySelector('.seg')", timeout=3000)


def test_a_correction_while_coding_asks_to_reload(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    from analysis.transcripts.services.redaction import transcript_replace

    page = login(cast.users["coder"])
    open_coding(page, cast, t_north)
    i = t_north.text.index("John Smith")
    transcript_replace(actor=cast.users["lead"], study_id=cast.study.pk, transcript_id=t_north.pk, start=i,
                       end=i + len("John Smith"), expected="John Smith", replacement="[NAME]",
                       base_version=t_north.version)
    page.wait_for_selector("#stale-banner", timeout=5000)
    assert "Reload" in page.inner_text("#stale-banner")
    assert page.locator("#picker").is_hidden()
    # Reload brings the coder back to the line they were reading (the notice stays in view).
    page.set_viewport_size({"width": 1400, "height": 260})
    line = page.evaluate("""() => {
        const el = [...document.querySelectorAll('.words')].pop();
        window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 120);
        return parseInt(el.dataset.line, 10);
    }""")
    assert page.locator("#stale-banner").is_visible()
    shot(page, "corrected")
    page.click("#stale-reload")
    page.wait_for_url("**?line=*")
    page.wait_for_selector("html[data-coding-ready='1']")
    back_to = int(page.url.rsplit("line=", 1)[1])
    assert 1 < back_to <= line  # a line near the bottom, not the top of the transcript
    assert page.evaluate("document.activeElement.dataset.line") == str(back_to)
    assert page.locator("#stale-banner").count() == 0
    assert page.locator("#picker").is_visible()
