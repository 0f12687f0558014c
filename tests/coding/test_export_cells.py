"""The coded-material export writes its CSV cells itself (issue 12): the same bytes as ``csv.writer`` after
``csv_safe_row`` would write, for every character that makes the writer quote or the apostrophe apply."""

from __future__ import annotations

import csv
import io
import itertools

from analysis.coding.services.exports import _csv_cell
from jobs.csv import csv_safe_row

PIECES = ["", "a", " ", '"', ",", "\n", "\r", "\t", "=", "+", "-", "@", "'", ";", "é", "👍", '""', "\r\n"]


def test_cells_are_what_csv_writer_writes() -> None:
    values = ["".join(p) for n in (1, 2, 3) for p in itertools.product(PIECES, repeat=n)]
    for row in (values[i:i + 13] for i in range(0, len(values), 13)):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(csv_safe_row(row))
        assert ",".join(_csv_cell(v) for v in row) + "\r\n" == buf.getvalue(), row
