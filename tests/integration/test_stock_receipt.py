"""Receiving stock from scans (SPEC 2.1, issue 3 point 4). Every refusal says why and records
nothing but the note of the refusal: no vial, no diluent bag, no audit entry."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import DiluentLot, FalsificationIncident, Vial
from pharmacy.domain.errors import CheckDigitError, DuplicateSerial, Expired, NotAllowed, PharmacyError, ScanError, UnknownProduct
from pharmacy.domain.gs1 import GS, with_check_digit
from pharmacy.services import demo, stock
from tests import factories
from tests.integration.records import counts, diluent_bags, last_refusal, refused, scan, scans

UNKNOWN_GTIN = with_check_digit("0950600099999")


def refused_and_nothing_recorded(pharmacy, raw: str, error: type[PharmacyError], *fragments: str) -> PharmacyError:
    bags_before = diluent_bags(pharmacy)
    caught = refused(pharmacy, None, error, lambda: stock.receive(pharmacy, "tech", raw), *fragments)
    assert diluent_bags(pharmacy) == bags_before
    note = last_refusal(pharmacy)
    assert (note.action, note.username) == ("stock.receive", "tech")
    return caught


def refused_as_a_suspected_falsification(pharmacy, raw: str, *fragments: str) -> None:
    """A serial seen again (EU FMD, issue 12 point 8): refused and nothing received, but — unlike any
    other refusal — the incident is kept (its own transaction), and the pack in stock is set aside."""
    before = counts(pharmacy)
    with pytest.raises(DuplicateSerial) as caught:
        stock.receive(pharmacy, "tech", raw)
    assert all(fragment in caught.value.message for fragment in fragments)
    assert "set aside as a suspected falsification" in caught.value.message
    assert "a pharmacist was alerted" in caught.value.message
    after = counts(pharmacy)
    assert (after["vials"], after["refusals"]) == (before["vials"], before["refusals"] + 1)
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(func.count()).select_from(FalsificationIncident)).scalar_one() == 1
    assert last_refusal(pharmacy).message == caught.value.message


def test_an_unknown_gtin_is_refused_naming_the_gtin(pharmacy):
    raw = f"]d201{UNKNOWN_GTIN}21SER1{GS}10L1{GS}17280630"
    refused_and_nothing_recorded(pharmacy, raw, UnknownProduct, f"GTIN {UNKNOWN_GTIN} is not a product",
                                 "Nothing was received")


@pytest.mark.hazard("H9")
def test_an_expired_pack_is_refused_with_its_expiry_date(pharmacy):
    refused_and_nothing_recorded(pharmacy, scan("expired pack (2024)"), Expired, "lot K100Z", "expired on 31 Jan 2024")


def test_a_pack_whose_expiry_ends_today_is_still_received_but_yesterdays_is_not(pharmacy, clock):
    # A GS1 expiry date is usable through the end of that day in the pharmacy's zone (SPEC 3).
    assert stock.receive(pharmacy, "tech", factories.vial_scan("EDGE0001", "E1", "261120")).expiry == "2026-11-20"
    refused_and_nothing_recorded(pharmacy, factories.vial_scan("EDGE0002", "E1", "261119"), Expired,
                                 "expired on 19 Nov 2026")


def test_an_expiry_in_month_13_is_refused_as_a_malformed_expiry(pharmacy):
    refused_and_nothing_recorded(pharmacy, scan("malformed expiry month 13"), ScanError, "(17)", "expiry")


@pytest.mark.hazard("H10")
def test_a_serial_already_received_is_refused_as_a_possible_falsification(pharmacy):
    raw = scan("valid FMD pack, symbology id")
    stock.receive(pharmacy, "tech", raw)
    refused_as_a_suspected_falsification(pharmacy, raw, "Serial LEM0000000001", "already known (received)",
                                         "falsified pack", "Quarantine the pack")


@pytest.mark.hazard("H10")
def test_a_serial_already_used_in_a_bag_is_refused_saying_so(pharmacy):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    refused_as_a_suspected_falsification(pharmacy, factories.vial_scan(pharmacy.vial_serials[0]),
                                         "already known (used)", "falsified")


def test_a_serialised_pack_without_a_serial_is_refused(pharmacy):
    refused_and_nothing_recorded(pharmacy, scan("missing serial"), ScanError, "no serial number (21)", "EU FMD")


@pytest.mark.parametrize("description, error, fragment", [
    ("truncated scan", ScanError, "could not be read as GS1 data"),
    ("not GS1: plain EAN-13", ScanError, "plain product barcode"),
    ("bad GTIN check digit", CheckDigitError, "wrong check digit"),
])
def test_a_malformed_scan_is_refused(pharmacy, description, error, fragment):
    refused_and_nothing_recorded(pharmacy, scan(description), error, fragment)


def test_a_scan_without_lot_is_refused(pharmacy):
    refused_and_nothing_recorded(pharmacy, f"]d201{demo.VIAL_GTIN}21NOLOT1{GS}17280630", ScanError, "no batch/lot (10)")


def test_a_nurse_may_not_receive_stock(pharmacy):
    before = counts(pharmacy)
    with pytest.raises(NotAllowed):
        stock.receive(pharmacy, "nurse", factories.vial_scan("NURSE0001"))
    assert counts(pharmacy)["vials"] == before["vials"]


def test_every_valid_fixture_scan_is_received_against_the_demo_pharmacy(bare_pharmacy, clock):
    demo.seed(bare_pharmacy)
    links = {d: raw for d, raw in scans().items() if d.startswith("GS1 Digital Link URI") and "bad" not in d}
    valid = {d: raw for d, raw in scans().items() if d.startswith("valid") or d.startswith("NOT a permitted diluent")}
    assert len(valid) == 8 and len(links) == 2  # issue 15: a French national number (711), Digital Link URIs
    for description, raw in valid.items():
        receipt = stock.receive(bare_pharmacy, "tech", raw)
        assert receipt.gtin == raw.removeprefix("]d2").removeprefix("]C1")[2:16], description
    for description, raw in links.items():
        assert stock.receive(bare_pharmacy, "tech", raw).gtin == "09506000134369", description
    with bare_pharmacy.uow(readonly=True) as uow:
        vial = uow.session.execute(select(Vial).where(Vial.serial == "LEM0000000004")).scalar_one()
        end_of_month = uow.session.execute(select(Vial.expiry).where(Vial.serial == "LEM0000000003")).scalar_one()
    assert vial.national_number == "DE12345678"
    assert end_of_month == date(2028, 6, 30)  # day 00 = the last day of the month (SPEC appendix)


def test_the_demo_vials_do_not_use_the_fixture_serials(bare_pharmacy, clock):
    demo.seed(bare_pharmacy)
    fixture_serials = {f"LEM{n:010d}" for n in range(1, 20)}
    demo_serials = {row["serial"] for row in stock.list_stock(bare_pharmacy) if row["kind"] == "vial"}
    assert demo_serials and not demo_serials & fixture_serials


def test_a_second_bag_of_the_same_diluent_lot_adds_to_its_count(pharmacy):
    before = counts(pharmacy)
    first = stock.receive(pharmacy, "tech", factories.GLUCOSE_SCAN)
    second = stock.receive(pharmacy, "tech", factories.GLUCOSE_SCAN)
    assert first.id == second.id and first.kind == "diluent" and first.serial is None
    with pharmacy.uow(readonly=True) as uow:
        lot = uow.session.get(DiluentLot, first.id)
    assert (lot.lot, lot.expiry, lot.received_count) == ("G5520", date(2027, 5, 31), 3)  # one from the fixture
    after = counts(pharmacy)
    assert after["diluent_lots"] == before["diluent_lots"] and after["audit"] == before["audit"] + 2


def test_the_same_diluent_lot_with_another_expiry_is_refused(pharmacy):
    other_expiry = demo.diluent_scan(demo.GLUCOSE, "G5520", "270630")
    refused_and_nothing_recorded(pharmacy, other_expiry, ScanError, "Lot G5520", "expiry 2027-05-31",
                                 "this bag says 2027-06-30", "nothing was received")


def test_receipt_records_that_the_pack_identifier_was_decommissioned(pharmacy, clock):
    receipt = stock.receive(pharmacy, "tech", factories.vial_scan("FMD000001"))
    with pharmacy.uow(readonly=True) as uow:
        vial = uow.session.get(Vial, receipt.id)
    assert vial.decommission_ref == "recorded-locally"
    assert vial.decommissioned_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class NationalSystem:
    """A stand-in for a national verification system connector."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.calls = refuse, []

    def decommission(self, gtin, serial, lot, expiry):
        self.calls.append((gtin, serial, lot, expiry))
        if self.refuse:
            raise DuplicateSerial(f"The national system reports pack {serial} as already decommissioned.")
        return f"NMVS-{serial}"


def test_the_decommissioning_step_is_pluggable_and_its_reference_recorded(pharmacy, monkeypatch):
    national = NationalSystem()
    monkeypatch.setattr(stock, "decommissioner", national)
    receipt = stock.receive(pharmacy, "tech", factories.vial_scan("FMD000002", "K9", "280131"))
    with pharmacy.uow(readonly=True) as uow:
        vial = uow.session.get(Vial, receipt.id)
    assert national.calls == [(demo.VIAL_GTIN, "FMD000002", "K9", "2028-01-31")]
    assert vial.decommission_ref == "NMVS-FMD000002"


def test_a_pack_the_national_system_refuses_is_not_received(pharmacy, monkeypatch):
    monkeypatch.setattr(stock, "decommissioner", NationalSystem(refuse=True))
    refused_and_nothing_recorded(pharmacy, factories.vial_scan("FMD000003"), DuplicateSerial, "already decommissioned")
