"""Bags after the check: labels and reprints (SPEC 2.5), storage (2.6), bedside administration
(2.7), disposal (2.8), and the listings the CLI and screens show."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import (
    Bag,
    BagMove,
    DiluentLot,
    Disposal,
    LabelConfirmation,
    LabelPrint,
    Order,
    Patient,
    Preparation,
    StorageLocation,
    User,
    Vial,
)
from pharmacy.domain import dilution, disposal
from pharmacy.domain.coldchain import range_fits
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError, StateConflict
from pharmacy.domain.inuse import effective_state, start_by, to_local
from pharmacy.domain.lifecycle import BAG, BagState, Event
from pharmacy.domain.monograph import Monograph
from pharmacy.domain.units import Q_
from pharmacy.i18n import _, lazy
from pharmacy.printing.content import MAX_REPRINT, patient_ai_value
from pharmacy.printing.label import LabelData, check_printable
from pharmacy.printing.stocks import LabelStock, load_stock
from pharmacy.services import recalls, users
from pharmacy.services.base import Pharmacy, actor, load_steps, record_refusal, refusals_recorded

log = logging.getLogger(__name__)
_BAG_OPTIONS = (
    selectinload(Bag.preparation).selectinload(Preparation.order).selectinload(Order.patient),
    selectinload(Bag.preparation).selectinload(Preparation.vial),
    selectinload(Bag.preparation).selectinload(Preparation.diluent_lot),
    selectinload(Bag.preparation).selectinload(Preparation.steps),
)
# To read (no row lock): the one-to-one chain in the same statement as the bag, the steps in a second (issue 18:
# 2 statements, not 7). A locking read keeps the separate ones: FOR UPDATE locks the bag's row only, and PostgreSQL
# refuses it on the nullable side of an outer join.
_BAG_READ_OPTIONS = (
    joinedload(Bag.preparation, innerjoin=True).joinedload(Preparation.order, innerjoin=True).joinedload(Order.patient, innerjoin=True),
    joinedload(Bag.preparation, innerjoin=True).joinedload(Preparation.vial),
    joinedload(Bag.preparation, innerjoin=True).joinedload(Preparation.diluent_lot),
)
# the statements built once (issue 18: building one is half a millisecond, on every scan), by lock
_SERIAL: BindParameter[str] = bindparam("serial")
_FIND_BAG = {
    True: select(Bag).where(Bag.serial == _SERIAL).options(*_BAG_OPTIONS).with_for_update(),
    False: select(Bag).where(Bag.serial == _SERIAL).options(*_BAG_READ_OPTIONS),
}
# the latest print of the bag's label, and the latest print scanned back on the bag (or None)
_LABEL_CONFIRMATION = select(
    select(func.max(LabelConfirmation.print_number)).where(LabelConfirmation.bag_id == bindparam("bag_id"))
    .scalar_subquery().label("confirmed"),
    select(func.coalesce(func.max(LabelPrint.number), 0)).where(LabelPrint.bag_id == bindparam("bag_id"))
    .scalar_subquery().label("printed"))


def find_bag(session, serial: str, lock: bool = False, steps: bool = True) -> Bag:
    """The bag with this serial, its preparation, order, patient, vial and diluent lot loaded, and its preparation's
    steps unless ``steps`` is False (the bedside and the bag status call never show them: one statement less)."""
    bag = session.execute(_FIND_BAG[lock], {"serial": (serial or "").strip()}).scalar_one_or_none()
    if bag is None:
        raise NotFound(_("No bag with serial “{serial}”.", serial=serial))
    if steps and not lock:  # a locking read has its steps from _BAG_OPTIONS
        load_steps(session, bag.preparation)
    return bag


def get_bag(pharmacy: Pharmacy, serial: str, steps: bool = True) -> Bag:
    with pharmacy.uow(readonly=True) as uow:
        return find_bag(uow.session, serial, steps=steps)


def state_of(bag: Bag, now: datetime | None = None) -> BagState:
    return effective_state(bag.state, bag.use_by, now or clock.now())


def start_by_for(pharmacy: Pharmacy, use_by: datetime, product_id: str) -> datetime:
    """START BY of a bag of this product with this use-by, under the active administration policy:
    what the bedside enforces, and what the label and every screen print."""
    monograph = pharmacy.product(product_id)
    return start_by(use_by, monograph.infusion_time, pharmacy.settings.administration_policy)


def start_by_of(pharmacy: Pharmacy, bag: Bag) -> datetime:
    """``start_by_for`` of a bag; ``bag`` needs its preparation and order loaded."""
    return start_by_for(pharmacy, bag.use_by, bag.preparation.order.product_id)


def pump_settings_of(pharmacy: Pharmacy, bag: Bag) -> dilution.PumpSettings:
    """The pump settings of this bag (rate, volume, duration), from its monograph and its record (the
    volume withdrawn, the diluent bag's volume): what the label, the bedside and the bag's page show.
    ``bag`` needs its preparation, diluent lot and order loaded."""
    prep = bag.preparation
    monograph = pharmacy.product(prep.order.product_id)
    withdrawn = None if prep.withdrawn_ml is None else Q_(prep.withdrawn_ml, "mL")
    diluent = pharmacy.catalog.diluents.get(prep.diluent_lot.diluent_id) if prep.diluent_lot else None
    return dilution.pump_settings(monograph, withdrawn, diluent.volume if diluent else None)


def _row(serial: str, batch: str, recorded: str, use_by: datetime, patient: str, vial_lot: str | None,
         vial_serial: str | None, diluent_lot: str | None, now: datetime) -> dict:
    """A bag as the list and the API show it (its state decided from the clock ``now``)."""
    return {"serial": serial, "batch": batch, "state": effective_state(recorded, use_by, now), "use_by": use_by.isoformat(),
            "patient_id": patient, "vial_lot": vial_lot, "vial_serial": vial_serial, "diluent_lot": diluent_lot}


_BAG_LIST = (select(Bag.serial, Bag.batch, Bag.state, Bag.use_by, Patient.identifier, Vial.lot, Vial.serial, DiluentLot.lot)
             .join(Preparation, Bag.preparation_id == Preparation.id).join(Order, Preparation.order_id == Order.id)
             .join(Patient, Order.patient_id == Patient.id).outerjoin(Vial, Preparation.vial_id == Vial.id)
             .outerjoin(DiluentLot, Preparation.diluent_lot_id == DiluentLot.id).order_by(Bag.id))


_BAG_STATUS = _BAG_LIST.where(Bag.serial == _SERIAL)


def bag_status(pharmacy: Pharmacy, serial: str) -> dict:
    """One bag as ``_row`` gives it, in one statement of plain columns (the API's bag status, asked before every
    bedside check: issue 18, 3.6 -> 2 ms; no bag object, its preparation, order, patient, vial and lot built)."""
    with pharmacy.uow(readonly=True) as uow:
        found = plain(uow.session, _BAG_STATUS, {"serial": (serial or "").strip()}).first()
    if found is None:
        raise NotFound(_("No bag with serial “{serial}”.", serial=serial))
    values: list[Any] = [*found, clock.now()]  # the columns of _BAG_LIST, in _row's order, and the time
    return _row(*values)  # the columns of _BAG_LIST, in _row's order


def list_bags(pharmacy: Pharmacy, state: str | None = None) -> list[dict]:
    """Every bag as ``_row`` gives it (the state decided from the clock now), read as plain rows in one statement:
    a list needs no bag objects (issue 18: a third of the list's time went into building them and their steps)."""
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        found = uow.session.execute(_BAG_LIST).all()
    rows = [_row(*found_row, now) for found_row in found]  # the columns of _BAG_LIST, in _row's order
    return [r for r in rows if state is None or r["state"] == state]


def _names(session, prep: Preparation) -> tuple[str, str]:
    def name(user_id):
        user = session.get(User, user_id) if user_id else None
        return user.full_name if user else ""

    return name(prep.prepared_by), name(prep.checked_by)


def label_data(pharmacy: Pharmacy, session, bag: Bag, reprint: int) -> LabelData:
    prep = bag.preparation
    vial, diluent_lot, prepared_at = prep.vial, prep.diluent_lot, prep.dilution_time
    if vial is None or diluent_lot is None or prepared_at is None:  # a bag is made only once all three are
        raise StateConflict(_("Bag {serial} has no vial, diluent or dilution time recorded: it cannot be labelled.", serial=bag.serial))
    order, patient = prep.order, prep.order.patient
    monograph = pharmacy.product(order.product_id)
    pump = pump_settings_of(pharmacy, bag)
    diluent = pharmacy.catalog.diluents[diluent_lot.diluent_id]
    prepared_by, checked_by = _names(session, prep)
    return LabelData(
        **label_patient_fields(pharmacy, patient), **label_product_fields(pharmacy, monograph, diluent, pump),
        prepared_at=prepared_at, use_by=bag.use_by, start_by=start_by_of(pharmacy, bag),
        vial_lot=vial.lot, vial_expiry=vial.expiry,
        diluent_lot=diluent_lot.lot, batch=bag.batch, bag_serial=bag.serial,
        prepared_by=prepared_by, checked_by=checked_by, reprint=reprint,
    )


def label_patient_fields(pharmacy: Pharmacy, patient) -> dict:
    """The label's fields from the patient's record (``patient``: a ``Patient`` or anything with its
    attributes), under the configured patient AI: the bag label and the order-entry check
    (``services/labelcheck``) build them here, the same way."""
    patient_ai = pharmacy.settings.patient_ai
    return {
        "pharmacy_name": pharmacy.settings.pharmacy_name, "patient_name": patient.name,
        "patient_id": patient.identifier, "patient_dob": patient.date_of_birth, "ward": patient.ward,
        "patient_ai": None if patient_ai == "none" else patient_ai,
        "patient_ai_value": patient_ai_value(patient_ai, patient.identifier, patient.gsrn),
    }


def label_product_fields(pharmacy: Pharmacy, monograph: Monograph, diluent, pump: dilution.PumpSettings) -> dict:
    """The label's fields from the product, its diluent and the pump settings; its figures and phrases in the
    label's language (``PHARMACY_LABEL_LANGUAGE``), its product facts as the monograph says them."""
    with i18n.using(pharmacy.settings.label_language) as language:
        return _product_fields(pharmacy, monograph, diluent, pump) | {"language": language}


def _product_fields(pharmacy: Pharmacy, monograph: Monograph, diluent, pump: dilution.PumpSettings) -> dict:
    plan = dilution.plan(monograph)
    return {
        "product_brand": monograph.brand, "product_inn": monograph.inn, "dose": dilution.display_mass(plan.dose),
        "diluent": diluent.name, "diluent_volume": dilution.display_volume(diluent.volume),
        "total_volume": pump.volume_text, "concentration": dilution.display_concentration(plan.concentration),
        "route": f"{monograph.route} ({monograph.route_text})",
        "infusion": pump.infusion_text,  # the pump settings the bedside shows, from the same function
        "timezone": pharmacy.settings.timezone, "storage": monograph.in_use_storage.text,
        "preparation_gtin": monograph.preparation_gtin,
    }


@dataclass(frozen=True)
class PrintedLabels:
    pdf: bytes  # the PDF download (empty when the labels went to a printer)
    prints: list[tuple[str, int]]  # (bag serial, print number)
    job: str | None = None  # what the printer or CUPS answered (lp's request id), for the record
    jobs: tuple = ()  # services.printjobs.JobOutcome of each label sent to a printer
    printer: str = ""
    refused: tuple[tuple[str, str], ...] = ()  # (bag serial, why) of each bag of the batch not printed

    @property
    def failed(self) -> list:
        """The jobs that did not print: they stay on the Print jobs screen, to be retried."""
        return [job for job in self.jobs if job.failed]


def print_labels(pharmacy: Pharmacy, username: str, serials: list[str], stock: str | None = None,
                 printer: str | None = None) -> PrintedLabels:
    """Labels for released bags, one page each; the second and later prints say REPRINT n. Each label is
    a print job (``services/printjobs``) on a configured printer (default: the first, "PDF download"): a
    download is counted and audited in this transaction; a printer's jobs are queued and audited here,
    sent after the commit, and each outcome recorded — a failed job stays on the Print jobs screen."""
    from pharmacy.services import printjobs

    with refusals_recorded(pharmacy, username, "label.print", "bag", ",".join(serials)):
        target = printjobs.printer_for(pharmacy, printer, stock)
        stock_def = load_stock(target.stock)
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "bags.label")
            items, prints, work = [], [], []
            refused: list[tuple[str, PharmacyError]] = []
            for serial in serials:
                try:  # one bag refused does not stop the others: it is named (``refused``) and recorded
                    bag, number, data = _label_for(pharmacy, uow.session, user, serial, stock_def.on_printer(target.dpi))
                except PharmacyError as refusal:
                    refused.append((serial, refusal))
                    continue
                job = printjobs.add_job(uow.session, user, target, what="label", bag=bag, serial=bag.serial,
                                        number=number, preparation_id=bag.preparation_id)
                if target.downloads:
                    items.append(data)
                else:
                    work.append((job.id, printjobs.render_labels(target, stock_def, [data])))
                prints.append((bag.serial, number))
            if not prints:
                raise _all_refused(refused)
            pdf = printjobs.render_labels(target, stock_def, items) if items else b""
            uow.commit()
    for serial, why in refused:
        record_refusal(pharmacy, username, "label.print", why, "bag", serial)
    outcomes = tuple(printjobs.dispatch(pharmacy, username, work))
    replies = "; ".join(outcome.reply for outcome in outcomes if outcome.reply)
    return PrintedLabels(pdf, prints, replies or None, outcomes, target.name,
                         tuple((serial, why.message) for serial, why in refused))


def _label_for(pharmacy: Pharmacy, session, user: User, serial: str, stock: LabelStock) -> tuple[Bag, int, LabelData]:
    """The bag, its print number and its label, or the refusal of this one bag: not found, recalled (H9), not
    in a state to be labelled, or a label that cannot be printed on ``stock`` (``check_printable``, H30)."""
    from pharmacy.services import printjobs

    bag = find_bag(session, serial, lock=True)
    recalls.check_not_recalled(session, pharmacy.zone, preparation=bag.preparation)  # no label (H9)
    BAG.apply(state_of(bag), Event.PRINT_LABEL, user.role, what=_("Bag {serial}", serial=bag.serial))
    number = printjobs.next_number(session, bag)  # labels that came out or may have, + 1
    if number - 1 > MAX_REPRINT:
        raise StateConflict(_("Bag {serial} has had {number} labels printed, the most a bag gets "
                              "(REPRINT {MAX_REPRINT}). Nothing was printed.",
                              serial=bag.serial, number=number - 1, MAX_REPRINT=MAX_REPRINT))
    data = label_data(pharmacy, session, bag, reprint=number - 1)
    check_printable(data, [stock])
    return bag, number, data


def _all_refused(refused: list[tuple[str, PharmacyError]]) -> PharmacyError:
    if len(refused) == 1:
        return refused[0][1]
    return PharmacyError(_("No label was printed: {refusals}", refusals=" ".join(
        _("Bag {serial}: {refusal}", serial=serial, refusal=error.message) for serial, error in refused)))


class LabelMismatch(StateConflict):
    code = "label_mismatch"


def confirm_label(pharmacy: Pharmacy, username: str, serial: str, scan: str) -> Bag:
    """The final label, once stuck on the bag, is scanned back (its DataMatrix or GS1-128): it must be this
    bag's. A mismatch — a label stuck on another patient's bag — stops and is recorded (H27)."""
    from pharmacy.services.administration import bag_serial_from_scan  # the bedside reads labels the same way

    with refusals_recorded(pharmacy, username, "label.confirm", "bag", serial, scan), pharmacy.uow() as uow:
        actor(uow.session, username, "bags.label")
        bag = find_bag(uow.session, serial, lock=True)
        text = (scan or "").strip()
        if not text.startswith("]") and not text.startswith("01"):
            raise LabelMismatch(_("Scan the label's barcode (DataMatrix or GS1-128): a typed serial does not prove which "
                                  "label is on the bag. Nothing was recorded."))
        scanned = bag_serial_from_scan(pharmacy, text)
        if scanned != bag.serial:
            raise LabelMismatch(_("STOP: the label on this bag is for bag {scanned}, not {serial}. Take the label off, "
                                  "find bag {scanned}, and print bag {serial}'s label again. Nothing was recorded.",
                                  scanned=scanned, serial=bag.serial))
        _confirmed, printed = label_confirmation(uow.session, bag.id)
        if not printed:
            raise StateConflict(_("Bag {serial} has no printed label yet: print it first.", serial=bag.serial))
        user = actor(uow.session, username)
        bag.label_confirmed_at = clock.now()
        # the latest print is the label on the bag now; a later print must be confirmed again (H27)
        uow.session.add(LabelConfirmation(bag_id=bag.id, print_number=printed, user_id=user.id, at=bag.label_confirmed_at))
        audit.append(uow.session, username, "label.confirm", "bag", bag.id,
                     new={"serial": bag.serial, "scanned": scanned, "print": printed})
        uow.commit()
        return bag


def label_confirmation(session, bag_id: int) -> tuple[int | None, int]:
    """(the print number last confirmed on the bag or None, the number of its latest print or 0)."""
    row = plain(session, _LABEL_CONFIRMATION, {"bag_id": bag_id}).one()
    return row.confirmed, row.printed


def label_unconfirmed(session, bag: Bag) -> str | None:
    """Why the bedside must not give this bag for want of its final label's confirmation, or None: the
    label's latest print must have been scanned back on this bag in the pharmacy (``confirm_label``).
    A reprint is a new label on the bag, which could as well have been stuck on another: scanned again."""
    confirmed, printed = label_confirmation(session, bag.id)
    if printed and confirmed is not None and confirmed >= printed:
        return None
    todo = _("Do not give it: return it to the pharmacy, where the printed label is scanned on the bag "
             "(bag {serial}'s page: “Confirm the label on the bag”).", serial=bag.serial)
    if not printed:
        return _("LABEL NOT PRINTED: bag {serial} has no label printed for administration. {todo}", serial=bag.serial, todo=todo)
    if confirmed is None:
        return _("LABEL NOT CONFIRMED: nobody in the pharmacy scanned this label on bag {serial}, so nothing proves "
                 "the label belongs to the bag. {todo}", serial=bag.serial, todo=todo)
    return _("REPRINTED LABEL NOT CONFIRMED: bag {serial}'s label was printed again (print {printed}) after the "
             "label was scanned on the bag (print {confirmed}); the new label was never scanned on it. {todo}",
             serial=bag.serial, printed=printed, confirmed=confirmed, todo=todo)


def label_status(pharmacy: Pharmacy, bag: Bag) -> tuple[int | None, int]:
    """``label_confirmation`` of a bag already read (``get_bag``), for its page."""
    with pharmacy.uow(readonly=True) as uow:
        return label_confirmation(uow.session, bag.id)


_LABELS_PRINTED = (select(func.count()).select_from(LabelPrint).join(Bag, LabelPrint.bag_id == Bag.id)
                   .where(Bag.serial == _SERIAL))  # built once (issue 18): every bag page counts them


def labels_printed(pharmacy: Pharmacy, serial: str) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return plain(uow.session, _LABELS_PRINTED, {"serial": serial}).scalar_one()


def store(pharmacy: Pharmacy, username: str, serial: str, location_name: str) -> Bag:
    with refusals_recorded(pharmacy, username, "bag.store", "bag", serial), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.handle")
        bag = find_bag(uow.session, serial, lock=True)
        stored = BAG.apply(state_of(bag), Event.STORE, user.role, what=_("Bag {serial}", serial=bag.serial))
        location = uow.session.execute(select(StorageLocation).where(StorageLocation.name == location_name)).scalar_one_or_none()
        if location is None:
            raise NotFound(_("No storage location “{location_name}”.", location_name=location_name))
        check_location_fits(pharmacy, bag, location)
        old = {"state": bag.state, "location": bag.location_id}
        bag.state, bag.location_id = stored, location.id
        uow.session.add(BagMove(bag_id=bag.id, location_id=location.id, user_id=user.id, at=clock.now()))
        audit.append(uow.session, username, "bag.store", "bag", bag.id, old=old,
                     new={"state": stored, "location": location.name})
        uow.commit()
        return bag


class LocationUnfit(PharmacyError):
    code = "location_unfit"


def check_location_fits(pharmacy: Pharmacy, bag: Bag, location: StorageLocation) -> None:
    """A bag goes only where the location's whole permitted range lies inside the product's in-use
    storage (the monograph's ``in_use.storage``, SmPC 6.3: 2–8 °C): a 15–25 °C room is refused."""
    monograph = pharmacy.product(bag.preparation.order.product_id)
    allowed = monograph.in_use_storage
    if not range_fits(location.min_celsius, location.max_celsius, allowed.min_celsius, allowed.max_celsius):
        raise LocationUnfit(
            _("{name} is kept at {min_celsius:g}–{max_celsius:g} °C, but {brand} "
              "bags must be stored at {allowed_min_celsius:g}–{allowed_max_celsius:g} °C ({value_text}). "
              "Store the bag in a location within that range; it was not stored.",
              name=location.name, min_celsius=location.min_celsius, max_celsius=location.max_celsius, brand=monograph.brand,
              allowed_min_celsius=allowed.min_celsius, allowed_max_celsius=allowed.max_celsius, value_text=allowed.text))


def take_out(pharmacy: Pharmacy, username: str, serial: str, destination: str) -> Bag:
    """A stored bag leaves its location (to the ward, in transit): from now on its time out of
    refrigeration counts again (``services.coldchain.fridge_status``)."""
    with refusals_recorded(pharmacy, username, "bag.take_out", "bag", serial), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.handle")
        bag = find_bag(uow.session, serial, lock=True)
        released = BAG.apply(state_of(bag), Event.TAKE_OUT, user.role, what=_("Bag {serial}", serial=bag.serial))
        where = (destination or "").strip()
        if len(where) < 2:
            raise PharmacyError(_("Say where the bag goes (the ward, “in transit” …)."))
        place = uow.session.get(StorageLocation, bag.location_id) if bag.location_id else None
        old = {"state": bag.state, "location": place.name if place else None}
        bag.state, bag.location_id = released, None
        uow.session.add(BagMove(bag_id=bag.id, location_id=None, user_id=user.id, at=clock.now()))
        audit.append(uow.session, username, "bag.take_out", "bag", bag.id, old=old,
                     new={"state": released, "location": None, "to": where})
        uow.commit()
        return bag


def dispose_bag(pharmacy: Pharmacy, username: str, serial: str, reason: str, note: str = "", *,
                confirmed: bool = False, signer: str | None = None, password: str | None = None) -> Bag:
    """Record a bag as destroyed: a reason from ``domain/disposal.REASONS`` (with a note, which
    "other" needs), the person's confirmation that they have the bag in hand, and — when the bag could
    still be given (awaiting check, released or stored, in date) — a pharmacist's e-signature: their
    user name and password (``signer``; the acting user when a pharmacist signs for themselves).
    Reason, note, confirmer and signer are kept on the disposal and in its audit entry."""
    with refusals_recorded(pharmacy, username, "bag.dispose", "bag", serial):
        signer = (signer or "").strip() or username
        if password:  # before the transaction: argon2 must not hold the write lock
            users.check_signature(pharmacy, signer, password, lazy("destruction of the bag"))
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "bags.handle")
            chosen = disposal.reason_for(reason, note)
            bag = find_bag(uow.session, serial, lock=True)
            if not confirmed:
                raise disposal.DisposalRefused(
                    _("Confirm that you have bag {serial} in hand and that it will be destroyed "
                      "(“{CONFIRMATION}”). Nothing was recorded.", serial=bag.serial, CONFIRMATION=disposal.CONFIRMATION.now()))
            current = state_of(bag)
            destroyed = BAG.apply(current, Event.DISPOSE, user.role, what=_("Bag {serial}", serial=bag.serial))
            signed_by = _disposal_signer(pharmacy, uow.session, bag, current, signer if password else None)
            note = (note or "").strip()
            words = disposal.words(chosen, note)
            bag.state = destroyed
            uow.session.add(Disposal(object_type="bag", object_id=bag.id, reason=words, reason_code=chosen.code,
                                     note=note or None, confirmed_by=user.id,
                                     signed_by=signed_by.id if signed_by else None, user_id=user.id, at=clock.now()))
            audit.append(uow.session, username, "bag.dispose", "bag", bag.id, old={"state": current},
                         new={"state": destroyed, "reason": chosen.code, "note": note or None,
                              "confirmed_by": username, "signed_by": signed_by.username if signed_by else None},
                         reason=words)
            from pharmacy.services import outbox  # not at the top: outbox → fhir → orders → labelcheck → bags

            outbox.bag_changed(pharmacy, uow.session, bag, "dispose", words)  # FHIR MedicationDispense stopped (H38)
            uow.commit()
            return bag


def _disposal_signer(pharmacy: Pharmacy, session, bag: Bag, state: BagState, signer: str | None) -> User | None:
    """The pharmacist whose signature (already checked) the destruction of a still-usable bag needs;
    for a bag that can no longer be given, whoever signed (nobody need)."""
    usable = disposal.still_usable(state)
    if signer is None:
        if not usable:
            return None
        use_by = to_local(bag.use_by, pharmacy.zone)
        raise disposal.DisposalRefused(
            _("Bag {serial} could still be given ({label}, use by {use_by:%d %b %H:%M %Z}): destroying it "
              "needs a pharmacist's signature. Ask a pharmacist to sign with their user name and password. "
              "Nothing was recorded.", serial=bag.serial, label=state.label, use_by=use_by))
    if not usable:
        return actor(session, signer)
    try:
        return actor(session, signer, "bags.destroy_usable")
    except NotAllowed:
        raise NotAllowed(_("Bag {serial} could still be given: only a pharmacist may sign its destruction, "
                           "and “{signer}” is not one. Nothing was recorded.", serial=bag.serial, signer=signer)) from None


def locations(pharmacy: Pharmacy) -> list[StorageLocation]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(StorageLocation).order_by(StorageLocation.name)).scalars())


def add_location(pharmacy: Pharmacy, username: str | None, name: str, min_celsius: float, max_celsius: float,
                 printer: str | None = None) -> int:
    if not (name or "").strip() or min_celsius >= max_celsius:
        raise PharmacyError(_("A location needs a name and a range whose minimum is below its maximum."))
    with pharmacy.uow() as uow:
        who = actor(uow.session, username, "storage.locations").username if username else "system"
        if uow.session.execute(select(StorageLocation.id).where(StorageLocation.name == name.strip())).first():
            raise StateConflict(_("A storage location named “{name}” exists already.", name=name.strip()))
        location = StorageLocation(name=name.strip(), min_celsius=min_celsius, max_celsius=max_celsius, printer=printer)
        uow.session.add(location)
        uow.session.flush()
        audit.append(uow.session, who, "location.add", "location", location.id,
                     new={"name": location.name, "range": [min_celsius, max_celsius]})
        uow.commit()
        return location.id


