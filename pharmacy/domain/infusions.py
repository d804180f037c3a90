"""When an infusion may start, when its end is early, and the pre-medication confirmed before it.

Pure rules over plain values (no database): the bedside service gives them the patient's earlier
infusions of the product, the time now, the pharmacy's zone and the product's monograph.

* IN PROGRESS: an infusion of the product is still running for this patient (two 12 mg infusions
  must never run at once).
* OBSERVATION: the patient is observed after each infusion (SmPC 4.4: at least 2 h, the monograph's
  ``infusion.observation``); no new start before that ends (at its end exactly, a start is allowed).
* SAME DAY: one infusion a day (SmPC 4.2, the monograph's ``courses.max_doses_per_day``), counted by
  the local calendar day of the starts (the pharmacy's zone: across midnight and daylight saving).
* TOO SOON: the least time between the starts of two doses (the monograph's ``infusion.min_interval``).

An infusion stopped before ``EARLY_END_FRACTION`` of its planned duration (the monograph's
``infusion.duration``) has run is an early end and needs a reason from ``END_REASONS``. 90 %: a pump
or gravity set runs a 4 h bag within a few percent of its time, so a bag that ends more than 24 min
early did not run as planned (a rate error, a leak, a stop) and the record must say why.

Pre-medication (SmPC 4.2: corticosteroid on days 1–3 of each course, herpes prophylaxis from day 1):
each item the monograph marks as required for the course day is confirmed with the time it was given,
not in the future and not more than ``PREMEDICATION_MAX_AGE`` (24 h) before the start: "immediately
before the infusion" cannot mean yesterday's dose, and a longer gap is a dose that was not given today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.lifecycle import BagState
from pharmacy.domain.monograph import Monograph, Premedication
from pharmacy.domain.units import Quantity
from pharmacy.i18n import _, lazy

EARLY_END_FRACTION = 0.9
PREMEDICATION_MAX_AGE = timedelta(hours=24)

# why an infusion ended before its planned duration: code → words on the screen (shown: i18n.now(words)) and
# in the record (the English words before any bracket, ``end_reason``)
RESUMABLE_REASON = BagState.INTERRUPTED.value  # the one reason that leaves the bag to be resumed
END_REASONS: dict[str, str] = {
    RESUMABLE_REASON: lazy("interrupted (may be resumed with the same bag)"),
    "rate_error": lazy("rate error"),
    "bag_leaked": lazy("bag leaked"),
    "patient_reaction": lazy("patient reaction"),
    "other": lazy("other (say what)"),
}


class EarlyEndNeedsReason(PharmacyError):
    """The infusion ran for less than the planned duration allows for a normal end."""

    code = "early_end_reason_required"


class EndReasonInvalid(PharmacyError):
    """A reason that is not on the list, or "other" without saying what."""

    code = "end_reason_invalid"


class PremedicationRequired(PharmacyError):
    """A required pre-medication was not confirmed as given."""

    code = "premedication_required"


class PremedicationTimeInvalid(PharmacyError):
    """The time a pre-medication was given is in the future or too long before the start."""

    code = "premedication_time_invalid"


@dataclass(frozen=True)
class EarlierInfusion:
    """One earlier infusion of the product for this patient (``ended_at`` None: still running)."""

    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class TimingReason:
    code: str
    message: str


@dataclass(frozen=True)
class GivenPremedication:
    what: str
    given_at: datetime


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("infusion times must be aware datetimes")
    return moment.astimezone(UTC)


def _delta(quantity: Quantity) -> timedelta:
    return timedelta(seconds=float(quantity.to("second").magnitude))


def _hm(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """HH:MM with the zone's abbreviation, and the date when it is not today's."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    if local.date() == today:
        return f"{local:%H:%M} {local.tzname()}"
    return _("{time} {zone} on {day}", time=format(local, "%H:%M"), zone=local.tzname(), day=local.strftime("%d %b"))


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"


def start_refusals(earlier: Iterable[EarlierInfusion], now: datetime, zone: ZoneInfo,
                   monograph: Monograph) -> list[TimingReason]:
    """Every reason the timing of the patient's earlier infusions of this product stands against a
    start now (empty: the timing allows it)."""
    now = _utc(now)  # real hours: aware arithmetic in one zone would be wall-clock arithmetic
    history = sorted((EarlierInfusion(_utc(e.started_at), _utc(e.ended_at) if e.ended_at else None) for e in earlier
                      if _utc(e.started_at) <= now), key=lambda e: e.started_at)
    reasons: list[TimingReason] = []
    observation = _delta(monograph.observation)
    running = [e for e in history if e.ended_at is None]
    for e in running:
        reasons.append(TimingReason("in_progress", _("IN PROGRESS: an infusion of {brand} started at {started} is "
                                                     "still running for this patient. End it before another is started.",
                                                     brand=monograph.brand, started=_hm(e.started_at, zone, now))))
    ended = [e.ended_at for e in history if e.ended_at is not None]
    if not running and ended:
        until = max(ended) + observation
        if now < until:
            reasons.append(TimingReason("observation", _("OBSERVATION: until {until}. The patient is observed for "
                                                         "{hours} after an infusion (SmPC 4.4); no new infusion before "
                                                         "then.", until=_hm(until, zone, now), hours=_hours(observation))))
    today = now.astimezone(zone).date()
    same_day = [e for e in history if e.started_at.astimezone(zone).date() == today]
    if len(same_day) >= monograph.courses.max_doses_per_day:
        times = ", ".join(_hm(e.started_at, zone, now) for e in same_day)
        reasons.append(TimingReason("same_day", _("SAME DAY: a dose was already started today ({times}); at most "
                                                  "{most} infusion a day (SmPC 4.2).", times=times,
                                                  most=monograph.courses.max_doses_per_day)))
    if history:
        earliest = history[-1].started_at + _delta(monograph.min_interval)
        if now < earliest:
            reasons.append(TimingReason("too_soon", _("TOO SOON: earliest start {earliest}. The last dose started at "
                                                      "{started}; at least {hours} between the starts of two doses.",
                                                      earliest=_hm(earliest, zone, now),
                                                      started=_hm(history[-1].started_at, zone, now),
                                                      hours=_hours(_delta(monograph.min_interval)))))
    return reasons


def is_early_end(ran_for: timedelta, monograph: Monograph) -> bool:
    """Whether an infusion that ran this long ended before ``EARLY_END_FRACTION`` of its duration."""
    return ran_for < monograph.infusion_time * EARLY_END_FRACTION


def end_reason(ran_for: timedelta, monograph: Monograph, reason: str | None, detail: str | None) -> tuple[str, str] | None:
    """The reason code and the words recorded for an end after ``ran_for`` of infusion, or None for
    a normal end. Refuses an early end without a reason, an unknown reason, and "other" unsaid."""
    code, words = (reason or "").strip(), " ".join((detail or "").split())
    if not code:
        if is_early_end(ran_for, monograph):
            planned = monograph.infusion_time
            minutes = int(ran_for.total_seconds() // 60)
            raise EarlyEndNeedsReason(
                _("This infusion ran for {minutes} min of the planned {hours}: say why it ended early ({codes}). "
                  "Nothing was recorded.", minutes=minutes, hours=_hours(planned), codes=", ".join(END_REASONS)),
                ran_minutes=minutes)
        return None
    if code not in END_REASONS:
        raise EndReasonInvalid(_("“{code}” is not a reason for an early end; choose one of: {codes}.", code=code,
                                 codes=", ".join(END_REASONS)))
    if code == "other" and not words:
        raise EndReasonInvalid(_("Say what happened when the reason is “other”. Nothing was recorded."))
    label = str.__str__(END_REASONS[code]).split(" (")[0]  # recorded: the English words
    return code, f"{label}: {words}" if words else label


def check_premedication(required: Sequence[Premedication], given: Iterable[GivenPremedication], now: datetime,
                        zone: ZoneInfo) -> list[GivenPremedication]:
    """The confirmations of every required item, each given at a plausible time; refuses otherwise."""
    now = _utc(now)
    by_what = {g.what.strip(): g for g in given}
    missing = [p.what for p in required if p.what not in by_what]
    if missing:
        raise PremedicationRequired(_("Confirm the pre-medication given before this infusion (SmPC 4.2): {missing}. "
                                      "Nothing was recorded.", missing="; ".join(missing)), missing=missing)
    confirmed = []
    for p in required:
        g = by_what[p.what]
        if g.given_at.tzinfo is None or g.given_at.utcoffset() is None:
            raise PremedicationTimeInvalid(_("The time “{what}” was given needs its UTC offset.", what=p.what))
        if _utc(g.given_at) > now:
            raise PremedicationTimeInvalid(_("“{what}”: given at {given} is in the future. Give the time it was given.",
                                             what=p.what, given=_hm(g.given_at, zone, now)))
        if now - _utc(g.given_at) > PREMEDICATION_MAX_AGE:
            raise PremedicationTimeInvalid(_("“{what}”: given at {given} is more than {hours} before this infusion; "
                                             "give it again before the start.", what=p.what,
                                             given=_hm(g.given_at, zone, now), hours=_hours(PREMEDICATION_MAX_AGE)))
        confirmed.append(GivenPremedication(p.what, g.given_at))
    return confirmed
