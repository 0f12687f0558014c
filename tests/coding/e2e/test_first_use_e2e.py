"""Issue 11 in a real browser: a first-time coder's way from the study overview to a saved coding
(no typed URL), and the coding page's trips 4, 7, 8, 9 and 10 as a reader sees them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from analysis.coding.models import Coding
from analysis.coding.services import codebook as codebook_services
from analysis.coding.services import codings as coding_services

from ...helpers import wait_until
from .. import test_disagreements as dis
from ..conftest import span_of
from .conftest import SCREENSHOTS

extra = dis.extra  # two more coders, for a double-coded transcript
_assign = dis._assign

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def point_in(page: Any, words: str, index: int) -> tuple[float, float]:
    """Viewport coordinates of the middle of character ``index`` (UTF-16) of ``words`` in the text."""
    box = page.evaluate("""([words, index]) => {
        const el = [...document.querySelectorAll('.words')].find(e => e.textContent.includes(words));
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        let offset = el.textContent.indexOf(words) + index, node;
        while ((node = walker.nextNode())) {
            if (offset < node.length) break;
            offset -= node.length;
        }
        const r = document.createRange(); r.setStart(node, offset); r.setEnd(node, offset + 1);
        const b = r.getBoundingClientRect();
        return [b.left + b.width / 2, b.top + b.height / 2];
    }""", [words, index])
    return box[0], box[1]


def drag(page: Any, words: str, start: int, end: int, *, alt: bool = False) -> None:
    x0, y0 = point_in(page, words, start)
    x1, y1 = point_in(page, words, end)
    if alt:
        page.keyboard.down("Alt")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    if alt:
        page.keyboard.up("Alt")


def select_then_release(page: Any, words: str, start: int, end: int, *, alt: bool = False) -> None:
    """A selection from character ``start`` to ``end`` of ``words`` ending with a mouse release, as a
    drag leaves it (headless Chromium does not extend a synthetic drag in every paragraph)."""
    page.evaluate("""([words, start, end, alt]) => {
        const el = [...document.querySelectorAll('.words')].find(e => e.textContent.includes(words));
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        let node;
        while ((node = walker.nextNode()) && !node.textContent.includes(words)) { /* next */ }
        const i = node.textContent.indexOf(words);
        el.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, altKey: alt}));
        const r = document.createRange(); r.setStart(node, i + start); r.setEnd(node, i + end);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
        setTimeout(() => el.dispatchEvent(new MouseEvent('mouseup', {bubbles: true, altKey: alt})), 50);
    }""", [words, start, end, alt])


def test_first_time_coder_from_the_overview_to_a_saved_coding(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    page = login(cast.users["coder"])
    page.goto(f"/studies/{cast.study.pk}/")  # where a new member lands from the study list
    page.get_by_role("navigation", name="Study sections").get_by_role("link", name="Transcripts").click()
    page.get_by_role("link", name=re.compile(r"^Code\b")).first.click()
    page.wait_for_selector("html[data-coding-ready='1']")
    assert page.url.endswith(f"/transcripts/{t_north.pk}/code/")
    # Trip 10: a drag from inside "phoned" to inside "week" snaps to the whole words.
    phrase = "phoned me every week"
    drag(page, phrase, 2, len(phrase) - 2)
    wait_until(page, "document.getElementById('sel-summary').textContent.includes('“phoned me every week”')")
    page.click("#code-search")
    page.keyboard.type("non-verbal")
    page.keyboard.press("Enter")
    page.wait_for_selector(".seg[data-label]")
    c = Coding.objects.get()
    i = t_north.text.index(phrase)
    assert (c.start, c.end, c.code_id, c.coder_id) == (i, i + len(phrase), book.cues.pk, cast.users["coder"].pk)
    # Trip 4: the next selection starts with an empty search, and Enter with no match says so.
    after_emoji = "phoning the café"  # after 👍: the server's code points, not the browser's UTF-16 units
    select_then_release(page, after_emoji, 3, len(after_emoji) - 2)
    wait_until(page, "document.getElementById('sel-summary').textContent.includes('“phoning the café”')")
    assert page.input_value("#code-search") == ""
    # fill, not click + type: under load the click's focus could land after the first keys (a flake seen once).
    page.fill("#code-search", "tailored")
    wait_until(page, "document.getElementById('code-search').value === 'tailored'")
    page.press("#code-search", "Enter")
    wait_until(page, "document.getElementById('coding-msg').textContent.includes('No codable code matches “tailored”')")
    assert Coding.objects.count() == 1
    # "New code from here": the coder proposes "tailored care" and the selection is coded with it.
    page.fill("#code-search", "Tailored care")
    page.click("#new-code")
    wait_until(page, "document.querySelectorAll('.seg[data-label]').length === 2")
    new = Coding.objects.exclude(pk=c.pk).select_related("code").get()
    j = t_north.text.index(after_emoji)
    assert (new.start, new.end, new.code.name, new.code.proposed) == (j, j + len(after_emoji), "Tailored care", True)
    # Alt-drag keeps the exact characters.
    select_then_release(page, "tearful", 1, 4, alt=True)
    wait_until(page, "document.getElementById('sel-summary').textContent.includes('“ear”')")
    assert page.evaluate("String(window.getSelection())") == "ear"  # not snapped out to “tearful”


def test_highlight_and_mark_cover_exactly_their_characters(login: Any, cast: Any, book: Any, t_north: Any) -> None:
    """Trip 8: the stored text ends before the full stop; nothing is painted over the full stop."""
    s, e = span_of(t_north, "phoned me every week")
    coding_services.coding_create(actor=cast.users["coder"], study_id=cast.study.pk, transcript_id=t_north.pk,
                                  code_id=book.cues.pk, start=s, end=e)
    page = login(cast.users["coder"])
    page.goto(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/code/")
    page.wait_for_selector(".seg")
    gap = page.evaluate("""() => {
        const seg = document.querySelector('.seg'); const next = seg.nextSibling;
        const r = document.createRange(); r.setStart(next, 0); r.setEnd(next, 1);
        const cs = getComputedStyle(seg);
        return {text: seg.textContent, next: next.textContent[0], segRight: seg.getBoundingClientRect().right,
                nextLeft: r.getBoundingClientRect().left, pad: cs.paddingRight, outline: cs.outlineStyle};
    }""")
    assert gap["text"] == "phoned me every week"
    assert gap["next"] == "."
    assert gap["segRight"] <= gap["nextLeft"] + 0.5
    assert gap["pad"] == "0px"
    # The reading view's search mark: no side padding or outline spilling onto the full stop either.
    page.goto(f"/studies/{cast.study.pk}/transcripts/{t_north.pk}/?at={s}&len={e - s}")
    mark = page.evaluate("""() => {
        const m = document.querySelector('mark'); const cs = getComputedStyle(m);
        const r = document.createRange(); r.setStart(m.nextSibling, 0); r.setEnd(m.nextSibling, 1);
        return {text: m.textContent, right: m.getBoundingClientRect().right, nextLeft: r.getBoundingClientRect().left,
                pad: cs.paddingLeft + cs.paddingRight, outline: cs.outlineStyle};
    }""")
    assert mark["text"] == "phoned me every week"
    assert mark["right"] <= mark["nextLeft"] + 0.5
    assert mark["pad"] == "0px0px"
    assert mark["outline"] == "none"


@pytest.mark.parametrize("width", [1366, 1024])
def test_layout_aligned_labels_whole_and_no_empty_panel(login: Any, cast: Any, book: Any, t_north: Any,
                                                        width: int) -> None:
    """Trips 9 and 10: aligned with the centred header, stripe labels not clipped, coder initials with
    several coders, Remove in the warning style, and a read-only panel that says what it is for."""
    sid = cast.study.pk
    long_code = codebook_services.code_create(actor=cast.users["lead"], study_id=sid, name="Building rapport over the phone")
    for code, words, who in ((book.video, "My neighbour Zoë said the same thing", "coder"),
                             (book.video, "My neighbour Zoë said the same thing", "lead"),
                             (long_code, "phoned me every week", "coder"), (long_code, "I was phoning the café", "lead")):
        s, e = span_of(t_north, words)
        coding_services.coding_create(actor=cast.users[who], study_id=sid, transcript_id=t_north.pk, code_id=code.pk,
                                      start=s, end=e)
    page = login(cast.users["coder"])
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"/studies/{sid}/transcripts/{t_north.pk}/code/")
    page.wait_for_selector("html[data-coding-ready='1']")
    m = page.evaluate("""() => ({
        brand: document.querySelector('.brand').getBoundingClientRect().left,
        h1: document.querySelector('main h1').getBoundingClientRect().left,
        clipped: [...document.querySelectorAll('.stripe')].filter(s => s.querySelector('.stripe-label').scrollHeight > s.clientHeight + 1).length,
        stripesBottom: Math.max(...[...document.querySelectorAll('.stripe')].map(s => s.getBoundingClientRect().bottom)),
        footerTop: document.querySelector('.site-footer').getBoundingClientRect().top,
        labels: [...document.querySelectorAll('.seg[data-label]')].map(s => s.dataset.label),
        scrollWidth: document.documentElement.scrollWidth,
    })""")
    assert abs(m["brand"] - m["h1"]) <= 1, m
    assert m["clipped"] == 0
    assert m["stripesBottom"] <= m["footerTop"]
    assert m["scrollWidth"] <= width  # no sideways scrolling
    coder_initials = "".join(w[0] for w in cast.users["coder"].display_name.split()[::len(cast.users["coder"].display_name.split()) - 1]).upper()
    assert any(f"Telephone versus video · {coder_initials}" in label for label in m["labels"]), m["labels"]
    page.locator(".seg").first.click()
    page.wait_for_selector("#details:not([hidden]) .detail")
    assert page.evaluate("getComputedStyle(document.querySelector('[data-act=delete]')).backgroundColor") == "rgb(213, 40, 27)"
    assert "Remove this coding" in page.inner_text("[data-act=delete]")
    assert not re.search(r"\[\d+, \d+\)", page.inner_text("#details"))  # lines, not code-point offsets
    page.screenshot(path=str(SCREENSHOTS / f"firstuse-coding-{width}.png"), full_page=True)
    admin = login(cast.users["admin"])
    admin.set_viewport_size({"width": width, "height": 800})
    admin.goto(f"/studies/{sid}/transcripts/{t_north.pk}/code/")
    admin.wait_for_selector("html[data-coding-ready='1']")
    assert admin.is_visible("#read-only-note")
    assert "Click a highlight" in admin.inner_text("#panel")


def test_agreement_report_and_audit_log_read_at_two_widths(login: Any, extra: Any, cast: Any, book: Any,
                                                          t_north: Any) -> None:
    """Trips 2 and 6 as a reader sees them, at 1,366 and 1,024 px: tables that fit, no sideways
    scrolling of the page, audit details folded. Screenshots for the record."""
    from accounts.services import audit_record
    from analysis.coding.services import assignments
    from jobs.models import Job

    s = _assign(cast, book, t_north)
    job = assignments.agreement_report_start(actor=cast.users["lead"], study_id=s.sid)
    assignments.agreement_report_run(job_id=job.pk)
    assert Job.objects.get(pk=job.pk).status == "done"
    events = [{"pseudonym": f"SU{i:02d}", "kind": "consent", "date": "2020-08-11", "form_version": "1.1"} for i in range(30)]
    audit_record(actor=cast.users["admin"], action="consent.import", study=cast.study,
                 object_type="participants.importbatch", details={"filename": "consent.csv", "rows": 30, "events": events})
    for width in (1366, 1024):
        lead = login(cast.users["lead"])
        lead.set_viewport_size({"width": width, "height": 900})
        lead.goto(f"/studies/{s.sid}/jobs/{job.pk}/")
        lead.wait_for_selector("#per-code-h")
        assert lead.evaluate("document.documentElement.scrollWidth") <= width
        assert "{'" not in lead.inner_text("main")
        lead.screenshot(path=str(SCREENSHOTS / f"firstuse-agreement-{width}.png"), full_page=True)
        admin = login(cast.users["admin"])
        admin.set_viewport_size({"width": width, "height": 900})
        admin.goto(f"/studies/{s.sid}/audit/")
        admin.wait_for_selector("table.audit")
        folded = admin.locator("table.audit details").first
        assert not folded.evaluate("d => d.open")
        assert admin.evaluate("document.documentElement.scrollWidth") <= width
        admin.screenshot(path=str(SCREENSHOTS / f"firstuse-audit-{width}.png"), full_page=True)
