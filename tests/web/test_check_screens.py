"""Check and release: every recorded step on screen, the pharmacist's signature, separation of
duties, and the use-by and label after release."""

from __future__ import annotations

import pytest

from pharmacy.services import bags, preparation
from tests import factories
from tests.web.conftest import text, version_on


@pytest.fixture
def signed(pharmacy):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    return prep, bag


def decide(browser, prep_id, **fields):
    page = browser.get(f"/check/{prep_id}")
    return browser.post(f"/check/{prep_id}", {"version": version_on(page), "bag_scan": factories.in_process_scan(prep_id),
                                              **fields})


def test_the_review_shows_every_recorded_step_scan_user_and_time(signed_in, signed, pharmacy):
    prep, bag = signed
    page = text(signed_in("pharm").get(f"/check/{prep.id}"))
    for expected in (bag.serial, pharmacy.vial_serials[0], "K123A", "09506000134369", "Sodium chloride 0.9%", "N9931",
                     "1.2 mL", "Tessa Technician", "09:00:00 CET", "Visual inspection passed",
                     "dilution time stamped by the server", "Signed by the preparer", "20 Nov 2026 17:00 CET"):
        assert expected in page, expected
    assert page.count("Tessa Technician") >= 7


def test_a_pharmacist_releases_and_sees_the_use_by_and_the_label_link(signed_in, signed, pharmacy):
    prep, bag = signed
    pharm = signed_in("pharm")
    response = decide(pharm, prep.id, decision="released", password=factories.PASSWORDS["pharm"])
    assert response.status_code == 302
    assert response.headers["Location"] == f"/bags/{bag.serial}"
    page = pharm.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert '<div class="use-by-time">20 Nov 2026 17:00 CET</div>' in html
    assert f'action="/bags/{bag.serial}/label.pdf"' in html
    assert "released. Use by 20 Nov 2026 17:00 CET" in text(page)
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


@pytest.mark.hazard("H11")
def test_the_preparer_cannot_check_their_own_bag(signed_in, pharmacy):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0], preparer="pharm")
    pharm = signed_in("pharm")
    assert "You prepared this bag, so you cannot check it" in text(pharm.get(f"/check/{prep.id}"))
    response = decide(pharm, prep.id, decision="released", password=factories.PASSWORDS["pharm"])
    assert response.status_code == 403
    assert "You prepared this bag, so you cannot check it. Another pharmacist must check and release it." in text(response)
    assert bags.get_bag(pharmacy, bag.serial).state == "awaiting_check"
    assert decide(signed_in("pharm2"), prep.id, decision="released",
                  password=factories.PASSWORDS["pharm2"]).status_code == 302


def test_a_wrong_password_releases_nothing(signed_in, signed, pharmacy):
    prep, bag = signed
    response = decide(signed_in("pharm"), prep.id, decision="released", password="guess-guess-guess")
    assert response.status_code == 401
    assert "Password not accepted: the release was not signed" in text(response)
    assert bags.get_bag(pharmacy, bag.serial).state == "awaiting_check"


def test_a_decision_must_be_chosen(signed_in, signed, pharmacy):
    prep, bag = signed
    response = decide(signed_in("pharm"), prep.id, password=factories.PASSWORDS["pharm"])
    assert response.status_code == 400
    assert "Choose release or reject." in text(response)
    assert bags.get_bag(pharmacy, bag.serial).state == "awaiting_check"


def test_a_rejection_needs_a_reason_and_is_recorded_with_it(signed_in, signed, pharmacy):
    prep, bag = signed
    pharm = signed_in("pharm")
    refused = decide(pharm, prep.id, decision="rejected", password=factories.PASSWORDS["pharm"])
    assert refused.status_code == 422 and "Say why the bag is rejected." in text(refused)
    done = decide(pharm, prep.id, decision="rejected", reason="Air bubble in the line port",
                  password=factories.PASSWORDS["pharm"])
    assert done.status_code == 302
    page = text(pharm.get(done.headers["Location"]))
    assert "REJECTED" in page and "Air bubble in the line port" in page and "Print label" not in page


def test_a_technician_cannot_release(signed_in, signed):
    prep, _ = signed
    tech = signed_in("tech")
    tech.get("/worklist")
    response = tech.post(f"/check/{prep.id}", {"version": str(prep.version), "decision": "released",
                                               "password": factories.PASSWORDS["tech"]})
    assert response.status_code == 403


def test_a_second_release_of_the_same_form_is_refused(signed_in, signed, pharmacy):
    prep, _ = signed
    pharm = signed_in("pharm")
    page = pharm.get(f"/check/{prep.id}")
    form = {"version": version_on(page), "decision": "released", "password": factories.PASSWORDS["pharm"],
            "bag_scan": factories.in_process_scan(prep.id)}
    assert pharm.post(f"/check/{prep.id}", form).status_code == 302
    again = pharm.post(f"/check/{prep.id}", form)
    assert again.status_code == 409
    assert [s.step for s in preparation.get(pharmacy, prep.id).steps].count("check") == 1


def test_the_check_list_shows_bags_awaiting_their_check(signed_in, signed):
    _, bag = signed
    page = text(signed_in("pharm").get("/check/"))
    assert bag.serial in page and "8 h 00 min left" in page and "Tessa Technician" in page


def test_the_label_pdf_downloads_and_a_second_download_is_a_reprint(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    first = tech.post(f"/bags/{bag.serial}/label.pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert first.data.startswith(b"%PDF")
    assert f"{bag.serial}-label-1.pdf" in first.headers["Content-Disposition"]
    second = tech.post(f"/bags/{bag.serial}/label.pdf")
    assert f"{bag.serial}-label-2.pdf" in second.headers["Content-Disposition"]


@pytest.mark.hazard("H13")
def test_a_bag_awaiting_its_check_gets_no_label(signed_in, signed):
    _, bag = signed
    response = signed_in("tech").post(f"/bags/{bag.serial}/label.pdf")
    assert response.status_code == 409
    assert "only a released bag gets a label" in text(response)
