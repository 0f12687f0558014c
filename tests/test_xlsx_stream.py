"""jobs.xlsx, the write-only XLSX writer of the large exports (issue 12): what it writes reads back the same in
openpyxl, every part is well-formed XML, text is never a formula, and rows of several sheets may interleave."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree
from openpyxl import load_workbook

from jobs.xlsx import XlsxStream


def test_rows_read_back_as_written(tmp_path: Path) -> None:
    path = str(tmp_path / "out.xlsx")
    wb = XlsxStream(path)
    first = wb.add_sheet("Care & <support> \"quoted\"")
    second = wb.add_sheet("Other")
    first.append(["Code path", "Coded text", "Start line", "Score"])
    second.append(["only", None, "", "after gaps"])
    first.append(["A › B", "=HYPERLINK(\"http://x\") & <b>bold</b> 👍 café  ", 12, 2.5])
    second.append([7])
    first.append(["+1", "-2", "@sum", "tab\there\x01\x0bbell\x07 gone"])
    wb.close()

    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        for name in zf.namelist():
            etree.fromstring(zf.read(name))  # every part well-formed
    book = load_workbook(path)
    assert book.sheetnames == ["Care & <support> \"quoted\"", "Other"]
    rows = [[c.value for c in r] for r in book.worksheets[0].iter_rows()]
    assert rows == [
        ["Code path", "Coded text", "Start line", "Score"],
        ["A › B", "=HYPERLINK(\"http://x\") & <b>bold</b> 👍 café  ", 12, 2.5],
        ["+1", "-2", "@sum", "tab\therebell gone"],  # characters XML cannot hold are dropped
    ]
    cells = list(book.worksheets[0].iter_rows())[1]
    assert cells[1].data_type == "s"  # text, not a formula
    assert [[c.value for c in r] for r in book["Other"].iter_rows()] == [["only", None, None, "after gaps"], [7, None, None, None]]


def test_empty_workbook_has_a_sheet(tmp_path: Path) -> None:
    path = str(tmp_path / "empty.xlsx")
    XlsxStream(path).close()
    assert load_workbook(path).sheetnames == ["Sheet1"]
