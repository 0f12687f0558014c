"""Reading uploaded CSV files: size and row limits, encoding detection that is never silent."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

from config.input_guard import format_bytes

MAX_BYTES_DEFAULT = 10 * 1024 * 1024
MAX_ROWS_DEFAULT = 20_000
# Every column but the built-in ones becomes a participant attribute: 10,000 columns once made 10,000
# attributes and an export that took a worker to 2.5 GB.
MAX_COLUMNS_DEFAULT = 100
MAX_CELLS_DEFAULT = 500_000
UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
# The same names as the transcript upload's (analysis/transcripts/importers/base.py ENCODINGS).
ENCODINGS = {UTF8: "UTF-8", WINDOWS_1252: "Windows-1252 (Western European)", "utf-16": "UTF-16"}
# "Ã©", "Ã¶", "â€™"…: UTF-8 read as Latin-1 and saved again.
_MOJIBAKE = re.compile(r"[ÃÂ][\u0080-\u00bf]|â€[\u0080-\u00bf\u2018-\u201e\u2122\u0153\u0161]")


def max_bytes() -> int:
    return int(getattr(settings, "CHORUS_IMPORT_MAX_BYTES", MAX_BYTES_DEFAULT))


def max_rows() -> int:
    return int(getattr(settings, "CHORUS_IMPORT_MAX_ROWS", MAX_ROWS_DEFAULT))


def max_columns() -> int:
    return int(getattr(settings, "CHORUS_IMPORT_MAX_COLUMNS", MAX_COLUMNS_DEFAULT))


def max_cells() -> int:
    return int(getattr(settings, "CHORUS_IMPORT_MAX_CELLS", MAX_CELLS_DEFAULT))


def _csv_problem(exc: csv.Error) -> str:
    """Python's csv messages in words a person can act on."""
    text = str(exc)
    if "field larger than field limit" in text:
        return (f"a cell is longer than {csv.field_size_limit():,} characters, which no participant or consent field "
                "needs. Usually a quote mark (\") opens a cell and is never closed; check the line and the ones "
                "before it.")
    if "new-line character seen in unquoted field" in text:
        return "a line break inside a cell that is not in quotes. Save the file again from a spreadsheet as CSV."
    if "NUL" in text:
        return "the file contains binary (NUL) characters: it is not a CSV text file."
    return f"the line cannot be read as CSV ({text})."


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
            f"The file is {format_bytes(len(data))}; Chorus imports at most {format_bytes(limit)} at a time. "
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
        # A UTF-8 marker in front of a Windows-1252 body (some exports do this): read without the marker,
        # which would otherwise become "ï»¿" glued to the first column's name.
        body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
        text = body.decode(WINDOWS_1252, errors="replace")
        sample = sorted({ch for ch in text if ord(ch) > 127})[:8]
        return Decoded(
            text, WINDOWS_1252, detected=True,
            notice=(
                "This file is not UTF-8. Chorus read it as Windows-1252 (Western European), the encoding Excel on "
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
        raise ValidationError(f"Line 1: {_csv_problem(exc)}") from exc
    header = [normalise_header(h) for h in raw_header]
    if not any(header):
        raise ValidationError("Line 1 should be a header row naming the columns.")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise ValidationError(f"Line 1: the column {', '.join(dupes)} appears more than once.")
    if len(header) > max_columns():
        raise ValidationError(
            f"Line 1: the file has {len(header):,} columns; Chorus imports at most {max_columns():,} (each extra column "
            "becomes a participant attribute). Remove the columns you do not need and upload it again."
        )
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
            if count * len(header) > max_cells():
                raise ValidationError(
                    f"The file has more than {max_cells():,} cells (rows × columns); Chorus imports at most that many "
                    "at a time. Split it into smaller files, or remove columns you do not need. Nothing was imported."
                )
            if count > limit:
                total = count + sum(1 for c in reader if any(x.strip() for x in c))
                raise ValidationError(
                    f"The file has {total:,} rows; Chorus imports at most {limit:,} rows at a time. "
                    "Split it into smaller files. Nothing was imported."
                )
            rows.append((start, cells))
    except csv.Error as exc:
        raise ValidationError(f"Line {reader.line_num}: {_csv_problem(exc)}") from exc
    return Table(header=header, raw_header=raw_header, rows=rows)
