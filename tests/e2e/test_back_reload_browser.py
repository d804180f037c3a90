"""Back, reload and idle sign-out in a real browser (issue 16, points 2 and 4).

A refused scan answers with a redirect (web/prg.py): reloading the refusal re-sends nothing (the refusal
is recorded once), and Back loads pages with GET, so Chromium never asks to "Confirm Form Resubmission".
Signed out by the idle timeout mid-preparation, the user signs in again and is back on the step they
were on; the form they sent after the timeout is not replayed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from pharmacy import config
from pharmacy.db.models import Refusal
from pharmacy.domain.lifecycle import PrepState
from pharmacy.services import preparation
from tests import factories
from tests.conftest import ZONE

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def settings(tmp_path):
    """The suite's settings, with an idle timeout of one minute (the singular on the sign-in page)."""
    return config.load({"instance": tmp_path / "instance", "timezone": ZONE, "secret_key": "test-secret-key",
                        "idle_timeout_minutes": 1}, environ={})


def _refusals(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(Refusal)).scalar_one()


def _sign_in(page, username: str) -> None:
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(factories.PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()


def _open(browser, server):
    page = browser.new_context(viewport=DESKTOP, base_url=server.url).new_page()
    page.set_default_timeout(5000)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto("/login")
    _sign_in(page, "tech")
    return page, posts


def _started(pharmacy):
    order = factories.verified_order(pharmacy)
    return preparation.start(pharmacy, "tech", order.id)


@pytest.mark.hazard("H36")
def test_reload_and_back_after_a_refused_scan_send_nothing_again(live_server, browser, pharmacy, shots):
    prep = _started(pharmacy)
    page, posts = _open(browser, live_server)
    page.goto(f"/prep/{prep.id}")
    before = _refusals(pharmacy)
    page.locator("#scan").fill("]d2NOT-A-VIAL")
    page.keyboard.press("Enter")
    expect(page.locator("#refusal")).to_be_visible()
    assert page.url.endswith(f"/prep/{prep.id}")  # the step screen's own address, reached by a GET
    page.screenshot(path=str(shots / "f-01-refused-scan-after-redirect.png"), full_page=True)
    assert _refusals(pharmacy) == before + 1
    sent = len(posts)

    response = page.reload()  # a reload is a GET of the step screen: nothing is sent again
    assert response is not None and response.request.method == "GET" and response.status == 200
    expect(page.locator("#refusal")).to_have_count(0)
    expect(page.locator("#scan")).to_be_visible()
    assert len(posts) == sent and _refusals(pharmacy) == before + 1

    page.get_by_role("link", name="Worklist").click()
    expect(page.locator("h1")).to_contain_text("Worklist")
    back = page.go_back()  # to the step screen: loaded with GET, so no "Confirm Form Resubmission"
    assert back is not None and back.request.method == "GET" and back.status < 400
    assert page.url.endswith(f"/prep/{prep.id}")
    back = page.go_back()  # and once more, to the screen before the scan
    assert back is not None and back.request.method == "GET"
    page.screenshot(path=str(shots / "f-02-back-after-refusal.png"), full_page=True)
    assert len(posts) == sent, f"Back or reload sent a form again: {posts[sent:]}"
    assert _refusals(pharmacy) == before + 1


def test_signed_out_when_idle_the_user_comes_back_to_the_step(live_server, browser, pharmacy, clock, shots):
    prep = _started(pharmacy)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    page, posts = _open(browser, live_server)
    page.goto(f"/prep/{prep.id}")
    expect(page.get_by_role("button", name="Passed: as described above")).to_be_visible()

    clock.advance(minutes=1, seconds=1)  # the idle timeout (one minute here) passes at the bench
    page.get_by_role("button", name="Passed: as described above").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    message = page.locator(".flash").inner_text()
    assert "signed out after 1 minute without activity" in message and "1 minutes" not in message
    page.screenshot(path=str(shots / "f-03-idle-signed-out.png"), full_page=True)
    assert preparation.get(pharmacy, prep.id).state == PrepState.VIAL_SCANNED  # the late form was not recorded

    _sign_in(page, "tech")
    assert page.url.endswith(f"/prep/{prep.id}")  # back on the step, not the worklist
    expect(page.get_by_role("button", name="Passed: as described above")).to_be_visible()
    page.screenshot(path=str(shots / "f-04-back-on-the-step.png"), full_page=True)
    assert preparation.get(pharmacy, prep.id).state == PrepState.VIAL_SCANNED  # nothing replayed by the sign-in
