"""Temperature readings in (form, CSV import, monitoring systems) and the quarantine they trigger."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Bag, BagMove, StorageLocation, TemperatureReading
from pharmacy.domain.coldchain import Reading, ReadingError, gaps, is_excursion, reading
from pharmacy.domain.errors import NotFound, PharmacyError
from pharmacy.domain.lifecycle import BAG, Event
from pharmacy.services.base import Pharmacy, actor


@dataclass
class Recorded:
    imported: int = 0
    duplicates: int = 0
    quarantined: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)


def _quarantine(session, username: str, location: StorageLocation, row: Reading) -> list[str]:
    """Every still-stored bag that was at ``location`` when the out-of-range reading was taken — also
    one moved elsewhere since (a CSV of the fridge log often comes in after the bag went to the ward)."""
    been_there = select(BagMove.bag_id).where(BagMove.location_id == location.id, BagMove.at <= row.at)
    stored = session.execute(select(Bag).where(Bag.id.in_(been_there), Bag.state.in_(BAG.sources(Event.EXCURSION)))).scalars().all()
    serials = []
    for bag in stored:
        there_then = session.execute(select(BagMove.location_id).where(BagMove.bag_id == bag.id, BagMove.at <= row.at)
                                     .order_by(BagMove.at.desc(), BagMove.id.desc()).limit(1)).scalar_one()
        if there_then != location.id:
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
    with pharmacy.uow() as uow:
        actor(uow.session, username, "temps.record")
        locations = {loc.name: loc for loc in uow.session.execute(select(StorageLocation)).scalars()}
        known: dict[int, set[datetime]] = {}
        for number, row in items:
            location = locations.get(row.location)
            if location is None:
                result.errors.append((number, f"unknown location “{row.location}”"))
                continue
            if location.id not in known:
                known[location.id] = _stored_times(uow.session, location.id, [r for _n, r in items if r.location == row.location])
            if row.at in known[location.id]:
                result.duplicates += 1
                continue
            known[location.id].add(row.at)
            uow.session.add(TemperatureReading(location_id=location.id, at=row.at, celsius=row.celsius, source=source))
            result.imported += 1
            if is_excursion(row.celsius, location.min_celsius, location.max_celsius):
                uow.session.flush()
                result.quarantined += _quarantine(uow.session, username, location, row)
        result.errors.sort()
        audit.append(uow.session, username, "temps.record", "readings", source, new={
            "imported": result.imported, "duplicates": result.duplicates, "errors": len(result.errors),
            "quarantined": result.quarantined})
        uow.commit()
    return result


def import_csv(pharmacy: Pharmacy, username: str, text: str) -> Recorded:
    """CSV with a header ``location,time,celsius`` (time with its UTC offset). Bad rows are reported
    by line number and left out; good rows are kept."""
    items, errors = [], []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"location", "time", "celsius"} - set(reader.fieldnames or [])
    if missing:
        raise PharmacyError(f"The CSV header must name location, time and celsius (missing: {', '.join(sorted(missing))}).")
    for row in reader:
        try:
            items.append((reader.line_num, reading(row.get("location") or "", row.get("time") or "", row.get("celsius") or "")))
        except ReadingError as error:
            errors.append((reader.line_num, error.message))
    return record(pharmacy, username, items, "csv", errors)


def location_gaps(pharmacy: Pharmacy, interval: timedelta) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per location, the stretches without a reading longer than ``interval`` over the last day."""
    now = clock.now()
    since = now - timedelta(days=1)
    found: dict[str, list] = {}
    with pharmacy.uow(readonly=True) as uow:
        for location in uow.session.execute(select(StorageLocation)).scalars():
            times = uow.session.execute(select(TemperatureReading.at).where(
                TemperatureReading.location_id == location.id, TemperatureReading.at >= since)).scalars().all()
            # from the start of the window: a day's silence before one late reading is a gap too
            found[location.name] = gaps([since, *times], interval, until=now)
    return found


def readings_for(pharmacy: Pharmacy, location_name: str, start: datetime, end: datetime) -> list[TemperatureReading]:
    with pharmacy.uow(readonly=True) as uow:
        location = uow.session.execute(select(StorageLocation).where(StorageLocation.name == location_name)).scalar_one_or_none()
        if location is None:
            raise NotFound(f"No storage location “{location_name}”.")
        return list(uow.session.execute(select(TemperatureReading).where(
            TemperatureReading.location_id == location.id, TemperatureReading.at >= start,
            TemperatureReading.at <= end).order_by(TemperatureReading.at)).scalars())
