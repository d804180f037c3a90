"""Issue 16 points 1 and 3 in Chromium: a whole bag run with the scanner and the keyboard only (the
technician from the worklist to the signature, the pharmacist's check), with the mouse clicks and
the keystrokes other than scans and passwords counted and printed; Enter on the check screen never
decides anything by itself (H39); and every role's main screens at a portrait tablet (768 × 1024)
and a desktop (1280 × 800): no horizontal scroll, no visible control beyond the viewport, the
pharmacist's menu in one row. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from pharmacy.db.models import Photo
from pharmacy.devices.simulator import BalanceSimulator
from pharmacy.domain import bagid
from pharmacy.services import preparation
from pharmacy.web.app import create_app
from tests import factories
from tests.e2e.conftest import LiveServer
from tests.e2e.keys import READY, scanner_types
from tests.e2e.test_bench_journey import shoot
from tests.e2e.test_photos_browser import wait_until
from tests.integration.test_weighing import SYRINGE, calibrated, grams_for, weighed_pharmacy
from tests.unit.label_helpers import decode

pytestmark = pytest.mark.e2e
GSRN = "123456789012345675"
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 800}
KEYSTROKE_TARGET = 6

# counted in the page itself, across navigations (sessionStorage): a real pointer press is a mousedown
COUNT_CLICKS = """
document.addEventListener("mousedown", function (event) {
  if (event.isTrusted) { sessionStorage.setItem("clicks", String(Number(sessionStorage.getItem("clicks") || 0) + 1)); }
}, true);
"""


class Keyboard:
    """The only way the journey touches a page: scans (what a keyboard-wedge scanner types, Enter
    included), passwords (typed, then Enter) and counted keystrokes."""

    def __init__(self, page) -> None:
        self.page = page
        self.keystrokes: list[str] = []

    def scan(self, raw: str) -> None:
        """Into the field that has the focus once the page is ready, as a person waits for the screen to scan."""
        self.page.wait_for_function(f"{READY} && document.activeElement && document.activeElement.matches('input')")
        scanner_types(self.page, raw)

    def password(self, username: str) -> None:
        self.page.keyboard.type(factories.PASSWORDS[username])
        self.page.keyboard.press("Enter")

    def press(self, key: str, why: str) -> None:
        self.keystrokes.append(f"{key} ({why})")
        self.page.keyboard.press(key)

    def clicks(self) -> int:
        return int(self.page.evaluate("Number(sessionStorage.getItem('clicks') || 0)"))


@pytest.fixture
def camera_browser(chromium_path, tmp_path):
    """Chromium whose camera films a sharp, evenly lit test picture (an MJPEG file), allowed without a
    prompt: the bench's photos (H28) are taken with the keyboard too."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    film = tmp_path / "camera.mjpeg"  # 240 frames that each differ (a photo is one picture: no two kept alike)
    film.write_bytes(b"".join(factories.picture(1, "keyboard-only bench", take=n, size=(640, 480)) for n in range(240)))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=[
            *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={film}"])
        yield browser
        browser.close()


@contextmanager
def weighing_bench(pharmacy):
    """The bench of the keyboard journeys: a pharmacy weighing through the MT-SICS simulator (the empty syringe on
    it, calibrated), a verified order for Inès Moreau (her wristband's GSRN), and its server started."""
    with BalanceSimulator("mt-sics", serial_number="B123456789") as sim:
        sim.place(SYRINGE)
        weighed = weighed_pharmacy(pharmacy, sim, demo=True)
        calibrated(weighed)
        factories.verified_order(weighed, who=factories.patient("P-3001", "Inès Moreau", "Neurology ward 5", gsrn=GSRN))
        server = LiveServer(create_app(pharmacy=weighed))
        server.start()
        try:
            yield sim, weighed, server
        finally:
            server.stop()


def keyboard_sign_in(browser, server, username: str, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, base_url=server.url, accept_downloads=True)
    context.grant_permissions(["camera"])
    context.add_init_script(COUNT_CLICKS)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto("/login")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(factories.PASSWORDS[username])
    page.keyboard.press("Enter")
    page.wait_for_url("**/worklist")
    return page, Keyboard(page)


def take_photo(page, keys, shots, kind: str, filmed_seconds: float | None = None) -> None:
    """The photo the monograph asks for here: its button has the focus once the camera shows a picture.
    ``filmed_seconds``: wait until the camera has filmed that long first — its film restarts on each page, so
    two photos taken as quickly after their page opened would be the same picture, which is refused (H28)."""
    button = page.locator(f'[data-kind="{kind}"] [data-take]')
    expect(button).to_be_focused(timeout=10000)
    if filmed_seconds is not None:
        wait_until(page, f"() => (document.querySelector('[data-kind=\"{kind}\"]')?.closest('[data-photo-capture]')"
                         f"?.querySelector('video') || {{}}).currentTime > {filmed_seconds}")
    shoot(page, shots, f"h-photo-{kind}-has-the-focus")
    keys.press("Enter", f"take the {kind} photo")
    page.wait_for_url("**/prep/*", timeout=10000)
    expect(page.locator(f'[data-kind="{kind}"] [data-take]')).to_have_text("Retake photo", timeout=10000)


@pytest.mark.hazard("H27")
def test_a_bag_is_prepared_and_checked_with_the_scanner_and_the_keyboard_only(camera_browser, pharmacy, shots, capsys):
    browser = camera_browser
    with weighing_bench(pharmacy) as (sim, weighed, server):
        tech, keys = keyboard_sign_in(browser, server, "tech")
        expect(tech.locator("#open-code")).to_be_focused()  # the worklist waits for a scan
        shoot(tech, shots, "h-01-worklist-scan-the-wristband")
        keys.scan(factories.wristband_scan(GSRN))  # the patient's wristband opens the order's preparation

        expect(tech.locator("#step-title")).to_contain_text("Scan the vial")
        expect(tech.locator("#scan")).to_be_focused()
        keys.scan(factories.vial_scan(weighed.vial_serials[0]))

        expect(tech.locator("#step-title")).to_contain_text("Inspect the vial")
        expect(tech.get_by_role("button", name="Passed")).to_be_focused()
        shoot(tech, shots, "h-02-inspection-passed-has-the-focus")
        keys.press("Enter", "inspection passed")

        expect(tech.locator("#step-title")).to_contain_text("Scan the diluent bag")
        expect(tech.locator("#scan")).to_be_focused()
        with tech.expect_download() as download:  # the diluent scan starts the in-process label's print itself
            keys.scan(factories.NACL_SCAN)
        in_process = decode(Path(download.value.path()).read_bytes())["]C0"].bytes.decode("ascii")

        expect(tech.locator("#step-title")).to_contain_text("Record the withdrawn volume")
        tare = tech.get_by_role("button", name="Tare the balance")
        expect(tare).to_be_focused()  # the page reloaded after the print: now the balance
        expect(tech.get_by_role("button", name="Print the in-process label of bag BAG0000001 (PDF)")).to_be_visible()
        shoot(tech, shots, "h-03-in-process-label-printed-by-itself-tare-next")
        keys.press("Enter", "tare")
        expect(tech.get_by_text("Tared on balance B123456789")).to_be_visible()  # tared: now fill the syringe
        sim.place(SYRINGE + grams_for("1.2"))
        expect(tech.get_by_role("button", name="Weigh the filled syringe")).to_be_focused()
        keys.press("Enter", "weigh")

        expect(tech.locator("#step-title")).to_contain_text("Mix gently")
        take_photo(tech, keys, shots, "syringe", filmed_seconds=0.3)
        expect(tech.get_by_role("button", name="Bag mixed as instructed")).to_be_focused()
        keys.press("Enter", "mixed")

        expect(tech.locator("#step-title")).to_contain_text("Sign the preparation")
        # the bag's photo is taken by scanning its in-process label, which proves the label is this bag's (H27)
        scan_the_label_for_the_photo(tech, keys, shots, "]C0" + in_process, filmed_seconds=1.5)
        expect(tech.locator(".flash")).to_contain_text("the label on the bag is bag BAG0000001's")
        expect(tech.locator("#password")).to_be_focused()
        keys.password("tech")
        expect(tech.locator(".flash")).to_contain_text("waits for a pharmacist")
        shoot(tech, shots, "h-04-signed-by-keyboard")
        tech_clicks, tech_keys = keys.clicks(), list(keys.keystrokes)

        pharm, keys = keyboard_sign_in(browser, server, "pharm")
        expect(pharm.locator("#open-code")).to_be_focused()
        keys.scan("]C0" + in_process)  # the in-process label on the bag in hand opens its check
        expect(pharm.locator("#step-title")).to_contain_text("Pharmacist check")
        expect(pharm.locator("#bag_scan")).to_have_value("]C0" + in_process)
        release = pharm.get_by_label("Release: every step is right")
        expect(release).to_be_focused()  # nothing is chosen for the pharmacist
        expect(release).not_to_be_checked()
        expect(pharm.locator('[data-photo-kind="bag"] .label-scanned')).to_have_text(
            "In-process label BAG0000001 scanned on the bag as the photo was taken.")
        shoot(pharm, shots, "h-05-check-the-decision-has-the-focus")
        keys.press("Space", "choose Release")
        expect(pharm.locator("#password")).to_be_focused()
        keys.password("pharm")
        expect(pharm.locator(".flash")).to_contain_text("released")
        shoot(pharm, shots, "h-06-released-by-keyboard")
        pharm_clicks, pharm_keys = keys.clicks(), list(keys.keystrokes)
    assert preparation.get(weighed, 1).state == "released"
    assert [(p.kind, p.label_scanned) for p in photo_rows(weighed, 1)] == [("syringe", None), ("bag", "BAG0000001")]
    clicks, strokes = tech_clicks + pharm_clicks, tech_keys + pharm_keys
    photos = [k for k in strokes if "photo" in k]  # the syringe's photo (H28): one Enter; the bag's is a scan
    over = len(strokes) - KEYSTROKE_TARGET
    verdict = "within it" if over <= 0 else f"{over} above it"
    with capsys.disabled():
        print(f"\nkeyboard-only bag: {clicks} mouse clicks; {len(strokes)} keystrokes besides scans and passwords "
              f"(target {KEYSTROKE_TARGET}: {verdict}), {len(photos)} of them a photo capture (the bag's photo is taken by "
              f"scanning its in-process label); the in-process label printed by itself after the diluent scan "
              f"(technician {len(tech_keys)}: {', '.join(tech_keys)}; pharmacist {len(pharm_keys)}: {', '.join(pharm_keys)})")
    assert clicks == 0
    assert len(strokes) <= KEYSTROKE_TARGET  # the target, the monograph's two photos included
    assert len(strokes) == 6 and len(photos) == 1  # measured: any extra keystroke on the way shows here


def scan_the_label_for_the_photo(page, keys, shots, scan: str, filmed_seconds: float | None = None) -> None:
    """The bag's photo: the focus waits in its label field once the camera shows a picture; the scan takes it
    (``filmed_seconds`` as for ``take_photo``)."""
    field = page.locator('[data-kind="bag"] [data-label-scan]')
    expect(field).to_be_focused(timeout=10000)
    if filmed_seconds is not None:
        wait_until(page, f"() => (document.querySelector('[data-kind=\"bag\"]')?.closest('[data-photo-capture]')"
                         f"?.querySelector('video') || {{}}).currentTime > {filmed_seconds}")
    shoot(page, shots, "h-photo-bag-scan-its-label")
    keys.scan(scan)
    page.wait_for_url("**/prep/*", timeout=10000)
    expect(page.locator('[data-kind="bag"] [data-take]')).to_have_text("Retake photo", timeout=10000)


def photo_rows(pharmacy, prep_id: int):
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(Photo).where(Photo.preparation_id == prep_id, Photo.replaced_at.is_(None))
                                   .order_by(Photo.id)).scalars().all()


@pytest.mark.hazard("H39")
def test_enter_on_the_check_screen_neither_releases_nor_rejects(live_server, browser, pharmacy, shots):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    pharm, keys = keyboard_sign_in(browser, live_server, "pharm")
    pharm.goto(f"/check/{prep.id}")
    expect(pharm.locator("#bag_scan")).to_be_focused()
    keys.press("Enter", "Enter in the empty scan field")
    keys.scan(factories.in_process_scan(prep.id))  # the scanner's Enter moves on, it does not send the form
    expect(pharm.get_by_label("Release: every step is right")).to_be_focused()
    keys.press("Enter", "Enter on the decision, none chosen")
    keys.press("Tab", "to the other choice")
    keys.press("Tab", "on")
    keys.press("Tab", "on")
    pharm.locator("#password").focus()
    keys.password("pharm")  # a signature with no decision
    shoot(pharm, shots, "h-07-enter-decides-nothing")
    expect(pharm.locator("#step-title")).to_contain_text("Pharmacist check")
    assert not pharm.get_by_label("Release: every step is right").is_checked()
    assert not pharm.get_by_label("Reject the bag").is_checked()
    after = preparation.get(pharmacy, prep.id)
    assert after.state == "signed" and after.checked_by is None


def _layout(page) -> dict:
    """Horizontal overflow of the page, every visible control that lies (partly) outside the viewport, and
    every empty row of actions shown."""
    return page.evaluate("""() => {
      const width = document.documentElement.clientWidth, outside = [];
      document.querySelectorAll("a, button, input, select, textarea, summary").forEach((el) => {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0 || el.closest(".skip-link, .visually-hidden")) { return; }
        if (!el.checkVisibility({visibilityProperty: true})) { return; }  // e.g. inside a closed drop-down
        if (box.left < -0.5 || box.right > width + 0.5) { outside.push(el.outerHTML.slice(0, 90)); }
      });
      const empty = [...document.querySelectorAll(".actions, .choice-grid, .infusion-actions, .card")].filter((row) =>
        getComputedStyle(row).display !== "none" && row.closest("[hidden]") === null && row.checkVisibility()
        && ![...row.children].some((child) => child.checkVisibility())
      ).map((row) => row.className);  // a row with nothing in it (a role with no action there) still takes its space
      return {scroll: document.documentElement.scrollWidth - window.innerWidth, outside: outside, empty: empty};
    }""")


def _menu_rows(page) -> int:
    return page.evaluate("""() => new Set([...document.querySelectorAll(".topbar nav > ul > li")]
                                .map((li) => Math.round(li.getBoundingClientRect().top))).size""")


def _bedside_screens(page, pharmacy, serial):
    """The nurse's two scans, as the bedside asks for them: the verdict screen."""
    page.goto("/ward/")
    Keyboard(page).scan(factories.label_scan(pharmacy, serial))
    expect(page.locator("#scan")).to_be_focused()
    Keyboard(page).scan("P-1")
    expect(page.locator(".verdict-ok")).to_be_visible()


@pytest.mark.parametrize("viewport", [TABLET, DESKTOP], ids=["768x1024", "1280x800"])
def test_every_roles_main_screens_fit_the_tablet_and_the_desktop(live_server, browser, pharmacy, shots, viewport):
    for _ in range(3):  # a worklist with rows, each with its Prepare button
        factories.verified_order(pharmacy, who=factories.patient(f"P-4{_}", f"Patient Number{_} With-A-Long-Name", "Ward 7"))
    released = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    signed, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-5", "Bea Check", "Ward 2"))
    started = preparation.start(pharmacy, "tech", factories.verified_order(pharmacy, who=factories.patient("P-6", "Cy Step", "Ward 2")).id)
    screens = {
        "tech": ["/worklist", "/orders/new", f"/prep/{started.id}", "/bags/", f"/bags/{released.serial}", "/stock/", "/dashboard"],
        "pharm": ["/worklist", "/orders/pending", "/check/", f"/check/{signed.id}", f"/bags/{released.serial}", "/trace/",
                  "/audit/", "/reports/", "/dashboard"],
        "nurse": ["/ward/", "bedside", "/ward/infusions", f"/bags/{released.serial}", f"/bags/{bagid.bag_serial(signed.id)}",
                  "/dashboard"],
        "auditor": ["/worklist", "/audit/", "/reports/", "/trace/"],
        "admin": ["/stock/", "/admin/users", "/admin/sessions", "/storage/"],
    }
    size = f"{viewport['width']}x{viewport['height']}"
    problems = []
    for role, urls in screens.items():
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(5000)
        page.goto("/login")
        page.get_by_label("User name").fill(role)
        page.get_by_label("Password").fill(factories.PASSWORDS[role])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        for url in urls:
            if url == "bedside":
                _bedside_screens(page, pharmacy, released.serial)
            else:
                page.goto(url)
            found = _layout(page)
            if found["scroll"] > 0 or found["outside"] or found["empty"]:
                problems.append((role, url, found))
            for group in page.locator(".topbar summary").all():  # each drop-down of the menu, open
                group.press("Enter")
                page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")  # its toggle event
                opened = _layout(page)
                if opened["scroll"] > 0 or opened["outside"] or opened["empty"]:
                    problems.append((role, url, group.inner_text(), opened))
                group.press("Escape")
            if viewport == DESKTOP and _menu_rows(page) > 1:
                problems.append((role, url, "the menu wraps to a second row"))
            name = url.strip("/").replace("/", "-") or "home"
            shoot(page, shots, f"h-fit-{size}-{role}-{name}")
        context.close()
    assert problems == [], "\n".join(map(str, problems))


def test_the_menu_groups_open_and_close_with_the_keyboard(live_server, browser, pharmacy, shots):
    pharm, keys = keyboard_sign_in(browser, live_server, "pharm")
    quality = pharm.locator(".topbar summary", has_text="Quality")
    audit = pharm.get_by_role("link", name="Audit log")
    expect(audit).to_be_hidden()
    quality.focus()
    keys.press("Enter", "open the group")
    expect(audit).to_be_visible()
    shoot(pharm, shots, "h-08-menu-group-open")
    keys.press("Tab", "into the group")
    keys.press("Tab", "next line")
    expect(audit).to_be_focused()
    keys.press("Escape", "close")
    expect(audit).to_be_hidden()
    expect(quality).to_be_focused()
    keys.press("Enter", "open again")
    keys.press("Tab", "first line")
    keys.press("Tab", "second line")
    keys.press("Enter", "follow it")
    expect(pharm.locator("h1")).to_contain_text("Audit")
    expect(pharm.locator(".topbar summary.is-here")).to_have_text("Quality")
    assert keys.clicks() == 0
