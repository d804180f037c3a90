"""In-use and use-by rules (SmPC 6.3), expiry dates, storage ranges and the administration window.

Times are aware datetimes, UTC inside; the pharmacy's zone is used only to read a GS1 date (which
day ends when) and to show a time. Adding 8 hours is done in UTC, so 8 hours are 8 real hours,
also across a daylight-saving change.

A GS1 expiry date (AI 17) is usable through the end of that day in the pharmacy's zone. Because
labels and AI 7003 carry minutes, that end is taken as 23:59 local: one minute early rather than a
label that says "use by 00:00" of the next day, which is misread at the bedside.

START BY is the latest minute at which an infusion may begin (``start_by``): under the policy "end"
(the default: the SmPC 6.3 in-use limit and the carton's "administer within 8 hours after dilution"
cover the whole infusion) it is the use-by less the planned infusion duration; under "start" it is
the use-by itself. The bedside check, every screen and the label read it from that one function.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pharmacy import i18n
from pharmacy.domain.errors import Expired
from pharmacy.domain.lifecycle import BAG_LIVE, BagState
from pharmacy.i18n import _

END_OF_DAY = time(23, 59)
POLICIES = ("start", "end")


class TooLateToStart(Expired):
    """Past START BY but before use-by (policy "end"): the infusion would not end in time."""


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")
    return moment.astimezone(UTC)


def expiry_end(expiry: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) after which a product with this GS1 expiry date may no longer be used."""
    return datetime.combine(expiry, END_OF_DAY, tzinfo=zone).astimezone(UTC)


def floor_to_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _readings(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The two instants (UTC) a reader can take this moment's local wall time for: as its first and
    as its second occurrence. They differ only inside the hour repeated when clocks go back."""
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return (wall.replace(tzinfo=zone, fold=0).astimezone(UTC), wall.replace(tzinfo=zone, fold=1).astimezone(UTC))


def unambiguous_use_by(limit: datetime, zone: ZoneInfo) -> datetime:
    """``limit`` moved earlier, if need be, so that its local wall time cannot be read later than it.

    AI 7003 carries a local YYMMDDhhmm with no offset, so a use-by in the hour repeated when the
    clocks go back (a fold: 02:00–02:59 on the last Sunday of October in Brussels, 01:00–01:59 on the
    first Sunday of November in New York) can be read as either occurrence. Then:

    * a limit in the second occurrence moves to the same wall time's first occurrence, one hour
      earlier (02:30 CET → 02:30 CEST): read as the first it is that earlier instant, read as the
      second it is the limit itself;
    * a limit in the first occurrence moves to the last minute before the repeated hour (02:30 CEST
      → 01:59 CEST): read as the second occurrence it would have been an hour too late, and no
      instant of the first occurrence is safe, because each has a later twin.

    Either way every reading is no later than the true limit; an hour at most is given up, once a year.
    """
    limit = _aware(limit, "use-by")
    first, second = _readings(limit, zone)
    if first == second:
        return limit
    if limit == second:
        return first
    moved = limit
    while len(set(_readings(moved, zone))) > 1:  # back through the first occurrence, a minute at a time
        moved -= timedelta(minutes=1)
    return moved


def use_by(dilution_time: datetime, in_use_limit: timedelta, expiries: Iterable[date], zone: ZoneInfo) -> datetime:
    """The earliest of dilution + in-use limit (8 real hours) and the end of every ingredient's expiry
    date, floored to the minute so that screen, label and barcode (AI 7003) say the same, and moved
    out of a daylight-saving change's repeated hour as ``unambiguous_use_by`` explains."""
    candidates = [_aware(dilution_time, "dilution time") + in_use_limit]
    candidates += [expiry_end(expiry, zone) for expiry in expiries]
    return unambiguous_use_by(floor_to_minute(min(candidates)), zone)


def start_by(use_by_time: datetime, infusion: timedelta, policy: str) -> datetime:
    """The latest minute at which the infusion may start (START BY); from this minute on it is refused.

    Policy "end" (default): the infusion must also end by the use-by, so START BY is the use-by less
    the planned infusion duration, floored to the minute. Policy "start": START BY is the use-by."""
    if policy not in POLICIES:
        raise ValueError(f"unknown administration policy {policy!r}")
    if infusion < timedelta(0):
        raise ValueError("the infusion duration cannot be negative")
    limit = _aware(use_by_time, "use-by")
    return floor_to_minute(limit - infusion) if policy == "end" else limit


def is_expired(use_by_time: datetime, now: datetime) -> bool:
    """A bag is expired from its use-by minute on: at use-by it is refused. (Aware datetimes compare
    as instants whatever their zones; only a naive one is an error. Called per row of a recall.)"""
    if now.tzinfo is None or use_by_time.tzinfo is None:
        _aware(now, "now"), _aware(use_by_time, "use-by")  # raises, naming which
    return now >= use_by_time


def check_ingredient_in_date(expiry: date, now: datetime, zone: ZoneInfo, what: str) -> None:
    # the same boundary as a bag's use-by: from the expiry end on, it is expired
    if is_expired(expiry_end(expiry, zone), now):
        raise Expired(_("{what} expired on {day}: it must not be used.", what=what, day=format(expiry, "%d %b %Y")),
                      expiry=expiry.isoformat())


def check_administration_window(
    now: datetime, use_by_time: datetime, infusion: timedelta, policy: str, zone: ZoneInfo
) -> None:
    """The infusion may start until START BY (``start_by``), and from that minute on it is refused:
    under policy "end" because it would not end by the use-by, under "start" because the bag expired."""
    latest = start_by(use_by_time, infusion, policy)
    shown = format_local(use_by_time, zone)
    if is_expired(use_by_time, now):
        raise Expired(_("This bag expired at {shown}. Do not give it: return it to pharmacy for disposal.", shown=shown))
    if is_expired(latest, now):
        raise TooLateToStart(
            _("Its START BY time ({start_by}) has passed. The infusion would not end before the bag's use-by time "
              "({shown}). Do not start it; contact pharmacy.", start_by=format_local(latest, zone), shown=shown)
        )


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    return _aware(moment, "time").astimezone(zone)


def format_local(moment: datetime, zone: ZoneInfo, fmt: str = "%d %b %Y %H:%M") -> str:
    """A time as the pharmacy reads it, with the zone's abbreviation (CET/CEST) so no one guesses; month and day
    names in the current language (``fmt`` is strftime's: in English exactly what strftime writes)."""
    local = to_local(moment, zone)
    return f"{i18n.format_moment(local, fmt)} {local.tzname()}"


def effective_state(state: str, use_by_time: datetime, now: datetime) -> BagState:
    """A bag past its use-by is expired everywhere at once, decided from the clock at each look,
    never only by a periodic job. (Only live stock expires: a bag given or destroyed stays so.)"""
    current = BagState(state)
    return BagState.EXPIRED if current in BAG_LIVE and is_expired(use_by_time, now) else current
