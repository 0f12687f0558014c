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
from analysis.transcripts.importers.safezip import ZipLimits, is_docx_zip, is_qdpx, is_zip
from analysis.transcripts.importers.subtitles import looks_like_srt, parse_srt, parse_vtt
from config.input_guard import format_bytes

__all__ = [
    "ENCODINGS", "ImportRefused", "ParsedTranscript", "ParsedTurn", "Role", "max_file_bytes",
    "parse_transcript", "zip_limits",
]

FORMATS = (".txt", ".docx", ".vtt", ".srt")
QDPX_REFUSED = (
    "This is a REFI-QDA project (.qdpx), not a transcript; nothing was imported. Projects, with their codes, "
    "codings and participants, are imported on the Import project page."
)


def max_file_bytes() -> int:
    return int(settings.CHORUS_MAX_UPLOAD_BYTES)


def max_transcript_chars() -> int:
    return int(settings.CHORUS_MAX_TRANSCRIPT_CHARS)


def max_transcript_turns() -> int:
    return int(settings.CHORUS_MAX_TRANSCRIPT_TURNS)


def _within_caps(parsed: ParsedTranscript) -> ParsedTranscript:
    """One interview, not a whole corpus: a transcript past these caps makes every page and export that
    opens it slow for everyone (16,000 turns took 15 s to render), so it is refused with what to do."""
    chars, turns = len(parsed.text), len(parsed.turns)
    if chars > max_transcript_chars():
        raise ImportRefused(
            f"The transcript is too long ({chars:,} characters; the limit is {max_transcript_chars():,}, and a one-hour "
            "interview is about 60,000). Split it into one file per interview and upload those."
        )
    if turns > max_transcript_turns():
        raise ImportRefused(
            f"The transcript has too many speaker turns ({turns:,}; the limit is {max_transcript_turns():,}). Check "
            "that it is one interview, and that lines such as timestamps are not read as speakers; split it if not."
        )
    return parsed


def zip_limits() -> ZipLimits:
    limit = max_file_bytes()
    return ZipLimits(total_bytes=limit * 4, member_bytes=limit * 2)


def parse_transcript(
    data: bytes, *, filename: str = "", pseudonym: str | None = None, encoding: str | None = None
) -> ParsedTranscript:
    """Parse one uploaded file into normalised text and speaker turns, or raise ImportRefused."""
    if len(data) > max_file_bytes():
        raise ImportRefused(
            f"The file is too large ({format_bytes(len(data))}; the limit is {format_bytes(max_file_bytes())})."
        )
    if not data.strip():
        raise ImportRefused("The file is empty.")
    if data.startswith(b"%PDF"):
        raise ImportRefused("PDF files cannot be imported. Save the transcript as .docx or .txt and upload that.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused("Old Word (.doc) files cannot be imported. Save it as .docx and upload that.")
    if is_zip(data):
        if is_docx_zip(data):
            return _within_caps(parse_docx(data, pseudonym=pseudonym, limits=zip_limits()))
        if is_qdpx(data) or filename.lower().endswith(".qdpx"):
            raise ImportRefused(QDPX_REFUSED)
        raise ImportRefused("This is a zip archive, not a transcript. Upload zips on their own, not inside others.")
    text, used = decode_bytes(data, encoding=encoding)
    warnings = [] if used in ("utf-8", "utf-16") else [f"Read as {ENCODINGS[used]} (the file is not UTF-8)."]
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        parsed = parse_vtt(text, encoding=used, pseudonym=pseudonym)
    elif looks_like_srt(head):
        parsed = parse_srt(text, encoding=used, pseudonym=pseudonym)
    elif filename.lower().endswith(".srt"):
        raise ImportRefused(
            "This .srt file is not in the SubRip format, so its timestamps would become part of the text. Each "
            "subtitle must be a number on its own line, then a line such as 00:00:01,000 --> 00:00:04,000, then "
            "the words. Fix the file in a subtitle editor, or save the words alone as .txt and upload that."
        )
    else:
        parsed = parse_text(text, encoding=used, pseudonym=pseudonym)
    parsed.warnings = warnings + parsed.warnings
    return _within_caps(parsed)
