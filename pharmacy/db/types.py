"""Column types: times are stored as UTC and come back as aware UTC datetimes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"  # fixed width: text order is time order

_StateT = TypeVar("_StateT", bound=StrEnum)


def _from_sqlite(value: str | None, _parse: Callable[[str], datetime] = datetime.fromisoformat) -> datetime | None:
    return None if value is None else _parse(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; a naive datetime is a bug and is refused.

    PostgreSQL keeps a ``timestamptz``. SQLite has no time type: there the value is ISO text in UTC
    with its offset and always six decimals, so text comparison is time comparison and the C
    ``fromisoformat`` reads it back directly (it matters for a recall of thousands of bags)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | str | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.strftime(_SQLITE_FORMAT) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        if dialect.name == "sqlite":
            return _from_sqlite
        return super().result_processor(dialect, coltype)


class State(TypeDecorator[_StateT]):
    """A lifecycle state (``domain.lifecycle``): stored as its text, read back as the enum member. A
    value the lifecycle does not know is refused before it reaches the database."""

    impl = String(20)
    cache_ok = True

    def __init__(self, states: type[_StateT]) -> None:
        super().__init__()
        self.states = states

    def process_bind_param(self, value: _StateT | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.states(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> _StateT | None:
        return None if value is None else self.states(value)


class JSONText(TypeDecorator[object]):
    """JSON kept as text, keys sorted, so it reads and hashes the same on every database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> object:
        return None if value is None else json.loads(value)


def utcnow() -> datetime:
    from pharmacy import clock

    return clock.now()
