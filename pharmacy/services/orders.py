"""Dose orders (SPEC 2.2): entry with the course rules of SmPC 4.2, pharmacist verification with the
pre-medication confirmation, overrides with a written reason, cancelling and holding an order with a
written reason (H19), and the day's worklist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import Order, Patient
from pharmacy.domain.courses import Dose, check_course
from pharmacy.domain.errors import CourseRuleBreach, NotAllowed, NotFound, PharmacyError
from pharmacy.domain.gs1 import validate_gsrn
from pharmacy.domain.identity import LookalikePatient, WristbandNumberTaken, name_key, normalise_identifier
from pharmacy.domain.lifecycle import (
    ORDER,
    ORDER_COUNTS_FOR_COURSE,
    ORDER_ON_WORKLIST,
    ORDER_PENDING,
    ORDER_TO_VERIFY,
    Event,
    OrderState,
    TransitionRefused,
)
from pharmacy.domain.permissions import may
from pharmacy.i18n import _, lazy
from pharmacy.services import labelcheck
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

MIN_REASON = 10


@dataclass(frozen=True)
class PatientDetails:
    identifier: str
    name: str
    date_of_birth: date
    ward: str
    gsrn: str | None = None
    # a new patient whose name and date of birth match a known patient's: a pharmacist confirms it is
    # another person (H16), with the reason
    confirm_new_patient: bool = False
    new_patient_reason: str | None = None


def _wristband_number(session, gsrn: str | None, patient: Patient | None) -> str | None:
    """The GSRN, checked: it must not be another patient's wristband number (H7)."""
    if not gsrn:
        return None
    gsrn = validate_gsrn(gsrn)
    holder = session.execute(select(Patient).where(Patient.gsrn == gsrn)).scalar_one_or_none()
    if holder is not None and (patient is None or holder.id != patient.id):
        raise WristbandNumberTaken(
            _("Wristband number (GSRN) {gsrn} belongs to another patient, {name} ({identifier}). "
              "Check the wristband and the prescription; nothing was recorded.", gsrn=gsrn, name=holder.name, identifier=holder.identifier))
    if patient is not None and patient.gsrn and patient.gsrn != gsrn:
        raise WristbandNumberTaken(
            _("Patient {identifier} has wristband number (GSRN) {gsrn}, not {gsrn_2}. "
              "Check the wristband and the prescription; nothing was recorded.",
              identifier=patient.identifier, gsrn=patient.gsrn, gsrn_2=gsrn))
    return gsrn


def _lookalikes(session, name: str, born: date) -> list[Patient]:
    """Known patients with this name (case and spaces aside) and date of birth."""
    key = name_key(name)
    return [p for p in session.execute(select(Patient).where(Patient.date_of_birth == born).order_by(Patient.id)).scalars()
            if name_key(p.name) == key]


def _confirmed_new_patient(details: PatientDetails, user, twins: list[Patient], identifier: str) -> str:
    """The pharmacist's reason for a new patient who looks like a known one, or the refusal."""
    known = "; ".join(_("{name}, born {born:%d %b %Y}, identifier {identifier}, {ward}", name=p.name, born=p.date_of_birth,
                        identifier=p.identifier, ward=p.ward) for p in twins)
    if not details.confirm_new_patient:
        raise LookalikePatient(
            _("A patient with this name and date of birth is known already: {known}. If it is the same patient, "
              "enter the order under {identifier}. If {identifier_2} is really another person, a pharmacist "
              "confirms the new patient with a reason. Nothing was recorded.",
              known=known, identifier=twins[0].identifier, identifier_2=identifier))
    if not may(user.role, "orders.verify"):
        raise NotAllowed(_("Only a pharmacist may confirm a new patient who has the name and date of birth of a known "
                           "patient ({known}). Ask a pharmacist. Nothing was recorded.", known=known))
    reason = " ".join((details.new_patient_reason or "").split())
    if len(reason) < MIN_REASON:
        raise PharmacyError(_("Write why {identifier} is another person than {twins_identifier}, in a few words "
                              "(at least {MIN_REASON} characters). Nothing was recorded.",
                              identifier=identifier, twins_identifier=twins[0].identifier, MIN_REASON=MIN_REASON))
    return reason


def _patient(session, details: PatientDetails, user) -> Patient:
    """The patient with this identifier (normalised: ``domain/identity.normalise_identifier``); a known
    identifier with another name or birth date is refused (a mistyped identifier must never attach a
    dose to someone else), and so is a new identifier for a known name and birth date unless a
    pharmacist confirms it is another person (a second record would split the course history)."""
    username = user.username
    identifier = normalise_identifier(details.identifier)
    name = " ".join((details.name or "").split())
    ward = (details.ward or "").strip()
    if not identifier or not name or not ward:
        raise PharmacyError(_("Patient identifier, name, date of birth and ward are all required."))
    if details.date_of_birth > clock.now().date():
        raise PharmacyError(_("The date of birth is in the future."))
    patient = session.execute(select(Patient).where(Patient.identifier == identifier)).scalar_one_or_none()
    if patient is not None and (name_key(patient.name) != name_key(name) or patient.date_of_birth != details.date_of_birth):
        raise PharmacyError(
            _("Patient identifier {identifier} belongs to a patient with another name or date of birth. "
              "Check the wristband and the prescription; nothing was recorded.", identifier=identifier))
    gsrn = _wristband_number(session, details.gsrn, patient)
    if patient is None:
        twins = _lookalikes(session, name, details.date_of_birth)
        reason = _confirmed_new_patient(details, user, twins, identifier) if twins else None
        patient = Patient(identifier=identifier, name=name, date_of_birth=details.date_of_birth, ward=ward, gsrn=gsrn,
                          lookalike_confirmed_by=user.id if twins else None, lookalike_reason=reason)
        session.add(patient)
        session.flush()
        new: dict[str, object] = {"identifier": identifier, "ward": patient.ward}
        if twins:
            new["confirmed_other_than"] = [p.identifier for p in twins]
        audit.append(session, username, "patient.add", "patient", patient.id, new=new, reason=reason)
        return patient
    if gsrn and patient.gsrn is None:
        audit.append(session, username, "patient.gsrn", "patient", patient.id, old={"gsrn": None}, new={"gsrn": gsrn})
        patient.gsrn = gsrn
    if patient.ward != ward:
        audit.append(session, username, "patient.ward", "patient", patient.id,
                     old={"ward": patient.ward}, new={"ward": ward})
        patient.ward = ward
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
                 course_day: int, scheduled_on: date, urgent: bool = False,
                 link: Callable[[Session, Order], None] | None = None) -> Order:
    """Enter an order. A breach of the course rules does not stop the entry: the order is blocked
    until a pharmacist overrides it with a written reason. ``link(session, order)`` runs in the same
    transaction before the commit (services/fhir keeps the request's FHIR identifier with the order)."""
    with refusals_recorded(pharmacy, username, "order.create"):
        monograph = pharmacy.product(product_id)
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "orders.enter")
            person = _patient(uow.session, patient, user)
            # the bag label must print for this patient on every stock, reprints included (H30, H31)
            labelcheck.check_patient_label(pharmacy, uow.session, person, product_id)
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
            if link is not None:
                link(uow.session, order)
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
            raise NotFound(_("Order {order_id} does not exist.", order_id=order_id))
        verified = ORDER.apply(order.state, Event.VERIFY, pharmacist.role, what=_("Order {order_id}", order_id=order_id))
        violations = _violations(pharmacy, uow.session, order)
        reason = (override_reason or "").strip()
        if violations and len(reason) < MIN_REASON:
            raise CourseRuleBreach(violations)
        needed = pharmacy.product(order.product_id).premedication_for_day(order.course_day)
        if needed and not premedication_confirmed:
            raise PharmacyError(_("Confirm the pre-medication first: {premedication} (SmPC 4.2).",
                                  premedication="; ".join(p.what for p in needed)))
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


# the worklist's statements, built once (issue 18: every technician's screen opens on it)
_ON_WORKLIST = select(Order).where(Order.scheduled_on == bindparam("day"), Order.state.in_(ORDER_ON_WORKLIST))
_WORKLIST = (_ON_WORKLIST.options(joinedload(Order.patient, innerjoin=True))  # in the same statement (issue 18)
             .order_by(case((Order.state == OrderState.IN_PREPARATION, 0), else_=1), Order.urgent.desc(), Order.created_at,
                       Order.id))
_WORKLIST_TOP = _WORKLIST.limit(bindparam("limit"))
_WORKLIST_SIZE = select(func.count()).select_from(_ON_WORKLIST.subquery())


def worklist(pharmacy: Pharmacy, day: date, limit: int | None = None) -> list[Order]:
    """Verified orders for the day and those being prepared: preparations under way first (finish
    what was started), then urgent, then oldest. ``limit`` gives the top of the list only."""
    with pharmacy.uow(readonly=True) as uow:
        if limit is None:
            return list(uow.session.execute(_WORKLIST, {"day": day}).scalars())
        return list(uow.session.execute(_WORKLIST_TOP, {"day": day, "limit": limit}).scalars())


def worklist_size(pharmacy: Pharmacy, day: date) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return plain(uow.session, _WORKLIST_SIZE, {"day": day}).scalar_one()


def pending_verification(pharmacy: Pharmacy) -> list[Order]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(
            select(Order).join(Patient).options(contains_eager(Order.patient))  # read by the join itself (issue 18)
            .where(Order.state.in_(ORDER_PENDING))  # to verify, and on hold (shown as HELD)
            .order_by(Order.scheduled_on, Order.created_at)
        ).scalars())


def get_order(pharmacy: Pharmacy, order_id: int) -> Order:
    with pharmacy.uow(readonly=True) as uow:
        order = uow.session.get(Order, order_id)
        if order is None:
            raise NotFound(_("Order {order_id} does not exist.", order_id=order_id))
        order.patient  # noqa: B018 - load before the session closes
        return order


# --- cancel and hold (H19) -------------------------------------------------------------------------
# Which states each event leaves from is the lifecycle's table (domain.lifecycle.ORDER): cancel from
# entered, blocked, verified or held; hold from entered, blocked or verified; a hold is lifted back to
# entered, so the course rules are checked again and a pharmacist verifies it again. An order whose
# preparation has started is neither cancelled nor held here: its bag is rejected at the check.


def technician_cancel_refusal(order: Order, user_id: int, role: str | None) -> str | None:
    """Why this user may not cancel this order although their role holds ``orders.cancel``, or None.
    A user who cannot verify (a technician) cancels only an order they entered, before verification:
    once a pharmacist has verified it, only a pharmacist undoes that."""
    if may(role, "orders.verify"):
        return None
    if order.created_by != user_id:
        return _("Order {id} was entered by someone else: a {role} cancels only an order they entered "
                 "themselves. Ask a pharmacist to cancel it. Nothing was recorded.", id=order.id, role=role)
    if order.state not in ORDER_TO_VERIFY:
        return _("Order {id} is {state}: a {role} cancels an order only before a pharmacist "
                 "has verified it. Ask a pharmacist to cancel it. Nothing was recorded.", id=order.id, state=order.state.label,
                 role=role)
    return None


# the refusal of a missing reason, one whole sentence per act (issue 16 point 8)
_REASON_NEEDED = {
    "cancel": lazy("Write why you cancel order {order_id}, in a few words (at least {MIN_REASON} characters): the reason "
                   "is kept with the order and in the audit trail. Nothing was recorded."),
    "put on hold": lazy("Write why you put on hold order {order_id}, in a few words (at least {MIN_REASON} characters): "
                        "the reason is kept with the order and in the audit trail. Nothing was recorded."),
    "lift the hold on": lazy("Write why you lift the hold on order {order_id}, in a few words (at least {MIN_REASON} "
                             "characters): the reason is kept with the order and in the audit trail. Nothing was recorded."),
}


def _reason(reason: str | None, doing: str, order_id: int) -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise PharmacyError(_REASON_NEEDED[doing].now().format(order_id=order_id, MIN_REASON=MIN_REASON))
    return text


def _locked(session, order_id: int) -> Order:
    order = session.execute(select(Order).where(Order.id == order_id).with_for_update()).scalar_one_or_none()
    if order is None:
        raise NotFound(_("Order {order_id} does not exist.", order_id=order_id))
    return order


def cancel_order(pharmacy: Pharmacy, username: str, order_id: int, reason: str | None) -> Order:
    """Cancel an order entered by mistake (a duplicate, the wrong patient or day), with a reason. A
    cancelled order is never prepared and no longer counts in the course rules."""
    with refusals_recorded(pharmacy, username, "order.cancel", "order", order_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "orders.cancel")
        order = _locked(uow.session, order_id)
        if order.state == OrderState.CANCELLED:
            raise TransitionRefused(_("Order {order_id} is already cancelled. Nothing was recorded.", order_id=order_id),
                                    state=order.state.value, event=Event.CANCEL.value)
        cancelled = ORDER.apply(order.state, Event.CANCEL, user.role, what=_("Order {order_id}", order_id=order_id))
        refused = technician_cancel_refusal(order, user.id, user.role)
        if refused:
            raise NotAllowed(refused)
        text = _reason(reason, "cancel", order_id)
        old = order.state
        order.state, order.cancelled_by, order.cancelled_at, order.cancel_reason = cancelled, user.id, clock.now(), text
        audit.append(uow.session, username, "order.cancel", "order", order.id, old={"state": old},
                     new={"state": cancelled}, reason=text)
        uow.commit()
        return order


def hold_order(pharmacy: Pharmacy, username: str, order_id: int, reason: str | None) -> Order:
    """Put an order on hold (a result awaited, the patient unwell), with a reason. A held order is not
    prepared and is not on the worklist, but it still counts in the course rules: it may yet be given."""
    with refusals_recorded(pharmacy, username, "order.hold", "order", order_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "orders.hold")
        order = _locked(uow.session, order_id)
        held = ORDER.apply(order.state, Event.HOLD, user.role, what=_("Order {order_id}", order_id=order_id))
        text = _reason(reason, "put on hold", order_id)
        old = order.state
        order.state, order.held_by, order.held_at, order.hold_reason = held, user.id, clock.now(), text
        audit.append(uow.session, username, "order.hold", "order", order.id, old={"state": old},
                     new={"state": held}, reason=text)
        uow.commit()
        return order


def lift_hold(pharmacy: Pharmacy, username: str, order_id: int, reason: str | None) -> Order:
    """Lift a hold, with a reason. The order goes back to entered (blocked if the course rules, checked
    again now, are broken): its earlier verification no longer stands and a pharmacist verifies it again."""
    with refusals_recorded(pharmacy, username, "order.lift_hold", "order", order_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "orders.hold")
        order = _locked(uow.session, order_id)
        entered = ORDER.apply(order.state, Event.LIFT_HOLD, user.role, what=_("Order {order_id}", order_id=order_id))
        text = _reason(reason, "lift the hold on", order_id)
        old = {"state": order.state, "verified_by": order.verified_by, "override_reason": order.override_reason,
               "premedication_confirmed": order.premedication_confirmed}
        violations = _violations(pharmacy, uow.session, order)
        order.state = ORDER.apply(entered, Event.BREACH_FOUND) if violations else entered
        order.violations = [{"code": v.code, "message": v.message} for v in violations] or None
        order.verified_by = order.verified_at = order.override_reason = order.override_by = None
        order.premedication_confirmed = False
        audit.append(uow.session, username, "order.lift_hold", "order", order.id, old=old,
                     new={"state": order.state, "violations": [v.code for v in violations]}, reason=text)
        uow.commit()
        return order
