"""Bags after the check: labels and reprints (SPEC 2.5), storage (2.6), bedside administration
(2.7), disposal (2.8), and the listings the CLI and screens show."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Bag, BagMove, Disposal, LabelPrint, Order, Preparation, StorageLocation, User
from pharmacy.domain import dilution, disposal
from pharmacy.domain.coldchain import range_fits
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError, StateConflict
from pharmacy.domain.inuse import effective_state, start_by, to_local
from pharmacy.domain.lifecycle import BAG, BagState, Event
from pharmacy.domain.monograph import Monograph
from pharmacy.printing.label import LabelData, render_labels
from pharmacy.printing.stocks import load_stock
from pharmacy.services import recalls, users
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

log = logging.getLogger(__name__)
_BAG_OPTIONS = (
    selectinload(Bag.preparation).selectinload(Preparation.order).selectinload(Order.patient),
    selectinload(Bag.preparation).selectinload(Preparation.vial),
    selectinload(Bag.preparation).selectinload(Preparation.diluent_lot),
    selectinload(Bag.preparation).selectinload(Preparation.steps),
)


def find_bag(session, serial: str, lock: bool = False) -> Bag:
    query = select(Bag).where(Bag.serial == (serial or "").strip()).options(*_BAG_OPTIONS)
    bag = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if bag is None:
        raise NotFound(f"No bag with serial “{serial}”.")
    return bag


def get_bag(pharmacy: Pharmacy, serial: str) -> Bag:
    with pharmacy.uow(readonly=True) as uow:
        return find_bag(uow.session, serial)


def state_of(bag: Bag, now: datetime | None = None) -> BagState:
    return effective_state(bag.state, bag.use_by, now or clock.now())


def infusion_time(monograph: Monograph) -> timedelta:
    """The planned infusion duration (the monograph's ``infusion.duration``) as a time span."""
    return timedelta(seconds=float(monograph.infusion_duration.to("second").magnitude))


def start_by_for(pharmacy: Pharmacy, use_by: datetime, product_id: str) -> datetime:
    """START BY of a bag of this product with this use-by, under the active administration policy:
    what the bedside enforces, and what the label and every screen print."""
    monograph = pharmacy.product(product_id)
    return start_by(use_by, infusion_time(monograph), pharmacy.settings.administration_policy)


def start_by_of(pharmacy: Pharmacy, bag: Bag) -> datetime:
    """``start_by_for`` of a bag; ``bag`` needs its preparation and order loaded."""
    return start_by_for(pharmacy, bag.use_by, bag.preparation.order.product_id)


def bag_row(bag: Bag, now: datetime) -> dict:
    prep = bag.preparation
    return {
        "serial": bag.serial, "batch": bag.batch, "state": state_of(bag, now),
        "use_by": bag.use_by.isoformat(), "patient_id": prep.order.patient.identifier,
        "vial_lot": prep.vial.lot if prep.vial else None, "vial_serial": prep.vial.serial if prep.vial else None,
        "diluent_lot": prep.diluent_lot.lot if prep.diluent_lot else None,
    }


def list_bags(pharmacy: Pharmacy, state: str | None = None) -> list[dict]:
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        bags = uow.session.execute(select(Bag).options(*_BAG_OPTIONS).order_by(Bag.id)).scalars().all()
        rows = [bag_row(b, now) for b in bags]
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
        raise StateConflict(f"Bag {bag.serial} has no vial, diluent or dilution time recorded: it cannot be labelled.")
    order, patient = prep.order, prep.order.patient
    monograph = pharmacy.product(order.product_id)
    plan = dilution.plan(monograph)
    diluent = pharmacy.catalog.diluents[diluent_lot.diluent_id]
    prepared_by, checked_by = _names(session, prep)
    patient_ai = pharmacy.settings.patient_ai
    ai_value = None
    if patient_ai == "8018":
        ai_value = patient.gsrn
        if not ai_value:
            raise PharmacyError(f"Patient {patient.identifier} has no GSRN, but labels carry the wristband GSRN (8018).")
    elif patient_ai != "none":
        ai_value = patient.identifier
    return LabelData(
        pharmacy_name=pharmacy.settings.pharmacy_name, patient_name=patient.name, patient_id=patient.identifier,
        patient_dob=patient.date_of_birth, ward=patient.ward, product_brand=monograph.brand,
        product_inn=monograph.inn, dose=dilution.display_mass(plan.dose), diluent=diluent.name,
        diluent_volume=dilution.display_volume(diluent.volume),
        total_volume=f"approx. {dilution.display_volume(plan.final_volume)}",
        concentration=dilution.display_concentration(plan.concentration),
        route=f"{monograph.route} ({monograph.route_text})",
        infusion=f"over approx. {dilution.display_duration(plan.duration)} at {dilution.display_rate(plan.rate)}",
        prepared_at=prepared_at, use_by=bag.use_by, start_by=start_by_of(pharmacy, bag),
        timezone=pharmacy.settings.timezone,
        storage=monograph.in_use_storage.text, vial_lot=vial.lot, vial_expiry=vial.expiry,
        diluent_lot=diluent_lot.lot, batch=bag.batch, bag_serial=bag.serial,
        preparation_gtin=monograph.preparation_gtin, prepared_by=prepared_by, checked_by=checked_by,
        reprint=reprint, patient_ai=None if patient_ai == "none" else patient_ai, patient_ai_value=ai_value,
    )


@dataclass(frozen=True)
class PrintedLabels:
    pdf: bytes
    prints: list[tuple[str, int]]  # (bag serial, print number)
    job: str | None = None


def print_labels(pharmacy: Pharmacy, username: str, serials: list[str], stock: str | None = None,
                 printer: str | None = None) -> PrintedLabels:
    """Labels for released bags, one page each; the second and later prints say REPRINT n. Every
    print is audited in the same transaction; sending to a CUPS queue happens after the commit."""
    stock_def = load_stock(stock or pharmacy.settings.label_stock)
    with refusals_recorded(pharmacy, username, "label.print", "bag", ",".join(serials)), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.label")
        items, prints = [], []
        for serial in serials:
            bag = find_bag(uow.session, serial, lock=True)
            recalls.check_not_recalled(uow.session, pharmacy.zone, preparation=bag.preparation)  # no label (H9)
            BAG.apply(state_of(bag), Event.PRINT_LABEL, user.role, what=f"Bag {bag.serial}")
            done = uow.session.execute(select(func.count()).select_from(LabelPrint).where(LabelPrint.bag_id == bag.id)).scalar_one()
            number = done + 1
            items.append(label_data(pharmacy, uow.session, bag, reprint=number - 1))
            uow.session.add(LabelPrint(bag_id=bag.id, number=number, stock=stock_def.name,
                                       destination=f"printer:{printer}" if printer else "download",
                                       user_id=user.id, at=clock.now()))
            audit.append(uow.session, username, "label.reprint" if number > 1 else "label.print", "bag", bag.id,
                         new={"number": number, "stock": stock_def.name, "printer": printer})
            prints.append((bag.serial, number))
        pdf = render_labels(items, stock_def)
        uow.commit()
    job = send_to_printer(pdf, printer) if printer else None
    return PrintedLabels(pdf, prints, job)


def send_to_printer(pdf: bytes, printer: str) -> str:
    """CUPS: ``lp -d PRINTER``; the job id it prints is returned for the record."""
    try:
        done = subprocess.run(["lp", "-d", printer], input=pdf, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PharmacyError(f"The label was recorded but could not be sent to printer {printer}: {error}. "
                            "Download the PDF and print it by hand.") from None
    if done.returncode != 0:
        raise PharmacyError(f"Printer {printer} refused the label: {done.stderr.decode(errors='replace').strip()}. "
                            "Download the PDF and print it by hand.")
    return done.stdout.decode(errors="replace").strip()


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
            raise LabelMismatch("Scan the label's barcode (DataMatrix or GS1-128): a typed serial does not prove which "
                                "label is on the bag. Nothing was recorded.")
        scanned = bag_serial_from_scan(pharmacy, text)
        if scanned != bag.serial:
            raise LabelMismatch(f"STOP: the label on this bag is for bag {scanned}, not {bag.serial}. Take the label off, "
                                f"find bag {scanned}, and print bag {bag.serial}'s label again. Nothing was recorded.")
        printed = uow.session.execute(select(func.count()).select_from(LabelPrint).where(LabelPrint.bag_id == bag.id)).scalar_one()
        if not printed:
            raise StateConflict(f"Bag {bag.serial} has no printed label yet: print it first.")
        bag.label_confirmed_at = clock.now()
        audit.append(uow.session, username, "label.confirm", "bag", bag.id, new={"serial": bag.serial, "scanned": scanned})
        uow.commit()
        return bag


def labels_printed(pharmacy: Pharmacy, serial: str) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(LabelPrint).join(Bag, LabelPrint.bag_id == Bag.id)
                                   .where(Bag.serial == serial)).scalar_one()


def store(pharmacy: Pharmacy, username: str, serial: str, location_name: str) -> Bag:
    with refusals_recorded(pharmacy, username, "bag.store", "bag", serial), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.handle")
        bag = find_bag(uow.session, serial, lock=True)
        stored = BAG.apply(state_of(bag), Event.STORE, user.role, what=f"Bag {bag.serial}")
        location = uow.session.execute(select(StorageLocation).where(StorageLocation.name == location_name)).scalar_one_or_none()
        if location is None:
            raise NotFound(f"No storage location “{location_name}”.")
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
            f"{location.name} is kept at {location.min_celsius:g}–{location.max_celsius:g} °C, but {monograph.brand} "
            f"bags must be stored at {allowed.min_celsius:g}–{allowed.max_celsius:g} °C ({allowed.text}). "
            "Store the bag in a location within that range; it was not stored.")


def take_out(pharmacy: Pharmacy, username: str, serial: str, destination: str) -> Bag:
    """A stored bag leaves its location (to the ward, in transit): from now on its time out of
    refrigeration counts again (``services.coldchain.fridge_status``)."""
    with refusals_recorded(pharmacy, username, "bag.take_out", "bag", serial), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.handle")
        bag = find_bag(uow.session, serial, lock=True)
        released = BAG.apply(state_of(bag), Event.TAKE_OUT, user.role, what=f"Bag {bag.serial}")
        where = (destination or "").strip()
        if len(where) < 2:
            raise PharmacyError("Say where the bag goes (the ward, “in transit” …).")
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
            users.check_signature(pharmacy, signer, password, "destruction of the bag")
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "bags.handle")
            chosen = disposal.reason_for(reason, note)
            bag = find_bag(uow.session, serial, lock=True)
            if not confirmed:
                raise disposal.DisposalRefused(
                    f"Confirm that you have bag {bag.serial} in hand and that it will be destroyed "
                    f"(“{disposal.CONFIRMATION}”). Nothing was recorded.")
            current = state_of(bag)
            destroyed = BAG.apply(current, Event.DISPOSE, user.role, what=f"Bag {bag.serial}")
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
            f"Bag {bag.serial} could still be given ({state.label}, use by {use_by:%d %b %H:%M %Z}): destroying it "
            "needs a pharmacist's signature. Ask a pharmacist to sign with their user name and password. "
            "Nothing was recorded.")
    if not usable:
        return actor(session, signer)
    try:
        return actor(session, signer, "bags.destroy_usable")
    except NotAllowed:
        raise NotAllowed(f"Bag {bag.serial} could still be given: only a pharmacist may sign its destruction, "
                         f"and “{signer}” is not one. Nothing was recorded.") from None


def locations(pharmacy: Pharmacy) -> list[StorageLocation]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(StorageLocation).order_by(StorageLocation.name)).scalars())


def add_location(pharmacy: Pharmacy, username: str | None, name: str, min_celsius: float, max_celsius: float,
                 printer: str | None = None) -> int:
    if not (name or "").strip() or min_celsius >= max_celsius:
        raise PharmacyError("A location needs a name and a range whose minimum is below its maximum.")
    with pharmacy.uow() as uow:
        who = actor(uow.session, username, "storage.locations").username if username else "system"
        if uow.session.execute(select(StorageLocation.id).where(StorageLocation.name == name.strip())).first():
            raise StateConflict(f"A storage location named “{name.strip()}” exists already.")
        location = StorageLocation(name=name.strip(), min_celsius=min_celsius, max_celsius=max_celsius, printer=printer)
        uow.session.add(location)
        uow.session.flush()
        audit.append(uow.session, who, "location.add", "location", location.id,
                     new={"name": location.name, "range": [min_celsius, max_celsius]})
        uow.commit()
        return location.id


