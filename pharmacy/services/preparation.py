"""Guided preparation (SPEC 2.3), one service per step, each a hard stop.

Scan vial → visual inspection → scan diluent → withdrawn volume → gentle mixing (the server stamps
the dilution time) → the preparer signs. Every step names the version of the preparation the form
was loaded with: a double submit or a stale form changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.models import Bag, DiluentLot, Order, Photo, Preparation, PreparationStep, Vial, Weighing
from pharmacy.devices.balance import Balance
from pharmacy.domain import bagid, dilution, photos
from pharmacy.domain.errors import Expired, NotAllowed, NotFound, PharmacyError, StateConflict, WrongProduct
from pharmacy.domain.inuse import check_ingredient_in_date, to_local, use_by
from pharmacy.domain.lifecycle import BAG, LOT, ORDER, PREP_ACTIVE, PREP_NEXT_STEP, PREPARATION, VIAL, Event, PrepState, VialState
from pharmacy.domain.monograph import Monograph
from pharmacy.domain.units import Q_, VOLUME, parse_quantity
from pharmacy.i18n import _, lazy
from pharmacy.printing.in_process import InProcessLabel, render_in_process_label
from pharmacy.printing.stocks import load_stock
from pharmacy.services import balances, fmd, recalls, users
from pharmacy.services.base import Pharmacy, actor, check_version, load_steps, refusals_recorded
from pharmacy.services.stock import read_scan

_R = TypeVar("_R")
NEXT_STEP = PREP_NEXT_STEP  # state → the step the screen asks for next


def start(pharmacy: Pharmacy, username: str, order_id: int) -> Preparation:
    """Start (or resume: a second click must not start a second bag) the preparation of an order."""
    with refusals_recorded(pharmacy, username, "prep.start", "order", order_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "prep.work")
        order = uow.session.execute(select(Order).where(Order.id == order_id).with_for_update()).scalar_one_or_none()
        if order is None:
            raise NotFound(_("Order {order_id} does not exist.", order_id=order_id))
        active = uow.session.execute(select(Preparation).where(
            Preparation.order_id == order_id, Preparation.state.in_(PREP_ACTIVE))).scalar_one_or_none()
        if active is not None:
            uow.session.expunge(active)  # nothing to write; the rollback on exit must not expire it
            return active
        in_preparation = ORDER.apply(order.state, Event.START_PREPARATION, user.role, what=_("Order {order_id}", order_id=order_id))
        today = to_local(clock.now(), pharmacy.zone).date()
        if order.scheduled_on != today:
            hours = pharmacy.product(order.product_id).in_use_limit.total_seconds() / 3600
            raise PharmacyError(_("This dose is scheduled for {scheduled_on:%d %b %Y}. A diluted bag keeps only "
                                  "{hours:g} h (SmPC 6.3): prepare it on the day.", scheduled_on=order.scheduled_on, hours=hours))
        prep = Preparation(order_id=order.id, state=PREPARATION.initial, version=1, prepared_by=user.id, started_at=clock.now())
        uow.session.add(prep)
        order.state = in_preparation
        uow.session.flush()
        _record(uow.session, prep, user, "start", {"order": order.id})
        audit.append(uow.session, username, "prep.start", "preparation", prep.id, new={"order": order.id})
        uow.commit()
        return prep


# built once (issue 18); with the order, vial and diluent lot every step reads (the recall check, the product),
# in the same statement: inside the write lock each statement is a wait for the interpreter under load
_PREPARATION = (select(Preparation).where(Preparation.id == bindparam("prep_id"))
                .options(joinedload(Preparation.order), joinedload(Preparation.vial), joinedload(Preparation.diluent_lot)))
_PREPARATION_LOCKED = _PREPARATION.with_for_update(of=Preparation)


def _load(session, prep_id: int, version, event: Event, user, lock: bool = True) -> Preparation:
    prep = session.execute(_PREPARATION_LOCKED if lock else _PREPARATION, {"prep_id": prep_id}).scalar_one_or_none()
    if prep is None:
        raise NotFound(_("Preparation {prep_id} does not exist.", prep_id=prep_id))
    if prep.prepared_by != user.id:
        raise NotAllowed(_("Only the person who started this preparation may record its steps."))
    check_version(prep.version, version, "preparation")
    if not PREPARATION.allows(prep.state, event):
        raise StateConflict(_("This step is already done or not yet due (the preparation is at “{label}”). "
                              "Nothing was recorded.", label=prep.state.label))
    return prep


def _record(session, prep: Preparation, user, step: str, detail: dict) -> None:
    session.add(PreparationStep(preparation_id=prep.id, step=step, detail=detail, user_id=user.id, at=clock.now()))


def _advance(session, prep: Preparation, user, username: str, step: str, event: Event, detail: dict) -> None:
    old = prep.state
    state = PREPARATION.apply(old, event, user.role)
    prep.state, prep.version = state, prep.version + 1
    _record(session, prep, user, step, detail)
    audit.append(session, username, f"prep.{step}", "preparation", prep.id, old={"state": old},
                 new={"state": state, **detail})


def _step(pharmacy: Pharmacy, username: str, prep_id: int, version, event: Event, step: str, apply,
          entered: str | None = None):
    """Run one step in one transaction: load and lock, check user, version and state, apply, audit.
    ``apply`` returns the event that happened (a failed inspection is another event) and the detail.
    A refusal keeps what was ``entered`` (the scan, the typed volume) for the checking pharmacist."""
    with refusals_recorded(pharmacy, username, f"prep.{step}", "preparation", prep_id, entered), pharmacy.uow() as uow:
        user = actor(uow.session, username, "prep.work")
        prep = _load(uow.session, prep_id, version, event, user)
        # a recall stops a preparation under way: no further step with a recalled ingredient (H9, H14)
        recalls.check_not_recalled(uow.session, pharmacy.zone, preparation=prep)
        monograph = pharmacy.product(prep.order.product_id)
        happened, detail = apply(uow.session, prep, monograph)
        _advance(uow.session, prep, user, username, step, happened, detail)
        try:
            uow.commit()
        except IntegrityError:
            raise StateConflict(_("Another preparation took this item at the same moment. Nothing was recorded; "
                                  "scan another one.")) from None
        return prep


def scan_vial(pharmacy: Pharmacy, username: str, prep_id: int, version, raw: str) -> Preparation:
    def apply(session, prep, monograph):
        scan = read_scan(pharmacy, raw)
        if scan.gtin not in monograph.vial_gtins:
            raise WrongProduct(_("This is not a {brand} vial (GTIN {gtin}). Scan a {name} pack.",
                                 brand=monograph.brand, gtin=scan.gtin, name=monograph.name))
        vial = session.execute(select(Vial).where(Vial.gtin == scan.gtin, Vial.serial == scan.serial)
                               .with_for_update()).scalar_one_or_none()
        if vial is None:
            raise NotFound(_("Vial serial {serial} was never received into stock. Receive it first; "
                             "a pack that is not in stock must not be used.", serial=scan.serial))
        recalls.check_not_recalled(session, pharmacy.zone, vial_gtin=vial.gtin, vial_lot=vial.lot, vial_serial=vial.serial)
        if not VIAL.allows(vial.state, Event.SCAN_VIAL):
            _refuse_vial(vial, scan, username, prep)
        check_ingredient_in_date(vial.expiry, clock.now(), pharmacy.zone, _("Vial lot {lot}", lot=vial.lot))
        vial.state, prep.vial_id = VIAL.apply(vial.state, Event.SCAN_VIAL), vial.id
        return Event.SCAN_VIAL, {"vial": vial.id, "serial": vial.serial, "lot": vial.lot, "expiry": vial.expiry}

    try:
        return _step(pharmacy, username, prep_id, version, Event.SCAN_VIAL, "vial", apply, raw)
    except fmd.SuspectVialScanned as suspect:  # the step is rolled back; the incident is kept
        fmd.record(pharmacy, suspect.sighting)
        raise


def _refuse_vial(vial: Vial, scan, username: str, prep: Preparation) -> NoReturn:
    """A vial that cannot go into a preparation. Already used, in use or rejected, the same serial in
    a hand is a suspected falsification (EU FMD): refused, and an incident is recorded."""
    if vial.state == VialState.SUSPECT:
        raise StateConflict(_("Vial serial {serial} is set aside as a suspected falsification (EU FMD): it must "
                              "not be used. Put it in quarantine and take another vial; a pharmacist resolves the "
                              "incident on the dashboard.", serial=vial.serial))
    if vial.state in fmd.SEEN_AGAIN:
        raise fmd.SuspectVialScanned(
            _("Vial serial {serial} is {label}: a vial is used once only. The same serial scanned "
              "again may be a falsified pack: {ALERT} Take another vial.", serial=vial.serial, label=vial.state.label,
              ALERT=fmd.ALERT.now()),
            fmd.Sighting(vial.gtin, vial.serial, scan.lot, fmd.VIAL_STEP, username, prep.id))
    raise StateConflict(_("Vial serial {serial} is {label}: it must not be used. Take another vial.",
                          serial=vial.serial, label=vial.state.label))


def inspect_vial(pharmacy: Pharmacy, username: str, prep_id: int, version, passed: bool, note: str = "") -> Preparation:
    """A vial that fails the monograph's inspection (``reject_if``) is rejected; the step asks for another."""
    def apply(session, prep, monograph):
        vial = session.get(Vial, prep.vial_id)
        if passed:
            return Event.PASS_INSPECTION, {"passed": True, "vial": vial.id}
        if len((note or "").strip()) < 3:
            raise PharmacyError(_("Say what was wrong with the vial (particles, colour, crack …)."))
        old = vial.state
        vial.state, prep.vial_id = VIAL.apply(old, Event.FAIL_INSPECTION), None
        audit.append(session, username, "vial.reject", "vial", vial.id, old={"state": old},
                     new={"state": vial.state}, reason=note.strip())
        return Event.FAIL_INSPECTION, {"passed": False, "vial": vial.id, "note": note.strip()}

    return _step(pharmacy, username, prep_id, version, Event.PASS_INSPECTION, "inspection", apply)


def scan_diluent(pharmacy: Pharmacy, username: str, prep_id: int, version, raw: str) -> Preparation:
    def apply(session, prep, monograph):
        scan = read_scan(pharmacy, raw)
        dilution.check_diluent(monograph, pharmacy.catalog.diluent_by_gtin(scan.gtin or ""), scanned=scan.gtin or "")
        lot = session.execute(select(DiluentLot).where(DiluentLot.gtin == scan.gtin, DiluentLot.lot == scan.lot)).scalar_one_or_none()
        if lot is None:
            raise NotFound(_("Diluent lot {lot} was never received into stock. Receive it first.", lot=scan.lot))
        recalls.check_not_recalled(session, pharmacy.zone, diluent_gtin=lot.gtin, diluent_lot=lot.lot)
        if not LOT.allows(lot.state, Event.SCAN_DILUENT):
            raise StateConflict(_("Diluent lot {lot} is {label} and must not be used.", lot=lot.lot, label=lot.state.label))
        check_ingredient_in_date(lot.expiry, clock.now(), pharmacy.zone, _("Diluent lot {lot}", lot=lot.lot))
        prep.diluent_lot_id = lot.id
        return Event.SCAN_DILUENT, {"diluent_lot": lot.id, "diluent": lot.diluent_id, "lot": lot.lot, "expiry": lot.expiry}

    return _step(pharmacy, username, prep_id, version, Event.SCAN_DILUENT, "diluent", apply, raw)


def record_volume(pharmacy: Pharmacy, username: str, prep_id: int, version, entered: str, *,
                  decimal_comma: bool = False) -> Preparation:
    """The typed volume: only where this product is not weighed here (``balances.weighs``); it is kept as
    ``typed`` evidence, and the check screen and the bag's record say the volume was not weighed.
    ``decimal_comma``: the person writes a decimal comma (their screens' language; ``units.parse_quantity``)."""
    def apply(session, prep, monograph):
        if balances.weighs(pharmacy, monograph):
            raise PharmacyError(_("{brand} is weighed at this workstation: tare the empty syringe on the "
                                  "balance, then weigh it filled. A typed volume is not accepted here.", brand=monograph.brand))
        measured = parse_quantity(entered, VOLUME, maximum=monograph.vial_volume * 2, decimal_comma=decimal_comma)
        expected = dilution.withdraw_volume(monograph.dose, monograph.concentration)
        dilution.check_withdrawn_volume(measured, expected, monograph.withdraw_tolerance)
        prep.withdrawn_ml, prep.withdrawn_entered = float(measured.to("mL").magnitude), entered.strip()
        prep.volume_evidence = "typed"
        return Event.RECORD_VOLUME, {"withdrawn_ml": prep.withdrawn_ml, "entered": prep.withdrawn_entered,
                                     "evidence": "typed", "unweighed_because": balances.why_unweighed(pharmacy, monograph)}

    return _step(pharmacy, username, prep_id, version, Event.RECORD_VOLUME, "volume", apply, entered)


def _weighing_prechecked(pharmacy: Pharmacy, username: str, prep_id: int, version) -> Monograph:
    """Before the balance is asked anything: the right person, the current form, the volume step, a
    product weighed here. (Checked again, under the lock, when the reading is recorded.)"""
    with pharmacy.uow(readonly=True) as uow:
        user = actor(uow.session, username, "prep.work")
        prep = _load(uow.session, prep_id, version, Event.RECORD_VOLUME, user, lock=False)
        monograph = pharmacy.product(prep.order.product_id)
    if not balances.weighs(pharmacy, monograph):
        raise PharmacyError(_("The volume of {brand} is typed here: "
                              "{balances}.", brand=monograph.brand, balances=balances.why_unweighed(pharmacy, monograph)))
    return monograph


def _read_balance(pharmacy: Pharmacy, read: Callable[[Balance], _R]) -> tuple[str, _R]:
    """The balance's serial number and one reading, taken outside any transaction; the balance must be
    calibrated before anything it says counts."""
    with balances.connect(pharmacy) as scale:
        serial = scale.serial_number()
        with pharmacy.uow(readonly=True) as uow:
            balances.check_calibrated(uow.session, pharmacy, serial)
        return serial, read(scale)


def tare(pharmacy: Pharmacy, username: str, prep_id: int, version) -> Weighing:
    """The empty syringe (or the bag, where the monograph weighs the bag) is tared on the balance."""
    with refusals_recorded(pharmacy, username, "prep.tare", "preparation", prep_id):
        _weighing_prechecked(pharmacy, username, prep_id, version)
        serial, reading = _read_balance(pharmacy, lambda scale: scale.tare())
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "prep.work")
            prep = _load(uow.session, prep_id, version, Event.RECORD_VOLUME, user)
            grams = "0" if reading is None else str(reading.grams)  # SBI reports no tare mass: zero proven
            raw = "tare (SBI: zero confirmed)" if reading is None else reading.raw
            weighing = Weighing(preparation_id=prep.id, kind="tare", grams=grams, raw=raw[:80], balance_serial=serial,
                                accepted=True, user_id=user.id, at=clock.now())
            uow.session.add(weighing)
            prep.version += 1  # the weighing form that follows must be the one loaded after this tare
            _record(uow.session, prep, user, "tare", {"balance": serial, "tare_g": grams})
            audit.append(uow.session, username, "prep.tare", "preparation", prep.id,
                         new={"balance": serial, "tare_g": grams, "raw": raw})
            uow.commit()
            uow.session.expunge(weighing)
            return weighing


def weigh_volume(pharmacy: Pharmacy, username: str, prep_id: int, version) -> Preparation:
    """The filled syringe on the tared balance: its stable net mass, through the product's density, is the
    withdrawn volume, checked against the dose within the tolerance (SmPC 6.6). Only a stable reading of
    a calibrated balance that was tared for this preparation counts."""
    with refusals_recorded(pharmacy, username, "prep.volume", "preparation", prep_id):
        monograph = _weighing_prechecked(pharmacy, username, prep_id, version)
        serial, reading = _read_balance(pharmacy, lambda scale: scale.weigh_stable())
    density = monograph.density
    assert density is not None  # balances.weighs
    grams = reading.grams

    def apply(session, prep, monograph):
        tare_row = session.execute(select(Weighing).where(
            Weighing.preparation_id == prep.id, Weighing.kind == "tare", Weighing.id > superseded_weighings(session, prep.id))
            .order_by(Weighing.id.desc()).limit(1)).scalar_one_or_none()
        if tare_row is None:  # none at all, or only one from before the check sent the volume back (H29)
            raise StateConflict(_("Tare the empty syringe on the balance first, then weigh it filled. Nothing was recorded."))
        if tare_row.balance_serial != serial:
            raise StateConflict(_("The syringe was tared on balance {balance_serial} but weighed on {serial}: "
                                  "tare and weigh on the same balance. Nothing was recorded.",
                                  balance_serial=tare_row.balance_serial, serial=serial))
        volume = dilution.volume_from_mass(Q_(float(grams), "g"), density.value)
        expected = dilution.withdraw_volume(monograph.dose, monograph.concentration)
        try:
            dilution.check_withdrawn_volume(volume, expected, monograph.withdraw_tolerance)
        except PharmacyError as error:
            raise type(error)(_("Weighed {grams} g net = {volume} at {density:~P}. {refusal}", grams=grams,
                                volume=dilution.display_volume(volume, places=3), density=density.value,
                                refusal=error.message), **error.details) from None
        volume_ml = f"{volume.to('mL').magnitude:.4f}"
        session.add(Weighing(preparation_id=prep.id, kind="net", grams=str(grams), raw=reading.raw[:80],
                             balance_serial=serial, density_g_ml=f"{density.value.magnitude:g}", volume_ml=volume_ml,
                             accepted=True, user_id=prep.prepared_by, at=clock.now()))
        prep.withdrawn_ml = float(volume_ml)
        prep.withdrawn_entered = f"{grams} g ÷ {density.value.magnitude:g} g/mL"[:40]
        prep.volume_evidence = "weighed"
        return Event.RECORD_VOLUME, {"withdrawn_ml": prep.withdrawn_ml, "evidence": "weighed", "balance": serial,
                                     "tare_g": tare_row.grams, "net_g": str(grams), "raw": reading.raw,
                                     "density_g_ml": f"{density.value.magnitude:g}", "density_source": density.source,
                                     "density_demo": density.demo}

    return _step(pharmacy, username, prep_id, version, Event.RECORD_VOLUME, "volume", apply,
                 f"weighed {grams} g net on balance {serial}")


IN_PROCESS_STATES = frozenset({PrepState.DILUENT_SCANNED, PrepState.VOLUME_RECORDED, PrepState.MIXED, PrepState.SIGNED})


def in_process_label(pharmacy: Pharmacy, username: str, prep_id: int) -> tuple[str, bytes]:
    """The in-process label of the bag being filled (from the diluent scan to the check): its serial and
    the PDF. Every print is audited; it is never a label for administration (``domain/bagid``)."""
    serial, pdf, _ = _in_process(pharmacy, username, prep_id, None)
    return serial, pdf


def in_process_label_to(pharmacy: Pharmacy, username: str, prep_id: int, printer: str | None):
    """The in-process label on a configured printer: a print job (``services/printjobs``); a PDF-download
    printer gives the PDF back in the outcome's place, as ``in_process_label`` does."""
    return _in_process(pharmacy, username, prep_id, printer or None)


def in_process_data(pharmacy: Pharmacy, session, prep_id: int | None) -> InProcessLabel:
    """What the in-process label carries, from the record; refused once the preparation is past the check."""
    prep = session.get(Preparation, prep_id) if prep_id is not None else None
    if prep is None:
        raise NotFound(_("Preparation {prep_id} does not exist.", prep_id=prep_id))
    if prep.state not in IN_PROCESS_STATES:
        raise StateConflict(_("The preparation is at “{label}”: an in-process label is printed from the "
                              "diluent scan until the check, never after.", label=prep.state.label))
    monograph = pharmacy.product(prep.order.product_id)
    serial, patient = bagid.bag_serial(prep.id), prep.order.patient
    language = pharmacy.settings.label_language  # the label's fixed words and figures (issue 16 point 8)
    with i18n.using(language):
        dose = dilution.display_mass(monograph.dose)
    return InProcessLabel(serial, patient.name, patient.identifier, f"{monograph.brand} ({monograph.inn}) {dose}", prep.id,
                          language=language)


def _in_process(pharmacy: Pharmacy, username: str, prep_id: int, printer_name: str | None):
    from pharmacy.services import printjobs

    with refusals_recorded(pharmacy, username, "label.in_process", "preparation", prep_id):
        target = printjobs.printer_for(pharmacy, printer_name) if printer_name else None
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "prep.work")
            data = in_process_data(pharmacy, uow.session, prep_id)
            if target is None:
                payload = render_in_process_label(data, load_stock(pharmacy.settings.label_stock))
            else:
                payload = printjobs.render_in_process(target, load_stock(target.stock), data)
            audit.append(uow.session, username, "label.in_process", "preparation", data.preparation_id,
                         new={"bag": data.serial, "code": bagid.in_process_code(data.serial),
                              **({"printer": target.name} if target else {})})
            job_id = 0
            if target is not None:
                job_id = printjobs.add_job(uow.session, user, target, what="in_process", bag=None, serial=data.serial,
                                           number=None, preparation_id=data.preparation_id).id
            uow.commit()
    if target is None or target.downloads:
        return data.serial, payload, None
    return data.serial, payload, printjobs.dispatch(pharmacy, username, [(job_id, payload)])[0]


def superseded_weighings(session, prep_id: int) -> int:
    """The id of the last weighing made void by a send-back to the volume (or an earlier step): the
    weighings up to it are history, the volume needs new ones (H29). 0: none is void."""
    rows = session.execute(select(PreparationStep.detail).where(
        PreparationStep.preparation_id == prep_id, PreparationStep.step == "send_back")).scalars().all()
    return _void_weighings(rows)


def superseded_step_weighings(prep: Preparation) -> int:
    """``superseded_weighings`` from a preparation loaded with its steps (for a screen)."""
    return _void_weighings(s.detail for s in prep.steps if s.step == "send_back")


def _void_weighings(details) -> int:
    """The highest ``weighings_before`` of the send-backs (their step details) that redo the volume."""
    void = 0
    for detail in details:
        redo = (detail or {}).get("redo") or []
        if "volume" in redo:
            void = max(void, int((detail or {}).get("weighings_before") or 0))
    return void


def sent_back(prep: Preparation) -> dict | None:
    """The check's send-back the preparer is working through (``detail`` of its step, with ``at`` and
    ``user_id``), until they sign again (or the check rejects it); None when there is none."""
    for step in reversed(prep.steps):
        if step.step in ("sign", "check"):
            return None
        if step.step == "send_back":
            return {**(step.detail or {}), "at": step.at, "user_id": step.user_id}
    return None


def weighings(pharmacy: Pharmacy, prep_id: int, current: bool = False) -> list[Weighing]:
    """The preparation's weighings, oldest first; ``current``: only those a send-back did not make void."""
    with pharmacy.uow(readonly=True) as uow:
        after = superseded_weighings(uow.session, prep_id) if current else 0
        rows = uow.session.execute(select(Weighing).where(Weighing.preparation_id == prep_id, Weighing.id > after)
                                   .order_by(Weighing.id)).scalars().all()
        for row in rows:
            uow.session.expunge(row)
        return list(rows)


def _check_photos(session, prep: Preparation, monograph: Monograph, event: Event) -> None:
    """The photos the monograph requires before ``event`` must be there (``domain/photos``, H28)."""
    if monograph.photos:
        taken = set(session.execute(select(Photo.kind).where(
            Photo.preparation_id == prep.id, Photo.replaced_at.is_(None))).scalars())
        photos.check_taken(monograph.photos, taken, event)


def confirm_mixing(pharmacy: Pharmacy, username: str, prep_id: int, version) -> Preparation:
    """Mixed as the monograph says (``preparation.mixing``). The dilution time is the server's, never typed."""
    def apply(session, prep, monograph):
        _check_photos(session, prep, monograph, Event.MIX)
        if prep.dilution_time is not None:  # mixed again after a send-back: the drug met the diluent then, and
            # the use-by counts from then; a later stamp would give the bag a later use-by (H29)
            return Event.MIX, {"dilution_time": prep.dilution_time.isoformat(), "dilution_time_kept": True}
        prep.dilution_time = clock.now()
        return Event.MIX, {"dilution_time": prep.dilution_time.isoformat()}

    return _step(pharmacy, username, prep_id, version, Event.MIX, "mixing", apply)


def sign(pharmacy: Pharmacy, username: str, prep_id: int, version, password: str) -> Bag:
    """The preparer signs the step list (password again); the bag gets its serial, batch and use-by."""
    bag_holder: list[Bag] = []
    with refusals_recorded(pharmacy, username, "prep.sign", "preparation", prep_id):
        users.check_signature(pharmacy, username, password, lazy("preparation"))

    def apply(session, prep, monograph):
        _check_photos(session, prep, monograph, Event.SIGN)
        vial, lot = session.get(Vial, prep.vial_id), session.get(DiluentLot, prep.diluent_lot_id)
        limit = use_by(prep.dilution_time, monograph.in_use_limit, [vial.expiry, lot.expiry], pharmacy.zone)
        if limit <= clock.now():
            raise Expired(_("The bag is already past its use-by time; it cannot be signed. Discard it."))
        local = to_local(prep.dilution_time, pharmacy.zone)
        bag = session.execute(select(Bag).where(Bag.preparation_id == prep.id)).scalar_one_or_none()
        prep.signed_at = clock.now()
        prep.order.state = ORDER.apply(prep.order.state, Event.SIGN)
        if bag is not None:  # signed again after a send-back: the same bag, still awaiting its check (H29)
            old_use_by, bag.use_by = bag.use_by, limit  # the redone steps may bring an earlier ingredient expiry
            bag_holder.append(bag)
            audit.append(session, username, "bag.resign", "bag", bag.id, old={"use_by": old_use_by.isoformat()}, new={
                "serial": bag.serial, "use_by": limit.isoformat(), "state": bag.state,
                "volume_evidence": prep.volume_evidence or "typed"})
            return Event.SIGN, {"bag": bag.serial, "use_by": limit.isoformat(), "meaning": "prepared", "again": True}
        bag = Bag(serial=bagid.bag_serial(prep.id), batch=f"P{local:%y%m%d}-{prep.id}", preparation_id=prep.id,
                  state=BAG.initial, use_by=limit)
        session.add(bag)
        session.flush()
        bag_holder.append(bag)
        audit.append(session, username, "bag.create", "bag", bag.id, new={
            "serial": bag.serial, "batch": bag.batch, "use_by": limit.isoformat(), "state": bag.state,
            "volume_evidence": prep.volume_evidence or "typed"})
        return Event.SIGN, {"bag": bag.serial, "use_by": limit.isoformat(), "meaning": "prepared"}

    _step(pharmacy, username, prep_id, version, Event.SIGN, "sign", apply)
    return bag_holder[0]


# one statement and the steps' (issue 18: base.load_steps), built once: every step screen reads it
_SHOWN = select(Preparation).where(Preparation.id == bindparam("prep_id")).options(
    joinedload(Preparation.order, innerjoin=True).joinedload(Order.patient, innerjoin=True),
    joinedload(Preparation.vial), joinedload(Preparation.diluent_lot))


def get(pharmacy: Pharmacy, prep_id: int) -> Preparation:
    with pharmacy.uow(readonly=True) as uow:
        prep = uow.session.execute(_SHOWN, {"prep_id": prep_id}).scalar_one_or_none()
        if prep is None:
            raise NotFound(_("Preparation {prep_id} does not exist.", prep_id=prep_id))
        return load_steps(uow.session, prep)


_AWAITING_CHECK = (select(Preparation).where(Preparation.state == PrepState.SIGNED).order_by(Preparation.signed_at)
                   .options(joinedload(Preparation.order, innerjoin=True).joinedload(Order.patient, innerjoin=True)))


def awaiting_check(pharmacy: Pharmacy) -> list[Preparation]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(_AWAITING_CHECK).scalars())
