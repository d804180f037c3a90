"""In Chromium with its fake camera (issue 14 point 4, SAFETY.md H28): the preparation screen shows the
live preview, the technician takes the syringe photo with the keyboard, the checking pharmacist sees it
large beside the expected values and enlarges it; a blurred picture is refused with what to do and kept
as a near miss. The camera is fed a picture this test draws (Y4M, 4:2:0), sharp or blurred. Screenshots
go to test-artifacts/e2e/."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from PIL import Image, ImageFilter
from playwright.sync_api import expect

from pharmacy.services import photos, preparation, release
from pharmacy.services.demo import demo_picture
from tests import factories
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.test_bench_journey import shoot, sign_in

pytestmark = pytest.mark.hazard("H28")
SIZE = (640, 480)


def write_y4m(image: Image.Image, path: Path, frames: int = 2) -> Path:
    """A YUV4MPEG2 file Chromium's fake camera plays in a loop: 4:2:0 with JPEG (full-range) levels."""
    ycbcr = image.convert("RGB").resize(SIZE).convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (SIZE[0] // 2, SIZE[1] // 2)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(half, Image.Resampling.BOX).tobytes() + cr.resize(half, Image.Resampling.BOX).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{SIZE[0]} H{SIZE[1]} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return path


def camera_picture(blur: float = 0) -> Image.Image:
    import io

    image = Image.open(io.BytesIO(demo_picture(["LEMTRADA 12 mg / 1.2 mL", "Lot K123A  EXP 06/2028",
                                                "syringe at 1.2 mL", "fake camera"], SIZE))).convert("RGB")
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


@contextlib.contextmanager
def camera_browser(chromium_path: str, video: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=[
            *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        try:
            yield browser
        finally:
            browser.close()


def at_volume_recorded(pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    return preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL")


def wait_until(page, function: str, attempts: int = 600) -> None:
    """Wait (bounded: 600 x 50 ms) until ``function`` is true in the page. Not ``wait_for_function``: after a
    first false answer Playwright polls by evaluating the string in the page, which the app's CSP (no
    'unsafe-eval') refuses, so it failed whenever the camera's first frame was not there yet."""
    for _ in range(attempts):
        if page.evaluate(function):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true in the page: {function}")


def test_the_syringe_photo_is_taken_by_keyboard_and_shown_large_at_the_check(chromium_path, live_server, pharmacy,
                                                                             shots, tmp_path):
    prep = at_volume_recorded(pharmacy)
    video = write_y4m(camera_picture(), tmp_path / "sharp.y4m")
    with camera_browser(chromium_path, video) as browser:
        tech = sign_in(browser, live_server, "tech")
        tech.goto(f"/prep/{prep.id}")
        preview = tech.locator("[data-photo-capture] video")
        expect(preview).to_be_visible()
        take = tech.get_by_role("button", name="Take photo")
        expect(take).to_be_enabled()
        expect(take).to_be_focused()  # gloved hands: Enter takes it
        wait_until(tech, "() => document.querySelector('[data-photo-capture] video').videoWidth > 0")
        shoot(tech, shots, "40-photo-syringe-live-preview")
        tech.keyboard.press("Enter")
        expect(tech.get_by_text("Photo of the syringe at the dose kept")).to_be_visible()
        expect(tech.locator(".photo-capture .tag").first).to_have_text("TAKEN")
        expect(tech.locator("img.photo-thumb")).to_be_visible()
        shoot(tech, shots, "41-photo-syringe-taken")
        [kept] = photos.evidence(pharmacy, prep.id)
        assert kept.verified and kept.photo.width == SIZE[0] and kept.photo.sharpness >= 100
        prep = preparation.get(pharmacy, prep.id)
        prep = preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
        prep = factories.photograph(pharmacy, prep, "bag")
        preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])

        pharm = sign_in(browser, live_server, "pharm")
        pharm.goto(f"/check/{prep.id}")
        evidence = pharm.locator(".photo-evidence")
        expect(evidence.locator("img.photo-large")).to_have_count(2)
        syringe = evidence.locator('[data-photo-kind="syringe"]')
        expect(syringe).to_contain_text("12 mg")
        expect(syringe).to_contain_text("1.2 mL")
        expect(syringe).to_contain_text("K123A")
        expect(syringe.locator("img.photo-large")).to_be_visible()
        wait_until(pharm, "() => [...document.querySelectorAll('img.photo-large')].every(i => i.complete && i.naturalWidth > 0)")
        evidence.scroll_into_view_if_needed()
        shoot(pharm, shots, "42-check-shows-the-photos-beside-the-expected-values")
        syringe.locator("a[data-zoom]").focus()
        pharm.keyboard.press("Enter")  # keyboard: the photo at full size
        dialog = pharm.locator("dialog[data-zoom-dialog]")
        expect(dialog).to_be_visible()
        expect(dialog.locator("img")).to_have_attribute("src", f"/check/{prep.id}/photos/{kept.photo.id}")
        shoot(pharm, shots, "43-check-photo-enlarged")
        pharm.keyboard.press("Escape")
        expect(dialog).to_be_hidden()


def test_a_blurred_photo_is_refused_on_screen_and_kept_as_a_near_miss(chromium_path, live_server, pharmacy, shots,
                                                                     tmp_path):
    prep = at_volume_recorded(pharmacy)
    video = write_y4m(camera_picture(blur=4), tmp_path / "blurred.y4m")
    with camera_browser(chromium_path, video) as browser:
        tech = sign_in(browser, live_server, "tech")
        tech.goto(f"/prep/{prep.id}")
        take = tech.get_by_role("button", name="Take photo")
        expect(take).to_be_focused()
        wait_until(tech, "() => document.querySelector('[data-photo-capture] video').videoWidth > 0")
        tech.keyboard.press("Enter")
        problem = tech.locator("[data-photo-error]")
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("The photo is blurred")
        expect(problem).to_contain_text("hold the syringe still")
        expect(take).to_be_focused()  # ready to take it again
        shoot(tech, shots, "44-photo-blurred-refused")
        tech.get_by_role("button", name="Bag mixed as instructed").click()  # no silent skip
        expect(tech.get_by_role("alert").first).to_contain_text("Take the photo of the syringe at the dose")
        shoot(tech, shots, "45-mixing-refused-without-the-photo")
    assert photos.evidence(pharmacy, prep.id) == []
    codes = [m.code for m in release.near_misses(pharmacy, prep.id)]
    assert codes == ["photo_blurred", "photo_missing"]


def test_without_a_camera_the_screen_says_so_and_the_photo_still_guards_mixing(live_server, browser, pharmacy, shots):
    prep = at_volume_recorded(pharmacy)
    tech = sign_in(browser, live_server, "tech")  # the usual headless browser: no camera device
    tech.goto(f"/prep/{prep.id}")
    missing = tech.locator("[data-camera-missing]")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("No camera at this workstation")
    expect(missing).to_contain_text("you cannot inject the dose and mix the bag without it")
    expect(tech.get_by_role("button", name="Take photo")).to_be_disabled()
    shoot(tech, shots, "46-photo-no-camera")


@pytest.mark.hazard("H27")
def test_the_bag_photo_is_taken_by_scanning_its_label_and_another_bags_label_is_refused(chromium_path, live_server,
                                                                                       pharmacy, shots, tmp_path):
    prep = factories.photograph(pharmacy, at_volume_recorded(pharmacy), "syringe")
    prep = preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
    video = write_y4m(camera_picture(), tmp_path / "sharp.y4m")
    with camera_browser(chromium_path, video) as browser:
        tech = sign_in(browser, live_server, "tech")
        tech.goto(f"/prep/{prep.id}")
        field = tech.get_by_label("Scan the in-process label on the bag (BAG0000001): the photo is taken as you scan")
        expect(field).to_be_focused()  # once the camera shows a picture
        tech.keyboard.type("]C0IP-BAG0000002")  # the label of the bag prepared beside it
        tech.keyboard.press("Enter")
        problem = tech.locator("[data-photo-error]")
        expect(problem).to_contain_text("STOP: the label on this bag is the in-process label of bag BAG0000002, "
                                        "but you are preparing bag BAG0000001")
        expect(field).to_be_focused()  # the next scan replaces the refused one
        assert tech.evaluate("() => { const f = document.activeElement; return f.selectionStart === 0 && "
                             "f.selectionEnd === f.value.length && f.value.length > 0; }")
        shoot(tech, shots, "47-bag-photo-another-bags-label-refused")
        assert photos.evidence(pharmacy, prep.id)[-1].photo.kind == "syringe"  # nothing was stored
        tech.keyboard.type(factories.in_process_scan(prep.id))
        tech.keyboard.press("Enter")
        expect(tech.locator(".flash")).to_contain_text("the label on the bag is bag BAG0000001's")
        expect(tech.get_by_label("Your password (electronic signature: “I prepared this bag”)")).to_be_focused()
        expect(tech.locator(".steps-table, table").first).to_contain_text("in-process label BAG0000001 scanned on the bag")
        shoot(tech, shots, "48-bag-photo-taken-by-its-label-scan")
    bag = [e.photo for e in photos.evidence(pharmacy, prep.id) if e.photo.kind == "bag"]
    assert [p.label_scanned for p in bag] == ["BAG0000001"]
    assert [m.code for m in release.near_misses(pharmacy, prep.id)] == ["label_not_this_bag"]
