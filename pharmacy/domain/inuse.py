"""In-use and use-by rules (SmPC 6.3), expiry dates, storage ranges and the administration window.

Times are aware datetimes, UTC inside; the pharmacy's zone is used only to read a GS1 date (which
day ends when) and to show a time. Adding 8 hours is done in UTC, so 8 hours are 8 real hours,
also across a daylight-saving change.

A GS1 expiry date (AI 17) is usable through the end of that day in the pharmacy's zone. Because
labels and AI 7003 carry minutes, that end is taken as 23:59 local: one minute early rather than a
label that says "use by 00:00" of the next day, which is misread at the bedside.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pharmacy.domain.errors import Expired
from pharmacy.domain.lifecycle import BAG_LIVE, BagState

END_OF_DAY = time(23, 59)
POLICIES = ("start", "end")


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")
    return moment.astimezone(UTC)


def expiry_end(expiry: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) after which a product with this GS1 expiry date may no longer be used."""
    return datetime.combine(expiry, END_OF_DAY, tzinfo=zone).astimezone(UTC)


def floor_to_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def use_by(dilution_time: datetime, in_use_limit: timedelta, expiries: Iterable[date], zone: ZoneInfo) -> datetime:
    """The earliest of dilution + in-use limit (8 real hours) and the end of every ingredient's expiry
    date, floored to the minute so that screen, label and barcode (AI 7003) say the same."""
    candidates = [_aware(dilution_time, "dilution time") + in_use_limit]
    candidates += [expiry_end(expiry, zone) for expiry in expiries]
    return floor_to_minute(min(candidates))


def is_expired(use_by_time: datetime, now: datetime) -> bool:
    """A bag is expired from its use-by minute on: at use-by it is refused. (Aware datetimes compare
    as instants whatever their zones; only a naive one is an error. Called per row of a recall.)"""
    if now.tzinfo is None or use_by_time.tzinfo is None:
        _aware(now, "now"), _aware(use_by_time, "use-by")  # raises, naming which
    return now >= use_by_time


def check_ingredient_in_date(expiry: date, now: datetime, zone: ZoneInfo, what: str) -> None:
    # the same boundary as a bag's use-by: from the expiry end on, it is expired
    if is_expired(expiry_end(expiry, zone), now):
        raise Expired(f"{what} expired on {expiry:%d %b %Y}: it must not be used.", expiry=expiry.isoformat())


def check_administration_window(
    now: datetime, use_by_time: datetime, infusion: timedelta, policy: str, zone: ZoneInfo
) -> None:
    """Policy "start": the infusion must start before use-by; "end": it must also end by then."""
    if policy not in POLICIES:
        raise ValueError(f"unknown administration policy {policy!r}")
    shown = format_local(use_by_time, zone)
    if is_expired(use_by_time, now):
        raise Expired(f"This bag expired at {shown}. Do not give it: return it to pharmacy for disposal.")
    if policy == "end" and _aware(now, "now") + infusion > _aware(use_by_time, "use-by"):
        raise Expired(
            f"The infusion would not end before the bag's use-by time ({shown}). Do not start it; "
            "contact pharmacy."
        )


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    return _aware(moment, "time").astimezone(zone)


def format_local(moment: datetime, zone: ZoneInfo, fmt: str = "%d %b %Y %H:%M") -> str:
    """A time as the pharmacy reads it, with the zone's abbreviation (CET/CEST) so no one guesses."""
    local = to_local(moment, zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def effective_state(state: str, use_by_time: datetime, now: datetime) -> BagState:
    """A bag past its use-by is expired everywhere at once, decided from the clock at each look,
    never only by a periodic job. (Only live stock expires: a bag given or destroyed stays so.)"""
    current = BagState(state)
    return BagState.EXPIRED if current in BAG_LIVE and is_expired(use_by_time, now) else current
