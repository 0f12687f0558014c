"""Plain-text transcripts: ``Name: words`` lines start speaker turns."""

from __future__ import annotations

from analysis.transcripts.importers.base import (
    ImportRefused,
    ParsedTranscript,
    check_not_binary,
    turns_from_lines,
)
from analysis.transcripts.text import normalise_text


def parse_text(text: str, *, encoding: str, pseudonym: str | None) -> ParsedTranscript:
    check_not_binary(text)
    text = normalise_text(text)
    if not text.strip():
        raise ImportRefused("The file is empty (it contains no text).")
    return turns_from_lines(text, fmt="txt", encoding=encoding, pseudonym=pseudonym)
