"""Printing to a label printer in a real browser (issue 15 point 5, SAFETY.md H34): the technician picks
the ward's ZPL printer on the bag page; it is off, so the page says the label did not print and Print jobs
keeps the job with its error; the printer comes on, the job is retried and the label arrives, not a
REPRINT. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.test_bench_journey import DESKTOP, shoot, sign_in
from tests.zpl_printer import ZplPrinter, closed_port

pytestmark = pytest.mark.e2e


@pytest.mark.hazard("H34")
def test_a_label_for_a_printer_that_is_off_is_kept_and_printed_from_print_jobs(live_server, browser, pharmacy, shots):
    port = closed_port()
    pharmacy.settings.instance.mkdir(parents=True, exist_ok=True)
    (pharmacy.settings.instance / "printers.toml").write_text(
        '[[printer]]\nname = "PDF download"\nkind = "pdf"\ndpi = 300\nstock = "bag-100x70"\n\n'
        f'[[printer]]\nname = "Ward 5 Zebra"\nkind = "zpl"\naddress = "127.0.0.1:{port}"\ndpi = 300\n'
        'stock = "bag-100x70"\ntimeout = 1\n', encoding="utf-8")
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = sign_in(browser, live_server, "tech", viewport=DESKTOP)
    tech.goto(f"/bags/{bag.serial}")
    form = tech.locator("form.print-to-printer")
    form.get_by_label("Printer").select_option("Ward 5 Zebra")
    shoot(tech, shots, "80-bag-page-printer-choice")
    form.get_by_role("button", name="Print label on printer").click()
    expect(tech.locator(".flash-error").first).to_contain_text("did NOT print on Ward 5 Zebra")
    expect(tech.locator(".print-owed")).to_contain_text("Retry or cancel it on Print jobs")
    shoot(tech, shots, "81-bag-page-label-not-printed")

    tech.locator(".topbar summary", has_text="Bags & ward").click()  # the menu's group (issue 16 point 3)
    tech.get_by_role("link", name="Print jobs").first.click()
    row = tech.locator("#job-1")
    expect(row).to_contain_text("FAILED")
    expect(row).to_contain_text("cannot be reached (connection refused")
    shoot(tech, shots, "82-print-jobs-failed")
    printer = ZplPrinter(port=port)
    try:
        row.get_by_role("button", name="Retry").click()
        expect(tech.locator(".flash-success")).to_contain_text(f"bag {bag.serial}, print 1 was sent to Ward 5 Zebra")
    finally:
        printer.stop()
    expect(tech.locator("#job-1")).to_contain_text("SENT")
    shoot(tech, shots, "83-print-jobs-sent-after-retry")
    assert len(printer.jobs) == 1 and printer.jobs[0].startswith(b"^XA") and b"REPRINT" not in printer.jobs[0]
