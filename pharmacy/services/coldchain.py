"""Temperature readings in (form, CSV import, monitoring systems) and the quarantine they trigger."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import BindParameter, Row, bindparam, select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import (
    Administration,
    Bag,
    BagMove,
    ColdChainDecision,
    Disposal,
    ExcursionIncident,
    StorageLocation,
    TemperatureReading,
    User,
)
from pharmacy.domain.coldchain import (
    Move,
    Reading,
    ReadingError,
    check_not_future,
    duration_text,
    gaps,
    is_excursion,
    range_fits,
    reading,
    time_out_of_fridge,
)
from pharmacy.domain.errors import NotFound, PharmacyError, StateConflict
from pharmacy.domain.lifecycle import BAG, BAG_GIVEN, Event
from pharmacy.i18n import _, lazy
from pharmacy.services import users
from pharmacy.services.bags import find_bag, state_of
from pharmacy.services.base import Pharmacy, actor, refusals_recorded


@dataclass
class Recorded:
    imported: int = 0
    duplicates: int = 0
    quarantined: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)


def _there_then(session, bag: Bag, location: StorageLocation, at: datetime) -> bool:
    there_then = session.execute(select(BagMove.location_id).where(BagMove.bag_id == bag.id, BagMove.at <= at)
                                 .order_by(BagMove.at.desc(), BagMove.id.desc()).limit(1)).scalar_one()
    return there_then == location.id


def _incidents(session, username: str, location: StorageLocation, row: Reading, stored_row: TemperatureReading) -> None:
    """A late out-of-range reading that covers a time when a bag now being infused or already given
    was at ``location`` (and not yet hung): an incident for a pharmacist, on the bag's history too."""
    been_there = select(BagMove.bag_id).where(BagMove.location_id == location.id, BagMove.at <= row.at)
    given = session.execute(select(Bag, Administration.started_at).join(Administration, Administration.bag_id == Bag.id)
                            .where(Bag.id.in_(been_there), Bag.state.in_(BAG_GIVEN))).all()
    for bag, started_at in given:
        if started_at <= row.at or not _there_then(session, bag, location, row.at):
            continue
        incident = ExcursionIncident(bag_id=bag.id, reading_id=stored_row.id, location_id=location.id,
                                     bag_state=bag.state, created_at=clock.now())
        session.add(incident)
        session.flush()
        audit.append(session, username, "coldchain.incident", "bag", bag.id, new={
            "incident": incident.id, "state": bag.state, "location": location.name,
            "reading_at": row.at.astimezone(UTC).isoformat(), "celsius": row.celsius}, reason=(
            f"{location.name} read {row.celsius:g} °C at {row.at.isoformat()} (permitted "
            f"{location.min_celsius:g}–{location.max_celsius:g} °C) while bag {bag.serial} was there; "
            f"the bag is {bag.state.label} already"))


def _quarantine(session, username: str, location: StorageLocation, row: Reading) -> list[str]:
    """Every bag not yet given that was at ``location`` when the out-of-range reading was taken —
    also one moved elsewhere or taken out since (a CSV of the fridge log often comes in after the bag
    went to the ward)."""
    been_there = select(BagMove.bag_id).where(BagMove.location_id == location.id, BagMove.at <= row.at)
    stored = session.execute(select(Bag).where(Bag.id.in_(been_there), Bag.state.in_(BAG.sources(Event.EXCURSION)))).scalars().all()
    serials = []
    for bag in stored:
        if not _there_then(session, bag, location, row.at):
            continue
        old, bag.state = bag.state, BAG.apply(bag.state, Event.EXCURSION)
        audit.append(session, username, "bag.quarantine", "bag", bag.id, old={"state": old},
                     new={"state": bag.state, "location": location.name, "reading_at": row.at.astimezone(UTC).isoformat(),
                          "celsius": row.celsius}, reason=(
                         f"{location.name} read {row.celsius:g} °C at {row.at.isoformat()} "
                         f"(permitted {location.min_celsius:g}–{location.max_celsius:g} °C)"))
        serials.append(bag.serial)
    return serials


def _stored_times(session, location_id: int, rows: list[Reading]) -> set[datetime]:
    low, high = min(r.at for r in rows), max(r.at for r in rows)
    return set(session.execute(select(TemperatureReading.at).where(
        TemperatureReading.location_id == location_id, TemperatureReading.at >= low,
        TemperatureReading.at <= high)).scalars())


def record(pharmacy: Pharmacy, username: str, items: list[tuple[int, Reading]], source: str,
           errors: list[tuple[int, str]] | None = None) -> Recorded:
    """Store numbered readings (line or position, reading). A reading already stored for that
    location and time is skipped, so nothing is imported twice; every excursion quarantines the
    bags stored there. All in one transaction."""
    result = Recorded(errors=list(errors or []))
    now = clock.now()
    with pharmacy.uow() as uow:
        actor(uow.session, username, "temps.record")
        locations = {loc.name: loc for loc in uow.session.execute(select(StorageLocation)).scalars()}
        known: dict[int, set[datetime]] = {}
        for number, row in items:
            try:  # whatever sent it (form, CSV, API, a caller that did not pass the clock to ``reading``)
                check_not_future(row.at, now)
            except ReadingError as error:
                result.errors.append((number, error.message))
                continue
            location = locations.get(row.location)
            if location is None:
                result.errors.append((number, _("unknown location “{location}”", location=row.location)))
                continue
            if location.id not in known:
                known[location.id] = _stored_times(uow.session, location.id, [r for _n, r in items if r.location == row.location])
            if row.at in known[location.id]:
                result.duplicates += 1
                continue
            known[location.id].add(row.at)
            stored_row = TemperatureReading(location_id=location.id, at=row.at, celsius=row.celsius, source=source)
            uow.session.add(stored_row)
            result.imported += 1
            if is_excursion(row.celsius, location.min_celsius, location.max_celsius):
                uow.session.flush()
                result.quarantined += _quarantine(uow.session, username, location, row)
                _incidents(uow.session, username, location, row, stored_row)
        result.errors.sort()
        if not result.imported:  # every reading refused or already kept: nothing changed, nothing to audit
            return result
        audit.append(uow.session, username, "temps.record", "readings", source, new={
            "imported": result.imported, "duplicates": result.duplicates, "errors": len(result.errors),
            "quarantined": result.quarantined})
        uow.commit()
    return result


def import_csv(pharmacy: Pharmacy, username: str, text: str) -> Recorded:
    """CSV with a header ``location,time,celsius`` (time with its UTC offset). Bad rows are reported
    by line number and left out; good rows are kept."""
    items, errors = [], []
    now = clock.now()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"location", "time", "celsius"} - set(reader.fieldnames or [])
    if missing:
        raise PharmacyError(_("The CSV header must name location, time and celsius (missing: {missing}).",
                              missing=', '.join(sorted(missing))))
    try:
        for row in reader:
            try:
                items.append((reader.line_num, reading(row.get("location") or "", row.get("time") or "",
                                                       row.get("celsius") or "", now=now)))
            except ReadingError as error:
                errors.append((reader.line_num, error.message))
    except csv.Error:  # a field beyond csv's size limit (128 KB), a NUL byte: not a fridge log
        raise PharmacyError(_("Line {line_num} of the CSV cannot be read (a value in it is far too long or "
                              "holds a NUL character): nothing was imported. Check the file is the fridge log saved "
                              "as CSV.", line_num=reader.line_num + 1)) from None
    return record(pharmacy, username, items, "csv", errors)


# every location with its readings since a time (a location without one: a row with no time), built once (issue 18)
_READINGS_SINCE = (select(StorageLocation.name, TemperatureReading.at)
                   .outerjoin(TemperatureReading, (TemperatureReading.location_id == StorageLocation.id)
                              & (TemperatureReading.at >= bindparam("since"))))


def location_gaps(pharmacy: Pharmacy, interval: timedelta) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per location, the stretches without a reading longer than ``interval`` over the last day (one statement
    for all the locations, not one each)."""
    now = clock.now()
    since = now - timedelta(days=1)
    times: dict[str, list[datetime]] = {}
    with pharmacy.uow(readonly=True) as uow:
        for row in plain(uow.session, _READINGS_SINCE, {"since": since}):
            times.setdefault(row.name, [])
            if row.at is not None:
                times[row.name].append(row.at)
    # from the start of the window: a day's silence before one late reading is a gap too
    return {name: gaps([since, *found], interval, until=now) for name, found in times.items()}


def readings_for(pharmacy: Pharmacy, location_name: str, start: datetime, end: datetime) -> list[TemperatureReading]:
    with pharmacy.uow(readonly=True) as uow:
        location = uow.session.execute(select(StorageLocation).where(StorageLocation.name == location_name)).scalar_one_or_none()
        if location is None:
            raise NotFound(_("No storage location “{location_name}”.", location_name=location_name))
        return list(uow.session.execute(select(TemperatureReading).where(
            TemperatureReading.location_id == location.id, TemperatureReading.at >= start,
            TemperatureReading.at <= end).order_by(TemperatureReading.at)).scalars())


# --- time out of refrigeration ------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str
    out_minutes: int
    by: str
    at: datetime


@dataclass(frozen=True)
class FridgeStatus:
    """A bag's time out of refrigeration (from its release, and from every move out of a location that
    fits its in-use storage) and whether it is past the pharmacy's allowance without a decision."""

    out: timedelta  # in total, up to now or to the start of its infusion
    since_decision: timedelta  # what no pharmacist's "use" decision has accepted yet
    allowance: timedelta
    outside: bool  # out of a fitting location right now
    decision: Decision | None  # the latest "use" decision

    @property
    def flagged(self) -> bool:
        return self.since_decision > self.allowance

    @property
    def text(self) -> str:
        return duration_text(self.out)

    @property
    def allowance_text(self) -> str:
        return duration_text(self.allowance)


_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
# each move with the temperature range of where it went (none: taken out of storage)
_MOVES = (select(BagMove.bag_id, BagMove.at, StorageLocation.min_celsius, StorageLocation.max_celsius)
          .outerjoin(StorageLocation, StorageLocation.id == BagMove.location_id)
          .where(BagMove.bag_id.in_(_IDS)).order_by(BagMove.at, BagMove.id))
_STARTED = select(Administration.bag_id, Administration.started_at).where(Administration.bag_id.in_(_IDS))
_USE_DECISIONS = (select(ColdChainDecision.bag_id, ColdChainDecision.decision, ColdChainDecision.reason,
                         ColdChainDecision.out_minutes, ColdChainDecision.at, User.full_name)
                  .join(User, ColdChainDecision.user_id == User.id)
                  .where(ColdChainDecision.bag_id.in_(_IDS), ColdChainDecision.decision == "use")
                  .order_by(ColdChainDecision.at, ColdChainDecision.id))


def fridge_statuses(pharmacy: Pharmacy, session, bags: Sequence[Bag | Row], now: datetime) -> dict[int, FridgeStatus]:
    """Each bag's ``FridgeStatus``: a bag with its preparation and order loaded, or a plain row with the bag's
    ``id``, ``released_at`` and ``product_id`` (the dashboard's)."""
    if not bags:
        return {}
    ids = {"ids": [bag.id for bag in bags]}
    # plain rows of statements built once (issue 18: the bedside asks this for every check)
    moves: dict[int, list[tuple[datetime, tuple[float, float] | None]]] = {}
    for move in plain(session, _MOVES, ids):
        place = None if move.min_celsius is None else (move.min_celsius, move.max_celsius)
        moves.setdefault(move.bag_id, []).append((move.at, place))
    started: dict[int, datetime] = {row.bag_id: row.started_at for row in plain(session, _STARTED, ids)}
    decisions: dict[int, Decision] = {}
    for row in plain(session, _USE_DECISIONS, ids):
        decisions[row.bag_id] = Decision(row.decision, row.reason, row.out_minutes, row.full_name, row.at)
    allowance = timedelta(minutes=pharmacy.settings.out_of_fridge_minutes)
    found = {}
    for bag in bags:
        band = pharmacy.product(bag.product_id).in_use_storage

        def fits(place, band=band) -> bool:  # (min °C, max °C) of the place the bag went to; None: out of storage
            return place is not None and range_fits(place[0], place[1], band.min_celsius, band.max_celsius)

        history = [Move(at, fits(place)) for at, place in moves.get(bag.id, [])]
        until = min(now, started.get(bag.id) or now)
        decision = decisions.get(bag.id)
        out = time_out_of_fridge(bag.released_at, history, until)
        since = time_out_of_fridge(bag.released_at, history, until, since=decision.at) if decision else out
        outside = bag.released_at is not None and bag.id not in started and (not history or not history[-1].fits)
        found[bag.id] = FridgeStatus(out, since, allowance, outside, decision)
    return found


def fridge_status(pharmacy: Pharmacy, bag: Bag | str) -> FridgeStatus:
    """The ``FridgeStatus`` of a bag already read (``bags.get_bag``: its page reads it once) or of a serial."""
    with pharmacy.uow(readonly=True) as uow:
        if isinstance(bag, str):
            bag = find_bag(uow.session, bag)
        return fridge_statuses(pharmacy, uow.session, [bag], clock.now())[bag.id]


def bedside_reasons(pharmacy: Pharmacy, session, bag: Bag, now: datetime) -> list[tuple[str, str]]:
    """(code, message) for the bedside (``administration._reasons``): a bag out of the fridge beyond
    the allowance with no pharmacist's decision to use it."""
    if not BAG.allows(state_of(bag, now), Event.START_INFUSION):
        return []
    status = fridge_statuses(pharmacy, session, [bag], now)[bag.id]
    if not status.flagged:
        return []
    return [("out_of_fridge", _("OUT OF FRIDGE: this bag has been out of the fridge for {duration} "
                                "(the pharmacy allows {allowance}). Do not give it: call the pharmacy, "
                                "a pharmacist decides whether it may be used.", duration=status.text,
                                allowance=status.allowance_text))]


class DecisionRefused(PharmacyError):
    code = "decision_refused"


DECISIONS = ("use", "discard")


def decide(pharmacy: Pharmacy, username: str, serial: str, decision: str, reason: str, password: str) -> Bag:
    """A pharmacist's decision on a bag out of the fridge beyond the allowance, signed with their
    password: ``use`` (the bedside then accepts the time out so far, and shows the decision) or
    ``discard`` (the bag is recorded as destroyed). Audited."""
    with refusals_recorded(pharmacy, username, "coldchain.decide", "bag", serial):
        if decision not in DECISIONS:
            raise DecisionRefused(_("Choose whether the bag may be used or is discarded."))
        why = (reason or "").strip()
        if len(why) < 5:
            raise DecisionRefused(_("Say why (for example: stability data for 2 h at room temperature; left on a trolley)."))
        users.check_signature(pharmacy, username, password, lazy("decision"))
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "coldchain.review")
            bag = find_bag(uow.session, serial, lock=True)
            now = clock.now()
            current = state_of(bag, now)
            if not BAG.allows(current, Event.START_INFUSION):
                raise StateConflict(_("Bag {serial} is {label}: there is nothing to decide.", serial=bag.serial, label=current.label))
            status = fridge_statuses(pharmacy, uow.session, [bag], now)[bag.id]
            if not status.flagged:
                raise StateConflict(_("Bag {serial} has been out of the fridge for {value_text}, within the "
                                      "{allowance_text} allowed: no decision is needed.",
                                      serial=bag.serial, value_text=status.text, allowance_text=status.allowance_text))
            minutes = int(status.out.total_seconds() // 60)
            uow.session.add(ColdChainDecision(bag_id=bag.id, decision=decision, reason=why, out_minutes=minutes,
                                              user_id=user.id, at=now))
            audit.append(uow.session, username, "coldchain.decision", "bag", bag.id,
                         new={"decision": decision, "out_minutes": minutes}, reason=why)
            if decision == "discard":
                destroyed = BAG.apply(current, Event.DISPOSE, user.role, what=_("Bag {serial}", serial=bag.serial))
                uow.session.add(Disposal(object_type="bag", object_id=bag.id, reason=f"Out of the fridge {status.text}: {why}",
                                         user_id=user.id, at=now))
                audit.append(uow.session, username, "bag.dispose", "bag", bag.id, old={"state": current},
                             new={"state": destroyed}, reason=f"Out of the fridge {status.text}: {why}")
                bag.state = destroyed
            uow.commit()
            return bag


# --- incidents: late excursions over bags already given --------------------------------------------

@dataclass(frozen=True)
class Incident:
    id: int
    serial: str
    bag_state: str
    location: str
    reading_at: datetime
    celsius: float
    min_celsius: float
    max_celsius: float
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    note: str | None


_INCIDENTS = (select(ExcursionIncident.id, Bag.serial, ExcursionIncident.bag_state, StorageLocation.name, TemperatureReading.at,
                     TemperatureReading.celsius, StorageLocation.min_celsius, StorageLocation.max_celsius,
                     ExcursionIncident.created_at, User.full_name, ExcursionIncident.acknowledged_at, ExcursionIncident.note)
              .join(Bag, ExcursionIncident.bag_id == Bag.id)
              .join(StorageLocation, ExcursionIncident.location_id == StorageLocation.id)
              .join(TemperatureReading, ExcursionIncident.reading_id == TemperatureReading.id)
              .outerjoin(User, ExcursionIncident.acknowledged_by == User.id)
              .order_by(ExcursionIncident.created_at.desc(), ExcursionIncident.id.desc()))
# by (open only, of one bag): plain rows of statements built once (issue 18: the dashboard asks at every load)
_INCIDENTS_BY = {
    (False, False): _INCIDENTS,
    (True, False): _INCIDENTS.where(ExcursionIncident.acknowledged_at.is_(None)),
    (False, True): _INCIDENTS.where(Bag.serial == bindparam("serial")),
    (True, True): _INCIDENTS.where(ExcursionIncident.acknowledged_at.is_(None), Bag.serial == bindparam("serial")),
}


def incidents(pharmacy: Pharmacy, open_only: bool = True, serial: str | None = None) -> list[Incident]:
    """Incidents, newest first: those not yet acknowledged (``open_only``), or every one of a bag."""
    with pharmacy.uow(readonly=True) as uow:
        return [Incident(*tuple(row)) for row in plain(uow.session, _INCIDENTS_BY[(open_only, serial is not None)],
                                                {"serial": serial} if serial is not None else None)]


def acknowledge(pharmacy: Pharmacy, username: str, incident_id: int, note: str) -> None:
    """A pharmacist acknowledges an incident with a note (patient reviewed, prescriber told …). Audited."""
    with refusals_recorded(pharmacy, username, "coldchain.acknowledge", "incident", incident_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "coldchain.review")
        incident = uow.session.get(ExcursionIncident, incident_id, with_for_update=True)
        if incident is None:
            raise NotFound(_("No cold-chain incident number {incident_id}.", incident_id=incident_id))
        if incident.acknowledged_at is not None:
            raise StateConflict(_("Incident {incident_id} was acknowledged already.", incident_id=incident_id))
        text = (note or "").strip()
        if len(text) < 5:
            raise PharmacyError(_("Write what was done (patient reviewed, prescriber informed …)."))
        incident.acknowledged_by, incident.acknowledged_at, incident.note = user.id, clock.now(), text
        audit.append(uow.session, username, "coldchain.incident_ack", "bag", incident.bag_id,
                     new={"incident": incident.id}, reason=text)
        uow.commit()
