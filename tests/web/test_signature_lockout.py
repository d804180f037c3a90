"""Electronic signatures follow the lockout (issue 13 point 3, H22): wrong passwords at a signature count
toward the sign-in lockout, a locked or disabled account neither signs in nor signs, a lock ends the
account's sessions, and every attempt is recorded (21 CFR 11.300(d)). The API takes no signature (no
endpoint asks for a password), so the screens are where signatures are made."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry, SecurityEvent
from pharmacy.services import accounts, bags
from tests import factories
from tests.web.conftest import text, version_on


def release(browser, prep_id, password):
    page = browser.get(f"/check/{prep_id}")
    if page.status_code != 200:
        return page
    return browser.post(f"/check/{prep_id}", {"version": version_on(page), "bag_scan": factories.in_process_scan(prep_id),
                                              "decision": "released", "password": password})


def dispose(browser, serial: str, **fields):
    browser.get(f"/bags/{serial}")
    return browser.post(f"/bags/{serial}/dispose", fields)


def events(pharmacy, kind=None):
    with pharmacy.uow(readonly=True) as uow:
        query = select(SecurityEvent).order_by(SecurityEvent.id)
        if kind:
            query = query.where(SecurityEvent.kind == kind)
        return uow.session.execute(query).scalars().all()


@pytest.fixture
def signed(pharmacy):
    return factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])


@pytest.mark.hazard("H22")
def test_five_wrong_signatures_at_the_release_lock_the_account_and_end_its_session(signed_in, signed, pharmacy):
    prep, bag = signed
    pharm = signed_in("pharm")
    for attempt in range(4):
        response = release(pharm, prep.id, "guess-guess-guess")
        assert response.status_code == 401, attempt
        assert "Password not accepted: the release was not signed" in text(response)
    assert release(pharm, prep.id, "guess-guess-guess").status_code == 401  # the fifth: locked, signed out
    assert pharm.get(f"/check/{prep.id}").status_code == 302  # the session has ended
    assert release(pharm, prep.id, factories.PASSWORDS["pharm"]).status_code == 302  # to the sign-in page
    assert pharm.login("pharm").status_code == 401  # locked: the right password does not sign in
    assert bags.get_bag(pharmacy, bag.serial).state == "awaiting_check"
    failed = events(pharmacy, "signature_failed")
    assert len(failed) == 5 and all(e.username == "pharm" and e.detail == "release: wrong password" for e in failed)
    assert failed[0].address == "127.0.0.1"
    [locked] = events(pharmacy, "locked")
    assert locked.username == "pharm" and "a signature (release)" in locked.detail
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "user.locked")).scalar_one()
    assert entry.username == "pharm" and "sign-ins or signatures" in entry.reason


@pytest.mark.hazard("H22")
def test_sign_ins_and_signatures_count_toward_the_same_lockout(signed_in, browser, signed, pharmacy, clock):
    prep, bag = signed
    pharm = signed_in("pharm")
    for _ in range(3):
        assert browser.login("pharm", "guess-guess-guess").status_code == 401
    assert release(pharm, prep.id, "guess-guess-guess").status_code == 401
    assert release(pharm, prep.id, "guess-guess-guess").status_code == 401
    assert pharm.get("/worklist").status_code == 302  # the fifth failure in a row locked the account
    assert browser.login("pharm").status_code == 401
    clock.advance(minutes=16)
    assert browser.login("pharm").status_code == 302  # the lock ends after 15 minutes


@pytest.mark.hazard("H22")
def test_a_good_signature_resets_the_count(signed_in, signed, pharmacy):
    prep, bag = signed
    pharm = signed_in("pharm")
    for _ in range(4):
        release(pharm, prep.id, "guess-guess-guess")
    assert release(pharm, prep.id, factories.PASSWORDS["pharm"]).status_code == 302
    other, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[1], day=2)
    for _ in range(4):
        assert release(pharm, other.id, "guess-guess-guess").status_code == 401
    assert pharm.get("/worklist").status_code == 200  # four in a row since the good one: not locked


@pytest.mark.hazard("H22")
def test_a_locked_pharmacist_cannot_sign_for_someone_else_even_with_the_right_password(signed_in, browser, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    for _ in range(5):
        browser.login("pharm", "guess-guess-guess")
    nurse = signed_in("nurse")
    response = dispose(nurse, bag.serial, reason="damaged", note="port cracked", confirm="on", signer="pharm",
                       password=factories.PASSWORDS["pharm"])
    assert response.status_code == 401
    assert "Password not accepted: the destruction of the bag was not signed" in text(response)
    assert bags.get_bag(pharmacy, bag.serial).state == "released"
    assert events(pharmacy, "signature_failed")[-1].detail == "destruction of the bag: account locked"


@pytest.mark.hazard("H22")
def test_a_disabled_pharmacist_cannot_sign(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    accounts.disable_user(pharmacy, "admin", "pharm", "left the hospital")
    response = dispose(signed_in("nurse"), bag.serial, reason="damaged", note="port cracked", confirm="on",
                       signer="pharm", password=factories.PASSWORDS["pharm"])
    assert response.status_code == 401
    assert bags.get_bag(pharmacy, bag.serial).state == "released"
    assert events(pharmacy, "signature_failed")[-1].detail == "destruction of the bag: account disabled"


@pytest.mark.hazard("H22")
def test_a_locked_account_cannot_sign_the_preparation(signed_in, browser, pharmacy):
    tech = signed_in("tech")
    for _ in range(5):
        browser.login("tech", "guess-guess-guess")
    assert tech.get("/worklist").status_code == 302  # the lock ended the technician's open session
    assert tech.login("tech").status_code == 401
