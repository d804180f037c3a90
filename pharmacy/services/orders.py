"""Dose orders (SPEC 2.2): entry with the course rules of SmPC 4.2, pharmacist verification with the
pre-medication confirmation, overrides with a written reason, and the day's worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Order, Patient
from pharmacy.domain.courses import Dose, check_course
from pharmacy.domain.errors import CourseRuleBreach, NotFound, PharmacyError
from pharmacy.domain.gs1 import validate_gsrn
from pharmacy.domain.lifecycle import ORDER, ORDER_COUNTS_FOR_COURSE, ORDER_ON_WORKLIST, ORDER_TO_VERIFY, Event, OrderState
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

MIN_REASON = 10


@dataclass(frozen=True)
class PatientDetails:
    identifier: str
    name: str
    date_of_birth: date
    ward: str
    gsrn: str | None = None


def _patient(session, details: PatientDetails, username: str) -> Patient:
    """The patient with this identifier; a known identifier with another name or birth date is
    refused (a mistyped identifier must never attach a dose to someone else)."""
    identifier = (details.identifier or "").strip()
    name = (details.name or "").strip()
    if not identifier or not name or not (details.ward or "").strip():
        raise PharmacyError("Patient identifier, name, date of birth and ward are all required.")
    if details.date_of_birth > clock.now().date():
        raise PharmacyError("The date of birth is in the future.")
    if details.gsrn:
        validate_gsrn(details.gsrn)
    patient = session.execute(select(Patient).where(Patient.identifier == identifier)).scalar_one_or_none()
    if patient is None:
        patient = Patient(identifier=identifier, name=name, date_of_birth=details.date_of_birth,
                          ward=details.ward.strip(), gsrn=details.gsrn or None)
        session.add(patient)
        session.flush()
        audit.append(session, username, "patient.add", "patient", patient.id,
                     new={"identifier": identifier, "ward": patient.ward})
        return patient
    if patient.name != name or patient.date_of_birth != details.date_of_birth:
        raise PharmacyError(
            f"Patient identifier {identifier} belongs to a patient with another name or date of birth. "
            "Check the wristband and the prescription; nothing was recorded.")
    if patient.ward != details.ward.strip():
        audit.append(session, username, "patient.ward", "patient", patient.id,
                     old={"ward": patient.ward}, new={"ward": details.ward.strip()})
        patient.ward = details.ward.strip()
    return patient


def _history(session, patient_id: int, product_id: str, exclude: int | None = None) -> list[Dose]:
    rows = session.execute(
        select(Order.scheduled_on, Order.course, Order.course_day)
        .where(Order.patient_id == patient_id, Order.product_id == product_id, Order.state.in_(ORDER_COUNTS_FOR_COURSE),
               Order.id != (exclude or -1))
    ).all()
    return [Dose(on, course, day) for on, course, day in rows]


def _violations(pharmacy: Pharmacy, session, order: Order) -> list:
    rules = pharmacy.product(order.product_id).courses
    return check_course(rules, _history(session, order.patient_id, order.product_id, exclude=order.id),
                        Dose(order.scheduled_on, order.course, order.course_day))


def create_order(pharmacy: Pharmacy, username: str, patient: PatientDetails, product_id: str, course: int,
                 course_day: int, scheduled_on: date, urgent: bool = False) -> Order:
    """Enter an order. A breach of the course rules does not stop the entry: the order is blocked
    until a pharmacist overrides it with a written reason."""
    with refusals_recorded(pharmacy, username, "order.create"):
        monograph = pharmacy.product(product_id)
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "orders.enter")
            person = _patient(uow.session, patient, username)
            order = Order(patient_id=person.id, product_id=product_id, dose_mg=float(monograph.dose.to("mg").magnitude),
                          course=int(course), course_day=int(course_day), scheduled_on=scheduled_on,
                          urgent=bool(urgent), state=ORDER.initial, created_by=user.id,
                          created_at=clock.now())
            uow.session.add(order)
            uow.session.flush()
            violations = _violations(pharmacy, uow.session, order)
            if violations:
                order.state = ORDER.apply(order.state, Event.BREACH_FOUND)
                order.violations = [{"code": v.code, "message": v.message} for v in violations]
            audit.append(uow.session, username, "order.create", "order", order.id, new={
                "patient": person.identifier, "product": product_id, "course": order.course,
                "day": order.course_day, "scheduled_on": scheduled_on.isoformat(), "state": order.state,
                "violations": [v.code for v in violations]})
            uow.commit()
            return order


def verify_order(pharmacy: Pharmacy, username: str, order_id: int, premedication_confirmed: bool,
                 override_reason: str | None = None) -> Order:
    """Pharmacist verification. Course rules are checked again now (other orders may have come in);
    a breach needs ``override_reason``; the day's required pre-medication must be confirmed."""
    with refusals_recorded(pharmacy, username, "order.verify", "order", order_id), pharmacy.uow() as uow:
        pharmacist = actor(uow.session, username, "orders.verify")
        order = uow.session.get(Order, order_id)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        verified = ORDER.apply(order.state, Event.VERIFY, pharmacist.role, what=f"Order {order_id}")
        violations = _violations(pharmacy, uow.session, order)
        reason = (override_reason or "").strip()
        if violations and len(reason) < MIN_REASON:
            raise CourseRuleBreach(violations)
        needed = pharmacy.product(order.product_id).premedication_for_day(order.course_day)
        if needed and not premedication_confirmed:
            raise PharmacyError("Confirm the pre-medication first: " + "; ".join(p.what for p in needed) + " (SmPC 4.2).")
        old = order.state
        order.state, order.verified_by, order.verified_at = verified, pharmacist.id, clock.now()
        order.premedication_confirmed = bool(premedication_confirmed)
        if violations:
            order.override_reason, order.override_by = reason, order.verified_by
            order.violations = [{"code": v.code, "message": v.message} for v in violations]
        audit.append(uow.session, username, "order.verify", "order", order.id, old={"state": old},
                     new={"state": verified, "premedication_confirmed": order.premedication_confirmed,
                          "overridden": [v.code for v in violations]},
                     reason=reason or None)
        uow.commit()
        return order


def _worklist_query(day: date):
    return select(Order).where(Order.scheduled_on == day, Order.state.in_(ORDER_ON_WORKLIST))


def worklist(pharmacy: Pharmacy, day: date, limit: int | None = None) -> list[Order]:
    """Verified orders for the day and those being prepared: preparations under way first (finish
    what was started), then urgent, then oldest. ``limit`` gives the top of the list only."""
    query = (_worklist_query(day).options(selectinload(Order.patient))
             .order_by(case((Order.state == OrderState.IN_PREPARATION, 0), else_=1), Order.urgent.desc(), Order.created_at, Order.id))
    if limit is not None:
        query = query.limit(limit)
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(query).scalars())


def worklist_size(pharmacy: Pharmacy, day: date) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(_worklist_query(day).subquery())).scalar_one()


def pending_verification(pharmacy: Pharmacy) -> list[Order]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(
            select(Order).options(selectinload(Order.patient)).join(Patient)
            .where(Order.state.in_(ORDER_TO_VERIFY))
            .order_by(Order.scheduled_on, Order.created_at)
        ).scalars())


def get_order(pharmacy: Pharmacy, order_id: int) -> Order:
    with pharmacy.uow(readonly=True) as uow:
        order = uow.session.get(Order, order_id)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        order.patient  # noqa: B018 - load before the session closes
        return order
