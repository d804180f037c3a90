"""Column types: times are stored as UTC and come back as aware UTC datetimes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.types import TypeDecorator

_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"  # fixed width: text order is time order


def _from_sqlite(value, _parse=datetime.fromisoformat):
    return None if value is None else _parse(value)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; a naive datetime is a bug and is refused.

    PostgreSQL keeps a ``timestamptz``. SQLite has no time type: there the value is ISO text in UTC
    with its offset and always six decimals, so text comparison is time comparison and the C
    ``fromisoformat`` reads it back directly (it matters for a recall of thousands of bags)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.strftime(_SQLITE_FORMAT) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return _from_sqlite
        return super().result_processor(dialect, coltype)


class JSONText(TypeDecorator):
    """JSON kept as text, keys sorted, so it reads and hashes the same on every database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


def utcnow() -> datetime:
    from pharmacy import clock

    return clock.now()
