"""Read-only views of the cold chain and the ward that the screens show and no use case returns: the
live bags with their use-by, each location's last reading and gaps, moves, excursions with the bags
they quarantined, and the infusions under way. States are decided from the clock at each call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import String, cast, func, select

from pharmacy import clock
from pharmacy.db.database import plain
from pharmacy.db.models import (
    Administration,
    AuditEntry,
    Bag,
    BagMove,
    Order,
    Patient,
    Preparation,
    StorageLocation,
    TemperatureReading,
    User,
)
from pharmacy.domain.coldchain import is_excursion
from pharmacy.domain.errors import NotFound
from pharmacy.domain.inuse import effective_state
from pharmacy.domain.lifecycle import BAG_ON_DASHBOARD, BAG_TO_DISCARD, BagState
from pharmacy.i18n import _
from pharmacy.services.administration import early_end_before, observation_end
from pharmacy.services.bags import start_by_for
from pharmacy.services.base import Pharmacy
from pharmacy.services.coldchain import FridgeStatus, fridge_statuses, location_gaps


@dataclass(frozen=True)
class LiveBag:
    serial: str
    batch: str
    state: str
    use_by: datetime
    patient_name: str
    patient_id: str
    ward: str
    scheduled_on: date
    location: str | None
    quarantine: Quarantine | None = None
    cold: FridgeStatus | None = None  # time out of refrigeration (H6)
    start_by: datetime | None = None  # START BY under the active policy (H4, services.bags.start_by_for)


@dataclass(frozen=True)
class Quarantine:
    """Why a bag was quarantined: the reading that did it, or (a recall) the reason given."""

    reason: str
    location: str | None = None
    reading_at: datetime | None = None
    celsius: float | None = None


def _quarantines(session, bag_ids: list[int]) -> dict[int, Quarantine]:
    """Each bag's latest quarantine."""
    if not bag_ids:
        return {}
    rows = session.execute(select(AuditEntry.object_id, AuditEntry.reason, AuditEntry.new_json).where(
        AuditEntry.action == "bag.quarantine", AuditEntry.object_type == "bag",
        AuditEntry.object_id.in_([str(i) for i in bag_ids])).order_by(AuditEntry.id)).all()
    found = {}
    for object_id, reason, new_json in rows:
        new = json.loads(new_json or "{}")
        at = datetime.fromisoformat(new["reading_at"]) if new.get("reading_at") else None
        found[int(object_id)] = Quarantine(reason or "", new.get("location"), at, new.get("celsius"))
    return found


# the live bags as plain rows, built once (issue 18: the ORM's bag, preparation and order objects were half the
# dashboard's time): what LiveBag shows, and what the cold chain and START BY need (id, released_at, product_id)
_LIVE_BAGS = (select(Bag.id, Bag.serial, Bag.batch, Bag.state, Bag.use_by, Bag.released_at, Order.product_id,
                     Order.scheduled_on, Patient.name.label("patient_name"), Patient.identifier, Patient.ward,
                     StorageLocation.name.label("location"))
              .join(Preparation, Bag.preparation_id == Preparation.id).join(Order, Preparation.order_id == Order.id)
              .join(Patient, Order.patient_id == Patient.id).outerjoin(StorageLocation, Bag.location_id == StorageLocation.id)
              .where(Bag.state.in_(BAG_ON_DASHBOARD)))


def live_bags(pharmacy: Pharmacy) -> list[LiveBag]:
    """Every bag awaiting check, released, stored, expired or quarantined: the ones to discard first,
    then the soonest use-by first."""
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        rows = plain(uow.session, _LIVE_BAGS).all()
        reasons = _quarantines(uow.session, [row.id for row in rows if row.state == BagState.QUARANTINED])
        cold = fridge_statuses(pharmacy, uow.session, rows, now)
    found = [LiveBag(row.serial, row.batch, effective_state(row.state, row.use_by, now), row.use_by, row.patient_name,
                     row.identifier, row.ward, row.scheduled_on, row.location, reasons.get(row.id), cold.get(row.id),
                     start_by_for(pharmacy, row.use_by, row.product_id))
             for row in rows]
    return sorted(found, key=lambda b: (b.state not in BAG_TO_DISCARD, b.use_by, b.serial))


@dataclass(frozen=True)
class LocationStatus:
    id: int
    name: str
    min_celsius: float
    max_celsius: float
    last_at: datetime | None
    last_celsius: float | None
    gaps: list[tuple[datetime, datetime]]
    bags_here: int

    @property
    def last_out_of_range(self) -> bool:
        return self.last_celsius is not None and is_excursion(self.last_celsius, self.min_celsius, self.max_celsius)


# the statements of locations(), built once (issue 18): each location's last reading, the bags in each (quarantined
# bags stay where they are until a pharmacist discards them), the locations by name
_LAST = (select(TemperatureReading.location_id, func.max(TemperatureReading.at).label("at"))
         .group_by(TemperatureReading.location_id).subquery())
_LAST_READINGS = (select(TemperatureReading.location_id, TemperatureReading.at, TemperatureReading.celsius)
                  .join(_LAST, (_LAST.c.location_id == TemperatureReading.location_id) & (_LAST.c.at == TemperatureReading.at)))
_STORED = (select(Bag.location_id, func.count().label("bags")).where(Bag.state.in_((BagState.STORED, BagState.QUARANTINED)))
           .group_by(Bag.location_id))
_LOCATIONS = (select(StorageLocation.id, StorageLocation.name, StorageLocation.min_celsius, StorageLocation.max_celsius)
              .order_by(StorageLocation.name))


def locations(pharmacy: Pharmacy, interval: timedelta) -> list[LocationStatus]:
    """Each location with its last reading, the gaps longer than ``interval`` over the last day
    (``coldchain.location_gaps``) and how many bags are there now (stored or quarantined)."""
    gaps = location_gaps(pharmacy, interval)
    with pharmacy.uow(readonly=True) as uow:
        readings = {row.location_id: (row.at, row.celsius) for row in plain(uow.session, _LAST_READINGS)}
        stored: dict[int | None, int] = {row.location_id: row.bags for row in plain(uow.session, _STORED)}
        return [LocationStatus(loc.id, loc.name, loc.min_celsius, loc.max_celsius, *readings.get(loc.id, (None, None)),
                               gaps.get(loc.name, []), stored.get(loc.id, 0))
                for loc in plain(uow.session, _LOCATIONS)]


def location(pharmacy: Pharmacy, location_id: int) -> StorageLocation:
    with pharmacy.uow(readonly=True) as uow:
        found = uow.session.get(StorageLocation, location_id)
        if found is None:
            raise NotFound(_("No storage location number {location_id}.", location_id=location_id))
        return found


@dataclass(frozen=True)
class Move:
    at: datetime
    serial: str
    location: str
    by: str


def moves(pharmacy: Pharmacy, location_id: int | None = None, limit: int = 50) -> list[Move]:
    """The latest bag moves into storage, newest first."""
    query = (select(BagMove.at, Bag.serial, StorageLocation.name, User.full_name)
             .join(Bag, BagMove.bag_id == Bag.id).join(StorageLocation, BagMove.location_id == StorageLocation.id)
             .join(User, BagMove.user_id == User.id).order_by(BagMove.at.desc(), BagMove.id.desc()).limit(limit))
    if location_id is not None:
        query = query.where(BagMove.location_id == location_id)
    with pharmacy.uow(readonly=True) as uow:
        return [Move(*row) for row in uow.session.execute(query).all()]


@dataclass(frozen=True)
class Excursion:
    at: datetime
    celsius: float
    source: str
    quarantined: list[str]


def excursions(pharmacy: Pharmacy, location_id: int, start: datetime, end: datetime) -> list[Excursion]:
    """Readings out of the location's range between ``start`` and ``end``, each with the bags it
    quarantined (from the audit entries ``coldchain.record`` wrote)."""
    with pharmacy.uow(readonly=True) as uow:
        session = uow.session
        place = session.get(StorageLocation, location_id)
        if place is None:
            raise NotFound(_("No storage location number {location_id}.", location_id=location_id))
        out = session.execute(select(TemperatureReading).where(
            TemperatureReading.location_id == location_id, TemperatureReading.at >= start, TemperatureReading.at <= end,
            (TemperatureReading.celsius < place.min_celsius) | (TemperatureReading.celsius > place.max_celsius))
            .order_by(TemperatureReading.at)).scalars().all()
        if not out:
            return []
        caused: dict[datetime, list[str]] = {}
        entries = session.execute(select(AuditEntry.new_json, Bag.serial)
                                  .join(Bag, AuditEntry.object_id == cast(Bag.id, String))
                                  .where(AuditEntry.action == "bag.quarantine", AuditEntry.object_type == "bag",
                                         AuditEntry.at >= start)).all()
        for new_json, serial in entries:
            new = json.loads(new_json or "{}")
            if new.get("location") == place.name and new.get("reading_at"):
                caused.setdefault(datetime.fromisoformat(new["reading_at"]).astimezone(UTC), []).append(serial)
        return [Excursion(r.at, r.celsius, r.source, caused.get(r.at.astimezone(UTC), [])) for r in out]


@dataclass(frozen=True)
class Infusion:
    serial: str
    patient_name: str
    patient_id: str
    ward: str
    started_at: datetime
    ended_at: datetime | None
    interrupted_reason: str | None
    nurse: str
    observe_until: datetime | None
    end_reason: str | None = None  # an early end's reason (domain.infusions.END_REASONS); the resumable one: may resume
    early_before: datetime | None = None  # under way: an end before this asks for a reason (H8)
    resumable: bool = False  # interrupted: the bag may go on (scanned again) or be ended


def infusions(pharmacy: Pharmacy, ended_since: datetime) -> list[Infusion]:
    """Infusions under way, and those ended since ``ended_since`` with the end of the patient's
    observation (as long as the product's monograph says); running ones first, then the latest end first."""
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(
            select(Administration, Bag.serial, Patient, User.full_name, Order.product_id, Bag.state)
            .join(Bag, Administration.bag_id == Bag.id).join(Patient, Administration.patient_id == Patient.id)
            .join(User, Administration.nurse_id == User.id).join(Preparation, Bag.preparation_id == Preparation.id)
            .join(Order, Preparation.order_id == Order.id)
            .where(Administration.ended_at.is_(None) | (Administration.ended_at >= ended_since))).all()
    found = [Infusion(serial, patient.name, patient.identifier, patient.ward, record.started_at, record.ended_at,
                      record.interrupted_reason, nurse,
                      observation_end(pharmacy, product_id, record.ended_at) if record.ended_at else None,
                      record.end_reason, None if record.ended_at else early_end_before(pharmacy, record, product_id),
                      state == BagState.INTERRUPTED)
             for record, serial, patient, nurse, product_id, state in rows]
    return sorted(found, key=lambda i: (i.ended_at is not None, -(i.ended_at or i.started_at).timestamp()))
