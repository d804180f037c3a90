"""Column types: times are stored as UTC and come back as aware UTC datetimes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; a naive datetime is a bug and is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect, coltype):
        """SQLite keeps the UTC time as ISO text; the C ``fromisoformat`` reads it several times faster
        than the generic parser, which matters for a recall of thousands of bags."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value):
            return None if value is None else datetime.fromisoformat(value + "+00:00")

        return process


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
