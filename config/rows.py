"""Values and model instances from plain SQL rows, converted as the ORM converts them.

The few reads on the hottest paths (docs/decisions/0001) are plain statements: building the ORM's query
cost more Python than running it. Their rows must still come out as the ORM's would: on SQLite a boolean
is stored as a number and a date as text, a JSON field is parsed on both backends. These helpers apply the
same database converters the ORM applies (``connection.ops.get_db_converters`` and the field's own), for
this thread's connection; a column without converters costs nothing per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

Converters = list[tuple[int, Any, list[Any]]]


def row_converters(columns: Sequence[tuple[type[models.Model], str]]) -> Converters:
    """For each (model, field or attname) column of a row, the converters the ORM would apply to it; only
    the columns that have some are listed (on PostgreSQL usually none but JSON fields)."""
    out: Converters = []
    for k, (model, name) in enumerate(columns):
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field)  # a concrete column, not a reverse relation
        col = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        if found:
            out.append((k, col, found))
    return out


def row_convert(row: Sequence[Any], convert: Converters) -> list[Any]:
    values = list(row)
    for k, col, converters in convert:
        for converter in converters:
            values[k] = converter(values[k], col, connection)
    return values


def model_from_row(model: type[M], attnames: Sequence[str], values: Sequence[Any]) -> M:
    """A model instance with these columns loaded (the others deferred, read on first use, as ``only()``
    leaves them) from raw column values."""
    converted = row_convert(values, row_converters([(model, name) for name in attnames]))
    return model.from_db(connection.alias, list(attnames), converted)
