"""The bedside (SPEC 2.7): the nurse scans the bag label and the patient's wristband; the system
refuses, in plain words, a bag that must not be given, and records the start and end of the infusion."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Administration, Bag, Patient
from pharmacy.domain.errors import AdministrationRefused, NotFound, PharmacyError, ScanError, StateConflict
from pharmacy.domain.inuse import check_administration_window, format_local, to_local
from pharmacy.domain.lifecycle import BAG, BAG_GIVEN, BagState, Event
from pharmacy.services.bags import find_bag, state_of
from pharmacy.services.base import Pharmacy, actor, refusals_recorded
from pharmacy.services.stock import read_scan

_PLAIN_SERIAL = re.compile(r"^[A-Za-z0-9-]{1,20}$")


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass
class Verdict:
    ok: bool
    serial: str
    patient_name: str | None = None
    use_by: str | None = None
    reasons: list[Reason] = field(default_factory=list)


def bag_serial_from_scan(pharmacy: Pharmacy, raw: str) -> str:
    """The bag serial from its label's DataMatrix or GS1-128, or typed by hand from the label."""
    text = (raw or "").strip()
    if _PLAIN_SERIAL.match(text) and not text.isdigit():
        return text
    scan = read_scan(pharmacy, text)
    if not scan.serial:
        raise ScanError("This barcode is not a bag label (no serial (21)). Scan the bag's label.")
    if scan.gtin not in {p.preparation_gtin for p in pharmacy.catalog.products.values()}:
        raise ScanError(f"This barcode (GTIN {scan.gtin}) is not one of this pharmacy's bag labels.")
    return scan.serial


def _patient_from_wristband(pharmacy: Pharmacy, session, raw: str) -> Patient | None:
    text = (raw or "").strip()
    if not text:
        raise ScanError("Scan the patient's wristband.")
    # a GS1 wristband: with its symbology identifier, or (8018) and the 18-digit GSRN; anything else is
    # the hospital's patient identifier (which may well contain the digits 8018)
    if text.startswith("]") or (text.startswith("8018") and text[4:22].isdigit() and len(text) >= 22):
        scan = read_scan(pharmacy, text)
        if scan.gsrn:
            return session.execute(select(Patient).where(Patient.gsrn == scan.gsrn)).scalar_one_or_none()
    return session.execute(select(Patient).where(Patient.identifier == text)).scalar_one_or_none()


def _reasons(pharmacy: Pharmacy, session, bag: Bag, patient: Patient | None) -> list[Reason]:
    now = clock.now()
    order = bag.preparation.order
    monograph = pharmacy.product(order.product_id)
    reasons: list[Reason] = []
    state = state_of(bag, now)
    if state == BagState.QUARANTINED:
        reasons.append(Reason("quarantined", "QUARANTINED: this bag was taken out of use. Do not give it; return it to pharmacy."))
    elif state in BAG_GIVEN:
        reasons.append(Reason("already_given", "ALREADY GIVEN: this bag has been administered already."))
    elif state == BagState.AWAITING_CHECK:
        reasons.append(Reason("not_released", "NOT RELEASED: a pharmacist has not checked this bag yet."))
    elif state != BagState.EXPIRED and not BAG.allows(state, Event.START_INFUSION):
        reasons.append(Reason("not_usable", f"{state.label.upper()}: this bag must not be given."))
    try:
        duration = timedelta(seconds=monograph.infusion_duration.to("second").magnitude)
        check_administration_window(now, bag.use_by, duration, pharmacy.settings.administration_policy, pharmacy.zone)
    except PharmacyError as error:
        reasons.append(Reason("expired", "EXPIRED: " + error.message))
    if patient is None:
        reasons.append(Reason("unknown_patient", "UNKNOWN PATIENT: the wristband matches no patient. Scan it again."))
    elif patient.id != order.patient_id:
        reasons.append(Reason("wrong_patient", f"WRONG PATIENT: this bag is for {order.patient.name} "
                                               f"({order.patient.identifier}), not {patient.name} ({patient.identifier})."))
    today = to_local(now, pharmacy.zone).date()
    if order.scheduled_on != today:
        reasons.append(Reason("other_day", f"OTHER DAY: this dose is for {order.scheduled_on:%d %b %Y}, not today."))
    return reasons


def bedside_check(pharmacy: Pharmacy, username: str, bag_scan: str, wristband: str) -> Verdict:
    """Everything that stands against giving this bag to this patient now (empty list: give it)."""
    with pharmacy.uow(readonly=True) as uow:
        actor(uow.session, username, "ward.bedside")
        bag = find_bag(uow.session, bag_serial_from_scan(pharmacy, bag_scan))
        patient = _patient_from_wristband(pharmacy, uow.session, wristband)
        reasons = _reasons(pharmacy, uow.session, bag, patient)
        return Verdict(not reasons, bag.serial, bag.preparation.order.patient.name,
                       format_local(bag.use_by, pharmacy.zone), reasons)


def start(pharmacy: Pharmacy, username: str, bag_scan: str, wristband: str) -> Administration:
    with refusals_recorded(pharmacy, username, "administration.start", "bag", bag_scan), pharmacy.uow() as uow:
        nurse = actor(uow.session, username, "ward.bedside")
        bag = find_bag(uow.session, bag_serial_from_scan(pharmacy, bag_scan), lock=True)
        patient = _patient_from_wristband(pharmacy, uow.session, wristband)
        reasons = _reasons(pharmacy, uow.session, bag, patient)
        if reasons or patient is None:  # an unknown patient is one of the reasons
            raise AdministrationRefused(reasons)
        record = Administration(bag_id=bag.id, patient_id=patient.id, started_at=clock.now(), nurse_id=nurse.id)
        uow.session.add(record)
        old = bag.state
        bag.state = BAG.apply(state_of(bag), Event.START_INFUSION, nurse.role, what=f"Bag {bag.serial}")
        uow.session.flush()
        audit.append(uow.session, username, "administration.start", "bag", bag.id, old={"state": old},
                     new={"state": bag.state, "patient": patient.identifier})
        uow.commit()
        return record


def end(pharmacy: Pharmacy, username: str, serial: str, interrupted_reason: str | None = None) -> Administration:
    """The end of the infusion, or its interruption with a reason."""
    with refusals_recorded(pharmacy, username, "administration.end", "bag", serial), pharmacy.uow() as uow:
        nurse = actor(uow.session, username, "ward.bedside")
        bag = find_bag(uow.session, serial, lock=True)
        record = uow.session.execute(select(Administration).where(Administration.bag_id == bag.id)).scalar_one_or_none()
        if record is None:
            raise NotFound(f"Bag {bag.serial} has no administration to end.")
        if record.ended_at is not None:
            raise StateConflict(f"The infusion of bag {bag.serial} was already ended.")
        reason = (interrupted_reason or "").strip() or None
        old = bag.state
        administered = BAG.apply(old, Event.END_INFUSION, nurse.role, what=f"Bag {bag.serial}")
        record.ended_at, record.interrupted_reason = clock.now(), reason
        bag.state = administered
        audit.append(uow.session, username, "administration.interrupt" if reason else "administration.end", "bag",
                     bag.id, old={"state": old}, new={"state": bag.state}, reason=reason)
        uow.commit()
        return record


def observation_end(pharmacy: Pharmacy, product_id: str, ended_at: datetime) -> datetime:
    """When the observation after the infusion ends (the monograph's ``infusion.observation``)."""
    return ended_at + timedelta(seconds=pharmacy.product(product_id).observation.to("second").magnitude)


def observation_until(pharmacy: Pharmacy, record: Administration) -> str | None:
    if record.ended_at is None:
        return None
    with pharmacy.uow(readonly=True) as uow:
        bag = uow.session.get(Bag, record.bag_id)
        if bag is None:
            raise NotFound(f"Bag {record.bag_id} does not exist.")
        product_id = bag.preparation.order.product_id
    return format_local(observation_end(pharmacy, product_id, record.ended_at), pharmacy.zone)
