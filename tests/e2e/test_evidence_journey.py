"""Issue 14 in one Chromium journey: the objective evidence at the pharmacist's check, end to end.

The technician opens the order by scanning the wristband, scans a wrong diluent first (a safety near miss),
then the right one — whose in-process label prints by itself —, weighs the dose through the balance
simulator (MT-SICS on loopback), photographs the syringe and the bag through Chromium's fake camera (fed a
sharp test picture this test makes) and signs. The checking pharmacist opens the check by scanning the
in-process label, sees the near miss, the readings and the photos, and sends the preparation back to
retake the bag photo. The worklist marks it SENT BACK; the technician retakes the photo and signs again.
The check is opened again by the scan, the near miss acknowledged, the bag released; the final label
printed and scanned on the bag; the bedside gives it to the patient. Screenshots of each main screen go
to test-artifacts/e2e/ (prefix ``j-``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from pharmacy.services import bags, photos, preparation
from tests import factories
from tests.e2e.test_bench_journey import TABLET, scan, shoot, sign_in
from tests.e2e.test_keyboard_and_tablet import (  # noqa: F401 - camera_browser is a fixture
    GSRN,
    _layout,
    camera_browser,
    keyboard_sign_in,
    scan_the_label_for_the_photo,
    take_photo,
    weighing_bench,
)
from tests.e2e.test_photos_browser import wait_until
from tests.integration.test_weighing import SYRINGE, grams_for
from tests.unit.label_helpers import decode

pytestmark = pytest.mark.e2e


def filmed_for(page, seconds: float) -> None:
    """The camera has filmed for ``seconds``: its film (each frame its own picture) restarts on each page, so
    each photo of this journey is taken at another moment of it — a photo never repeats another's bytes."""
    wait_until(page, f"() => (document.querySelector('[data-photo-capture] video') || {{}}).currentTime > {seconds}")
REASON = "Retake the bag photo: the in-process label is hidden behind the port"


@pytest.mark.hazard("H2")
@pytest.mark.hazard("H26")
@pytest.mark.hazard("H27")
@pytest.mark.hazard("H28")
@pytest.mark.hazard("H29")
def test_a_bag_weighed_photographed_sent_back_redone_released_labelled_and_ready_at_the_bedside(
        camera_browser, pharmacy, shots):  # noqa: F811 - the fixture imported above
    browser = camera_browser
    problems: list = []

    def look(page, name: str) -> None:
        """A screenshot of a main screen, and its layout: no horizontal scroll, no visible control cut off."""
        shoot(page, shots, name)
        found = _layout(page)
        if found["scroll"] > 0 or found["outside"]:
            problems.append((name, found))

    with weighing_bench(pharmacy) as (sim, weighed, server):
        # --- the technician: wristband, vial, a wrong diluent then the right one, balance, camera, signature
        tech, keys = keyboard_sign_in(browser, server, "tech")
        keys.scan(factories.wristband_scan(GSRN))
        expect(tech.locator("#step-title")).to_contain_text("Scan the vial")
        keys.scan(factories.vial_scan(weighed.vial_serials[0]))
        expect(tech.get_by_role("button", name="Passed")).to_be_focused()
        keys.press("Enter", "inspection passed")
        expect(tech.locator("#step-title")).to_contain_text("Scan the diluent bag")
        keys.scan(factories.WATER_SCAN)  # the wrong bag picked: refused, kept for the check (H26)
        expect(tech.get_by_role("alert").first).to_be_visible()
        look(tech, "j-01-wrong-diluent-refused")
        expect(tech.locator("#scan")).to_be_focused()
        with tech.expect_download() as download:  # the in-process label prints by itself (H27)
            keys.scan(factories.NACL_SCAN)
        in_process = decode(Path(download.value.path()).read_bytes())["]C0"].bytes.decode("ascii")
        assert in_process == "IP-BAG0000001"

        tare = tech.get_by_role("button", name="Tare the balance")
        expect(tare).to_be_focused()  # reloaded after the print: the balance is next
        look(tech, "j-02-volume-weighed-on-the-balance")
        keys.press("Enter", "tare")
        expect(tech.get_by_text("Tared on balance B123456789")).to_be_visible()
        sim.place(SYRINGE + grams_for("1.2"))
        expect(tech.get_by_role("button", name="Weigh the filled syringe")).to_be_focused()
        keys.press("Enter", "weigh")
        expect(tech.locator("#step-title")).to_contain_text("Mix gently")
        filmed_for(tech, 1)
        take_photo(tech, keys, shots, "syringe")  # through the fake camera (H28)
        look(tech, "j-03-syringe-photo-taken")
        expect(tech.get_by_role("button", name="Bag mixed as instructed")).to_be_focused()
        keys.press("Enter", "mixed")
        expect(tech.locator("#step-title")).to_contain_text("Sign the preparation")
        filmed_for(tech, 3)
        scan_the_label_for_the_photo(tech, keys, shots, "]C0" + in_process)
        first_bag_photo = next(e.photo.sha256 for e in photos.evidence(weighed, 1) if e.photo.kind == "bag")
        expect(tech.locator("#password")).to_be_focused()
        keys.password("tech")
        expect(tech.locator(".flash")).to_contain_text("waits for a pharmacist")

        # --- the check, opened by the in-process label on the bag: near miss, readings, photos; sent back
        pharm, pkeys = keyboard_sign_in(browser, server, "pharm")
        pkeys.scan("]C0" + in_process)
        expect(pharm.locator("#step-title")).to_contain_text("Pharmacist check")
        expect(pharm.locator(".near-misses")).to_contain_text("REFUSED (safety)")
        expect(pharm.locator(".evidence-weighed")).to_contain_text(
            f"Net {grams_for('1.2')} g on balance B123456789 at 1.006 g/mL = 1.2000 mL")
        expect(pharm.locator(".photo-evidence img.photo-large")).to_have_count(2)
        look(pharm, "j-04-check-evidence-near-miss-readings-photos")
        form = pharm.locator("form.send-back")
        form.get_by_label("Step to redo").select_option("sign")
        form.get_by_label("What must be redone and why").fill(REASON)
        form.get_by_label("Your password").fill(factories.PASSWORDS["pharm"])
        look(pharm, "j-05-check-send-back-to-retake-the-bag-photo")
        form.get_by_role("button", name="Send back").click()
        expect(pharm.locator(".flash")).to_contain_text("Preparation 1 sent back to “sign”")
        expect(pharm.get_by_role("button", name="Sign decision")).to_have_count(0)
        expect(pharm.locator("form.reject-sent-back")).to_be_visible()  # if it cannot be redone: rejected here
        look(pharm, "j-06-check-after-send-back")

        # --- the technician: the worklist says it was sent back, why and by whom; the photo again, signed again
        tech.goto("/worklist")
        row = tech.locator("tr", has_text="Inès Moreau")
        expect(row.locator("[data-sent-back]")).to_have_text("SENT BACK")
        expect(row).to_contain_text(f"to “Sign” by Petra Pharmacist: {REASON}")
        look(tech, "j-07-worklist-marks-the-sent-back-bag")
        expect(tech.locator("#open-code")).to_be_focused()
        keys.scan("]C0" + in_process)  # the in-process label opens its step
        expect(tech.locator("#sent-back")).to_contain_text("Sent back by Petra Pharmacist")
        expect(tech.locator("#step-title")).to_contain_text("Sign the preparation")
        filmed_for(tech, 5)  # the bag turned so its label shows; the very picture set aside would be refused
        scan_the_label_for_the_photo(tech, keys, shots, "]C0" + in_process)
        expect(tech.locator("#password")).to_be_focused()
        look(tech, "j-08-bag-photo-retaken-sign-again")
        keys.password("tech")
        expect(tech.locator(".flash")).to_contain_text("waits for a pharmacist")
        retaken = [e.photo for e in photos.evidence(weighed, 1) if e.photo.kind == "bag"]
        assert len(retaken) == 1 and retaken[0].sha256 != first_bag_photo  # a new picture, the old one set aside

        # --- the check again: opened by the scan, the redone step seen, the near miss acknowledged, released
        pharm.goto("/worklist")
        pkeys.scan("]C0" + in_process)
        expect(pharm.locator("#step-title")).to_contain_text("Pharmacist check")
        expect(pharm.locator(".near-misses")).to_contain_text("(redone: sign)")
        expect(pharm.locator("table.steps tr.is-superseded")).to_have_count(2)  # the first bag photo, the signature
        acknowledge = pharm.locator(".acknowledge input[type=checkbox]")
        expect(acknowledge).to_have_count(1)
        expect(acknowledge).to_be_focused()  # the scan handed the focus on to the near miss to acknowledge
        pkeys.press("Space", "acknowledge the wrong diluent")
        pkeys.press("Tab", "on to the decision")
        expect(pharm.get_by_label("Release: every step is right")).to_be_focused()
        pkeys.press("Space", "choose Release")
        expect(pharm.locator("#password")).to_be_focused()
        look(pharm, "j-09-check-again-acknowledge-and-release")
        pkeys.password("pharm")
        expect(pharm.locator(".flash")).to_contain_text("released")

        # --- the final label printed and scanned on the bag (H27)
        with pharm.expect_download() as label:
            pharm.get_by_role("button", name="Print label (PDF)").click()
        final = decode(Path(label.value.path()).read_bytes())
        expect(pharm.locator("#confirm-scan")).to_be_visible()
        pharm.locator("#confirm-scan").focus()
        pkeys.scan("]d2" + final["]d2"].bytes.decode("ascii"))
        expect(pharm.locator(".ok-line")).to_contain_text("Label on the bag confirmed by scan")
        look(pharm, "j-10-released-label-confirmed")

        # --- the bedside: the bag and the wristband scanned, the bag ready to give
        nurse = sign_in(browser, server, "nurse", viewport=TABLET)
        nurse.goto("/ward/")
        scan(nurse, factories.label_scan(weighed, "BAG0000001"))
        scan(nurse, factories.wristband_scan(GSRN))
        expect(nurse.locator(".verdict-ok h1")).to_contain_text("Give this bag to Inès Moreau")
        expect(nurse.get_by_role("button", name="Start infusion")).to_be_visible()
        look(nurse, "j-11-bedside-ready-to-give")
    assert problems == [], "\n".join(map(str, problems))
    prep = preparation.get(weighed, 1)
    assert prep.state == "released" and prep.volume_evidence == "weighed"
    bag = bags.get_bag(weighed, "BAG0000001")
    assert bag.state == "released" and bag.label_confirmed_at is not None
