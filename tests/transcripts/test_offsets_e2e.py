"""static/js/offsets.js in a real browser (Debian's Chromium through Playwright), and the reading
view's selection → redaction round trip: UTF-16 in the browser, code points on the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
OFFSETS_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "offsets.js"




@pytest.fixture
def js(browser: Any) -> Any:
    page = browser.new_page()
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(path=str(OFFSETS_JS))
    yield lambda expr, arg=None: page.evaluate(expr, arg)
    page.close()


def test_code_points_vs_utf16(js: Any) -> None:
    s = "a👍b"
    assert js("s => s.length", s) == 4
    assert js("s => ChorusOffsets.codePointLength(s)", s) == len(s) == 3
    assert js("s => ChorusOffsets.utf16ToCodePoint(s, 3)", s) == 2  # after the emoji
    assert js("s => ChorusOffsets.utf16ToCodePoint(s, 2)", s) == 1  # inside the pair: rounds down
    assert js("s => ChorusOffsets.codePointToUtf16(s, 2)", s) == 3
    assert js("s => ChorusOffsets.codePointToUtf16(s, 99)", s) == 4


@pytest.mark.parametrize("text", ["Zoë 👍 café", "👨‍👩‍👧 family 🇬🇧 flag", "e\u0301 and 😀😀", "plain"])
def test_round_trip_matches_python(js: Any, text: str) -> None:
    for cp in range(len(text) + 1):
        u16 = js("([s, i]) => ChorusOffsets.codePointToUtf16(s, i)", [text, cp])
        assert u16 == len(text[:cp].encode("utf-16-le")) // 2
        assert js("([s, i]) => ChorusOffsets.utf16ToCodePoint(s, i)", [text, u16]) == cp


def test_crlf_and_combining_input_maps_to_server_offsets(js: Any) -> None:
    raw = "Caf" + "e\u0301" + "\r\nSU01: 👍 ok"  # decomposed é, Windows line end
    server = "Café\nSU01: 👍 ok"
    assert js("s => ChorusOffsets.toServerText(s)", raw) == server
    u16 = js("s => s.indexOf('ok')", raw)  # UTF-16: the emoji is two units, the CRLF two, e+◌́ two
    assert u16 == raw.index("ok") + 1
    assert js("([s, i]) => ChorusOffsets.serverOffset(s, i)", [raw, u16]) == server.index("ok")
    r = js("([s, a, b]) => ChorusOffsets.rangeToServer(s, a, b, 100)", [raw, 0, u16 + 2])
    assert r == {"start": 100, "end": 100 + len(server), "text": server}


def test_selection_to_server_in_the_dom(js: Any) -> None:
    got = js("""() => {
        document.body.innerHTML = '<p><span data-start="40">Zoë 👍 <mark>said</mark> café</span></p>';
        const span = document.querySelector('[data-start]');
        const mark = span.querySelector('mark');
        const r = document.createRange();
        r.setStart(mark.firstChild, 0);
        r.setEnd(span.lastChild, 5);  // " café" -> up to the end of "café"
        return ChorusOffsets.selectionToServer(r);
    }""")
    text = "Zoë 👍 said café"
    assert got == {"start": 40 + text.index("said"), "end": 40 + len(text)}
