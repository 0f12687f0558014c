"""Text normalisation, offsets and re-anchoring. Pure functions, no Django.

Offsets everywhere in Chorus are Unicode code points into the normalised text, half-open
``[start, end)`` (the REFI-QDA convention). Python ``str`` indexes code points, so ``text[start:end]``
is the span. Browsers count UTF-16 units: ``static/js/offsets.js`` converts at the edge.

Re-anchoring: an edit batch is a list of :class:`Edit` — replace ``[start, end)`` of the old text
with ``replacement`` — sorted and non-overlapping, all in the coordinates of the text *before* the
batch. :func:`map_span` moves a span through a batch with these rules:

* text before or after the span that changes only shifts the span;
* if an edit overlaps the span, the span stretches or shrinks to cover the edit's replacement
  (a coding on "John Smith" still covers "[NAME]" after the name is replaced);
* an insertion exactly at a span boundary stays outside the span;
* a non-empty span whose text is deleted entirely (replacement empty) collapses to an empty span
  at the deletion point and is reported as ``lost`` — never silently dropped.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

_NEWLINES = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")
_NEWLINE = re.compile("\n")
# C0/C1 control characters other than tab and newline, and the BOM / zero-width no-break space.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff]")


def normalise_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters or BOMs, no trailing spaces on lines, no
    leading or trailing blank lines."""
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return text.strip("\n")


def line_number_at(text: str, offset: int) -> int:
    """1-based line number of the code point at ``offset``."""
    return text.count("\n", 0, offset) + 1


def newline_offsets(text: str) -> list[int]:
    """The code point offsets of the text's newlines, in order: ``Transcript.newlines``, kept so that a
    line number never needs the text before it (``line_in``)."""
    return [m.start() for m in _NEWLINE.finditer(text)]


def line_in(newlines: Sequence[int], offset: int) -> int:
    """``line_number_at(text, offset)`` from the text's ``newline_offsets``: a binary search."""
    return bisect_left(newlines, offset) + 1


@dataclass(frozen=True)
class Edit:
    """Replace ``[start, end)`` of the old text with ``replacement``."""

    start: int
    end: int
    replacement: str

    @property
    def delta(self) -> int:
        return len(self.replacement) - (self.end - self.start)


class EditError(ValueError):
    """An edit batch that cannot be applied (out of range or overlapping)."""


def validate_edits(edits: Sequence[Edit], text_length: int) -> list[Edit]:
    """The batch sorted; raises :class:`EditError` if an edit is out of range or edits overlap."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    previous_end = 0
    previous_insert_at: int | None = None
    for e in ordered:
        if not (0 <= e.start <= e.end <= text_length):
            raise EditError(f"Edit [{e.start}, {e.end}) is outside the text (length {text_length}).")
        if e.start < previous_end:
            raise EditError(f"Edit [{e.start}, {e.end}) overlaps the previous edit.")
        if e.start == e.end and previous_insert_at == e.start:
            raise EditError(f"Two insertions at {e.start}: merge them into one.")
        previous_insert_at = e.start if e.start == e.end else None
        previous_end = e.end
    return ordered


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    ordered = validate_edits(edits, len(text))
    parts: list[str] = []
    at = 0
    for e in ordered:
        parts.append(text[at:e.start])
        parts.append(e.replacement)
        at = e.end
    parts.append(text[at:])
    return "".join(parts)


class SpanStatus(StrEnum):
    UNCHANGED = "unchanged"  # no edit touched the span's text (it may have moved)
    CHANGED = "changed"  # an edit overlapped the span: it now covers the replacement
    LOST = "lost"  # all of the span's text was deleted: it is now empty, at the deletion point


class MappedSpan(NamedTuple):
    start: int
    end: int
    status: SpanStatus


class EditMap:
    """A batch prepared for mapping many spans (binary search: O(log n) per point)."""

    def __init__(self, edits: Sequence[Edit], text_length: int | None = None) -> None:
        self.edits = validate_edits(edits, text_length if text_length is not None else 10**12)
        self.starts = [e.start for e in self.edits]
        self.ends = [e.end for e in self.edits]
        # new_starts[i]: where edit i's replacement begins in the new text.
        self.new_starts: list[int] = []
        delta = 0
        for e in self.edits:
            self.new_starts.append(e.start + delta)
            delta += e.delta
        self.cum_delta = [0]
        for e in self.edits:
            self.cum_delta.append(self.cum_delta[-1] + e.delta)

    def map_start(self, p: int) -> int:
        # Edits ending at or before p (including an insertion at p) shift it.
        i = bisect_right(self.ends, p)
        if i < len(self.edits) and self.edits[i].start <= p < self.edits[i].end:
            return self.new_starts[i]  # inside replaced text: the start of the replacement
        return p + self.cum_delta[i]

    def map_end(self, p: int) -> int:
        # Edits ending strictly before p shift it; an insertion at p stays outside the span.
        i = bisect_left(self.ends, p)
        if i < len(self.edits) and self.edits[i].start < p <= self.edits[i].end:
            return self.new_starts[i] + len(self.edits[i].replacement)  # end of the replacement
        return p + self.cum_delta[i]

    def touches(self, start: int, end: int) -> bool:
        """Does any edit change text inside ``[start, end)`` (or insert strictly inside it)?"""
        i = bisect_right(self.ends, start)
        while i < len(self.edits) and self.edits[i].start <= end:
            e = self.edits[i]
            if e.start < end and e.end > start:
                return True
            if e.start == e.end and start < e.start < end:
                return True
            i += 1
        return False

    def map_span(self, start: int, end: int) -> MappedSpan:
        if start > end:
            raise ValueError(f"Span [{start}, {end}) is reversed.")
        if start == end:  # a point: it moves with the text before it
            p = self.map_start(start)
            return MappedSpan(p, p, SpanStatus.UNCHANGED)
        new_start, new_end = self.map_start(start), self.map_end(end)
        if new_end <= new_start:
            return MappedSpan(new_start, new_start, SpanStatus.LOST)
        status = SpanStatus.CHANGED if self.touches(start, end) else SpanStatus.UNCHANGED
        return MappedSpan(new_start, new_end, status)


def map_span(start: int, end: int, edits: Sequence[Edit]) -> MappedSpan:
    """Map one half-open span through an edit batch (see the module docstring for the rules)."""
    return EditMap(edits).map_span(start, end)


def find_all(text: str, term: str, *, match_case: bool = False, whole_word: bool = False) -> list[tuple[int, int]]:
    """Non-overlapping occurrences of ``term`` as ``(start, end)`` code point spans."""
    term = unicodedata.normalize("NFC", term)
    if not term:
        return []
    pattern = re.escape(term)
    if whole_word:
        pattern = rf"(?<!\w){pattern}(?!\w)"
    flags = 0 if match_case else re.IGNORECASE
    return [(m.start(), m.end()) for m in re.finditer(pattern, text, flags)]


def invert_edits(edits: Iterable[Edit], old_texts: Sequence[str]) -> list[Edit]:
    """The batch that undoes ``edits`` (given the text each replaced), in new-text coordinates."""
    out: list[Edit] = []
    delta = 0
    for e, old in zip(sorted(edits, key=lambda e: (e.start, e.end)), old_texts, strict=True):
        new_start = e.start + delta
        out.append(Edit(new_start, new_start + len(e.replacement), old))
        delta += e.delta
    return out
