"""Traceability for recalls and inspections (SPEC 5; SmPC 4.4: record the name and batch number of the
administered product), checked row by row against a data set whose answer is known."""

from __future__ import annotations

import csv
import io
import json

import pypdf
import pytest

from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError
from pharmacy.printing import exports
from pharmacy.services import administration, bags, stock, trace
from tests import factories
from tests.factories import GLUCOSE_SCAN, vial_scan


@pytest.fixture
def traced(pharmacy, clock):
    """Lot K123A: bag 1 (Anna, given), bag 2 (Béla, stored). Lot L200B: bag 3 (Chloé, awaiting check)."""
    for n in (1, 2):
        stock.receive(pharmacy, "tech", vial_scan(f"L200B{n:04d}", "L200B", "281231"))
    anna = factories.patient("P-1", "Anna Example")
    bela = factories.patient("P-2", "Béla =1+1 Kovács")
    chloe = factories.patient("P-3", "Chloé Ξένη")
    bag1 = factories.released_bag(pharmacy, pharmacy.vial_serials[0], anna)
    bags.print_labels(pharmacy, "tech", [bag1.serial])
    factories.confirm_label(pharmacy, bag1.serial)  # the bedside gives only a bag whose label was scanned on it
    factories.start_infusion(pharmacy, bag1.serial, "P-1")
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", bag1.serial)
    bag2 = factories.released_bag(pharmacy, pharmacy.vial_serials[1], bela, diluent=GLUCOSE_SCAN)
    bags.print_labels(pharmacy, "tech", [bag2.serial])
    bags.print_labels(pharmacy, "tech", [bag2.serial])
    bags.store(pharmacy, "tech", bag2.serial, factories.FRIDGE)
    _, bag3 = factories.signed_preparation(pharmacy, "L200B0001", chloe)
    return bag1, bag2, bag3


def test_recall_of_a_vial_lot_names_every_bag_its_patient_state_prints_and_administration(pharmacy, traced):
    bag1, bag2, _ = traced
    rows = trace.recall(pharmacy, "K123A")
    assert [(r["bag_serial"], r["patient_id"], r["state"], r["label_prints"], r["diluent_lot"]) for r in rows] == [
        (bag1.serial, "P-1", "administered", 1, "N9931"),
        (bag2.serial, "P-2", "stored", 2, "G5520"),
    ]
    assert rows[0]["administration_started"] is not None and rows[0]["administration_ended"] is not None
    assert rows[1]["administration_started"] is None


@pytest.mark.hazard("H14")
def test_recall_of_one_vial_serial_and_of_a_diluent_lot(pharmacy, traced):
    bag1, bag2, bag3 = traced
    assert [r["bag_serial"] for r in trace.recall(pharmacy, "K123A", serial=pharmacy.vial_serials[1])] == [bag2.serial]
    assert [r["bag_serial"] for r in trace.recall(pharmacy, "N9931", kind="diluent")] == [bag1.serial, bag3.serial]
    with pytest.raises(NotFound, match="No vial lot “NO-SUCH-LOT” was ever received."):  # not an empty list (H14)
        trace.recall(pharmacy, "NO-SUCH-LOT")


@pytest.mark.hazard("H14")
def test_recall_quarantines_only_bags_not_yet_given_and_the_lots_stock(pharmacy, traced):
    bag1, bag2, _ = traced
    done = trace.quarantine_lot(pharmacy, "pharm", "K123A", "vial", "Manufacturer recall notice 2026/17")
    assert done["bags"] == [bag2.serial] and done["stock"] == len(pharmacy.vial_serials) - 2
    states = {r["bag_serial"]: r["state"] for r in trace.recall(pharmacy, "K123A")}
    assert states == {bag1.serial: "administered", bag2.serial: "quarantined"}
    with pytest.raises(NotAllowed):
        trace.quarantine_lot(pharmacy, "tech", "K123A", "vial", "Manufacturer recall notice 2026/17")
    with pytest.raises(PharmacyError, match="recall reason"):
        trace.quarantine_lot(pharmacy, "pharm", "K123A", "vial", "short")


def test_recall_exports_csv_json_and_pdf_hold_the_same_rows(pharmacy, traced):
    rows = trace.recall(pharmacy, "K123A")
    data = exports.to_csv(rows, trace.RECALL_COLUMNS, pharmacy.zone)
    assert data.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["bag_serial"] for r in table] == [r["bag_serial"] for r in rows]
    assert table[1]["patient_name"] == "Béla =1+1 Kovács"  # not at the start of a cell: left as it is
    assert table[0]["use_by"].endswith("+01:00") and "T" in table[0]["use_by"]  # ISO 8601 with offset
    assert json.loads(exports.to_json(rows, pharmacy.zone))[1]["label_prints"] == 2
    pdf = exports.report_pdf("Recall: vial lot K123A", "vial lot K123A", trace.RECALL_COLUMNS, rows,
                             generated_by="pharm", generated_at=rows[0]["use_by"], zone=pharmacy.zone)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    squeezed = "".join(text.split())  # 15 columns: a long serial wraps inside its cell
    for row in rows:
        assert row["bag_serial"] in squeezed and row["patient_id"] in squeezed
    assert "Page 1 of 1" in text and "vial lot K123A" in text and "by pharm" in text


@pytest.mark.parametrize("value", ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx"])
def test_a_csv_cell_that_a_spreadsheet_would_run_is_neutralised(pharmacy, value):
    data = exports.to_csv([{"name": value}], ["name"], pharmacy.zone).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(data)))[1] == ["'" + value]


def test_a_long_report_repeats_its_header_and_numbers_its_pages(pharmacy):
    rows = [{"n": i, "name": f"patient {i}"} for i in range(200)]
    pdf = exports.report_pdf("Long", "all", ["n", "name"], rows, generated_by="auditor",
                             generated_at=factories.clock_module_now(), zone=pharmacy.zone)
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) > 2
    for number, page in enumerate(pages, start=1):
        lines = page.extract_text().split("\n")
        headings = [exports.header("n"), exports.header("name")]  # "N", "Name": the printed report's headings
        assert lines[1:3] == headings or lines[5:7] == headings  # the header row on every page
        assert f"Page {number} of {len(pages)}" in lines


def test_bag_history_follows_the_bag_from_vial_to_vein(pharmacy, traced):
    bag1, bag2, _ = traced
    history = trace.bag_history(pharmacy, bag2.serial)
    assert history["patient"]["identifier"] == "P-2"
    assert [i["kind"] for i in history["ingredients"]] == ["vial", "diluent"]
    assert history["ingredients"][0]["serial"] == pharmacy.vial_serials[1]
    steps = [s["step"] for s in history["steps"]]
    assert steps == ["start", "vial", "inspection", "diluent", "volume", "photo", "mixing", "photo", "sign", "check"]
    assert [p["number"] for p in history["prints"]] == [1, 2]
    assert history["moves"][0]["location"] == factories.FRIDGE
    assert trace.bag_history(pharmacy, bag1.serial)["administration"]["ended_at"] is not None


def test_patient_history_lists_orders_bags_and_administrations(pharmacy, traced):
    bag1, _, _ = traced
    history = trace.patient_history(pharmacy, "P-1")
    assert [(o["course"], o["day"], o["bag"], o["bag_state"]) for o in history["orders"]] == [(1, 1, bag1.serial, "administered")]


def test_the_audit_log_filters_by_user_action_and_object(pharmacy, traced):
    bag1, _, _ = traced
    entries, total = trace.audit_log(pharmacy, username="nurse")
    assert total == 2 and {e.action for e in entries} == {"administration.start", "administration.end"}
    entries, total = trace.audit_log(pharmacy, action="label")
    assert total == 4 and [e.action for e in entries].count("label.reprint") == 1  # 3 prints, 1 confirmation (H27)
    assert [e.action for e in entries].count("label.confirm") == 1
    page, total = trace.audit_log(pharmacy, per_page=5, page=2)
    assert len(page) == 5 and total > 10
