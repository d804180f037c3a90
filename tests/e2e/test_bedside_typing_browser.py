"""The bedside's keystroke timing in a real browser (SAFETY.md H7): a keyboard-wedge scanner types the
wristband fast and ends with Enter, and the start is recorded as scanned; the same identifier typed
at a person's pace, or filled in without keys, is typed: the verdict shows TYPED, Start asks why,
and the start is recorded as typed with the reason.

The keys are pressed at times the test sets (Chromium's input protocol takes each key's time), so the pace the
page reads is the one written here, however busy the machine: a scanner's keys 8 ms apart, a person's 150 ms
apart, and a person's keys that reach a busy page all at once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from pharmacy.db.models import Administration
from tests import factories
from tests.e2e.keys import press_keys
from tests.e2e.test_bench_journey import TABLET, scan, sign_in

pytestmark = pytest.mark.e2e


def at_the_wristband_step(live_server, browser, pharmacy):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    nurse = sign_in(browser, live_server, "nurse", viewport=TABLET)
    scan(nurse, factories.label_scan(pharmacy, bag.serial))
    expect(nurse.locator("h1")).to_have_text("Scan the patient's wristband")
    return nurse


def tick_premedication(page, pharmacy) -> None:
    for name, value in factories.premedication_form(pharmacy).items():
        if name.startswith("premed_given_"):
            page.locator(f'input[name="{name}"]').check()
        elif name.startswith("premed_at_"):
            page.locator(f'input[name="{name}"]').fill(value)


def recorded(pharmacy) -> list[tuple[str | None, str | None]]:
    with pharmacy.uow(readonly=True) as uow:
        return [(a.patient_entry, a.patient_entry_reason) for a in uow.session.execute(select(Administration)).scalars()]


@pytest.mark.hazard("H7")
def test_a_wristband_typed_as_fast_as_a_scanner_with_enter_is_recorded_as_scanned(live_server, browser, pharmacy, clock):
    nurse = at_the_wristband_step(live_server, browser, pharmacy)
    nurse.locator("#scan").click()
    press_keys(nurse, "P-1", gap_ms=8)  # a wedge scanner: a key every 8 ms, then Enter
    expect(nurse.locator(".verdict-ok h1")).to_contain_text("Give this bag to Anna Example")
    expect(nurse.locator(".verdict-typed")).to_have_count(0)
    tick_premedication(nurse, pharmacy)
    nurse.get_by_role("button", name="Start infusion").click()
    expect(nurse.locator(".flash")).to_contain_text("Infusion of bag BAG0000001 started")
    assert recorded(pharmacy) == [("scanned", None)]


@pytest.mark.hazard("H7")
def test_a_wristband_typed_at_a_persons_pace_is_shown_typed_and_needs_a_reason_to_start(live_server, browser, pharmacy,
                                                                                        clock):
    nurse = at_the_wristband_step(live_server, browser, pharmacy)
    nurse.locator("#scan").click()
    nurse.keyboard.type("P-1", delay=150)  # a person at the keyboard
    nurse.keyboard.press("Enter")
    expect(nurse.locator(".verdict-typed")).to_contain_text("TYPED: the wristband was typed by hand, not scanned")
    tick_premedication(nurse, pharmacy)
    nurse.get_by_label("Scanner broken").check()
    nurse.get_by_role("button", name="Start infusion").click()
    expect(nurse.locator(".flash")).to_contain_text("Infusion of bag BAG0000001 started")
    assert recorded(pharmacy) == [("typed", "Scanner broken")]


@pytest.mark.hazard("H7")
def test_keys_typed_at_a_persons_pace_that_reach_a_busy_page_at_once_are_typed(live_server, browser, pharmacy, clock):
    """A page busy when the nurse typed gets her keys together: their own times, 150 ms apart, tell."""
    nurse = at_the_wristband_step(live_server, browser, pharmacy)
    nurse.locator("#scan").click()
    press_keys(nurse, "P-1", gap_ms=150)
    expect(nurse.locator(".verdict-typed")).to_contain_text("TYPED: the wristband was typed by hand, not scanned")
    expect(nurse.locator('input[name="entry"]')).to_have_value("typed")


@pytest.mark.hazard("H7")
def test_a_wristband_filled_in_without_keystrokes_is_typed(live_server, browser, pharmacy, clock):
    nurse = at_the_wristband_step(live_server, browser, pharmacy)
    nurse.locator("#scan").fill("P-1")  # pasted or autofilled: no keys at all
    nurse.locator("#scan").press("Enter")
    expect(nurse.locator(".verdict-typed")).to_be_visible()
    expect(nurse.locator('input[name="entry"]')).to_have_value("typed")
