"""Send back and the final label in a real browser (issue 14 points 1 and 5, SAFETY.md H27, H29): the
checking pharmacist sends a signed bag back to the volume step with a reason; the technician sees who
sent it back and why at the step, redoes it and signs again; the check sees the send-back and releases;
the final label is printed and scanned on the bag; the bedside gives it. And the bedside refuses a bag
whose label was never scanned on it. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pharmacy.domain.gs1 import GS
from pharmacy.services import bags, preparation
from tests import factories
from tests.e2e.test_bench_journey import DESKTOP, TABLET, scan, shoot, sign_in
from tests.unit.label_helpers import decode

pytestmark = pytest.mark.e2e
ZOFIA = factories.patient("P-2001", "Zofia Kowalczyk-Łęcka", "Neurology ward 5")


@pytest.mark.hazard("H29")
@pytest.mark.hazard("H27")
def test_a_bag_sent_back_is_redone_signed_again_released_labelled_and_given(live_server, browser, pharmacy, clock,
                                                                            shots):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0], who=ZOFIA)
    clock.advance(minutes=10)
    pharm = sign_in(browser, live_server, "pharm", viewport=DESKTOP)
    pharm.goto(f"/check/{prep.id}")
    form = pharm.locator("form.send-back")
    expect(form.locator("#send_back_step option")).to_have_text(
        ["Choose a step…", re.compile("^Diluent"), re.compile("^Volume"), re.compile("^Mixing: photo of the syringe"),
         re.compile("^Sign: photo of the finished bag")])
    form.get_by_label("Step to redo").select_option("volume")
    form.get_by_label("What must be redone and why").fill("Re-measure the syringe: 1.2 mL typed, the syringe reads more")
    form.get_by_label("Your password").fill(factories.PASSWORDS["pharm"])
    shoot(pharm, shots, "60-check-send-back-to-the-volume")
    form.get_by_role("button", name="Send back").click()
    expect(pharm.locator(".flash")).to_contain_text(f"Preparation {prep.id} sent back to “volume”")
    expect(pharm.locator(".near-misses")).to_contain_text("sent back to “volume” by the check: Re-measure the syringe")
    expect(pharm.get_by_role("button", name="Sign decision")).to_have_count(0)  # nothing to release now
    shoot(pharm, shots, "61-check-after-send-back")

    tech = sign_in(browser, live_server, "tech", viewport=DESKTOP)
    tech.goto(f"/prep/{prep.id}")
    expect(tech.locator("#step-title")).to_contain_text("Record the withdrawn volume")
    notice = tech.locator("#sent-back")
    expect(notice).to_contain_text("Sent back by Petra Pharmacist")
    expect(notice).to_contain_text("to “Volume”: Re-measure the syringe: 1.2 mL typed, the syringe reads more.")
    expect(notice).to_contain_text("Redo Volume, Mixing, Sign, with the photos taken again, then sign again")
    shoot(tech, shots, "62-preparer-sees-the-send-back-at-the-step")
    tech.get_by_label("Volume withdrawn").fill("1.19 mL")
    tech.keyboard.press("Enter")
    expect(tech.locator("#sent-back")).to_be_visible()
    # the photos are the camera's (tests/e2e of issue 14 point 4); here they are taken through the service
    factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "syringe", take=2)
    tech.goto(f"/prep/{prep.id}")
    expect(tech.locator("#step-title")).to_contain_text("Mix gently")
    tech.get_by_role("button", name="Bag mixed as instructed").click()
    factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "bag", take=2)
    tech.goto(f"/prep/{prep.id}")
    expect(tech.locator("#step-title")).to_contain_text("Sign the preparation")
    expect(tech.locator("table.steps")).to_contain_text("dilution time stays")  # the first mixing's: no later use-by
    tech.get_by_label("Your password").fill(factories.PASSWORDS["tech"])
    shoot(tech, shots, "63-preparer-signs-again")
    tech.get_by_role("button", name="Sign preparation").click()
    expect(tech.locator(".flash")).to_contain_text("waits for a pharmacist")
    expect(tech.locator("#sent-back")).to_have_count(0)

    pharm.goto(f"/check/{prep.id}")
    expect(pharm.locator("table.steps tr.is-superseded")).to_have_count(5)  # volume, 2 photos, mixing, signature
    expect(pharm.locator(".near-misses")).to_contain_text("(redone: volume, mixing, sign)")
    shoot(pharm, shots, "64-check-sees-the-redone-steps")
    pharm.locator("#bag_scan").fill(factories.in_process_scan(prep.id))
    pharm.get_by_label("Release").check()
    pharm.locator("#password").fill(factories.PASSWORDS["pharm"])
    pharm.get_by_role("button", name="Sign decision").click()
    expect(pharm.locator(".use-by-time:not(.start-by-time)")).to_have_text("20 Nov 2026 17:00 CET")  # unchanged
    with pharm.expect_download() as download:
        pharm.get_by_role("button", name="Print label (PDF)").click()
    final = decode(Path(download.value.path()).read_bytes())
    expect(pharm.locator("#confirm-scan")).to_be_visible()
    pharm.locator("#confirm-scan").click()
    pharm.keyboard.type("]d2" + final["]d2"].bytes.decode("ascii").replace(GS, "<GS>"))
    pharm.keyboard.press("Enter")
    expect(pharm.locator(".ok-line")).to_contain_text("Label on the bag confirmed by scan")
    shoot(pharm, shots, "65-released-and-label-confirmed")

    nurse = sign_in(browser, live_server, "nurse", viewport=TABLET)
    scan(nurse, factories.label_scan(pharmacy, bag.serial))
    scan(nurse, "P-2001")
    expect(nurse.locator(".verdict-ok h1")).to_contain_text("Give this bag to Zofia Kowalczyk-Łęcka")
    shoot(nurse, shots, "66-bedside-gives-the-confirmed-bag")


@pytest.mark.hazard("H27")
def test_the_bedside_refuses_a_bag_whose_label_was_never_scanned_on_it(live_server, browser, pharmacy, clock, shots):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0], who=ZOFIA)
    bags.print_labels(pharmacy, "tech", [bag.serial])  # printed and stuck on, never scanned back
    nurse = sign_in(browser, live_server, "nurse", viewport=TABLET)
    scan(nurse, factories.label_scan(pharmacy, bag.serial, "gs1-128"))
    scan(nurse, "P-2001")
    verdict = nurse.locator(".verdict-refused")
    expect(verdict.locator("h1")).to_contain_text("Do not give this bag")
    expect(verdict).to_contain_text("LABEL NOT CONFIRMED: nobody in the pharmacy scanned this label on bag BAG0000001")
    expect(verdict).to_contain_text("return it to the pharmacy, where the printed label is scanned on the bag")
    expect(nurse.get_by_role("button", name="Start infusion")).to_have_count(0)
    assert nurse.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(nurse, shots, "67-bedside-refuses-an-unconfirmed-label")
