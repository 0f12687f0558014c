"""Reading uploaded CSV files: size and row limits, encoding detection that is never silent."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_BYTES_DEFAULT = 10 * 1024 * 1024
MAX_ROWS_DEFAULT = 20_000
UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
ENCODINGS = {UTF8: "UTF-8", WINDOWS_1252: "Windows-1252 (Latin-1)", "utf-16": "UTF-16"}
# "Ã©", "Ã¶", "â€™"…: UTF-8 read as Latin-1 and saved again.
_MOJIBAKE = re.compile(r"[ÃÂ][\u0080-\u00bf]|â€[\u0080-\u00bf\u2018-\u201e\u2122\u0153\u0161]")


def max_bytes() -> int:
    return int(getattr(settings, "CHORUS_IMPORT_MAX_BYTES", MAX_BYTES_DEFAULT))


def max_rows() -> int:
    return int(getattr(settings, "CHORUS_IMPORT_MAX_ROWS", MAX_ROWS_DEFAULT))


@dataclass
class Decoded:
    text: str
    encoding: str  # the codec used
    detected: bool  # True when Chorus guessed a non-UTF-8 encoding (the user must confirm it)
    notice: str = ""


def decode_upload(data: bytes, *, encoding: str | None = None) -> Decoded:
    """Text of an uploaded CSV. UTF-8 (with or without a BOM) and UTF-16 with a BOM are read as
    they are; anything else is read as Windows-1252 and flagged, so the preview can ask the user
    to confirm. ``encoding`` forces a codec (the confirmation)."""
    limit = max_bytes()
    if len(data) > limit:
        raise ValidationError(
            f"The file is {len(data) / 1_048_576:.1f} MB; Chorus imports at most {limit // 1_048_576} MB at a time. "
            "Split it into smaller files."
        )
    if not data.strip():
        raise ValidationError("The file is empty.")
    if encoding:
        codec = encoding.lower()
        if codec not in ENCODINGS:
            raise ValidationError(f"Unknown encoding “{encoding}”; use one of: {', '.join(ENCODINGS)}.")
        try:
            text = data.decode("utf-8-sig" if codec == UTF8 else codec)
        except UnicodeDecodeError as exc:
            raise ValidationError(f"The file is not valid {ENCODINGS[codec]} (byte {exc.start}).") from exc
        return Decoded(_strip_bom(text), codec, detected=False)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(_strip_bom(data.decode("utf-16")), "utf-16", detected=False)
        except UnicodeDecodeError as exc:
            raise ValidationError("The file starts like UTF-16 but is not valid UTF-16.") from exc
    if b"\x00" in data[:4096]:
        raise ValidationError("This does not look like a CSV text file (it contains binary data).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode(WINDOWS_1252, errors="replace")
        sample = sorted({ch for ch in text if ord(ch) > 127})[:8]
        return Decoded(
            text, WINDOWS_1252, detected=True,
            notice=(
                "This file is not UTF-8. Chorus read it as Windows-1252 (Latin-1), the encoding Excel on "
                "Windows uses for “CSV”. Check that accented letters look right in the preview"
                + (f" ({' '.join(sample)})" if sample else "")
                + " before you import; or save the file as “CSV UTF-8” and upload it again."
            ),
        )
    notice = ""
    if _MOJIBAKE.search(text):
        notice = (
            "Some text looks garbled (for example “Ã©” instead of “é”): the file may have been converted to "
            "UTF-8 twice. Check the preview before you import."
        )
    return Decoded(text, UTF8, detected=bool(notice), notice=notice)


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass
class Table:
    header: list[str]  # normalised
    raw_header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number of the row's first line, cells)


def read_table(text: str) -> Table:
    """Rows with their line numbers. Refuses more than the row limit before reading them all."""
    limit = max_rows()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        raw_header = next(reader)
    except StopIteration as exc:
        raise ValidationError("The file is empty.") from exc
    except csv.Error as exc:
        raise ValidationError(f"Line 1: the header cannot be read as CSV ({exc}).") from exc
    header = [normalise_header(h) for h in raw_header]
    if not any(header):
        raise ValidationError("Line 1 should be a header row naming the columns.")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise ValidationError(f"Line 1: the column {', '.join(dupes)} appears more than once.")
    if "" in header:
        raise ValidationError(f"Line 1: column {header.index('') + 1} has no name.")
    rows: list[tuple[int, list[str]]] = []
    line = reader.line_num + 1
    count = 0
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if count > limit:
                total = count + sum(1 for c in reader if any(x.strip() for x in c))
                raise ValidationError(
                    f"The file has {total:,} rows; Chorus imports at most {limit:,} rows at a time. "
                    "Split it into smaller files. Nothing was imported."
                )
            rows.append((start, cells))
    except csv.Error as exc:
        raise ValidationError(f"Line {reader.line_num}: the file cannot be read as CSV ({exc}).") from exc
    return Table(header=header, raw_header=raw_header, rows=rows)
