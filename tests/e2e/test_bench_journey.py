"""A technician prepares a LEMTRADA bag from scans typed into the screens, a pharmacist releases
it; screenshots of every step go to test-artifacts/e2e/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from pharmacy.domain.gs1 import GS
from pharmacy.services import preparation
from tests import factories
from tests.e2e.keys import scanner_types
from tests.unit.label_helpers import decode

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


def sign_in(browser, server, username, viewport=DESKTOP):
    page = browser.new_context(viewport=viewport, base_url=server.url).new_page()
    page.set_default_timeout(5000)
    page.goto("/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(factories.PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    return page


def scan(page, raw: str, submit: bool = True) -> None:
    """Type a scan into the scan field as a keyboard-wedge scanner does: GS arrives as Ctrl+], then Enter."""
    page.locator("#scan").click()
    scanner_types(page, raw, enter=submit)


def shoot(page, folder, name):
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_technician_prepares_and_pharmacist_releases_a_lemtrada_bag(live_server, browser, pharmacy, shots):
    tech = sign_in(browser, live_server, "tech")
    shoot(tech, shots, "00-technician-worklist-empty")

    tech.get_by_role("link", name="New order").click()
    tech.get_by_label("Patient identifier").fill("P-2001")
    tech.get_by_label("Name", exact=True).fill("Zofia Kowalczyk-Łęcka")
    tech.get_by_label("Date of birth").fill("1986-04-17")
    tech.get_by_label("Ward").fill("Neurology ward 5")
    tech.get_by_label("Urgent").check()
    shoot(tech, shots, "01-order-entry")
    tech.get_by_role("button", name="Enter order").click()
    expect(tech.locator(".flash")).to_contain_text("waits for a pharmacist")
    shoot(tech, shots, "02-order-entered")

    pharm = sign_in(browser, live_server, "pharm")
    pharm.get_by_role("link", name="Orders to verify").click()
    pharm.get_by_role("link", name="Verify", exact=True).first.click()
    expect(pharm.locator("#premed-title + ul")).to_contain_text("Corticosteroid")
    pharm.get_by_label("I confirm").check()
    shoot(pharm, shots, "03-pharmacist-verifies-with-premedication")
    pharm.get_by_role("button", name="Verify order").click()
    expect(pharm.locator(".flash")).to_contain_text("verified")

    tech.get_by_role("link", name="Worklist").click()
    expect(tech.locator("table.data").first).to_contain_text("URGENT")
    shoot(tech, shots, "04-worklist")
    tech.get_by_role("button", name="Prepare").click()

    expect(tech.locator("#step-title")).to_contain_text("Scan the vial")
    expect(tech.locator("#scan")).to_be_focused()
    vial = factories.vial_scan(pharmacy.vial_serials[0])
    scan(tech, vial, submit=False)
    assert tech.locator("#scan").input_value() == vial.replace(GS, "<GS>")  # the JS wrote the GS substitute
    shoot(tech, shots, "05-step1-vial-scanned-into-field")
    tech.keyboard.press("Enter")

    expect(tech.locator("#step-title")).to_contain_text("Inspect the vial")
    assert pharmacy.vial_serials[0] in tech.locator(".step-main").inner_text()
    shoot(tech, shots, "06-step2-inspection")
    tech.get_by_role("button", name="Passed").click()

    expect(tech.locator("#step-title")).to_contain_text("Scan the diluent bag")
    shoot(tech, shots, "07-step3-diluent")
    with tech.expect_download() as in_process:  # the bag's identity from its filling (H27): the scan starts its print
        scan(tech, factories.NACL_SCAN)

    expect(tech.locator("#step-title")).to_contain_text("Record the withdrawn volume")
    in_process_code = decode(Path(in_process.value.path()).read_bytes())["]C0"].bytes.decode("ascii")
    assert in_process_code == "IP-BAG0000001"
    expect(tech.get_by_label("Volume withdrawn")).to_be_focused()  # the page reloaded after the print
    tech.get_by_label("Volume withdrawn").fill("1.2 mL")
    shoot(tech, shots, "08-step4-volume")
    tech.keyboard.press("Enter")

    expect(tech.locator("#step-title")).to_contain_text("Mix gently")
    expect(tech.locator(".big-warning")).to_contain_text("Do not shake")
    shoot(tech, shots, "09-step5-mixing")
    # this browser has no camera (the camera's own walk: test_photos_browser.py): the photos the monograph
    # requires are taken through the service, and the screen reloaded
    prep_id = int(tech.url.rstrip("/").rsplit("/", 1)[1])
    factories.photograph(pharmacy, preparation.get(pharmacy, prep_id), "syringe")
    tech.reload()
    tech.get_by_role("button", name="Bag mixed as instructed").click()

    expect(tech.locator("#step-title")).to_contain_text("Sign the preparation")
    factories.photograph(pharmacy, preparation.get(pharmacy, prep_id), "bag")
    tech.reload()
    expect(tech.locator(".clock")).to_contain_text("20 Nov 2026 17:00 CET")
    tech.get_by_label("Your password").fill(factories.PASSWORDS["tech"])
    shoot(tech, shots, "10-step6-sign")
    tech.get_by_role("button", name="Sign preparation").click()
    expect(tech.locator(".flash")).to_contain_text("waits for a pharmacist")
    shoot(tech, shots, "11-signed-awaiting-check")

    pharm.get_by_role("link", name="Check & release").click()
    shoot(pharm, shots, "12-check-list")
    pharm.get_by_role("link", name="Review").click()
    steps = pharm.locator("table.steps").inner_text()
    for expected in (pharmacy.vial_serials[0], "N9931", "1.2 mL", "Tessa Technician", "09:00:00"):
        assert expected in steps
    expect(pharm.locator("#bag_scan")).to_be_focused()  # the check starts with the bag in hand
    pharm.keyboard.type("]C0" + in_process_code)  # the scanner reads the in-process label stuck on the bag
    pharm.get_by_label("Release").check()
    # the decision's signature, not the send-back's (the check screen has both)
    pharm.get_by_label("Your password (electronic signature of the decision)").fill(factories.PASSWORDS["pharm"])
    shoot(pharm, shots, "13-pharmacist-review-and-sign")
    pharm.get_by_role("button", name="Sign decision").click()

    expect(pharm.locator(".use-by-time:not(.start-by-time)")).to_have_text("20 Nov 2026 17:00 CET")
    # the latest start under the default policy: the 4 h infusion ends by the use-by (SmPC 6.3)
    expect(pharm.locator(".start-by-time")).to_have_text("20 Nov 2026 13:00 CET")
    shoot(pharm, shots, "14-released-use-by-and-label")
    with pharm.expect_download() as download:  # a POST with the form's CSRF token: a link cannot print one
        pharm.get_by_role("button", name="Print label (PDF)").click()
    assert download.value.suggested_filename.endswith("-label-1.pdf")
    final = decode(Path(download.value.path()).read_bytes())
    expect(pharm.locator("#confirm-scan")).to_be_focused()  # stick it on, scan it back: label and bag match
    pharm.keyboard.type("]d2" + final["]d2"].bytes.decode("ascii").replace(GS, "<GS>"))  # as the scanner sends it
    shoot(pharm, shots, "15-final-label-scanned-on-the-bag")
    pharm.keyboard.press("Enter")
    pharm.wait_for_load_state()
    shoot(pharm, shots, "16-label-confirmed")
    expect(pharm.locator(".flash")).to_contain_text("Label and bag BAG0000001 match")
    expect(pharm.locator(".ok-line")).to_contain_text("Label on the bag confirmed by scan")


def test_the_wrong_diluent_is_refused_on_screen(live_server, browser, pharmacy, shots):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[1]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)

    tech = sign_in(browser, live_server, "tech")
    tech.goto(f"/prep/{prep.id}")
    scan(tech, factories.WATER_SCAN)

    expect(tech.get_by_role("alert")).to_contain_text("Water for injections is not permitted")
    expect(tech.locator("#step-title")).to_contain_text("Scan the diluent bag")
    expect(tech.locator("#scan")).to_be_focused()
    assert tech.locator("#scan").input_value() == ""
    shoot(tech, shots, "20-wrong-diluent-refused")
    after = preparation.get(pharmacy, prep.id)
    assert after.state == "inspected" and after.diluent_lot_id is None
    assert [step.step for step in after.steps] == ["start", "vial", "inspection"]


def test_a_step_screen_fits_a_tablet(live_server, browser, pharmacy, shots):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    tech = sign_in(browser, live_server, "tech", viewport=TABLET)
    tech.goto(f"/prep/{prep.id}")
    assert tech.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(tech, shots, "30-tablet-vial-step")
