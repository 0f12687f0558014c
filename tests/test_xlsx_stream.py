"""jobs.xlsx, the write-only XLSX writer of the large exports (issue 12): what it writes reads back the same in
openpyxl, every part is well-formed XML, text is never a formula, and rows of several sheets may interleave."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
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


def test_rows_in_batches_read_back_as_rows_one_by_one(tmp_path: Path) -> None:
    rows = [
        ("Code › sub", "A & B <c> > d", 3, 4.5, None, "", True, "=SUM(A1)"),
        ("Code › sub", "bell\x07 and \x01", 5, 0, "speaker", "tail  ", False, "\ufffeno\uffff"),
        ("Code › sub", "lone \ud800 surrogate", -1, 1e20, "speaker", " lead", None, "café 👍"),
        ("tab\there", "bell\x07 and \x01", 7, 8, "", "", "", ""),
    ]
    for batch in ([rows[0]], rows[:2], rows):
        one, many = str(tmp_path / "one.xlsx"), str(tmp_path / "many.xlsx")
        wb = XlsxStream(one)
        sheet = wb.add_sheet("S")
        sheet.append(["head"])
        for row in batch:
            sheet.append(row)
        wb.close()
        wb = XlsxStream(many)
        sheet = wb.add_sheet("S")
        sheet.append(["head"])
        sheet.append_rows(batch)
        sheet.append_rows(batch)  # row numbers go on from the first batch
        wb.close()
        with zipfile.ZipFile(many) as zf:
            etree.fromstring(zf.read("xl/worksheets/sheet1.xml"))
        expected = [[c.value for c in r] for r in load_workbook(one).worksheets[0].iter_rows()]
        got = [[c.value for c in r] for r in load_workbook(many).worksheets[0].iter_rows()]
        assert got == expected + expected[1:]
    assert expected[2][1] == "bell and "  # what XML cannot hold is dropped, in the cache's values too


def test_a_single_sheet_written_straight_into_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "single.xlsx")
    wb = XlsxStream(path)
    sheet = wb.single_sheet("Codings & <more>")
    sheet.append(["Code", "Start line"])
    sheet.append_rows([("=1+1", 3), ("bell\x07", 4)])
    with pytest.raises(ValueError, match="only"):
        wb.add_sheet("Other")
    wb.close()
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        for name in zf.namelist():
            etree.fromstring(zf.read(name))
    book = load_workbook(path)
    assert book.sheetnames == ["Codings & <more>"]
    assert [[c.value for c in r] for r in book.worksheets[0].iter_rows()] == [["Code", "Start line"], ["=1+1", 3], ["bell", 4]]
    assert list(book.worksheets[0].iter_rows())[1][0].data_type == "s"


def test_an_aborted_workbook_leaves_no_thread_behind(tmp_path: Path) -> None:
    import threading

    wb = XlsxStream(str(tmp_path / "aborted.xlsx"))
    sheet = wb.single_sheet("Codings")
    sheet.append_rows([("a", 1)] * 1000)
    wb.abort()
    assert not [t for t in threading.enumerate() if t.name == "xlsx-deflate"]
