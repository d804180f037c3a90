"""Traceability (SPEC 5): from a lot to every bag and patient, a bag's whole history, a patient's
history, and the audit log — the questions a recall and an inspector ask."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    Refusal,
    StorageLocation,
    TemperatureReading,
    User,
    Vial,
)
from pharmacy.domain.errors import NotFound, PharmacyError, StateConflict
from pharmacy.domain.inuse import effective_state
from pharmacy.domain.lifecycle import BAG, LOT, VIAL, Event
from pharmacy.services.bags import find_bag
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


def _recall_lot(lot: str, kind: str) -> str:
    if kind not in KINDS:
        raise PharmacyError("Recall a vial lot or a diluent lot.")
    if not (lot or "").strip():
        raise PharmacyError("Give the lot number to recall.")
    return lot.strip()


def _recall_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < 10:
        raise PharmacyError("Give the recall reason (at least 10 characters), e.g. the manufacturer's notice.")
    return text


def recall(pharmacy: Pharmacy, lot: str, kind: str = "vial", serial: str | None = None) -> list[dict]:
    """Every bag made from a vial lot (or one vial serial) or a diluent lot, with its patient, state,
    label prints and administration times."""
    lot = _recall_lot(lot, kind)
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        # Core execution: plain columns need none of the ORM's row machinery
        rows = uow.session.connection().execute(_recall_query(lot, kind, (serial or "").strip() or None)).all()
    result = []
    for row in rows:
        item = dict(zip(RECALL_COLUMNS, row, strict=True))
        item["state"] = effective_state(item["state"], item["use_by"], now)
        result.append(item)
    return result


def _to_quarantine(session, lot: str, kind: str) -> tuple[list[Bag], list]:
    """What the recall action would quarantine: every bag of the lot not yet given (expired ones
    included) and the lot's unused stock. One query for the preview and for the action."""
    made = _recall_query(lot, kind).subquery()  # a subquery, not a list of serials: a lot may have many bags
    bags = session.execute(select(Bag).where(Bag.serial.in_(select(made.c.serial)), Bag.state.in_(BAG.sources(Event.RECALL)))
                           .order_by(Bag.serial)).scalars().all()
    model, lifecycle = (Vial, VIAL) if kind == "vial" else (DiluentLot, LOT)
    stock = session.execute(select(model).where(model.lot == lot, model.state.in_(lifecycle.sources(Event.RECALL))))\
        .scalars().all()
    return list(bags), list(stock)


def quarantine_preview(pharmacy: Pharmacy, lot: str, kind: str = "vial", reason: str | None = None) -> dict:
    """What ``quarantine_lot`` would do now, for the confirmation step (``reason``, when given, is
    checked as the action will check it). Nothing is changed."""
    lot = _recall_lot(lot, kind)
    if reason is not None:
        _recall_reason(reason)
    with pharmacy.uow(readonly=True) as uow:
        bags, stock = _to_quarantine(uow.session, lot, kind)
        return {"bags": [b.serial for b in bags], "stock": len(stock)}


def quarantine_lot(pharmacy: Pharmacy, username: str, lot: str, kind: str, reason: str, *,
                   expected_bags: int | None = None, expected_stock: int | None = None) -> dict:
    """The confirmed recall action: every bag of the lot not yet given, and the lot's stock, is
    quarantined (audited, with the reason). ``expected_*``: the counts the user confirmed; if the
    lot changed since (a bag given or made meanwhile) nothing is done and the user confirms again."""
    lot, reason = _recall_lot(lot, kind), _recall_reason(reason)
    with pharmacy.uow() as uow:
        user = actor(uow.session, username, "trace.quarantine")
        bags, stock = _to_quarantine(uow.session, lot, kind)
        if (expected_bags is not None and expected_bags != len(bags)) or \
                (expected_stock is not None and expected_stock != len(stock)):
            raise StateConflict(f"Lot {lot} changed since you confirmed: it now has {len(bags)} bag(s) not yet "
                                f"given and {len(stock)} stock item(s). Nothing was quarantined: check and confirm again.")
        for bag in bags:
            old, bag.state = bag.state, BAG.apply(bag.state, Event.RECALL, user.role)
            audit.append(uow.session, username, "bag.quarantine", "bag", bag.id, old={"state": old},
                         new={"state": bag.state}, reason=f"recall of {kind} lot {lot}: {reason}")
        for item in stock:
            old, item.state = item.state, (VIAL if kind == "vial" else LOT).apply(item.state, Event.RECALL, user.role)
            audit.append(uow.session, username, f"{kind}.quarantine", "vial" if kind == "vial" else "diluent_lot",
                         item.id, old={"state": old}, new={"state": item.state},
                         reason=f"recall of lot {lot}: {reason}")
        uow.commit()
        return {"bags": [b.serial for b in bags], "stock": len(stock)}


def bag_history(pharmacy: Pharmacy, serial: str) -> dict:
    """Everything about one bag, from vial to vein."""
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        session = uow.session
        bag = find_bag(session, serial)
        prep = bag.preparation
        vial, diluent_lot = prep.vial, prep.diluent_lot
        if vial is None or diluent_lot is None:  # a bag is made only from a recorded vial and diluent
            raise StateConflict(f"Bag {bag.serial} has no vial or diluent recorded.")
        names = {u.id: u.full_name for u in session.execute(select(User)).scalars()}
        administration = session.execute(select(Administration).where(Administration.bag_id == bag.id)).scalar_one_or_none()
        disposals = session.execute(select(Disposal).where(Disposal.object_type == "bag", Disposal.object_id == bag.id)
                                    .order_by(Disposal.at)).scalars().all()
        moves = session.execute(select(BagMove, StorageLocation.name).outerjoin(StorageLocation)
                                .where(BagMove.bag_id == bag.id).order_by(BagMove.at)).all()
        # the bag leaves its last location when its infusion starts or it is destroyed
        left_at = min([now] + ([administration.started_at] if administration else []) + [d.at for d in disposals])
        temps = []
        for index, (move, location_name) in enumerate(moves):
            until = min(moves[index + 1][0].at, left_at) if index + 1 < len(moves) else left_at
            temps += [{"location": location_name, "at": t.at, "celsius": t.celsius} for t in session.execute(
                select(TemperatureReading).where(TemperatureReading.location_id == move.location_id,
                                                 TemperatureReading.at >= move.at, TemperatureReading.at <= until)
                .order_by(TemperatureReading.at)).scalars()]
        steps: list[dict[str, Any]] = [{"step": s.step, "by": names.get(s.user_id), "at": s.at, "detail": s.detail}
                                       for s in prep.steps]
        quarantines = session.execute(select(AuditEntry).where(  # found through the index on action
            AuditEntry.action == "bag.quarantine", AuditEntry.object_type == "bag", AuditEntry.object_id == str(bag.id))
            .order_by(AuditEntry.id)).scalars().all()
        refused = session.execute(select(Refusal).where(or_(
            (Refusal.object_type == "preparation") & (Refusal.object_id == str(prep.id)),
            (Refusal.object_type == "bag") & (Refusal.object_id == bag.serial))).order_by(Refusal.at, Refusal.id)).scalars()
        return {
            "bag": {"serial": bag.serial, "batch": bag.batch, "state": effective_state(bag.state, bag.use_by, now),
                    "use_by": bag.use_by, "released_at": bag.released_at, "dilution_time": prep.dilution_time},
            "patient": {"identifier": prep.order.patient.identifier, "name": prep.order.patient.name,
                        "ward": prep.order.patient.ward},
            "order": {"id": prep.order.id, "course": prep.order.course, "day": prep.order.course_day,
                      "scheduled_on": prep.order.scheduled_on, "override_reason": prep.order.override_reason},
            "ingredients": [
                {"kind": "vial", "gtin": vial.gtin, "lot": vial.lot, "serial": vial.serial, "expiry": vial.expiry},
                {"kind": "diluent", "gtin": diluent_lot.gtin, "lot": diluent_lot.lot, "serial": None,
                 "expiry": diluent_lot.expiry},
            ],
            "steps": steps,
            # the electronic signatures: the preparer's (sign) and the checker's (release or rejection)
            "signatures": [{"meaning": (s["detail"] or {}).get("meaning", s["step"]), "by": s["by"], "at": s["at"],
                            "reason": (s["detail"] or {}).get("reason")}
                           for s in steps if s["step"] in ("sign", "check")],
            "prints": [{"number": p.number, "by": names.get(p.user_id), "at": p.at, "stock": p.stock,
                        "destination": p.destination} for p in session.execute(
                select(LabelPrint).where(LabelPrint.bag_id == bag.id).order_by(LabelPrint.number)).scalars()],
            "moves": [{"location": name, "by": names.get(m.user_id), "at": m.at} for m, name in moves],
            "temperatures": temps,
            "quarantines": [{"by": e.username, "at": e.at, "reason": e.reason} for e in quarantines],
            "administration": None if administration is None else {
                "by": names.get(administration.nurse_id), "started_at": administration.started_at,
                "ended_at": administration.ended_at, "interrupted_reason": administration.interrupted_reason},
            "disposal": [{"reason": d.reason, "by": names.get(d.user_id), "at": d.at} for d in disposals],
            # near misses on the way: refused scans, volumes, self-checks, bedside checks
            "refusals": [{"at": r.at, "by": r.username, "action": r.action, "code": r.code, "message": r.message}
                         for r in refused],
        }


def patient_history(pharmacy: Pharmacy, identifier: str) -> dict:
    """Every order of a patient with its course and day and any course-rule override, every
    preparation made for it, and every administration."""
    with pharmacy.uow(readonly=True) as uow:
        patient = uow.session.execute(select(Patient).where(Patient.identifier == (identifier or "").strip())).scalar_one_or_none()
        if patient is None:
            raise NotFound(f"No patient with identifier “{identifier}”.")
        # keyed by id, and asked with the optional user columns too (no user: None)
        names: dict[int | None, str] = {u.id: u.full_name for u in uow.session.execute(select(User)).scalars()}
        rows = uow.session.execute(
            select(Order, Preparation, Vial.lot, Bag.serial, Bag.state, Bag.use_by, Administration)
            .outerjoin(Preparation, Preparation.order_id == Order.id)
            .outerjoin(Vial, Preparation.vial_id == Vial.id)
            .outerjoin(Bag, Bag.preparation_id == Preparation.id)
            .outerjoin(Administration, Administration.bag_id == Bag.id)
            .where(Order.patient_id == patient.id).order_by(Order.scheduled_on, Order.id, Preparation.id)).all()
        now = clock.now()
        return {
            "patient": {"identifier": patient.identifier, "name": patient.name, "date_of_birth": patient.date_of_birth,
                        "ward": patient.ward},
            "orders": [{"order": o.id, "course": o.course, "day": o.course_day, "scheduled_on": o.scheduled_on,
                        "state": o.state, "violations": o.violations, "override_reason": o.override_reason,
                        "override_by": names.get(o.override_by),
                        "preparation": p.id if p else None, "preparation_state": p.state if p else None,
                        "prepared_by": names.get(p.prepared_by) if p else None, "signed_at": p.signed_at if p else None,
                        "checked_by": names.get(p.checked_by) if p else None, "checked_at": p.checked_at if p else None,
                        "vial_lot": vial_lot,
                        "bag": serial, "bag_state": effective_state(state, use_by, now) if serial else None,
                        "administration_started": a.started_at if a else None,
                        "administration_ended": a.ended_at if a else None,
                        "administered_by": names.get(a.nurse_id) if a else None,
                        "interrupted_reason": a.interrupted_reason if a else None}
                       for o, p, vial_lot, serial, state, use_by, a in rows],
        }


def audit_conditions(*, start: datetime | None = None, end: datetime | None = None, username: str | None = None,
                     action: str | None = None, object_type: str | None = None, object_id: str | None = None) -> list:
    """The audit log filters as SQL conditions: ``[start, end)`` in UTC; an action matches itself
    and its sub-actions (``label`` finds ``label.print`` and ``label.reprint``)."""
    conditions = []
    if start:
        conditions.append(AuditEntry.at >= start)
    if end:
        conditions.append(AuditEntry.at < end)
    if username:
        conditions.append(AuditEntry.username == username)
    if action:
        conditions.append(or_(AuditEntry.action == action, AuditEntry.action.startswith(f"{action}.", autoescape=True)))
    if object_type:
        conditions.append(AuditEntry.object_type == object_type)
    if object_id:
        conditions.append(AuditEntry.object_id == str(object_id))
    return conditions


def audit_log(pharmacy: Pharmacy, *, page: int = 1, per_page: int = 100, **filters) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and the total count matching the filters
    (``audit_conditions``)."""
    conditions = audit_conditions(**filters)
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), 1000)
    with pharmacy.uow(readonly=True) as uow:
        total = uow.session.execute(select(func.count()).select_from(AuditEntry).where(*conditions)).scalar_one()
        entries = uow.session.execute(select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                                      .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    return list(entries), total
