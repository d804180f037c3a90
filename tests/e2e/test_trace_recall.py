"""A pharmacist recalls vial lot K123A in the browser: every bag and patient on one screen, the CSV
and PDF downloads, the quarantine confirmed with its count, and a bag followed to its history.
Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pharmacy.services import bags
from tests.e2e.test_bench_journey import DESKTOP, shoot, sign_in
from tests.integration.test_reports import RECALL_REASON, seed

pytestmark = pytest.mark.e2e


def test_pharmacist_recalls_a_vial_lot_and_quarantines_the_bags_not_yet_given(live_server, browser, pharmacy, clock,
                                                                              shots):
    seeded = seed(pharmacy, clock, recall=False)
    pharm = sign_in(browser, live_server, "pharm", viewport=DESKTOP)
    pharm.locator(".topbar summary", has_text="Quality").click()  # the menu's group (issue 16 point 3)
    pharm.get_by_role("link", name="Recall & trace").click()
    expect(pharm.get_by_role("heading", level=1)).to_have_text("Recall & trace")
    pharm.get_by_label("Lot (batch) number").fill("K123A")
    pharm.get_by_role("button", name="Find every bag").click()

    expect(pharm.get_by_role("heading", level=1)).to_have_text("Recall: vial lot K123A")
    rows = pharm.locator("table.recall tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_text("administered")
    expect(rows.nth(0)).to_contain_text("started 20 Nov 2026 11:00 CET")
    expect(pharm.locator("#quarantine-title + p")).to_contain_text("2 bag(s) not yet given (BAG0000005, BAG0000006)")
    shoot(pharm, shots, "40-recall-lot-K123A")

    with pharm.expect_download() as csv_download:
        pharm.get_by_role("link", name="Download CSV").click()
    assert csv_download.value.suggested_filename == "recall-vial-K123A.csv"
    with open(csv_download.value.path(), "rb") as handle:
        assert handle.read().startswith("\ufeffbag_serial,batch,state".encode())
    with pharm.expect_download() as pdf_download:
        pharm.get_by_role("link", name="Download PDF report").click()
    with open(pdf_download.value.path(), "rb") as handle:
        assert handle.read(4) == b"%PDF"

    pharm.get_by_label("Reason").fill(RECALL_REASON)
    pharm.get_by_role("button", name="Quarantine…").click()
    expect(pharm.get_by_role("heading", level=1)).to_have_text("Confirm: quarantine vial lot K123A")
    confirm = pharm.get_by_role("button", name="Quarantine 2 bag(s) and 1 stock item(s)")
    expect(confirm).to_be_visible()
    assert bags.get_bag(pharmacy, seeded.E).state == "stored"  # nothing yet
    shoot(pharm, shots, "41-recall-confirm-quarantine")
    confirm.click()

    expect(pharm.locator(".flash")).to_contain_text("Quarantined 2 bag(s) (BAG0000005, BAG0000006) and 1 stock item(s)")
    expect(rows.nth(3)).to_contain_text("quarantined")
    assert [bags.get_bag(pharmacy, s).state for s in (seeded.E, seeded.F)] == ["quarantined", "quarantined"]
    shoot(pharm, shots, "42-recall-quarantined")

    pharm.get_by_role("link", name="BAG0000002").click()
    expect(pharm.get_by_role("heading", level=1)).to_contain_text("History of bag BAG0000002")
    expect(pharm.locator("table", has_text="REPRINT 1")).to_be_visible()
    shoot(pharm, shots, "43-bag-history")

    pharm.get_by_role("link", name="Béla Kovács").click()
    expect(pharm.get_by_role("heading", level=1)).to_have_text("History of Béla Kovács")
    expect(pharm.locator("table.patient-history")).to_contain_text("Course-rule override by Petra Pharmacist")
    shoot(pharm, shots, "44-patient-history")

    pharm.locator(".topbar summary", has_text="Quality").click()  # the menu's group (issue 16 point 3)
    pharm.get_by_role("link", name="Audit log").click()
    pharm.get_by_label("User").select_option("pharm")
    pharm.get_by_role("button", name="Filter").click()
    pharm.get_by_role("button", name="Verify the whole chain now").click()
    expect(pharm.locator(".verification")).to_contain_text("INTACT")
    expect(pharm.locator("table.audit tbody tr").first).to_contain_text("vial.quarantine")
    shoot(pharm, shots, "45-audit-log-verified")

    pharm.locator(".topbar summary", has_text="Quality").click()  # the menu's group (issue 16 point 3)
    pharm.get_by_role("link", name="Reports").click()
    pharm.get_by_label("From day").fill("2026-11-20")
    pharm.get_by_role("button", name="Show").click()
    pharm.get_by_role("link", name="Refusals and near misses").click()
    expect(pharm.locator("table.report-refusal-codes tbody tr").first).to_contain_text("wrong_diluent")
    shoot(pharm, shots, "46-report-refusals")
