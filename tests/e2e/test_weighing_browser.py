"""In Chromium: the technician tares the empty syringe and weighs the filled one through the balance
simulator (MT-SICS on loopback), keyboard only; the checking pharmacist sees the readings (issue 14
point 3, SAFETY.md H2). Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pharmacy.devices.simulator import BalanceSimulator
from pharmacy.services import preparation
from pharmacy.web.app import create_app
from tests import factories
from tests.e2e.conftest import LiveServer
from tests.e2e.test_bench_journey import shoot, sign_in
from tests.integration.test_weighing import SYRINGE, calibrated, grams_for, weighed_pharmacy


@pytest.mark.hazard("H2")
def test_a_dose_is_weighed_through_the_balance_and_the_checker_sees_the_readings(browser, pharmacy, shots):
    with BalanceSimulator("mt-sics", serial_number="B123456789") as sim:
        sim.place(SYRINGE)
        weighed = weighed_pharmacy(pharmacy, sim, demo=True)
        calibrated(weighed)
        order = factories.verified_order(weighed)
        prep = preparation.start(weighed, "tech", order.id)
        prep = preparation.scan_vial(weighed, "tech", prep.id, prep.version, factories.vial_scan(weighed.vial_serials[0]))
        prep = preparation.inspect_vial(weighed, "tech", prep.id, prep.version, True)
        prep = preparation.scan_diluent(weighed, "tech", prep.id, prep.version, factories.NACL_SCAN)
        preparation.in_process_label(weighed, "tech", prep.id)  # printed: the balance is the next thing (issue 16)
        server = LiveServer(create_app(pharmacy=weighed))
        server.start()
        try:
            tech = sign_in(browser, server, "tech")
            tech.goto(f"/prep/{prep.id}")
            tare = tech.get_by_role("button", name="Tare the balance")
            expect(tare).to_be_focused()  # Enter tares: no mouse at the bench
            shoot(tech, shots, "30-weigh-tare-the-empty-syringe")
            tech.keyboard.press("Enter")
            expect(tech.get_by_text("Tared on balance B123456789 (6.5210 g)")).to_be_visible()
            sim.place(SYRINGE + grams_for("1.21"))
            expect(tech.get_by_role("button", name="Weigh the filled syringe")).to_be_focused()
            shoot(tech, shots, "31-weigh-the-filled-syringe")
            tech.keyboard.press("Enter")
            expect(tech.locator("#step-title")).to_contain_text("Mix gently")
            expect(tech.get_by_text("1.210 mL, within the tolerance")).to_be_visible()
            after = preparation.get(weighed, prep.id)
            assert after.volume_evidence == "weighed" and after.withdrawn_ml == pytest.approx(1.21)
            after = factories.photograph(weighed, after, "syringe")  # the camera's walk: test_photos_browser.py
            prep = factories.photograph(weighed, preparation.confirm_mixing(weighed, "tech", prep.id, after.version), "bag")
            preparation.sign(weighed, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])

            pharm = sign_in(browser, server, "pharm")
            pharm.goto(f"/check/{prep.id}")
            evidence = pharm.locator(".evidence-weighed")
            expect(evidence).to_contain_text(f"Net {grams_for('1.21')} g on balance B123456789 at 1.006 g/mL = 1.2100 mL")
            expect(evidence).to_contain_text("DEMO DENSITY")
            shoot(pharm, shots, "32-check-shows-the-balance-readings")
        finally:
            server.stop()


@pytest.mark.hazard("H26")
def test_the_checker_sees_the_near_misses_and_acknowledges_each_before_release(live_server, browser, pharmacy, shots):
    from tests.web.test_near_misses_at_the_check import signed_with_near_misses

    prep = signed_with_near_misses(pharmacy)
    pharm = sign_in(browser, live_server, "pharm")
    pharm.goto(f"/check/{prep.id}")
    near = pharm.locator(".near-misses")
    expect(near).to_contain_text("REFUSED (safety): Water for injections")
    expect(near).to_contain_text("vial rejected at inspection: particles seen")
    shoot(pharm, shots, "33-check-near-misses")
    pharm.keyboard.type(factories.in_process_scan(prep.id))  # the bag in hand: the scan field has the focus
    pharm.get_by_label("Release: every step is right").check()
    pharm.get_by_label("Your password (electronic signature of the decision)").fill(factories.PASSWORDS["pharm"])
    pharm.get_by_role("button", name="Sign decision").click()
    expect(pharm.get_by_role("alert")).to_contain_text("2 safety near misses on the way to this bag are not acknowledged")
    for box in pharm.locator('input[name="acknowledge"]').all():
        box.check()
    pharm.locator("#bag_scan").fill(factories.in_process_scan(prep.id))
    pharm.get_by_label("Release: every step is right").check()
    pharm.get_by_label("Your password (electronic signature of the decision)").fill(factories.PASSWORDS["pharm"])
    pharm.get_by_role("button", name="Sign decision").click()
    expect(pharm.locator(".use-by-time:not(.start-by-time)")).to_be_visible()
    assert preparation.get(pharmacy, prep.id).state == "released"
