"""The cold chain (SmPC 6.3, 6.4): temperature readings, excursions and gaps in the record.

A reading outside a location's permitted range is an excursion; every bag stored there at that
moment is quarantined. A gap longer than the configured interval between readings means nobody
knows what happened in between, and is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pharmacy.domain.errors import PharmacyError


class ReadingError(PharmacyError):
    code = "reading_invalid"


@dataclass(frozen=True)
class Reading:
    location: str
    at: datetime
    celsius: float


MIN_PLAUSIBLE, MAX_PLAUSIBLE = -90.0, 90.0


def reading(location: str, at: str | datetime, celsius: str | float) -> Reading:
    """A reading from a form, a CSV row or a monitoring system, checked: the time must carry its UTC
    offset (a fridge log without one is ambiguous twice a year), the temperature a plausible number."""
    name = (location or "").strip()
    if not name:
        raise ReadingError("The location is missing.")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ReadingError(f"“{at}” is not a time like 2026-11-20T09:00:00+01:00.") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ReadingError(f"The time {at.isoformat()} has no UTC offset (write it like 2026-11-20T09:00:00+01:00).")
    try:
        value = float(str(celsius).strip().replace(",", "."))
    except ValueError:
        raise ReadingError(f"“{celsius}” is not a temperature in °C.") from None
    if math.isnan(value) or not MIN_PLAUSIBLE <= value <= MAX_PLAUSIBLE:
        raise ReadingError(f"{celsius} °C is not a plausible fridge reading.")
    return Reading(name, at, value)


def is_excursion(celsius: float, low: float, high: float) -> bool:
    return not low <= celsius <= high


def gaps(times: Iterable[datetime], interval: timedelta, until: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """Stretches longer than ``interval`` with no reading (up to ``until``, usually now)."""
    ordered = sorted(times)
    found = [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if b - a > interval]
    if ordered and until is not None and until - ordered[-1] > interval:
        found.append((ordered[-1], until))
    return found
