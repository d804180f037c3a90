"""Traceability (SPEC 5): from a lot to every bag and patient, a bag's whole history, a patient's
history, and the audit log — the questions a recall and an inspector ask."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import (
    Administration,
    AuditEntry,
    Bag,
    BagMove,
    DiluentLot,
    Disposal,
    LabelPrint,
    Order,
    Patient,
    Preparation,
    StorageLocation,
    TemperatureReading,
    User,
    Vial,
)
from pharmacy.domain.errors import NotFound, PharmacyError
from pharmacy.domain.inuse import LIVE_BAG_STATES, effective_state
from pharmacy.services.bags import _bag
from pharmacy.services.base import Pharmacy, actor

KINDS = ("vial", "diluent")
RECALL_COLUMNS = ["bag_serial", "batch", "state", "use_by", "patient_id", "patient_name", "ward", "vial_lot",
                  "vial_serial", "diluent_lot", "label_prints", "administration_started", "administration_ended"]


def _recall_query(lot: str, kind: str, serial: str | None = None):
    prints = (select(func.count(LabelPrint.id)).where(LabelPrint.bag_id == Bag.id).correlate(Bag).scalar_subquery())
    query = (
        select(Bag.serial, Bag.batch, Bag.state, Bag.use_by, Patient.identifier, Patient.name, Patient.ward,
               Vial.lot, Vial.serial.label("vial_serial"), DiluentLot.lot.label("diluent_lot"), prints.label("prints"),
               Administration.started_at, Administration.ended_at)
        .join(Preparation, Bag.preparation_id == Preparation.id)
        .join(Order, Preparation.order_id == Order.id)
        .join(Patient, Order.patient_id == Patient.id)
        .join(Vial, Preparation.vial_id == Vial.id)
        .join(DiluentLot, Preparation.diluent_lot_id == DiluentLot.id)
        .outerjoin(Administration, Administration.bag_id == Bag.id)
    )
    if kind == "vial":
        query = query.where(Vial.lot == lot)
        if serial:
            query = query.where(Vial.serial == serial)
    else:
        query = query.where(DiluentLot.lot == lot)
    return query.order_by(Bag.serial)


def recall(pharmacy: Pharmacy, lot: str, kind: str = "vial", serial: str | None = None) -> list[dict]:
    """Every bag made from a vial lot (or one vial serial) or a diluent lot, with its patient, state,
    label prints and administration times."""
    if kind not in KINDS:
        raise PharmacyError("Recall a vial lot or a diluent lot.")
    if not (lot or "").strip():
        raise PharmacyError("Give the lot number to recall.")
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        # Core execution: plain columns need none of the ORM's row machinery
        rows = uow.session.connection().execute(_recall_query(lot.strip(), kind, serial)).all()
    result = []
    for row in rows:
        item = dict(zip(RECALL_COLUMNS, row, strict=True))
        item["state"] = effective_state(item["state"], item["use_by"], now)
        result.append(item)
    return result


def quarantine_lot(pharmacy: Pharmacy, username: str, lot: str, kind: str, reason: str) -> dict:
    """The confirmed recall action: every bag of the lot not yet given, and the lot's stock, is
    quarantined (audited, with the reason)."""
    if len((reason or "").strip()) < 10:
        raise PharmacyError("Give the recall reason (at least 10 characters), e.g. the manufacturer's notice.")
    with pharmacy.uow() as uow:
        actor(uow.session, username, "pharmacist")
        serials = [r.serial for r in uow.session.execute(_recall_query(lot, kind)).all()]
        bags = uow.session.execute(select(Bag).where(Bag.serial.in_(serials), Bag.state.in_(LIVE_BAG_STATES))).scalars().all()
        for bag in bags:
            audit.append(uow.session, username, "bag.quarantine", "bag", bag.id, old={"state": bag.state},
                         new={"state": "quarantined"}, reason=f"recall of {kind} lot {lot}: {reason.strip()}")
            bag.state = "quarantined"
        stock = (uow.session.execute(select(Vial).where(Vial.lot == lot, Vial.state == "received")).scalars().all()
                 if kind == "vial" else
                 uow.session.execute(select(DiluentLot).where(DiluentLot.lot == lot, DiluentLot.state == "received")).scalars().all())
        for item in stock:
            item.state = "quarantined"
            audit.append(uow.session, username, f"{kind}.quarantine", "vial" if kind == "vial" else "diluent_lot",
                         item.id, old={"state": "received"}, new={"state": "quarantined"},
                         reason=f"recall of lot {lot}: {reason.strip()}")
        uow.commit()
        return {"bags": [b.serial for b in bags], "stock": len(stock)}


def bag_history(pharmacy: Pharmacy, serial: str) -> dict:
    """Everything about one bag, from vial to vein."""
    with pharmacy.uow(readonly=True) as uow:
        session = uow.session
        bag = _bag(session, serial)
        prep = bag.preparation
        names = {u.id: u.full_name for u in session.execute(select(User)).scalars()}
        moves = session.execute(select(BagMove, StorageLocation.name).outerjoin(StorageLocation)
                                .where(BagMove.bag_id == bag.id).order_by(BagMove.at)).all()
        temps = []
        for index, (move, location_name) in enumerate(moves):
            until = moves[index + 1][0].at if index + 1 < len(moves) else clock.now()
            temps += [{"location": location_name, "at": t.at, "celsius": t.celsius} for t in session.execute(
                select(TemperatureReading).where(TemperatureReading.location_id == move.location_id,
                                                 TemperatureReading.at >= move.at, TemperatureReading.at <= until)
                .order_by(TemperatureReading.at)).scalars()]
        administration = session.execute(select(Administration).where(Administration.bag_id == bag.id)).scalar_one_or_none()
        return {
            "bag": {"serial": bag.serial, "batch": bag.batch, "state": effective_state(bag.state, bag.use_by, clock.now()),
                    "use_by": bag.use_by, "released_at": bag.released_at},
            "patient": {"identifier": prep.order.patient.identifier, "name": prep.order.patient.name,
                        "ward": prep.order.patient.ward},
            "order": {"id": prep.order.id, "course": prep.order.course, "day": prep.order.course_day,
                      "scheduled_on": prep.order.scheduled_on, "override_reason": prep.order.override_reason},
            "ingredients": [
                {"kind": "vial", "gtin": prep.vial.gtin, "lot": prep.vial.lot, "serial": prep.vial.serial,
                 "expiry": prep.vial.expiry},
                {"kind": "diluent", "gtin": prep.diluent_lot.gtin, "lot": prep.diluent_lot.lot, "serial": None,
                 "expiry": prep.diluent_lot.expiry},
            ],
            "steps": [{"step": s.step, "by": names.get(s.user_id), "at": s.at, "detail": s.detail} for s in prep.steps],
            "prints": [{"number": p.number, "by": names.get(p.user_id), "at": p.at, "stock": p.stock,
                        "destination": p.destination} for p in session.execute(
                select(LabelPrint).where(LabelPrint.bag_id == bag.id).order_by(LabelPrint.number)).scalars()],
            "moves": [{"location": name, "by": names.get(m.user_id), "at": m.at} for m, name in moves],
            "temperatures": temps,
            "administration": None if administration is None else {
                "by": names.get(administration.nurse_id), "started_at": administration.started_at,
                "ended_at": administration.ended_at, "interrupted_reason": administration.interrupted_reason},
            "disposal": [{"reason": d.reason, "by": names.get(d.user_id), "at": d.at} for d in session.execute(
                select(Disposal).where(Disposal.object_type == "bag", Disposal.object_id == bag.id)).scalars()],
        }


def patient_history(pharmacy: Pharmacy, identifier: str) -> dict:
    with pharmacy.uow(readonly=True) as uow:
        patient = uow.session.execute(select(Patient).where(Patient.identifier == (identifier or "").strip())).scalar_one_or_none()
        if patient is None:
            raise NotFound(f"No patient with identifier “{identifier}”.")
        rows = uow.session.execute(
            select(Order, Bag.serial, Bag.state, Bag.use_by, Administration.started_at, Administration.ended_at)
            .outerjoin(Preparation, Preparation.order_id == Order.id)
            .outerjoin(Bag, Bag.preparation_id == Preparation.id)
            .outerjoin(Administration, Administration.bag_id == Bag.id)
            .where(Order.patient_id == patient.id).order_by(Order.scheduled_on, Order.id)).all()
        now = clock.now()
        return {
            "patient": {"identifier": patient.identifier, "name": patient.name, "date_of_birth": patient.date_of_birth,
                        "ward": patient.ward},
            "orders": [{"order": o.id, "course": o.course, "day": o.course_day, "scheduled_on": o.scheduled_on,
                        "state": o.state, "violations": o.violations, "override_reason": o.override_reason,
                        "bag": serial, "bag_state": effective_state(state, use_by, now) if serial else None,
                        "administration_started": started, "administration_ended": ended}
                       for o, serial, state, use_by, started, ended in rows],
        }


def audit_log(pharmacy: Pharmacy, *, start: datetime | None = None, end: datetime | None = None,
              username: str | None = None, action: str | None = None, object_type: str | None = None,
              object_id: str | None = None, page: int = 1, per_page: int = 100) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and the total count matching the filters."""
    conditions = []
    if start:
        conditions.append(AuditEntry.at >= start)
    if end:
        conditions.append(AuditEntry.at < end)
    if username:
        conditions.append(AuditEntry.username == username)
    if action:
        conditions.append(or_(AuditEntry.action == action, AuditEntry.action.like(f"{action}.%")))
    if object_type:
        conditions.append(AuditEntry.object_type == object_type)
    if object_id:
        conditions.append(AuditEntry.object_id == str(object_id))
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), 1000)
    with pharmacy.uow(readonly=True) as uow:
        total = uow.session.execute(select(func.count()).select_from(AuditEntry).where(*conditions)).scalar_one()
        entries = uow.session.execute(select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                                      .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    return list(entries), total
