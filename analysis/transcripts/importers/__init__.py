"""One entry point for every transcript format: :func:`parse_transcript`.

The format is decided by the file's content, not its name: a zip holding word/document.xml is a
Word file, text starting ``WEBVTT`` is WebVTT, numbered cues with ``-->`` timecodes are SRT,
anything else that decodes as text is plain text. Everything else is refused with a message.
"""

from __future__ import annotations

from django.conf import settings

from analysis.transcripts.importers.base import (
    ENCODINGS,
    ImportRefused,
    ParsedTranscript,
    ParsedTurn,
    Role,
    decode_bytes,
)
from analysis.transcripts.importers.docx import parse_docx
from analysis.transcripts.importers.plain import parse_text
from analysis.transcripts.importers.safezip import ZipLimits, is_docx_zip, is_zip
from analysis.transcripts.importers.subtitles import looks_like_srt, parse_srt, parse_vtt

__all__ = [
    "ENCODINGS", "ImportRefused", "ParsedTranscript", "ParsedTurn", "Role", "max_file_bytes",
    "parse_transcript", "zip_limits",
]

FORMATS = (".txt", ".docx", ".vtt", ".srt")


def max_file_bytes() -> int:
    return int(settings.CHORUS_MAX_UPLOAD_BYTES)


def zip_limits() -> ZipLimits:
    limit = max_file_bytes()
    return ZipLimits(total_bytes=limit * 4, member_bytes=limit * 2)


def parse_transcript(
    data: bytes, *, filename: str = "", pseudonym: str | None = None, encoding: str | None = None
) -> ParsedTranscript:
    """Parse one uploaded file into normalised text and speaker turns, or raise ImportRefused."""
    if len(data) > max_file_bytes():
        raise ImportRefused(
            f"The file is too large ({len(data) // 1_000_000} MB; the limit is {max_file_bytes() // 1_000_000} MB)."
        )
    if not data.strip():
        raise ImportRefused("The file is empty.")
    if data.startswith(b"%PDF"):
        raise ImportRefused("PDF files cannot be imported. Save the transcript as .docx or .txt and upload that.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused("Old Word (.doc) files cannot be imported. Save it as .docx and upload that.")
    if is_zip(data):
        if is_docx_zip(data):
            return parse_docx(data, pseudonym=pseudonym, limits=zip_limits())
        raise ImportRefused("This is a zip archive, not a transcript. Upload zips on their own, not inside others.")
    text, used = decode_bytes(data, encoding=encoding)
    warnings = [] if used in ("utf-8", "utf-16") else [f"Read as {ENCODINGS[used]} (the file is not UTF-8)."]
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        parsed = parse_vtt(text, encoding=used, pseudonym=pseudonym)
    elif looks_like_srt(head):
        parsed = parse_srt(text, encoding=used, pseudonym=pseudonym)
    else:
        parsed = parse_text(text, encoding=used, pseudonym=pseudonym)
    parsed.warnings = warnings + parsed.warnings
    return parsed
