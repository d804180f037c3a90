"""Traceability (SPEC 5): from a lot to every bag and patient, a bag's whole history, a patient's
history, and the audit log — the questions a recall and an inspector ask."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select

from pharmacy import clock
from pharmacy.db.database import plain
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
from pharmacy.domain.identity import normalise_identifier
from pharmacy.domain.inuse import effective_state
from pharmacy.i18n import _
from pharmacy.services import recalls
from pharmacy.services.bags import find_bag
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

KINDS = ("vial", "diluent")
RECALL_KINDS = {"vial": recalls.VIAL_LOT, "diluent": recalls.DILUENT_LOT}  # a lot of this kind → the standing recall's
RECALL_COLUMNS = ["bag_serial", "batch", "state", "use_by", "patient_id", "patient_name", "ward", "vial_lot",
                  "vial_serial", "diluent_lot", "label_prints", "administration_started", "administration_ended",
                  "preparation", "prepared_by"]


def _recall_statement(kind: str, serial: bool):
    """Every bag of the lot (and serial): the values as parameters, compared normalised (``recalls.normalise``)."""
    prints = (select(func.count(LabelPrint.id)).where(LabelPrint.bag_id == Bag.id).correlate(Bag).scalar_subquery())
    query = (
        select(Bag.serial, Bag.batch, Bag.state, Bag.use_by, Patient.identifier, Patient.name, Patient.ward,
               Vial.lot, Vial.serial.label("vial_serial"), DiluentLot.lot.label("diluent_lot"), prints.label("prints"),
               Administration.started_at, Administration.ended_at, Preparation.id.label("preparation"),
               User.full_name)
        .join(Preparation, Bag.preparation_id == Preparation.id)
        .join(User, Preparation.prepared_by == User.id)
        .join(Order, Preparation.order_id == Order.id)
        .join(Patient, Order.patient_id == Patient.id)
        .join(Vial, Preparation.vial_id == Vial.id)
        .join(DiluentLot, Preparation.diluent_lot_id == DiluentLot.id)
        .outerjoin(Administration, Administration.bag_id == Bag.id)
    )
    return query.where(_received_condition(kind, serial)).order_by(Bag.serial)


def _received_condition(kind: str, serial: bool):
    if kind != "vial":
        return recalls.normalised(DiluentLot.lot) == bindparam("lot")
    condition = recalls.normalised(Vial.lot) == bindparam("lot")
    return condition & (recalls.normalised(Vial.serial) == bindparam("serial")) if serial else condition


# built once (issue 18), by kind and whether a serial is given: the bags, and whether anything was received
_RECALL = {(kind, serial): _recall_statement(kind, serial) for kind in KINDS for serial in (False, True)}
_RECEIVED = {(kind, serial): select(Vial.id if kind == "vial" else DiluentLot.id)
             .where(_received_condition(kind, serial)).limit(1) for kind in KINDS for serial in (False, True)}


def _values(lot: str, serial: str | None) -> dict[str, str | None]:
    return {"lot": recalls.normalise(lot), "serial": recalls.normalise(serial) if serial else None}


def _recall_lot(lot: str, kind: str) -> str:
    if kind not in KINDS:
        raise PharmacyError(_("Recall a vial lot or a diluent lot."))
    if not (lot or "").strip():
        raise PharmacyError(_("Give the lot number to recall."))
    return lot.strip()


def _recall_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < 10:
        raise PharmacyError(_("Give the recall reason (at least 10 characters), e.g. the manufacturer's notice."))
    return text


def _check_received(session, lot: str, kind: str, serial: str | None) -> None:
    """A lot (or serial) that matches nothing received says so, rather than an empty list."""
    found = plain(session, _RECEIVED[(kind, bool(serial))], _values(lot, serial)).first()
    if found is None:
        if serial:
            raise NotFound(_("No vial serial “{serial}” of vial lot “{lot}” was ever received.", serial=serial, lot=lot))
        raise NotFound(_("No {value} lot “{lot}” was ever received.", value='vial' if kind == 'vial' else 'diluent', lot=lot))


def recall(pharmacy: Pharmacy, lot: str, kind: str = "vial", serial: str | None = None) -> list[dict]:
    """Every bag made from a vial lot (or one vial serial) or a diluent lot, with its patient, state,
    label prints, administration times and preparer; then every preparation under way that uses it
    (no bag yet: ``bag_serial`` is None, ``state`` the preparation's), which the recall stops.
    Case and spaces do not matter (`` ra `` finds lot RA); a lot never received is ``NotFound``."""
    lot = _recall_lot(lot, kind)
    serial = (serial or "").strip() or None if kind == "vial" else None
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        _check_received(uow.session, lot, kind, serial)
        # Core execution: plain columns need none of the ORM's row machinery
        rows = plain(uow.session, _RECALL[(kind, bool(serial))], _values(lot, serial)).all()
        recall_kind = recalls.VIAL_SERIAL if serial else RECALL_KINDS[kind]
        stopped = recalls.under_way(uow.session, recall_kind, serial or lot)
    result = []
    for row in rows:
        item = dict(zip(RECALL_COLUMNS, row, strict=True))
        item["state"] = effective_state(item["state"], item["use_by"], now)
        result.append(item)
    for prep in stopped:
        result.append({"bag_serial": None, "batch": None, "state": prep["state"], "use_by": None,
                       "patient_id": prep["patient_id"], "patient_name": prep["patient_name"], "ward": prep["ward"],
                       "vial_lot": prep["vial_lot"], "vial_serial": prep["vial_serial"],
                       "diluent_lot": prep["diluent_lot"], "label_prints": 0, "administration_started": None,
                       "administration_ended": None, "preparation": prep["preparation"],
                       "prepared_by": prep["prepared_by"]})
    return result


def quarantine_preview(pharmacy: Pharmacy, lot: str, kind: str = "vial", reason: str | None = None) -> dict:
    """What ``quarantine_lot`` would do now, for the confirmation step (``reason``, when given, is
    checked as the action will check it): the bags not yet given, the unused stock, and the
    preparations under way it stops. Nothing is changed."""
    lot = _recall_lot(lot, kind)
    if reason is not None:
        _recall_reason(reason)
    with pharmacy.uow(readonly=True) as uow:
        return recalls.reach(uow.session, RECALL_KINDS[kind], lot).summary()


def quarantine_lot(pharmacy: Pharmacy, username: str, lot: str, kind: str, reason: str, *,
                   expected_bags: int | None = None, expected_stock: int | None = None) -> dict:
    """The confirmed recall action: the lot becomes a standing recall (``services.recalls``: refused
    at every step until a pharmacist lifts it), and every bag of the lot not yet given, the lot's
    stock and the vials of preparations under way are quarantined (audited, with the reason).
    ``expected_*``: the counts the user confirmed; if the lot changed since (a bag given or made
    meanwhile) nothing is done and the user confirms again."""
    with refusals_recorded(pharmacy, username, "recall.create", "recall", lot):
        lot, reason = _recall_lot(lot, kind), _recall_reason(reason)
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "trace.quarantine")
            done = recalls.record(uow.session, user, username, RECALL_KINDS[kind], lot, reason,
                                  expected={"bags": expected_bags, "stock": expected_stock})
            uow.commit()
            return {key: done[key] for key in ("bags", "stock", "preparations")}


# a bag's history in plain rows of statements built once (issue 18: the auditor's most read page; it read every
# user as an object, password hash and all, for their names)
_NAMES = select(User.id, User.full_name)
_ADMINISTRATION = (select(Administration.nurse_id, Administration.started_at, Administration.ended_at,
                          Administration.interrupted_reason).where(Administration.bag_id == bindparam("bag_id")))
_DISPOSALS = (select(Disposal.reason, Disposal.user_id, Disposal.at)
              .where(Disposal.object_type == "bag", Disposal.object_id == bindparam("bag_id")).order_by(Disposal.at))
_MOVES = (select(BagMove.at, BagMove.user_id, BagMove.location_id, StorageLocation.name)
          .outerjoin(StorageLocation, StorageLocation.id == BagMove.location_id)
          .where(BagMove.bag_id == bindparam("bag_id")).order_by(BagMove.at))
_READINGS = (select(TemperatureReading.at, TemperatureReading.celsius)
             .where(TemperatureReading.location_id == bindparam("location_id"), TemperatureReading.at >= bindparam("start"),
                    TemperatureReading.at <= bindparam("end")).order_by(TemperatureReading.at))
_QUARANTINES = (select(AuditEntry.username, AuditEntry.at, AuditEntry.reason).where(  # through the index on action
    AuditEntry.action == "bag.quarantine", AuditEntry.object_type == "bag", AuditEntry.object_id == bindparam("bag_id"))
    .order_by(AuditEntry.id))
_REFUSALS = (select(Refusal.at, Refusal.username, Refusal.action, Refusal.code, Refusal.message).where(or_(
    (Refusal.object_type == "preparation") & (Refusal.object_id == bindparam("prep_id")),
    (Refusal.object_type == "bag") & (Refusal.object_id == bindparam("serial")))).order_by(Refusal.at, Refusal.id))
_PRINTS = (select(LabelPrint.number, LabelPrint.user_id, LabelPrint.at, LabelPrint.stock, LabelPrint.destination)
           .where(LabelPrint.bag_id == bindparam("bag_id")).order_by(LabelPrint.number))


def bag_history(pharmacy: Pharmacy, serial: str) -> dict:
    """Everything about one bag, from vial to vein."""
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        session = uow.session
        bag = find_bag(session, serial)
        prep = bag.preparation
        vial, diluent_lot = prep.vial, prep.diluent_lot
        if vial is None or diluent_lot is None:  # a bag is made only from a recorded vial and diluent
            raise StateConflict(_("Bag {serial} has no vial or diluent recorded.", serial=bag.serial))
        names: dict[int, str] = {row.id: row.full_name for row in plain(session, _NAMES)}
        administration = plain(session, _ADMINISTRATION, {"bag_id": bag.id}).first()
        disposals = plain(session, _DISPOSALS, {"bag_id": bag.id}).all()
        moves = plain(session, _MOVES, {"bag_id": bag.id}).all()
        # the bag leaves its last location when its infusion starts or it is destroyed
        left_at = min([now] + ([administration.started_at] if administration else []) + [d.at for d in disposals])
        temps = []
        for index, move in enumerate(moves):
            until = min(moves[index + 1].at, left_at) if index + 1 < len(moves) else left_at
            temps += [{"location": move.name, "at": t.at, "celsius": t.celsius} for t in plain(
                session, _READINGS, {"location_id": move.location_id, "start": move.at, "end": until})]
        steps: list[dict[str, Any]] = [{"step": s.step, "by": names.get(s.user_id), "at": s.at, "detail": s.detail}
                                       for s in prep.steps]
        quarantines = plain(session, _QUARANTINES, {"bag_id": str(bag.id)}).all()
        refused = plain(session, _REFUSALS, {"prep_id": str(prep.id), "serial": bag.serial}).all()
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
                        "destination": p.destination} for p in plain(session, _PRINTS, {"bag_id": bag.id})],
            "moves": [{"location": m.name, "by": names.get(m.user_id), "at": m.at} for m in moves],
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
        patient = uow.session.execute(select(Patient).where(Patient.identifier == normalise_identifier(identifier))).scalar_one_or_none()
        if patient is None:
            raise NotFound(_("No patient with identifier “{identifier}”.", identifier=identifier))
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
