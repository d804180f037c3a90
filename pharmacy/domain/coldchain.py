"""The cold chain (SmPC 6.3, 6.4): temperature readings, excursions and gaps in the record.

A reading outside a location's permitted range is an excursion; every bag stored there at that
moment is quarantined. A gap longer than the configured interval between readings means nobody
knows what happened in between, and is flagged. A reading dated more than ``FUTURE_TOLERANCE``
after the clock is refused (a clock set wrong, a typo in the day). A bag's time out of refrigeration
counts from its release and from every move out of a location that fits its in-use storage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _


class ReadingError(PharmacyError):
    code = "reading_invalid"


@dataclass(frozen=True)
class Reading:
    location: str
    at: datetime
    celsius: float


MIN_PLAUSIBLE, MAX_PLAUSIBLE = -90.0, 90.0
# a reading this far after the clock is refused: a monitoring system's clock may run a little ahead
FUTURE_TOLERANCE = timedelta(minutes=5)


def check_not_future(at: datetime, now: datetime) -> None:
    """A reading cannot have been taken later than now (give or take ``FUTURE_TOLERANCE``)."""
    if at > now + FUTURE_TOLERANCE:
        raise ReadingError(_("The time {at} is in the future (it is now {now}): a reading cannot be recorded "
                             "more than {minutes} min ahead of the clock.", at=at.isoformat(timespec="minutes"),
                             now=now.astimezone(at.tzinfo).isoformat(timespec="minutes"),
                             minutes=int(FUTURE_TOLERANCE.total_seconds() // 60)))


def reading(location: str, at: str | datetime, celsius: str | float, *, now: datetime | None = None) -> Reading:
    """A reading from a form, a CSV row or a monitoring system, checked: the time must carry its UTC
    offset (a fridge log without one is ambiguous twice a year), must not lie in the future (``now``,
    the clock: the screens, the API and the CSV import pass it; ``services.coldchain.record`` checks
    every reading against the clock again before storing it), and the temperature must be a plausible
    number."""
    name = (location or "").strip()
    if not name:
        raise ReadingError(_("The location is missing."))
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ReadingError(_("“{text}” is not a time like 2026-11-20T09:00:00+01:00.", text=at)) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ReadingError(_("The time {at} has no UTC offset (write it like 2026-11-20T09:00:00+01:00).",
                             at=at.isoformat()))
    if not 1900 <= at.year <= 2199:  # year 1 or 9999 cannot be moved by time arithmetic (UTC, gaps)
        raise ReadingError(_("The time {at} is not a date a fridge log can hold.", at=at.isoformat()))
    try:
        value = float(str(celsius).strip().replace(",", "."))
    except ValueError:
        raise ReadingError(_("“{text}” is not a temperature in °C.", text=celsius)) from None
    if math.isnan(value) or not MIN_PLAUSIBLE <= value <= MAX_PLAUSIBLE:
        raise ReadingError(_("{celsius} °C is not a plausible fridge reading.", celsius=celsius))
    if now is not None:
        check_not_future(at, now)
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


def range_fits(low: float, high: float, allowed_low: float, allowed_high: float) -> bool:
    """Whether a location kept between ``low`` and ``high`` keeps a bag within its permitted range."""
    return allowed_low <= low and high <= allowed_high


@dataclass(frozen=True)
class Move:
    """A bag put into a place at ``at``: ``fits`` when the place keeps it within its in-use storage
    range (a fridge), not when it is taken out (to the ward, in transit) or put somewhere warmer."""

    at: datetime
    fits: bool


def time_out_of_fridge(released_at: datetime | None, moves: Iterable[Move], until: datetime,
                       since: datetime | None = None) -> timedelta:
    """How long the bag has been outside a fitting location from its release up to ``until`` (now,
    or the start of its infusion), counting only the time after ``since`` when given (a pharmacist's
    decision accepted what came before). Every stretch counts: released → fridge → ward adds up."""
    if released_at is None:
        return timedelta(0)
    start = max(released_at, since) if since is not None else released_at
    total = timedelta(0)
    out_since: datetime | None = released_at  # a released bag is out until it is put into a fridge
    for move in sorted(moves, key=lambda m: m.at):
        if move.at > until:
            break
        if move.fits and out_since is not None:
            total += max(timedelta(0), move.at - max(out_since, start))
            out_since = None
        elif not move.fits and out_since is None:
            out_since = move.at
    if out_since is not None:
        total += max(timedelta(0), until - max(out_since, start))
    return total


def duration_text(span: timedelta) -> str:
    """“7 h 50 min”, “12 min”: how a time out of the fridge is said at the bedside."""
    hours, minutes = divmod(max(0, int(span.total_seconds())) // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
