"""The plain table descriptions of ``db/tables.py`` (reads without the ORM, issue 16 point 7) name only columns
the models have, with the models' types: a renamed or retyped column fails here, not in a pharmacist's report."""

from __future__ import annotations

import pytest
from sqlalchemy.types import TypeDecorator

from pharmacy.db import tables
from pharmacy.db.models import Base


def _kind(column_type) -> type:
    """The type a column is stored as (a decorated type by its implementation: a lifecycle state is text)."""
    return type(column_type.impl) if isinstance(column_type, TypeDecorator) else type(column_type)


@pytest.mark.parametrize("plain", tables.TABLES, ids=lambda t: t.name)
def test_each_plain_column_is_the_models_column_of_the_same_type(plain):
    model = Base.metadata.tables[plain.name]
    for column in plain.columns:
        assert column.name in model.columns, f"{plain.name}.{column.name} is not a column of the models"
        assert issubclass(_kind(model.columns[column.name].type), type(column.type)), (
            f"{plain.name}.{column.name}: {model.columns[column.name].type!r} in the models, {column.type!r} here")


def test_a_wrong_column_would_be_caught():
    from sqlalchemy import Integer, column, table

    wrong = table("vials", column("expiry", Integer))  # a date read as a number
    with pytest.raises(AssertionError, match="vials.expiry"):
        test_each_plain_column_is_the_models_column_of_the_same_type(wrong)
