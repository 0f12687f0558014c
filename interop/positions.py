"""Where a REFI-QDA selection's positions land in the text Chorus stores. Pure functions, no Django.

The standard counts Unicode code points from 0, end exclusive. Real tools do not always (see
``../shared/refi-qda/NOTES.md``): NVivo for Windows counts UTF-16 code units with CRLF as two, ATLAS.ti
counts CRLF as one, some versions count UTF-8 bytes. Chorus stores the source's text with only two
changes, a leading byte-order mark removed and line ends written as ``\\n``, so a selection is moved
only by what those two changes and the counting unit imply, never guessed to the nearest word.

A :class:`Units` says how a file counted; :class:`PositionMap` turns its positions into code points of
the stored text, or says that a position falls inside a character (half a surrogate pair, inside a
multi-byte sequence, between the CR and LF of one line end), which cannot be placed exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")

UNIT_LABELS = {
    "cp": "Unicode code points",
    "utf16": "UTF-16 code units",
    "utf8": "bytes (UTF-8)",
}


@dataclass(frozen=True)
class Units:
    unit: str  # "cp" | "utf16" | "utf8"
    crlf_as_two: bool = True  # a CRLF line end counted as two positions (as written in the file)

    def describe(self) -> str:
        return UNIT_LABELS[self.unit]


def _width(ch: str, unit: str) -> int:
    if unit == "cp":
        return 1
    o = ord(ch)
    if unit == "utf16":
        return 2 if o > 0xFFFF else 1
    return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4


def stored_text(raw: str) -> str:
    """The text Chorus keeps for a source: its own characters, line ends written as ``\\n``."""
    return raw.replace("\r\n", "\n").replace("\r", "\n")


class PositionMap:
    """Positions counted in ``units`` over ``raw`` (the decoded file without its BOM) → code points of
    :func:`stored_text` ``(raw)``."""

    def __init__(self, raw: str, units: Units) -> None:
        self.units = units
        self.identity = "\r" not in raw and (units.unit == "cp" or raw.isascii() or (
            units.unit == "utf16" and not _ASTRAL.search(raw)))
        self.stored_length = len(stored_text(raw))
        if self.identity:
            self.total = len(raw)
            self._to_stored: list[int] = []
            return
        # _to_stored[u] = the stored index that begins at unit offset u, or -1 inside a character.
        to_stored: list[int] = []
        i = 0
        n = len(raw)
        stored_index = 0
        while i < n:
            ch = raw[i]
            if ch == "\r" and i + 1 < n and raw[i + 1] == "\n":
                to_stored.append(stored_index)
                if units.crlf_as_two:
                    to_stored.append(-1)  # between CR and LF: inside the one stored line end
                i += 2
            else:
                to_stored.append(stored_index)
                to_stored.extend([-1] * (_width(ch, units.unit) - 1))
                i += 1
            stored_index += 1
        to_stored.append(stored_index)
        self._to_stored = to_stored
        self.total = len(to_stored) - 1

    def to_stored(self, position: int) -> int | None:
        """The stored code point index for a file position, or None when it is not a character
        boundary. Positions beyond the text also answer None (callers check ``total`` first)."""
        if position < 0 or position > self.total:
            return None
        if self.identity:
            return position
        value = self._to_stored[position]
        return None if value < 0 else value


def candidate_units(raw: str, origin: str) -> list[Units]:
    """The ways a file may have counted, most likely first for the tool that wrote it, without
    candidates that give the same answer for this text."""
    origin_l = origin.lower()
    if "nvivo" in origin_l:
        order = [Units("utf16", True), Units("cp", True), Units("utf16", False), Units("cp", False),
                 Units("utf8", True), Units("utf8", False)]
    elif "atlas" in origin_l:
        order = [Units("cp", False), Units("cp", True), Units("utf16", False), Units("utf16", True),
                 Units("utf8", False), Units("utf8", True)]
    else:
        order = [Units("cp", True), Units("cp", False), Units("utf16", True), Units("utf16", False),
                 Units("utf8", True), Units("utf8", False)]
    has_cr = "\r\n" in raw
    astral = bool(_ASTRAL.search(raw))
    ascii_only = raw.isascii()
    out: list[Units] = []
    seen: set[tuple[str, bool]] = set()
    for u in order:
        unit = u.unit
        if ascii_only or (unit == "utf16" and not astral):
            unit = "cp"
        key = (unit, u.crlf_as_two if has_cr else True)
        if key not in seen:
            seen.add(key)
            out.append(Units(key[0], key[1]))
    return out


def _same_text(stored: str, hint: str) -> bool:
    """ATLAS.ti's quoted text (a selection's ``name``) against the stored span, ignoring line-end
    and outer whitespace differences (some tools trim or shorten the quote)."""
    a = " ".join(stored.split())
    b = " ".join(stored_text(hint).split())
    if not b:
        return True
    if b.endswith(("…", "...")):  # a shortened quote: compare what it shows
        b = b.rstrip(".…").rstrip()
        return a.startswith(b)
    return a == b


@dataclass
class Placement:
    start: int | None
    end: int | None
    problem: str = ""  # "" placed | "outside" beyond the text | "inside" inside a character | "text" differs


def place(pm: PositionMap, stored: str, start: int, end: int, hint: str | None) -> Placement:
    if end > pm.total or start > pm.total:
        return Placement(None, None, "outside")
    s, e = pm.to_stored(start), pm.to_stored(end)
    if s is None or e is None:
        return Placement(s, e, "inside")
    if hint and not _same_text(stored[s:e], hint):
        return Placement(s, e, "text")
    return Placement(s, e)


def choose_units(raw: str, stored: str, origin: str,
                 spans: Iterable[tuple[int, int, str | None]]) -> tuple[PositionMap, int]:
    """How the file counted, and how many selections that counting fails to place.

    Positions that merely fall inside the text prove nothing (every counting gives some), so the
    tool's usual counting is kept unless it fails clearly more often than one stray selection in
    fifty; then the counting that fails least wins (the usual order breaks ties). Failures are
    positions inside a character, beyond the text, or on text other than the quote the tool wrote."""
    spans = list(spans)
    tolerance = max(1, len(spans) // 50)
    results: list[tuple[PositionMap, int]] = []
    for units in candidate_units(raw, origin):
        pm = PositionMap(raw, units)
        failures = sum(1 for s, e, hint in spans if place(pm, stored, s, e, hint).problem)
        results.append((pm, failures))
        if failures == 0 or (len(results) == 1 and failures <= tolerance):
            return pm, failures
    return min(results, key=lambda r: r[1])
