"""A recall that stays recalled (clinical-safety issue, item 2): the four reproductions of the issue
through the screens and the JSON API, with the clock frozen. A recalled vial lot, vial serial or
diluent lot is refused at receipt, at every preparation step, at release, at labelling and at the
bedside; preparations under way are listed and stopped; lot search ignores case and spaces; lifting
a recall takes a pharmacist's password and is audited."""

from __future__ import annotations

import re

import pytest

from pharmacy.services import bags, preparation, stock, users
from tests import factories
from tests.factories import PASSWORDS, vial_scan
from tests.integration.records import audit_entries
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible
from tests.web.test_trace_screens import csv_rows, pdf_text, table_rows, visible

REASON = "Manufacturer recall notice 2026/17: particles"


@pytest.fixture
def api(app, pharmacy):
    client = app.test_client()
    tokens = {name: users.create_token(pharmacy, name, f"{name} device") for name in ("tech", "nurse", "pharm")}

    def call(method: str, url: str, who: str = "tech", **kwargs):
        return client.open(f"/api/v1{url}", method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kwargs)

    return call


def under_way(pharmacy, vial_serial: str, who=None):
    """A preparation whose vial was scanned and inspected: the diluent is next."""
    order = factories.verified_order(pharmacy, who)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(vial_serial))
    return preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)


def quarantine_on_screen(pharm, lot: str, preview_page_words: list[str] | None = None):
    """The existing two-step recall screen: preview, confirm."""
    confirm = pharm.post("/trace/recall/quarantine", {"lot": lot, "kind": "vial", "reason": REASON})
    assert confirm.status_code == 200, text(confirm)
    for words in preview_page_words or []:
        assert words in visible(confirm)
    page = confirm.get_data(as_text=True)
    form = {name: re.search(rf'name="{name}" value="(\d+)"', page)[1] for name in ("expected_bags", "expected_stock")}
    done = pharm.post("/trace/recall/quarantine", {"lot": lot, "kind": "vial", "reason": REASON, "confirm": "yes",
                                                   **form})
    assert done.status_code == 302, text(done)
    return pharm.get(done.headers["Location"])


@pytest.mark.hazard("H14")
@pytest.mark.hazard("H9")
def test_a_vial_already_in_a_preparation_when_its_lot_is_recalled_is_listed_quarantined_and_its_step_refused(
        signed_in, pharmacy, clock):
    prep = under_way(pharmacy, pharmacy.vial_serials[0])
    pharm = signed_in("pharm")
    page = pharm.get("/trace/recall?kind=vial&lot=K123A")
    assert table_rows(page, "under-way") == [
        [str(prep.id), "inspected", "Tessa Technician", "Anna Example P-1 · Ward 5", "K123A TK123A000001", ""]]
    assert "and stops 1 preparation(s) under way" in visible(page)
    after = quarantine_on_screen(pharm, "K123A", [f"Preparations under way that are stopped (their next step is "
                                                  f"refused): {prep.id}"])
    assert (f"! Recalled vial lot K123A was recalled on 20 Nov 2026 09:00 CET by Petra Pharmacist (recall R1: {REASON}). "
            "It is refused at receipt, at every preparation step, at release, at labelling and at the bedside") \
        in visible(after)
    assert [r["state"] for r in stock.list_stock(pharmacy) if r["kind"] == "vial"] == ["quarantined"] * 6

    clock.advance(minutes=5)
    tech = signed_in("tech")
    tech.get(f"/prep/{prep.id}")
    refused = tech.post(f"/prep/{prep.id}/diluent", {"scan": factories.NACL_SCAN, "version": str(prep.version)})
    assert refused.status_code == 422
    assert "RECALLED: vial lot K123A was recalled" in text(refused) and REASON in text(refused)
    assert preparation.get(pharmacy, prep.id).state == "inspected"  # nothing moved on


@pytest.mark.hazard("H9")
def test_a_signed_bag_of_a_recalled_lot_is_not_released_but_may_be_rejected(signed_in, pharmacy, clock):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    pharm = signed_in("pharm")
    recorded = pharm.post("/trace/recalls", {"kind": "vial_serial", "lot_or_serial": "tk123a 000001", "gtin": "",
                                             "reason": REASON})
    assert recorded.status_code == 302
    listing = pharm.get("/trace/recalls")
    assert "Recall R1 recorded: vial serial TK123A000001. Quarantined 1 bag(s) and 0 stock item(s)" in text(listing)
    assert bags.get_bag(pharmacy, bag.serial).state == "quarantined"
    checker = signed_in("pharm2")
    checker.get(f"/check/{prep.id}")
    refused = checker.post(f"/check/{prep.id}", {"decision": "released", "password": PASSWORDS["pharm2"],
                                                 "version": str(prep.version), "bag_scan": factories.in_process_scan(prep.id)})
    assert refused.status_code == 422 and "RECALLED: vial serial TK123A000001 was recalled" in text(refused)
    rejected = checker.post(f"/check/{prep.id}", {"decision": "rejected", "password": PASSWORDS["pharm2"],
                                                  "version": str(prep.version), "reason": "vial recalled by the maker"})
    assert rejected.status_code == 302
    assert bags.get_bag(pharmacy, bag.serial).state == "quarantined"  # rejected, and still out of use
    assert preparation.get(pharmacy, prep.id).state == "rejected"


@pytest.mark.hazard("H9")
def test_a_released_bag_of_a_recalled_diluent_lot_gets_no_label_and_is_refused_at_the_bedside(
        signed_in, pharmacy, clock, api):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    pharm = signed_in("pharm")
    assert pharm.post("/trace/recalls", {"kind": "diluent_lot", "lot_or_serial": "n9931", "reason": REASON}
                      ).status_code == 302
    label = signed_in("tech").post(f"/bags/{bag.serial}/label.pdf")
    assert label.status_code == 422 and "RECALLED: diluent lot N9931 was recalled" in text(label)
    clock.advance(minutes=10)
    verdict = api("POST", "/bedside/check", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-1"}).get_json()
    assert verdict["ok"] is False
    recalled = [r["message"] for r in verdict["reasons"] if r["code"] == "recalled"]
    assert recalled == [f"RECALLED: diluent lot N9931 was recalled on 20 Nov 2026 09:00 CET by Petra Pharmacist "
                        f"(recall R1: {REASON}). Do not give this bag; return it to pharmacy."]


@pytest.mark.hazard("H9")
def test_a_vial_of_a_recalled_lot_delivered_after_the_recall_is_refused_at_receipt(signed_in, pharmacy, api):
    pharm = signed_in("pharm")
    assert pharm.post("/trace/recalls", {"kind": "vial_lot", "lot_or_serial": " rb 7 ", "reason": REASON}
                      ).status_code == 302  # the notice came before the delivery
    refused = api("POST", "/stock/receive", json={"scan": vial_scan("RB70000001", "RB7", "280630")})
    assert refused.status_code == 422 and refused.get_json()["code"] == "recalled"
    assert "RECALLED: vial lot RB7 was recalled" in refused.get_json()["message"]
    on_screen = signed_in("tech").post("/stock/receive", {"scan": vial_scan("RB70000002", "RB7", "280630")})
    assert "RECALLED: vial lot RB7" in text(on_screen)
    assert not [r for r in stock.list_stock(pharmacy) if r["lot"] == "RB7"]
    other = api("POST", "/stock/receive", json={"scan": vial_scan("RC10000001", "RC1", "280630")})
    assert other.status_code == 201


@pytest.mark.hazard("H14")
def test_recall_ra_finds_lot_RA_and_a_lot_never_received_says_so(signed_in, pharmacy, api):
    stock.receive(pharmacy, "tech", vial_scan("RA00000001", "RA", "280630"))
    bag = factories.released_bag(pharmacy, "RA00000001")
    auditor = signed_in("auditor")
    page = auditor.get("/trace/recall?kind=vial&lot=%20ra%20")
    assert [row[0].split()[0] for row in table_rows(page, "recall")] == [bag.serial]
    assert [r["bag_serial"] for r in api("GET", "/recall/ra", who="pharm").get_json()] == [bag.serial]
    missing = auditor.get("/trace/recall?kind=vial&lot=NOPE")
    assert missing.status_code == 404 and "No vial lot “NOPE” was ever received." in text(missing)
    by_api = api("GET", "/recall/NOPE", who="pharm")
    assert by_api.status_code == 404 and by_api.get_json()["message"] == "No vial lot “NOPE” was ever received."
    assert api("GET", "/recall/ra?kind=diluent", who="pharm").get_json()["message"] == \
        "No diluent lot “ra” was ever received."


@pytest.mark.hazard("H9")
def test_lifting_a_recall_needs_the_pharmacists_password_and_a_reason_and_is_audited(signed_in, pharmacy, clock, api):
    pharm = signed_in("pharm")
    pharm.post("/trace/recalls", {"kind": "vial_lot", "lot_or_serial": "RB7", "reason": REASON})
    auditor = signed_in("auditor")
    listing = auditor.get("/trace/recalls")
    assert listing.status_code == 200 and "Lift recall R1" not in text(listing)
    assert table_rows(listing, "recalls")[0][:3] == ["R1", "vial lot RB7", "active"]
    assert auditor.post("/trace/recalls/1/lift", {"password": PASSWORDS["auditor"], "reason": "notice withdrawn by maker"}
                        ).status_code == 403
    pharm.get("/trace/recalls")
    wrong = pharm.post("/trace/recalls/1/lift", {"password": "not-my-password", "reason": "notice withdrawn by maker"})
    assert wrong.status_code == 401 and "Password not accepted" in text(wrong)
    short = pharm.post("/trace/recalls/1/lift", {"password": PASSWORDS["pharm"], "reason": "oops"})
    assert short.status_code == 422 and "at least 10 characters" in text(short)
    assert api("POST", "/stock/receive", json={"scan": vial_scan("RB70000001", "RB7", "280630")}).status_code == 422

    clock.advance(minutes=5)
    lifted = pharm.post("/trace/recalls/1/lift", {"password": PASSWORDS["pharm"], "reason": "Notice withdrawn by the maker"})
    assert lifted.status_code == 302
    assert "Recall R1 (vial lot RB7) lifted." in text(pharm.get("/trace/recalls"))
    entry = [e for e in audit_entries(pharmacy) if e.action == "recall.lift"]
    assert [(e.username, e.object_id, e.reason, e.new["signature"]) for e in entry] == [
        ("pharm", "1", "Notice withdrawn by the maker", "Petra Pharmacist")]
    again = pharm.post("/trace/recalls/1/lift", {"password": PASSWORDS["pharm"], "reason": "Notice withdrawn by the maker"})
    assert again.status_code == 409 and "already lifted" in text(again)
    assert api("POST", "/stock/receive", json={"scan": vial_scan("RB70000001", "RB7", "280630")}).status_code == 201


@pytest.mark.hazard("H14")
def test_the_recall_csv_pdf_and_api_list_the_preparation_under_way_with_its_preparer_and_state(
        signed_in, pharmacy, clock, api):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    prep = under_way(pharmacy, pharmacy.vial_serials[1], factories.patient("P-2", "Béla Kovács"))
    auditor = signed_in("auditor")
    page = auditor.get("/trace/recall?kind=vial&lot=K123A")
    accessible(page)
    assert [row[0].split()[0] for row in table_rows(page, "recall")] == [bag.serial]
    assert "1 bag(s) for 1 patient(s)" in visible(page) and "1 preparation(s) under way" in visible(page)
    rows = csv_rows(auditor.get("/trace/recall.csv?kind=vial&lot=K123A"))
    assert [(r["bag_serial"], r["state"], r["patient_id"], r["preparation"], r["prepared_by"]) for r in rows] == [
        (bag.serial, "released", "P-1", str(bag.preparation_id), "Tessa Technician"),
        ("", "inspected", "P-2", str(prep.id), "Tessa Technician")]
    pdf = pdf_text(auditor.get("/trace/recall.pdf?kind=vial&lot=K123A"))
    assert "2 row(s)" in pdf and "inspected" in pdf
    by_api = api("GET", "/recall/k123a", who="pharm").get_json()
    assert [(r["bag_serial"], r["state"], r["preparation"], r["prepared_by"]) for r in by_api] == [
        (bag.serial, "released", bag.preparation_id, "Tessa Technician"),
        (None, "inspected", prep.id, "Tessa Technician")]


def test_the_standing_recalls_screen_reads_well_and_is_refused_to_technicians_and_nurses(signed_in, pharmacy):
    pharm = signed_in("pharm")
    refused = pharm.post("/trace/recalls", {"kind": "carton", "lot_or_serial": "K123A", "reason": REASON})
    assert refused.status_code == 422 and "Recall a vial lot, a vial serial or a diluent lot." in text(refused)
    pharm.post("/trace/recalls", {"kind": "vial_lot", "lot_or_serial": "K123A", "reason": REASON})
    listing = pharm.get("/trace/recalls")
    accessible(listing)
    assert "1 active recall(s)" in visible(listing) and "Lift recall R1" in text(listing)
    for role in ("tech", "nurse"):
        assert signed_in(role).get("/trace/recalls").status_code == 403
