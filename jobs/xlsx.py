"""A write-only XLSX writer for large exports: rows of text and numbers, one or more sheets, nothing else.

openpyxl's write-only mode (and XlsxWriter's constant-memory mode, measured too) spend ~15 µs of Python per
cell; 77,720 codings × 13 columns took 24 s of a 35 s export. Here a row is one string join: every text is an
inline string (``t="inlineStr"``), so no cell can ever be read as a formula and no shared-string table has to
be held in memory; numbers are numbers. Each sheet's rows go to its own temporary file as they come (rows of
different sheets may interleave), and :meth:`XlsxStream.close` zips the parts; a workbook of one sheet
(:meth:`XlsxStream.single_sheet`) deflates its rows straight into the file. Memory stays constant whatever
the number of rows.
"""

from __future__ import annotations

import contextlib
import queue
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Not allowed in XML 1.0 at all (a control character in a coded text would make the file unreadable).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_STYLES = (
    f'{_HEAD}<styleSheet xmlns="{_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
    '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _column(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


def xml_clean(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot hold (lxml refuses them; a spreadsheet would not open)."""
    return _ILLEGAL.sub("", value)


def xml_text(value: str) -> str:
    return xml_clean(value).translate(_ESCAPE)


# The UTF-8 bytes of the characters of _ILLEGAL outside the surrogates (which UTF-8 refuses to encode):
# a batch of rows is checked on the bytes it is written as, by C loops (bytes.translate, memchr) instead of
# a regular expression over 92 MB of markup (a second of CPU for 77,720 codings).
_ILLEGAL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())


def _clean(data: bytes) -> bool:
    return len(data.translate(None, _ILLEGAL_BYTES)) == len(data) and not any(c in data for c in _NONCHARACTERS)


class _BackgroundWriter:
    """Writes to ``out`` (a part of the zip) from a thread of its own: zlib lets go of the GIL while it
    deflates, so the rows of the next batch are made while the last one is compressed (0.4 s of a 2 s
    export of 77,720 codings on a free second core). At most ``depth`` batches wait: memory stays bounded."""

    def __init__(self, out: IO[bytes], depth: int = 4) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._run, name="xlsx-deflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._out.write(data)
                except BaseException as exc:  # handed to the writing thread at close
                    self._error = exc

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        self._queue.put(data)
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.put(None)
        self._thread.join()
        self._out.close()
        if self._error is not None:
            raise self._error


class XlsxSheet:
    def __init__(self, title: str, out: IO[bytes] | None = None) -> None:
        self.title = title
        self.rows = 0
        # Open for the sheet's life (rows come until the workbook is closed); XlsxStream.close closes it.
        # ``out``: the sheet's part in the zip itself (XlsxStream.single_sheet), written as rows come.
        self._direct: _BackgroundWriter | None = None
        self._file: IO[bytes] | None = None
        if out is None:
            self._file = tempfile.TemporaryFile("w+b")  # noqa: SIM115
            self._write: Callable[[bytes], int] = self._file.write
        else:
            self._direct = _BackgroundWriter(out)
            self._write = self._direct.write
            self._write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
        self._columns: list[str] = []
        self._cache: dict[str, str] = {}

    def append(self, values: Iterable[Any]) -> None:
        """One row: ``str`` as text, ``int``/``float`` as numbers, ``None`` and ``""`` as an empty cell."""
        self.rows += 1
        r = str(self.rows)
        cells = []
        for i, v in enumerate(values):
            if i >= len(self._columns):
                self._columns.append(_column(i))
            if v is None or v == "":
                continue
            ref = self._columns[i] + r
            if isinstance(v, bool) or not isinstance(v, int | float):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{xml_text(str(v))}</t></is></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{v!r}</v></c>')
        self._write(f'<row r="{r}">{"".join(cells)}</row>'.encode())

    def append_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows, as :meth:`append` writes them, with one write and one check for characters XML cannot
        hold: per cell only an escape (three ``str.replace``; short repeated values from a cache) and a
        format. 77,720 rows of 13 cells took 4.6 s through ``append``, its regular expression and its
        ``str.translate`` per cell."""
        try:
            data = self._rows_xml(rows, clean=False).encode()
            ok = _clean(data)
        except UnicodeEncodeError:  # a lone surrogate
            ok = False
        if not ok:
            # The markup holds none of these characters: some text does. Clean every cell of these rows.
            data = self._rows_xml(rows, clean=True).encode()
        self.rows += len(rows)
        self._write(data)

    def _rows_xml(self, rows: Sequence[Sequence[Any]], *, clean: bool) -> str:
        width = max((len(row) for row in rows), default=0)
        while len(self._columns) < width:
            self._columns.append(_column(len(self._columns)))
        columns, cache = self._columns, self._cache
        out = []
        number = self.rows
        for row in rows:
            number += 1
            r = str(number)
            cells = [f'<row r="{r}">']
            for col, v in zip(columns, row, strict=False):
                if v.__class__ is str:
                    if not v:
                        continue
                    e = None if clean else cache.get(v)  # the cache holds what the first pass escaped
                    if e is None:
                        e = xml_text(v) if clean else v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                        if len(v) <= 200 and not clean:  # speakers, coders, code paths: few values, many rows
                            if len(cache) >= 20_000:
                                cache.clear()
                            cache[v] = e
                    cells.append(f'<c r="{col}{r}" t="inlineStr"><is><t xml:space="preserve">{e}</t></is></c>')
                elif v is None or v == "":
                    continue
                elif v.__class__ is int or v.__class__ is float:
                    cells.append(f'<c r="{col}{r}"><v>{v!r}</v></c>')
                elif isinstance(v, bool) or not isinstance(v, int | float):
                    cells.append(f'<c r="{col}{r}" t="inlineStr"><is><t xml:space="preserve">{xml_text(str(v))}</t></is></c>')
                else:
                    cells.append(f'<c r="{col}{r}"><v>{v!r}</v></c>')
            cells.append("</row>")
            out.append("".join(cells))
        return "".join(out)

    def _copy_into(self, out: IO[bytes]) -> None:
        assert self._file is not None, "a sheet written straight into the zip has nothing to copy"
        out.write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
        self._file.flush()
        self._file.seek(0)
        shutil.copyfileobj(self._file, out, 1 << 20)
        out.write(b"</sheetData></worksheet>")

    def close(self) -> None:
        if self._direct is not None and not self._direct.closed:
            self._write(b"</sheetData></worksheet>")
            self._direct.close()
        if self._file is not None:
            self._file.close()


class XlsxStream:
    """``XlsxStream(path)``; ``add_sheet(title)`` (titles already valid: ≤ 31 characters, unique, none of
    ``[]:*?/\\``) or, for a workbook of one sheet, ``single_sheet(title)``; ``sheet.append(row)`` or
    ``sheet.append_rows(rows)``; ``close()`` writes the workbook to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sheets: list[XlsxSheet] = []
        self._zip: zipfile.ZipFile | None = None

    def add_sheet(self, title: str) -> XlsxSheet:
        if self._zip is not None:
            raise ValueError("A workbook opened with single_sheet holds that sheet only.")
        sheet = XlsxSheet(title)
        self.sheets.append(sheet)
        return sheet

    def single_sheet(self, title: str) -> XlsxSheet:
        """The workbook's only sheet, its rows deflated into the file as they come: no temporary copy of
        the sheet's XML (92 MB for 77,720 codings) written and read back. Call it instead of ``add_sheet``."""
        if self.sheets:
            raise ValueError("single_sheet must be the workbook's first and only sheet.")
        self._zip = self._open()
        self._write_parts(self._zip, [title])
        sheet = XlsxSheet(title, out=self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True))
        self.sheets.append(sheet)
        return sheet

    def close(self) -> None:
        if self._zip is not None:
            try:
                self.sheets[0].close()
            finally:
                self._zip.close()
            return
        if not self.sheets:
            self.add_sheet("Sheet1")
        try:
            with self._open() as zf:
                self._write_parts(zf, [sheet.title for sheet in self.sheets])
                for i, sheet in enumerate(self.sheets, 1):
                    with zf.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as out:
                        sheet._copy_into(out)
        finally:
            for sheet in self.sheets:
                sheet.close()

    def abort(self) -> None:
        """After a failure: let go of the sheets' temporary files and deflating thread; the file at ``path``
        is not a workbook to keep."""
        for sheet in self.sheets:
            with contextlib.suppress(Exception):
                sheet.close()
        if self._zip is not None:
            with contextlib.suppress(Exception):
                self._zip.close()

    def _open(self) -> zipfile.ZipFile:
        # Level 1: the 92 MB of XML of 77,720 codings deflate in 0.4 s instead of 1.4 s (level 6), for a file
        # 18% larger (11.4 instead of 9.6 MB); the markup repeats, so the fast level already takes most of it.
        return zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)

    def _write_parts(self, zf: zipfile.ZipFile, titles: list[str]) -> None:
        """Every part but the sheets'."""
        n = len(titles)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
            for i in range(1, n + 1))
        parts = {
            "[Content_Types].xml": (
                f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                f'<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
                f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>{overrides}</Types>'),
            "_rels/.rels": (
                f'{_HEAD}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
                f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
            "xl/workbook.xml": (
                f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
                + "".join(f'<sheet name="{xml_text(t).replace(chr(34), "&quot;")}" sheetId="{i}" r:id="rId{i}"/>'
                          for i, t in enumerate(titles, 1))
                + "</sheets></workbook>"),
            "xl/_rels/workbook.xml.rels": (
                f'{_HEAD}<Relationships xmlns="{_PKG_REL}">'
                + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                          for i in range(1, n + 1))
                + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            zf.writestr(name, text)
