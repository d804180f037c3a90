"""Send back at the check (issue 14 point 5, SAFETY.md H29): the check page offers the steps the
lifecycle allows and needs a reason and the password; the preparer's screen says who sent it back and
why at the step; every bad input is refused with a message and changes nothing."""

from __future__ import annotations

import re

import pytest

from pharmacy.services import preparation
from tests import factories
from tests.integration.records import counts
from tests.web.conftest import text, version_on


@pytest.fixture
def signed(pharmacy):
    return factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])


def send_back(browser, prep_id, **fields):
    page = browser.get(f"/check/{prep_id}")
    form = {"version": version_on(page), "step": "volume", "reason": "re-weigh the syringe: the reading moved",
            "password": factories.PASSWORDS["pharm"], **fields}
    return browser.post(f"/check/{prep_id}/send-back", form)


def unchanged(before, after) -> bool:
    return {k: v for k, v in after.items() if k != "refusals"} == {k: v for k, v in before.items() if k != "refusals"}


@pytest.mark.hazard("H29")
def test_the_check_page_offers_the_steps_the_lifecycle_allows_with_a_required_reason(signed_in, signed):
    prep, _ = signed
    html = signed_in("pharm").get(f"/check/{prep.id}").get_data(as_text=True)
    form = html[html.index(f'action="/check/{prep.id}/send-back"'):]
    form = form[:form.index("</form>")]
    assert re.findall(r'<option value="(\w+)">', form) == ["diluent", "volume", "mixing", "sign"]
    assert 'name="reason"' in form and "required" in form and 'name="password"' in form
    assert 'value="vial"' not in form and 'value="inspection"' not in form
    assert "The vial stays used by this preparation" in " ".join(form.split())
    # the auditor sees the record, not the form; the preparer's own bag has no form they could use
    assert "/send-back" not in signed_in("auditor").get(f"/check/{prep.id}").get_data(as_text=True)


@pytest.mark.hazard("H29")
def test_a_send_back_reaches_the_preparer_at_the_step_and_the_next_check_sees_it(signed_in, signed, pharmacy):
    prep, bag = signed
    pharm = signed_in("pharm")
    response = send_back(pharm, prep.id)
    assert response.status_code == 302 and response.headers["Location"] == f"/check/{prep.id}"
    after = text(pharm.get(response.headers["Location"]))
    assert "sent back to “volume”" in after and "DILUENT SCANNED" in after
    assert f'action="/check/{prep.id}"' not in after  # nothing to release now
    tech = signed_in("tech")
    screen = " ".join(re.sub(r"<[^>]+>", "", text(tech.get(f"/prep/{prep.id}"))).split())
    assert "Record the withdrawn volume" in screen
    assert re.search(r"Sent back by Petra Pharmacist \(09:00 CET\)\s+to “Volume”: re-weigh the syringe: the reading "
                     r"moved\. Redo Volume, Mixing, Sign, with the photos taken again, then sign again", screen), screen
    # the preparer redoes the volume, the mixing and signs again; the check sees the send-back and what it voided
    page = tech.get(f"/prep/{prep.id}")
    tech.post(f"/prep/{prep.id}/volume", {"version": version_on(page), "volume": "1.21 mL"})
    factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "syringe", take=2)  # set aside: taken again
    page = tech.get(f"/prep/{prep.id}")
    tech.post(f"/prep/{prep.id}/mixing", {"version": version_on(page)})
    factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "bag", take=2)
    page = tech.get(f"/prep/{prep.id}")
    assert "Sent back by Petra Pharmacist" in text(page)
    tech.post(f"/prep/{prep.id}/sign", {"version": version_on(page), "password": factories.PASSWORDS["tech"]})
    assert preparation.get(pharmacy, prep.id).state == "signed"
    assert "Sent back by" not in text(tech.get(f"/prep/{prep.id}"))
    review = pharm.get(f"/check/{prep.id}").get_data(as_text=True)
    assert review.count("superseded</span>") == 5  # the first volume, both photos, mixing and signature
    assert "sent back to “volume” by the check: re-weigh the syringe: the reading moved (redone: volume, mixing, sign)" \
           in text(pharm.get(f"/check/{prep.id}"))
    released = pharm.post(f"/check/{prep.id}", {"version": version_on(pharm.get(f"/check/{prep.id}")),
                                                "bag_scan": factories.in_process_scan(prep.id), "decision": "released",
                                                "password": factories.PASSWORDS["pharm"]})
    assert released.status_code == 302 and released.headers["Location"] == f"/bags/{bag.serial}"


@pytest.mark.hazard("H29")
@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"step": "weigh-again"}, 422, "Choose the step to send the preparation back to"),
    ({"step": ""}, 422, "Choose the step to send the preparation back to"),
    ({"step": "vial"}, 422, "the vial stays used by this preparation. If the vial is wrong, reject the bag"),
    ({"reason": ""}, 422, "Say what must be redone and why"),
    ({"reason": "  x "}, 422, "Say what must be redone and why"),
    ({"version": "1"}, 409, "was changed since your screen was loaded"),
    ({"password": "wrong password"}, 401, ""),
])
def test_a_bad_send_back_is_refused_with_its_reason_and_changes_nothing(signed_in, signed, pharmacy, fields, status,
                                                                         message):
    prep, _ = signed
    before = counts(pharmacy)
    response = send_back(signed_in("pharm"), prep.id, **fields)
    assert response.status_code == status
    assert message in text(response)
    assert unchanged(before, counts(pharmacy)) and preparation.get(pharmacy, prep.id).state == "signed"


@pytest.mark.hazard("H29")
def test_the_preparer_a_technician_and_a_nurse_cannot_send_back(signed_in, pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0], preparer="pharm")
    response = send_back(signed_in("pharm"), prep.id)
    assert response.status_code == 403 and "You prepared this bag, so you cannot check it" in text(response)
    for role in ("tech", "nurse"):
        browser = signed_in(role)
        browser.get("/")
        response = browser.post(f"/check/{prep.id}/send-back", {"version": "9", "step": "volume",
                                                                 "reason": "re-weigh the syringe",
                                                                 "password": factories.PASSWORDS[role]})
        assert response.status_code == 403, role
    assert preparation.get(pharmacy, prep.id).state == "signed"


@pytest.mark.hazard("H29")
def test_a_preparation_sent_back_is_not_sent_back_again_until_it_is_signed(signed_in, signed, pharmacy):
    prep, _ = signed
    pharm = signed_in("pharm")
    page = pharm.get(f"/check/{prep.id}")
    version = version_on(page)
    assert send_back(pharm, prep.id).status_code == 302
    again = pharm.post(f"/check/{prep.id}/send-back", {"version": str(int(version) + 1), "step": "sign",
                                                        "reason": "sign again after reading the steps",
                                                        "password": factories.PASSWORDS["pharm"]})
    assert again.status_code == 409 and "only a signed preparation is sent back by the check" in text(again)
