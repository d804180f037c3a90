"""The screens in each shipped language, in a real browser (issue 16 point 8).

A technician signs in on the English sign-in page (Chromium says en-US), picks each language from the menu at the
top of the worklist (one click to open it, one to choose: no page in between), and sees the worklist in that
language — its heading is the shipped catalogue's word for "Worklist" (so this passes only once
pharmacy/translations/<lang> exist); at 768 px the menu stays inside the viewport. A French technician types the
withdrawn volume as French writes it, "1,2 mL", and it is recorded as 1.2 mL (SAFETY.md H40). Screenshots in
test-artifacts/e2e/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pharmacy import i18n
from pharmacy.services import preparation
from tests import factories

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


def _signed_in(browser, server, viewport=DESKTOP):
    page = browser.new_context(viewport=viewport, base_url=server.url, locale="en-US").new_page()
    page.set_default_timeout(5000)
    page.goto("/login")
    page.get_by_label("User name").fill("tech")
    page.get_by_label("Password").fill(factories.PASSWORDS["tech"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/worklist")
    return page


def _choose(page, lang: str) -> None:
    page.locator("details.language-menu > summary").click()
    page.locator(f'details.language-menu button[value="{lang}"]').click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def test_the_worklist_is_shown_in_each_shipped_language_chosen_from_the_menu(live_server, browser, pharmacy, shots):
    factories.verified_order(pharmacy)
    page = _signed_in(browser, live_server)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for lang in i18n.LANGUAGES:
        _choose(page, lang)
        assert page.url.endswith("/worklist")  # back on the page the choice was made on
        page.screenshot(path=str(shots / f"languages-worklist-{lang}.png"), full_page=True)
        word = i18n.translate("Worklist", lang)
        if lang != i18n.SOURCE_LANGUAGE:
            assert word != "Worklist", f"pharmacy/translations/{lang} does not translate “Worklist”"
        expect(page.locator("h1")).to_contain_text(word)
    _choose(page, "en")


def test_the_language_menu_fits_a_portrait_tablet(live_server, browser, pharmacy, shots):
    page = _signed_in(browser, live_server, TABLET)
    summary = page.locator("details.language-menu > summary")
    summary.click()
    page.screenshot(path=str(shots / "languages-menu-768.png"))
    for control in (summary, *page.locator("details.language-menu button").all()):
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= TABLET["width"] + 0.5, control
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]


@pytest.mark.hazard("H40")
def test_a_french_technician_types_the_volume_with_a_decimal_comma(live_server, browser, pharmacy, shots):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    preparation.in_process_label(pharmacy, "tech", prep.id)
    page = _signed_in(browser, live_server)
    _choose(page, "fr")
    page.goto(f"/prep/{prep.id}")
    expect(page.locator("body")).to_contain_text("1,2 mL")  # the volume to withdraw, as French writes it
    page.locator("#volume").fill("1,2 mL")
    page.screenshot(path=str(shots / "languages-volume-fr.png"), full_page=True)
    page.locator("#volume").press("Enter")
    page.wait_for_load_state()
    recorded = preparation.get(pharmacy, prep.id)
    assert recorded.withdrawn_ml == pytest.approx(1.2) and recorded.withdrawn_entered == "1,2 mL"
    page.screenshot(path=str(shots / "languages-volume-fr-recorded.png"), full_page=True)
