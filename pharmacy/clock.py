"""The one place that asks for "now". Tests replace it (``clock.set_now``) or travel with time-machine."""

from __future__ import annotations

from datetime import UTC, datetime

_fixed: datetime | None = None


def now() -> datetime:
    """The current time as an aware UTC datetime."""
    if _fixed is not None:
        return _fixed
    return datetime.now(UTC)


def set_now(moment: datetime | None) -> None:
    """Freeze the clock at ``moment`` (aware), or unfreeze it with ``None``."""
    global _fixed
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the clock takes aware datetimes only")
    _fixed = moment.astimezone(UTC) if moment is not None else None
