"""Codebook CSV import and export.

Columns (export writes all; import needs ``path``, the rest are optional and, when a column is
absent, leave that field of a matched code alone):

* ``path`` – the names from the top, separated by ``::`` (``Therapeutic relationship::Loss of a safe space``)
* ``guid``, ``description``, ``inclusion_criteria``, ``exclusion_criteria``, ``example``
* ``colour`` – ``#rrggbb`` (empty: a palette colour on create)
* ``is_codable`` – yes/no, true/false, 1/0

Export neutralises spreadsheet formulas (``jobs.csv``), prefixing ``'`` to a cell that starts with
``= + - @``; import strips that prefix again, so an exported file re-imports unchanged.
Import reports errors per row (the row number as a spreadsheet shows it, header = 1).
"""

from __future__ import annotations

import csv
import io

from analysis.coding.selectors.codebook import CodeNode
from analysis.coding.services.codebook import PATH_SEPARATOR
from analysis.coding.services.codebook_import import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_CODES,
    ImportFileError,
    ImportItem,
    ParsedFile,
    item_from_path,
)
from config.input_guard import format_bytes
from jobs.csv import csv_bytes

HEADER = ["path", "guid", "description", "inclusion_criteria", "exclusion_criteria", "example", "colour", "is_codable"]
_OPTIONAL = HEADER[1:]
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


def csv_export(flat: list[CodeNode]) -> bytes:
    rows = [
        [PATH_SEPARATOR.join(n.path), str(n.code.guid), n.code.description, n.code.inclusion_criteria,
         n.code.exclusion_criteria, n.code.example, n.code.colour, "yes" if n.code.is_codable else "no"]
        for n in flat
    ]
    return csv_bytes(HEADER, rows)


def _unneutralise(value: str) -> str:
    if value.startswith("'") and value[1:2] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return value[1:]
    return value


def csv_parse(data: bytes, *, filename: str = "codebook.csv") -> ParsedFile:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"The file is larger than {format_bytes(MAX_IMPORT_BYTES)}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.") from None
    if "\x00" in text:
        raise ImportFileError("The file is not a text CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV ({exc}).") from None
    header = [h.lstrip("\ufeff") for h in header]
    if "path" not in header:
        raise ImportFileError("The first row must name the columns, including “path”.")
    index = {name: header.index(name) for name in HEADER if name in header}
    items: list[ImportItem] = []
    try:
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(items) >= MAX_IMPORT_CODES:
                raise ImportFileError(f"The file has more than {MAX_IMPORT_CODES} codes.")
            cells = {name: _unneutralise(row[i]) if i < len(row) else "" for name, i in index.items()}
            errors: list[str] = []
            fields: dict[str, object] = {}
            for name in ("description", "inclusion_criteria", "exclusion_criteria", "example"):
                if name in cells:
                    fields[name] = cells[name]
            if cells.get("colour", "").strip():
                fields["colour"] = cells["colour"].strip()
            if "is_codable" in cells and cells["is_codable"].strip():
                flag = cells["is_codable"].strip().lower()
                if flag in _TRUE | _FALSE:
                    fields["is_codable"] = flag in _TRUE
                else:
                    errors.append(f"is_codable is “{cells['is_codable'][:20]}”; use yes or no.")
            item = item_from_path(
                [cells.get("path", "")], row=line, guid=cells.get("guid") or None, fields=fields
            )
            item.errors.extend(errors)
            items.append(item)
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV ({exc}).") from None
    if not items:
        raise ImportFileError("The file has no codes.")
    return ParsedFile(kind="csv", filename=filename, items=items)
