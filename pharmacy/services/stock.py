"""Receiving stock from scans (SPEC 2.1): vials by their EU FMD unique identifier, diluent bags by
GTIN + lot + expiry. Every refusal leaves nothing recorded but the note of the refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import DiluentLot, Vial
from pharmacy.domain.errors import ScanError, UnknownProduct
from pharmacy.domain.inuse import check_ingredient_in_date
from pharmacy.domain.lifecycle import LOT, VIAL
from pharmacy.i18n import _
from pharmacy.services import fmd, recalls, stock_list
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

if TYPE_CHECKING:
    from pharmacy.domain.gs1 import Scan


class Decommissioner(Protocol):
    """The FMD step: the pack's unique identifier is decommissioned in the national verification
    system. That system is out of reach here, so the default only records that it was done locally;
    a pharmacy plugs in its national connector."""

    def decommission(self, gtin: str, serial: str, lot: str, expiry: str) -> str: ...


class RecordedLocally:
    def decommission(self, gtin: str, serial: str, lot: str, expiry: str) -> str:
        return "recorded-locally"


decommissioner: Decommissioner = RecordedLocally()


@dataclass(frozen=True)
class Receipt:
    kind: str  # "vial" or "diluent"
    id: int
    name: str
    gtin: str
    serial: str | None
    lot: str
    expiry: str

    @property
    def message(self) -> str:
        if self.serial:
            return _("Received {name}: serial {serial}, lot {lot}, expiry {expiry}.", name=self.name, serial=self.serial,
                     lot=self.lot, expiry=self.expiry)
        return _("Received {name}: lot {lot}, expiry {expiry}.", name=self.name, lot=self.lot, expiry=self.expiry)


def read_scan(pharmacy: Pharmacy, raw: str) -> Scan:
    from pharmacy.domain.gs1 import parse_scan  # biip: only a receipt needs it, not the list (issue 16)

    return parse_scan(raw, gs_substitutes=pharmacy.settings.gs_substitutes, today=clock.now().date(),
                      require_symbology=pharmacy.settings.require_symbology_id)


def _lot_and_expiry(scan: Scan) -> tuple[str, date]:
    if not scan.lot:
        raise ScanError(_("The scan has no batch/lot (10): scan the pack's GS1 code, not another barcode."))
    if scan.expiry is None:
        raise ScanError(_("The scan has no expiry date (17): scan the pack's GS1 code, not another barcode."))
    return scan.lot, scan.expiry


def receive(pharmacy: Pharmacy, username: str, raw: str) -> Receipt:
    """Record a scanned pack or diluent bag, or refuse it with the reason."""
    with refusals_recorded(pharmacy, username, "stock.receive"):
        scan = read_scan(pharmacy, raw)
        if not scan.gtin:
            raise ScanError(_("The scan has no product code (01)."))
        product = pharmacy.catalog.product_by_gtin(scan.gtin)
        diluent = pharmacy.catalog.diluent_by_gtin(scan.gtin)
        known = product or diluent
        if known is None:
            raise UnknownProduct(_("GTIN {gtin} is not a product in this pharmacy's catalogue. Nothing was received.", gtin=scan.gtin))
        lot, expiry = _lot_and_expiry(scan)
        check_ingredient_in_date(expiry, clock.now(), pharmacy.zone, _("{name} lot {lot}", name=known.name, lot=lot))
        if product is not None:
            try:
                return _receive_vial(pharmacy, username, scan, product, lot, expiry)
            except fmd.SuspectedFalsification as suspect:  # the receipt is rolled back; the incident is kept
                fmd.record(pharmacy, suspect.sighting)
                raise
        return _receive_diluent(pharmacy, username, scan, diluent, lot, expiry)


def _receive_vial(pharmacy, username, scan, product, lot, expiry) -> Receipt:
    if product.serialised and not scan.serial:
        raise ScanError(_("The {brand} pack scan has no serial number (21): every pack carries one "
                          "(EU FMD). Scan the 2D DataMatrix on the carton.", brand=product.brand))
    with pharmacy.uow() as uow:
        user = actor(uow.session, username, "stock.receive")
        known = uow.session.execute(select(Vial).where(Vial.gtin == scan.gtin, Vial.serial == scan.serial)).scalar_one_or_none()
        if known is not None:
            raise _duplicate(scan, known.state, username)
        # a recalled lot or serial is refused at receipt, whenever it is delivered (H9)
        recalls.check_not_recalled(uow.session, pharmacy.zone, vial_gtin=scan.gtin, vial_lot=lot, vial_serial=scan.serial)
        vial = Vial(product_id=product.id, gtin=scan.gtin, serial=scan.serial, lot=lot, expiry=expiry,
                    national_number=scan.national_number, state=VIAL.initial, received_at=clock.now(),
                    received_by=user.id)
        uow.session.add(vial)
        try:
            uow.session.flush()  # the serial is ours (unique constraint) before the pack is decommissioned
        except IntegrityError:
            raise _duplicate(scan, VIAL.initial, username) from None
        vial.decommission_ref = decommissioner.decommission(scan.gtin, scan.serial, lot, expiry.isoformat())
        vial.decommissioned_at = clock.now()
        reference = vial.decommission_ref
        audit.append(uow.session, username, "stock.receive", "vial", vial.id, new={
            "gtin": scan.gtin, "serial": scan.serial, "lot": lot, "expiry": expiry.isoformat(),
            "national_number": scan.national_number, "national_number_ai": scan.national_number_ai,
            "decommissioned": reference})
        uow.commit()
        return Receipt("vial", vial.id, product.name, scan.gtin, scan.serial, lot, expiry.isoformat())


def _duplicate(scan: Scan, state, username: str) -> fmd.SuspectedFalsification:
    """A serial already known at a receipt: a suspected falsification (EU FMD), not just a duplicate."""
    return fmd.SuspectedFalsification(
        _("Serial {serial} of GTIN {gtin} is already known ({label}). A pack serial is unique: "
          "this may be a falsified pack. Quarantine the pack: it is set aside as a suspected falsification, "
          "a pharmacist was alerted on the dashboard and the incident is recorded (EU FMD). Nothing was received.",
          serial=scan.serial, gtin=scan.gtin, label=state.label),
        fmd.Sighting(scan.gtin or "", scan.serial or "", scan.lot, fmd.RECEIPT, username))


def _receive_diluent(pharmacy, username, scan, diluent, lot, expiry) -> Receipt:
    with pharmacy.uow() as uow:
        actor(uow.session, username, "stock.receive")
        recalls.check_not_recalled(uow.session, pharmacy.zone, diluent_gtin=scan.gtin, diluent_lot=lot)
        row = uow.session.execute(select(DiluentLot).where(DiluentLot.gtin == scan.gtin, DiluentLot.lot == lot)).scalar_one_or_none()
        if row is not None and row.expiry != expiry:
            raise ScanError(_("Lot {lot} of {name} was received with expiry {expiry}, "
                              "but this bag says {expiry_2}. Check the bag; nothing was received.",
                              lot=lot, name=diluent.name, expiry=row.expiry.isoformat(), expiry_2=expiry.isoformat()))
        if row is None:
            row = DiluentLot(diluent_id=diluent.id, gtin=scan.gtin, lot=lot, expiry=expiry, received_count=0,
                             state=LOT.initial, received_at=clock.now())
            uow.session.add(row)
        row.received_count += 1
        uow.session.flush()
        audit.append(uow.session, username, "stock.receive", "diluent_lot", row.id, new={
            "gtin": scan.gtin, "lot": lot, "expiry": expiry.isoformat(), "count": row.received_count})
        uow.commit()
        return Receipt("diluent", row.id, diluent.name, scan.gtin, None, lot, expiry.isoformat())


def list_stock(pharmacy: Pharmacy) -> list[dict]:
    """Every vial and diluent lot with its state (``services/stock_list``: plain rows, shared with the command line)."""
    with pharmacy.uow(readonly=True) as uow:
        return stock_list.read(uow.session.connection())


@dataclass(frozen=True)
class StockScreen:
    lots: list[dict]  # by lot, soonest expiry first (``stock_list.by_lot``)
    vials: list[dict]  # the latest received, newest first
    vial_count: int  # all the vials there are


def stock_screen(pharmacy: Pharmacy, latest: int | None) -> StockScreen:
    """The stock screen's rows: the stock by lot, and the ``latest`` vials received (``None``: every vial)."""
    with pharmacy.uow(readonly=True) as uow:
        connection = uow.session.connection()
        vials, count = stock_list.latest_vials(connection, latest)
        return StockScreen(stock_list.by_lot(connection), vials, count)
