"""FHIR R4 use cases (issue 17): orders from the hospital's record, and what the pharmacy made and gave, read back.

An order that comes as a ``MedicationRequest`` goes through ``services/orders.create_order`` exactly as one typed
on the screen (the patient matched by ``orders._patient``: a known identifier with another name or birth date is
refused, never a second patient, H16, H37; the course rules block it for a pharmacist), and its FHIR identifier
is kept with it in the same transaction, so the same request sent twice is one order. The mapping itself is
pure (``domain/fhir``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Administration, Bag, FhirOrder, Order, Patient, Preparation, User
from pharmacy.domain import fhir
from pharmacy.domain.errors import NotFound, PharmacyError, StateConflict
from pharmacy.domain.identity import normalise_identifier
from pharmacy.domain.lifecycle import BagState, OrderState
from pharmacy.domain.monograph import Monograph
from pharmacy.i18n import _
from pharmacy.services import orders
from pharmacy.services.base import Pharmacy, refusals_recorded


class DuplicateIdentifier(StateConflict):
    """The identifier of a MedicationRequest already received with other content."""

    code = "fhir_identifier_reused"


class PreparationBegun(StateConflict):
    """The hospital's record cancelled or held an order whose dose is already being prepared."""

    code = "fhir_preparation_begun"


@dataclass(frozen=True)
class Received:
    order: Order
    created: bool  # False: the same request again, answered with the order made the first time
    identifier: tuple[str, str]


def _products(pharmacy: Pharmacy) -> dict[str, tuple[tuple[str, str], ...]]:
    return {pid: fhir.codes_of(pid, m.atc, m.preparation_gtin, m.vial_gtins) for pid, m in pharmacy.catalog.products.items()}


def _check_dose(request: fhir.OrderRequest, monograph: Monograph) -> None:
    """The dose ordered must be the product's dose (12 mg for LEMTRADA): any other is refused, not adjusted."""
    if request.dose is None:
        raise fhir.FhirInvalid(_("MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity is required."))
    ordered = float(request.dose.to("mg").magnitude)
    product = float(monograph.dose.to("mg").magnitude)
    if not math.isclose(ordered, product, rel_tol=1e-9):
        raise fhir.FhirUnprocessable(
            _("The dose ordered ({dose:~P}) is not the dose of {name} ({monograph_dose:~P}, "
              "SmPC 4.2): it is prepared only at that dose. Nothing was recorded.",
              dose=request.dose, name=monograph.name, monograph_dose=monograph.dose))


def _existing(session: Session, system: str, value: str) -> FhirOrder | None:
    return session.execute(select(FhirOrder).where(FhirOrder.identifier_system == system,
                                                   FhirOrder.identifier == value)).scalar_one_or_none()


def _known(pharmacy: Pharmacy, request: fhir.OrderRequest) -> Received | None:
    """The order made by this identifier before: a retry gets it back; other content under it is refused."""
    with pharmacy.uow(readonly=True) as uow:
        row = _existing(uow.session, request.identifier_system, request.identifier)
        if row is None:
            return None
        if row.fingerprint != request.fingerprint():
            raise DuplicateIdentifier(
                _("MedicationRequest identifier {identifier_system}|{identifier} was received already for "
                  "order {order_id}, with other content. A changed order needs a new identifier (or an update of its "
                  "status). Nothing was recorded.",
                  identifier_system=request.identifier_system, identifier=request.identifier, order_id=row.order_id))
        order = uow.session.get(Order, row.order_id)
        assert order is not None
        order.patient  # noqa: B018 - loaded before the session closes
        return Received(order, False, (row.identifier_system, row.identifier))


def receive_order(pharmacy: Pharmacy, username: str, resource: dict, bundled: dict | None = None) -> Received:
    """``POST MedicationRequest`` (alone with its Patient contained, or from a transaction Bundle)."""
    with refusals_recorded(pharmacy, username, "fhir.order"):
        request = fhir.read_medication_request(resource, pharmacy.settings.fhir_patient_system, pharmacy.zone, bundled)
        if request.status != "active":
            raise fhir.FhirUnprocessable(_("A new order must have status active, not {status}: nothing to prepare. "
                                           "Nothing was recorded.", status=request.status))
        known = _known(pharmacy, request)
        if known is not None:
            return known
        product_id = fhir.product_for(request.codings, _products(pharmacy))
        _check_dose(request, pharmacy.product(product_id))
        assert request.patient is not None and request.scheduled_on and request.course and request.course_day
        patient = request.patient
        ward = request.ward or _known_ward(pharmacy, patient.identifier)
        if not ward:
            raise fhir.FhirInvalid(_("The ward is required for a new patient: send extension {EXT_WARD} "
                                     "(valueString) on the MedicationRequest. Nothing was recorded.", EXT_WARD=fhir.EXT_WARD))
        for value, column, what in ((patient.identifier, Patient.identifier, _("The patient's identifier")),
                                    (patient.name, Patient.name, _("The patient's name")), (ward, Patient.ward, _("The ward")),
                                    (patient.gsrn or "", Patient.gsrn, _("The GSRN")),
                                    (request.identifier, FhirOrder.identifier, "MedicationRequest.identifier[0].value"),
                                    (request.identifier_system, FhirOrder.identifier_system,
                                     "MedicationRequest.identifier[0].system")):
            _fits(value, column, what)
        details = orders.PatientDetails(patient.identifier, patient.name, patient.birth_date, ward, patient.gsrn)

        def link(session: Session, order: Order) -> None:
            session.add(FhirOrder(order_id=order.id, identifier_system=request.identifier_system,
                                  identifier=request.identifier, status=request.status,
                                  fingerprint=request.fingerprint(), received_at=clock.now()))
            audit.append(session, username, "fhir.order", "order", order.id,
                         new={"identifier": f"{request.identifier_system}|{request.identifier}"})

    try:
        order = orders.create_order(pharmacy, username, details, product_id, request.course, request.course_day,
                                    request.scheduled_on, request.urgent, link=link)
    except IntegrityError:  # the same request, sent twice at once: the other one's order stands
        known = _known(pharmacy, request)
        if known is None:
            raise
        return known
    return Received(orders.get_order(pharmacy, order.id), True, (request.identifier_system, request.identifier))


def _fits(value: str, column, what: str) -> None:
    """Text no longer than the column that keeps it (PostgreSQL refuses it whole, a 503 otherwise)."""
    longest = column.property.columns[0].type.length
    if len(value) > longest:
        raise fhir.FhirInvalid(_("{what} is too long ({count:,} characters; at most {longest:,}). Nothing was recorded.",
                                 what=what, count=len(value), longest=longest))


def _known_ward(pharmacy: Pharmacy, identifier: str) -> str | None:
    with pharmacy.uow(readonly=True) as uow:
        patient = uow.session.execute(select(Patient).where(Patient.identifier == normalise_identifier(identifier))
                                      ).scalar_one_or_none()
        return patient.ward if patient is not None else None


# status of the MedicationRequest → what it does to the order
_CANCELLING = {"cancelled", "entered-in-error", "stopped"}
_BEGUN = {OrderState.IN_PREPARATION, OrderState.PREPARED, OrderState.RELEASED}


def update_order(pharmacy: Pharmacy, username: str, resource: dict, order_id: int | None = None) -> Received:
    """``PUT MedicationRequest/{id}`` (or ``?identifier=``): ``on-hold`` holds the order, ``active`` lifts the hold,
    ``cancelled``/``entered-in-error``/``stopped`` cancel it — through the same services and rules as the screens
    (the token's user must be allowed). Once preparation has begun nothing is changed here: the refusal is kept in
    the near-miss record of the preparation, shown to the checking pharmacist, who rejects the bag."""
    request = fhir.read_medication_request(resource, pharmacy.settings.fhir_patient_system, pharmacy.zone)
    with pharmacy.uow(readonly=True) as uow:
        row = _existing(uow.session, request.identifier_system, request.identifier)
        if row is None or (order_id is not None and row.order_id != order_id):
            if order_id:
                raise NotFound(_("No order came with MedicationRequest identifier {system}|{identifier} as "
                                 "MedicationRequest/{order_id}. Send a new order with POST. Nothing was recorded.",
                                 system=request.identifier_system, identifier=request.identifier, order_id=order_id))
            raise NotFound(_("No order came with MedicationRequest identifier {system}|{identifier}. Send a new order "
                             "with POST. Nothing was recorded.", system=request.identifier_system, identifier=request.identifier))
        order = uow.session.get(Order, row.order_id)
        assert order is not None
        subject = request.subject_identifier or ((request.patient.identifier_system, request.patient.identifier)
                                                 if request.patient else None)
        if subject is not None and (subject[0] != pharmacy.settings.fhir_patient_system
                                    or normalise_identifier(subject[1]) != order.patient.identifier):
            raise PharmacyError(_("MedicationRequest {identifier} is for patient {patient_identifier}, not "
                                  "{subject}: an update cannot move an order to another patient. Nothing was recorded.",
                                  identifier=request.identifier, patient_identifier=order.patient.identifier, subject=subject[1]))
        state, previous = order.state, row.status
        preparation = uow.session.execute(select(Preparation.id).where(Preparation.order_id == order.id)
                                          .order_by(Preparation.id.desc())).scalars().first()
    reason = (request.status_reason or f"the hospital's record set the order to {request.status} (FHIR)").strip()
    reason = reason if len(reason) >= orders.MIN_REASON else f"{reason} (hospital's record, FHIR)"
    if request.status == previous:
        return Received(orders.get_order(pharmacy, row.order_id), False, (row.identifier_system, row.identifier))
    if state in _BEGUN and (request.status in _CANCELLING or request.status == "on-hold"):
        with refusals_recorded(pharmacy, username, "prep.fhir_update", "preparation", preparation):
            raise PreparationBegun(
                _("The hospital's record set order {order_id} to {status} ({reason}), but its preparation has "
                  "begun (order {label}). Nothing was changed here: the pharmacist checking the bag is told, and "
                  "rejects it.", order_id=row.order_id, status=request.status, reason=reason, label=state.label), order=row.order_id)
    if request.status in _CANCELLING:
        orders.cancel_order(pharmacy, username, row.order_id, reason)
    elif request.status == "on-hold":
        orders.hold_order(pharmacy, username, row.order_id, reason)
    elif request.status == "active" and state == OrderState.HELD:
        orders.lift_hold(pharmacy, username, row.order_id, reason)
    else:
        raise fhir.FhirUnprocessable(_("MedicationRequest status {status} (order {label}) changes nothing "
                                       "the pharmacy can act on. Nothing was recorded.", status=request.status, label=state.label))
    with pharmacy.uow() as uow:
        stored = uow.session.get(FhirOrder, row.id)
        assert stored is not None
        stored.status, stored.updated_at = request.status, clock.now()
        uow.commit()
    return Received(orders.get_order(pharmacy, row.order_id), False, (row.identifier_system, row.identifier))


def order_resource_id(pharmacy: Pharmacy, order_id: int) -> tuple[str, str]:
    with pharmacy.uow(readonly=True) as uow:
        row = uow.session.execute(select(FhirOrder).where(FhirOrder.order_id == order_id)).scalar_one_or_none()
        if row is None:
            raise NotFound(_("MedicationRequest/{order_id} did not come over FHIR.", order_id=order_id))
        return row.identifier_system, row.identifier


# --- what the pharmacy made and gave, as FHIR --------------------------------------------------------


def bag_facts(pharmacy: Pharmacy, session: Session, bag: Bag) -> fhir.BagFacts:
    prep = bag.preparation
    order = prep.order
    monograph = pharmacy.product(order.product_id)
    ingredients = []
    if prep.vial is not None:
        ingredients.append(fhir.Ingredient("vial", f"{monograph.brand} {monograph.strength:~P} vial ({monograph.inn})",
                                           prep.vial.gtin, prep.vial.lot, prep.vial.expiry,
                                           None if prep.withdrawn_ml is None else _ml(prep.withdrawn_ml)))
    if prep.diluent_lot is not None:
        diluent = pharmacy.catalog.diluents.get(prep.diluent_lot.diluent_id)
        ingredients.append(fhir.Ingredient("diluent", diluent.long_name if diluent else prep.diluent_lot.diluent_id,
                                           prep.diluent_lot.gtin, prep.diluent_lot.lot, prep.diluent_lot.expiry,
                                           diluent.volume if diluent else None))
    return fhir.BagFacts(bag.serial, bag.batch, order.product_id, monograph.name,
                         fhir.codes_of(order.product_id, monograph.atc, monograph.preparation_gtin, ()),
                         "solution for infusion", monograph.dose, monograph.route, monograph.route_text, bag.use_by,
                         prep.signed_at or prep.dilution_time, tuple(ingredients))


def _ml(value: float):
    from pharmacy.domain.units import Q_

    return Q_(value, "milliliter")


def patient_ref(pharmacy: Pharmacy, patient: Patient) -> fhir.PatientRef:
    return fhir.PatientRef(pharmacy.settings.fhir_patient_system, patient.identifier, patient.name)


def performer(session: Session, user_id: int | None, function: str) -> fhir.Performer | None:
    user = session.get(User, user_id) if user_id is not None else None
    return fhir.Performer(function, user.username, user.full_name) if user is not None else None


def prescription(session: Session, order_id: int) -> tuple[str, str] | None:
    row = session.execute(select(FhirOrder).where(FhirOrder.order_id == order_id)).scalar_one_or_none()
    return (row.identifier_system, row.identifier) if row is not None else None


# what became of the bag → the MedicationDispense's status (None: no dispense yet)
DISPENSE_STATUS = {"released": "completed", "stored": "completed", "in_administration": "completed",
                   "interrupted": "completed", "administered": "completed", "quarantined": "on-hold",
                   "rejected": "declined", "destroyed": "stopped"}


def dispense(pharmacy: Pharmacy, session: Session, bag: Bag, reason: str | None = None) -> dict:
    prep = bag.preparation
    performers = tuple(p for p in (performer(session, prep.prepared_by, "packager"),
                                   performer(session, prep.checked_by, "checker")) if p is not None)
    status = DISPENSE_STATUS.get(bag.state.value, "unknown")
    return fhir.medication_dispense(bag_facts(pharmacy, session, bag), patient_ref(pharmacy, prep.order.patient),
                                    performers, status, bag.released_at, prep.order.patient.ward,
                                    prescription(session, prep.order_id), reason)


def administration_status(record: Administration, bag: Bag) -> str:
    if record.ended_at is None:
        return "in-progress"
    if bag.state == BagState.INTERRUPTED:
        return "on-hold"
    return "stopped" if record.end_reason else "completed"


def administration(pharmacy: Pharmacy, session: Session, record: Administration, bag: Bag) -> dict:
    nurse = performer(session, record.nurse_id, "performer")
    assert nurse is not None
    status = administration_status(record, bag)
    reason = None
    if status in ("stopped", "on-hold"):
        reason = " — ".join(x for x in (record.end_reason, record.interrupted_reason) if x) or None
    patient = session.get(Patient, record.patient_id)
    assert patient is not None
    return fhir.medication_administration(bag_facts(pharmacy, session, bag), patient_ref(pharmacy, patient), nurse, status,
                                          record.started_at, record.ended_at, prescription(session, bag.preparation.order_id),
                                          reason)


def refused_administration(pharmacy: Pharmacy, session: Session, bag: Bag, nurse: User, at: datetime, reason: str,
                           number: int) -> dict:
    """A refused start at the bedside: ``not-done`` with the reasons, for the patient the bag is for; its own
    record (``BAG…-R<number>``), so the bag's real administration later is not overwritten."""
    return fhir.medication_administration(bag_facts(pharmacy, session, bag), patient_ref(pharmacy, bag.preparation.order.patient),
                                          fhir.Performer("performer", nurse.username, nurse.full_name), "not-done", at, None,
                                          prescription(session, bag.preparation.order_id), reason, refusal=number)


def _patient_by(session: Session, pharmacy: Pharmacy, token: str) -> Patient | None:
    """``patient=system|value`` or ``patient=value`` (the hospital's system)."""
    system, _, value = token.rpartition("|")
    if system and system != pharmacy.settings.fhir_patient_system:
        return None
    return session.execute(select(Patient).where(Patient.identifier == normalise_identifier(value))).scalar_one_or_none()


def dispenses_of(pharmacy: Pharmacy, token: str) -> list[dict]:
    """Every bag released for the patient (and what became of it), as MedicationDispense."""
    with pharmacy.uow(readonly=True) as uow:
        patient = _patient_by(uow.session, pharmacy, token)
        if patient is None:
            return []
        bags = uow.session.execute(select(Bag).join(Preparation, Bag.preparation_id == Preparation.id)
                                   .join(Order, Preparation.order_id == Order.id)
                                   .where(Order.patient_id == patient.id).order_by(Bag.id)).scalars().all()
        return [dispense(pharmacy, uow.session, bag) for bag in bags if bag.state.value in DISPENSE_STATUS]


def administrations_of(pharmacy: Pharmacy, token: str) -> list[dict]:
    with pharmacy.uow(readonly=True) as uow:
        patient = _patient_by(uow.session, pharmacy, token)
        if patient is None:
            return []
        rows = uow.session.execute(select(Administration, Bag).join(Bag, Administration.bag_id == Bag.id)
                                   .where(Administration.patient_id == patient.id).order_by(Administration.id)).all()
        return [administration(pharmacy, uow.session, record, bag) for record, bag in rows]


def medication_of(pharmacy: Pharmacy, serial: str) -> dict:
    from pharmacy.services.bags import find_bag

    with pharmacy.uow(readonly=True) as uow:
        bag = find_bag(uow.session, serial)
        return fhir.medication_resource(bag_facts(pharmacy, uow.session, bag))
