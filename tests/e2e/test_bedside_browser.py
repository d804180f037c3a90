"""The ward in a real browser on a tablet: a nurse scans the bag label and the wristband; the verdict
fills the screen (give it, or every reason not to); the infusion is started and ended. And the
dashboard with one amber and one red countdown that the page's script keeps live. Screenshots go
to test-artifacts/e2e/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from pharmacy.domain.coldchain import reading
from pharmacy.services import bags, coldchain
from tests import factories
from tests.e2e.test_bench_journey import DESKTOP, TABLET, scan, shoot, sign_in

pytestmark = pytest.mark.e2e
ZOFIA = factories.patient("P-2001", "Zofia Kowalczyk-Łęcka", "Neurology ward 5")
MARC = factories.patient("P-2002", "Marc Dubois", "Neurology ward 5")


def test_a_nurse_scans_a_bag_and_a_wristband_and_gives_the_bag(live_server, browser, pharmacy, clock, shots):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], who=ZOFIA)
    clock.advance(minutes=20)
    nurse = sign_in(browser, live_server, "nurse", viewport=TABLET)
    expect(nurse.locator("h1")).to_have_text("Scan the bag label")
    expect(nurse.locator("#scan")).to_be_focused()
    shoot(nurse, shots, "40-bedside-scan-the-bag")

    scan(nurse, factories.label_scan(pharmacy, bag.serial))  # the DataMatrix, GS typed as Ctrl+]
    expect(nurse.locator("h1")).to_have_text("Scan the patient's wristband")
    expect(nurse.locator(".bag-summary")).to_contain_text("Zofia Kowalczyk-Łęcka (P-2001)")
    expect(nurse.locator("#scan")).to_be_focused()
    shoot(nurse, shots, "41-bedside-scan-the-wristband")

    scan(nurse, "P-2001")
    expect(nurse.locator(".verdict-ok h1")).to_contain_text("Give this bag to Zofia Kowalczyk-Łęcka")
    # the script counts on from the server's 09:20 (a few milliseconds later: 7 h 39 min 59.99 s)
    expect(nurse.locator(".verdict-ok .countdown")).to_have_text(re.compile(r"7 h (40|39) min left"))
    assert nurse.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(nurse, shots, "42-bedside-give-this-bag")

    # day 1 of the course: the corticosteroid and the herpes prophylaxis are confirmed with their time (H17)
    premed = nurse.locator("fieldset.premed")
    expect(premed.locator("input[type=checkbox]")).to_have_count(2)
    for number in range(2):
        nurse.locator(f"#premed-given-{number}").check()
        nurse.locator(f"#premed-at-{number}").fill("2026-11-20T08:50")
    nurse.get_by_role("button", name="Start infusion").click()
    expect(nurse.locator(".flash")).to_contain_text("Infusion of bag BAG0000001 started at 09:20 CET")
    expect(nurse.locator(".infusion")).to_contain_text("Zofia Kowalczyk-Łęcka")
    shoot(nurse, shots, "43-bedside-infusion-under-way")
    assert bags.get_bag(pharmacy, bag.serial).state == "in_administration"

    clock.advance(minutes=14)  # within the idle timeout
    # 14 min of a 4 h infusion: an early end, its reason from the list (H8); the choice is shown open
    expect(nurse.locator(".interrupt [data-early]")).to_contain_text("is an early end")
    nurse.get_by_label("patient reaction").check()
    nurse.get_by_label("What happened").fill("Infusion reaction: rash, fever")
    shoot(nurse, shots, "44-bedside-interrupt-with-reason")
    nurse.get_by_role("button", name="Record early end").click()
    expect(nurse.locator(".observe")).to_contain_text("Observe the patient until 11:34 CET")
    shoot(nurse, shots, "45-bedside-observation-after-the-infusion")


def test_a_nurse_is_refused_a_quarantined_bag_for_another_patient(live_server, browser, pharmacy, clock, shots):
    factories.verified_order(pharmacy, MARC)
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], who=ZOFIA)
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.advance(minutes=10), 8.5))], "form")
    nurse = sign_in(browser, live_server, "nurse", viewport=TABLET)
    scan(nurse, factories.label_scan(pharmacy, bag.serial, "gs1-128"))
    scan(nurse, "P-2002")
    verdict = nurse.locator(".verdict-refused")
    expect(verdict.locator("h1")).to_contain_text("Do not give this bag")
    expect(verdict.locator("li")).to_have_count(2)
    expect(verdict).to_contain_text("QUARANTINED: this bag was taken out of use")
    expect(verdict).to_contain_text("WRONG PATIENT: this bag is for Zofia Kowalczyk-Łęcka (P-2001), not Marc Dubois (P-2002)")
    expect(nurse.get_by_role("button", name="Start infusion")).to_have_count(0)
    assert nurse.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(nurse, shots, "46-bedside-refused-quarantined-and-wrong-patient")


def test_the_dashboard_shows_amber_in_the_last_hour_and_red_when_expired(live_server, browser, pharmacy, clock, shots):
    first = factories.released_bag(pharmacy, pharmacy.vial_serials[0], who=ZOFIA)  # use-by 17:00
    clock.advance(minutes=30)
    second = factories.released_bag(pharmacy, pharmacy.vial_serials[1], who=MARC)  # use-by 17:30
    bags.store(pharmacy, "tech", second.serial, factories.FRIDGE)
    clock.set(first.use_by + timedelta(minutes=10))  # 17:10: the first expired, the second has 20 min
    third = factories.released_bag(pharmacy, pharmacy.vial_serials[2], who=factories.patient("P-2003", "Ana Ferreira"))
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now - timedelta(minutes=50), 5.2))], "csv")

    page = sign_in(browser, live_server, "pharm", viewport=DESKTOP)
    page.clock.install()
    page.goto("/dashboard")
    red = page.locator("tr", has_text=first.serial).locator(".countdown")
    amber = page.locator("tr", has_text=second.serial).locator(".countdown")
    expect(red).to_have_text("EXPIRED")
    expect(red).to_have_class("countdown live is-expired")
    expect(amber).to_have_text(re.compile(r"(20|19) min left"))
    expect(amber).to_have_class("countdown live is-urgent")
    expect(page.locator("tr", has_text=third.serial).locator(".countdown")).to_have_text(re.compile(r"8 h 00 min left|7 h 59 min left"))
    expect(page.locator(".location.is-flagged")).to_contain_text("No reading from 20 Nov 16:20 CET to 20 Nov 17:10 CET")
    shoot(page, shots, "50-dashboard-amber-and-red")

    page.clock.run_for(5 * 60 * 1000)  # five minutes later, by the page's own script
    expect(amber).to_have_text(re.compile(r"(15|14) min left"))
    page.locator("tr", has_text=first.serial).get_by_text("Discard").click()
    expect(page.get_by_label(f"Why is bag {first.serial} destroyed?")).to_have_value("use_by_passed")
    page.locator(f"#confirm-{first.serial}").check()  # "I have the bag in hand and it will be destroyed."
    shoot(page, shots, "51-dashboard-discard-an-expired-bag")
    page.get_by_role("button", name="Record as destroyed").click()
    expect(page.locator(".flash")).to_contain_text(f"Bag {first.serial} recorded as destroyed")
    expect(page.locator("tr", has_text=first.serial)).to_have_count(0)
    assert bags.get_bag(pharmacy, first.serial).state == "destroyed"


def test_a_countdown_that_runs_out_reloads_the_dashboard_so_the_server_decides(live_server, browser, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.set(bag.use_by - timedelta(minutes=2))
    page = sign_in(browser, live_server, "nurse", viewport=DESKTOP)
    page.clock.install()
    page.goto("/dashboard")
    countdown = page.locator("tr", has_text=bag.serial).locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"(2|1) min left"))
    expect(page.locator("tr", has_text=bag.serial)).not_to_contain_text("Discard")
    clock.set(bag.use_by)  # the server's time runs on too
    with page.expect_navigation():
        page.clock.run_for(2 * 60 * 1000 + 5000)
    expect(countdown).to_have_text("EXPIRED")
    expect(page.locator("tr", has_text=bag.serial)).to_contain_text("Discard")


def test_a_technician_stores_a_bag_by_scanning_and_a_warm_reading_quarantines_it(live_server, browser, pharmacy, clock, shots):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0], who=ZOFIA)
    tech = sign_in(browser, live_server, "tech", viewport=DESKTOP)
    tech.locator(".topbar summary", has_text="Bags & ward").click()  # the menu's group (issue 16 point 3)
    tech.get_by_role("link", name="Dashboard").click()
    tech.get_by_role("link", name="Storage & readings").click()
    expect(tech.locator("#bag")).to_be_focused()
    tech.keyboard.type(bag.serial)
    tech.keyboard.press("Enter")  # moves on to the location, which is still empty
    expect(tech.locator("#location")).to_be_focused()
    tech.keyboard.type(factories.FRIDGE)
    shoot(tech, shots, "60-storage-scan-bag-and-location")
    tech.keyboard.press("Enter")
    expect(tech.locator(".flash")).to_contain_text(f"Bag {bag.serial} stored in {factories.FRIDGE}.")
    expect(tech.locator("table", has_text="Latest moves")).to_contain_text(bag.serial)
    shoot(tech, shots, "61-storage-stored-and-moves")

    clock.advance(minutes=10)
    tech.get_by_role("link", name="Record temperatures").click()
    expect(tech.get_by_label("Time (Europe/Brussels)")).to_have_value("2026-11-20 09:10")
    tech.get_by_label("Temperature (°C)").fill("8.5")
    tech.get_by_role("button", name="Record reading").click()
    expect(tech.locator(".flash")).to_contain_text(f"QUARANTINED: {bag.serial}")
    shoot(tech, shots, "62-temperature-quarantines")

    tech.goto("/storage/locations/1")
    expect(tech.locator("tr.is-excursion").first).to_contain_text(bag.serial)
    shoot(tech, shots, "63-location-readings-and-excursion")
    tech.goto("/dashboard")
    expect(tech.locator("tr", has_text=bag.serial)).to_contain_text("A pharmacist reviews")
    shoot(tech, shots, "64-dashboard-quarantined-technician")
