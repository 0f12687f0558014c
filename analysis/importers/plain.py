"""Plain-text transcripts: ``Name: words`` lines start speaker turns."""

from __future__ import annotations

from ..text import normalise_text
from .base import ImportRefused, ParsedTranscript, check_not_binary, turns_from_lines


def parse_text(text: str, *, encoding: str, pseudonym: str | None) -> ParsedTranscript:
    check_not_binary(text)
    text = normalise_text(text)
    if not text.strip():
        raise ImportRefused("The file is empty (it contains no text).")
    return turns_from_lines(text, fmt="txt", encoding=encoding, pseudonym=pseudonym)
