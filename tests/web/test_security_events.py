"""Failed sign-ins and denials recorded and shown to an admin (issue 13 point 5, H22, 21 CFR 11.300(d)):
the name as typed, the time, the address and the browser; a refused page with its path and permission;
newest first, filtered by name and kind, paged; and a locked account told apart from a wrong password
by nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from pharmacy.db.models import SecurityEvent
from tests import factories
from tests.web.conftest import text


def events(pharmacy):
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(SecurityEvent).order_by(SecurityEvent.id)).scalars().all()


def refusal(response) -> str:
    return re.search(r'<div class="refusal".*?</div>', text(response), re.S).group(0)


@pytest.mark.hazard("H22")
def test_a_failed_sign_in_is_recorded_with_the_name_as_typed_time_address_and_browser(browser, pharmacy, clock):
    browser.get("/login")
    browser.post("/login", {"username": "  TeCh ", "password": "guess-guess-guess"},
                 headers={"User-Agent": "Ward PC 7 browser"})
    browser.login("nobody-here", "guess-guess-guess")
    first, second = events(pharmacy)
    assert (first.kind, first.username, first.detail) == ("sign_in_failed", "  TeCh ", "wrong password")
    assert first.at == clock.now and first.address == "127.0.0.1" and first.user_agent == "Ward PC 7 browser"
    assert (second.username, second.detail) == ("nobody-here", "no such user")


@pytest.mark.hazard("H22")
def test_a_refused_page_is_recorded_with_user_path_and_permission(signed_in, pharmacy):
    nurse = signed_in("nurse")
    assert nurse.get("/stock/").status_code == 403
    [event] = events(pharmacy)
    assert (event.kind, event.username, event.path, event.permission) == ("access_denied", "nurse", "/stock/",
                                                                          "stock.view")


@pytest.mark.hazard("H22")
def test_the_admin_sees_the_events_newest_first_filtered_and_paged(signed_in, browser, pharmacy, clock):
    for n in range(53):
        clock.advance(seconds=1)
        browser.login(f"guess{n:02d}", "guess-guess-guess")
    signed_in("nurse").get("/stock/")
    admin = signed_in("admin")
    page = text(admin.get("/admin/security-events"))
    assert "54 events, page 1 of 2" in page
    assert page.index("page refused") < page.index("guess52") < page.index("guess51")  # newest first
    assert "guess02" not in page and "/stock/ (needs stock.view)" in page
    older = text(admin.get("/admin/security-events?page=2"))
    assert "guess02" in older and "guess00" in older and "guess52" not in older
    only = text(admin.get("/admin/security-events?name=GUESS1&kind=sign_in_failed"))
    assert "10 events" in only and "guess19" in only and "guess20" not in only
    denials = text(admin.get("/admin/security-events?kind=access_denied"))
    assert "1 event" in denials and "guess" not in denials.split("<table")[-1]
    assert admin.get("/admin/security-events?page=99999999999999999999999").status_code == 200
    assert admin.get("/admin/security-events?kind=bogus&name=%25").status_code == 200


def test_only_an_admin_sees_the_events(signed_in):
    assert signed_in("pharm").get("/admin/security-events").status_code == 403
    assert signed_in("auditor").get("/admin/sessions").status_code == 403


@pytest.mark.hazard("H22")
def test_a_locked_account_and_a_wrong_password_get_the_same_answer(browser, pharmacy):
    wrong = browser.login("pharm", "guess-guess-guess")
    unknown = browser.login("no-such-user", "guess-guess-guess")
    for _ in range(5):
        browser.login("tech", "guess-guess-guess")
    locked = browser.login("tech")  # the right password, on a locked account
    assert wrong.status_code == unknown.status_code == locked.status_code == 401
    assert refusal(wrong) == refusal(unknown) == refusal(locked)
    assert "locked" in refusal(locked)  # the one text says that an account may be locked, for every case
    assert [e.detail for e in events(pharmacy)][-1] == "account locked"


@pytest.mark.hazard("H22")
def test_a_disabled_account_gets_the_same_answer_too(browser, pharmacy):
    from pharmacy.services import accounts

    wrong = browser.login("tech", "guess-guess-guess")
    accounts.disable_user(pharmacy, "admin", "pharm", "left the hospital")
    disabled = browser.login("pharm", factories.PASSWORDS["pharm"])
    assert disabled.status_code == 401 and refusal(disabled) == refusal(wrong)
