"""After a send-back (issue 14 point 5, SAFETY.md H29), through the screens: the technician's worklist marks
the preparation sent back — the step to redo, who sent it back and why — so it is never taken for new work;
and a preparation sent back that cannot be redone (the bag damaged) is rejected at the check where it
stands, with a reason and the pharmacist's signature, before it is signed again."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry, Vial
from pharmacy.services import bags, orders, preparation
from tests import factories
from tests.integration.records import counts
from tests.web.conftest import text, version_on

BEA = factories.patient("P-7", "Bea Sentback", "Ward 2")


def send_back(browser, prep_id: int, step: str, reason: str):
    page = browser.get(f"/check/{prep_id}")
    return browser.post(f"/check/{prep_id}/send-back", {"version": version_on(page), "step": step, "reason": reason,
                                                         "password": factories.PASSWORDS["pharm"]})


def row_of(page: str, name: str) -> str:
    """The worklist row of the patient named, as a person reads it."""
    row = next(r for r in page.split("<tr")[1:] if name in r)
    return " ".join(re.sub(r"<[^>]+>", " ", row.split("</tr>")[0]).split())


def reject(browser, prep_id: int, user: str = "pharm", **fields):
    page = browser.get(f"/check/{prep_id}")
    form = {"version": version_on(page), "reason": "the bag was punctured while it was re-weighed",
            "password": factories.PASSWORDS[user], **fields}
    return browser.post(f"/check/{prep_id}/reject", form)


@pytest.mark.hazard("H29")
def test_the_worklist_marks_a_preparation_sent_back_with_the_step_who_and_why_until_it_is_signed_again(signed_in, pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0], who=BEA)
    factories.verified_order(pharmacy, who=factories.patient("P-8", "Carl Newwork", "Ward 2"))  # new work, not started
    under_way = preparation.start(pharmacy, "tech", factories.verified_order(
        pharmacy, who=factories.patient("P-9", "Dora Underway", "Ward 2")).id)  # started, never sent back
    assert send_back(signed_in("pharm"), prep.id, "sign", "retake the bag photo: the label is hidden").status_code == 302
    tech = signed_in("tech")
    page = text(tech.get("/worklist"))
    assert page.count("data-sent-back") == 1
    assert "SENT BACK to “Sign” by Petra Pharmacist: retake the bag photo: the label is hidden" in row_of(page, "Bea Sentback")
    assert "SENT BACK" not in row_of(page, "Carl Newwork") and "Verified, not started" in row_of(page, "Carl Newwork")
    assert "SENT BACK" not in row_of(page, "Dora Underway") and under_way.state == "started"

    screen = tech.get(f"/prep/{prep.id}")
    same = tech.post(f"/prep/{prep.id}/photo/bag", {"version": version_on(screen), **factories.photo_field(prep.id, "bag")},
                     content_type="multipart/form-data")  # the very picture the check set aside, again
    assert "This is the very picture the check set aside when it sent the preparation back" in text(same)
    assert tech.last_post_status == 303 and preparation.get(pharmacy, prep.id).state == "mixed"
    factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "bag", take=2)  # redone: a new photo
    screen = tech.get(f"/prep/{prep.id}")
    tech.post(f"/prep/{prep.id}/sign", {"version": version_on(screen), "password": factories.PASSWORDS["tech"]})
    assert preparation.get(pharmacy, prep.id).state == "signed"
    again = text(tech.get("/worklist"))
    assert "data-sent-back" not in again and "SENT BACK" not in again  # signed again: it waits for its check


@pytest.mark.hazard("H29")
def test_a_preparation_sent_back_that_cannot_be_redone_is_rejected_at_the_check_with_a_reason_and_a_signature(
        signed_in, pharmacy):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0], who=BEA)
    pharm = signed_in("pharm")
    assert send_back(pharm, prep.id, "volume", "re-weigh the syringe: the reading moved").status_code == 302
    page = text(pharm.get(f"/check/{prep.id}"))
    assert f'action="/check/{prep.id}/reject"' in page and "Sent back: if it cannot be redone, reject the bag" in page
    assert 'id="reject_reason"' in page and 'id="reject_password"' in page
    assert f'action="/check/{prep.id}/reject"' not in text(signed_in("auditor").get(f"/check/{prep.id}"))

    before = counts(pharmacy)
    for fields, status, words in (({"reason": "  x "}, 422, "Say why the bag is rejected."),
                                  ({"version": "1"}, 409, "was changed since your screen was loaded"),
                                  ({"password": "wrong password"}, 401, "")):
        refused = reject(pharm, prep.id, **fields)
        assert refused.status_code == status and words in text(refused), fields
    assert {k: v for k, v in counts(pharmacy).items() if k != "refusals"} == \
           {k: v for k, v in before.items() if k != "refusals"}
    assert preparation.get(pharmacy, prep.id).state == "diluent_scanned"

    other = signed_in("pharm2")  # any pharmacist who did not prepare it, not only the one who sent it back
    rejected = reject(other, prep.id, "pharm2")
    assert rejected.status_code == 302 and rejected.headers["Location"] == f"/bags/{bag.serial}"
    assert f"Bag {bag.serial} rejected. It must be disposed of." in text(other.get(rejected.headers["Location"]))
    after = preparation.get(pharmacy, prep.id)
    assert after.state == "rejected" and after.order.state == "rejected" and after.check_reason.startswith("the bag was")
    assert bags.get_bag(pharmacy, bag.serial).state == "rejected"
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.get(Vial, after.vial_id).state == "used"
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "bag.reject")).scalar_one()
    assert entry.new["signature"] == "Paul Pharmacist" and entry.reason == "the bag was punctured while it was re-weighed"
    assert [s.step for s in after.steps][-2:] == ["send_back", "check"]
    tech = signed_in("tech")
    assert "Sent back by" not in text(tech.get(f"/prep/{prep.id}"))  # nothing left to redo
    assert "Bea Sentback" not in text(tech.get("/worklist"))
    assert orders.get_order(pharmacy, after.order_id).state == "rejected"
    assert f'action="/check/{prep.id}/reject"' not in text(pharm.get(f"/check/{prep.id}"))
    again = pharm.post(f"/check/{prep.id}/reject", {"version": str(after.version), "reason": "the bag is damaged",
                                                    "password": factories.PASSWORDS["pharm"]})
    assert again.status_code == 409 and "is rejected: only a signed preparation is checked" in text(again)  # once


@pytest.mark.hazard("H29")
def test_only_a_sent_back_preparation_is_rejected_before_its_signature_and_never_by_its_preparer(signed_in, pharmacy):
    order = factories.verified_order(pharmacy, who=BEA)
    under_way = preparation.start(pharmacy, "tech", order.id)
    pharm = signed_in("pharm")
    pharm.get(f"/check/{under_way.id}")
    refused = pharm.post(f"/check/{under_way.id}/reject", {"version": str(under_way.version), "password":
                                                           factories.PASSWORDS["pharm"], "reason": "looks wrong to me"})
    assert refused.status_code == 409 and "only a signed preparation is checked" in text(refused)
    assert preparation.get(pharmacy, under_way.id).state == "started"

    own, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Ben Other"),
                                          preparer="pharm")
    pharm2 = signed_in("pharm2")
    page = pharm2.get(f"/check/{own.id}")
    pharm2.post(f"/check/{own.id}/send-back", {"version": version_on(page), "step": "sign",
                                                            "reason": "sign after reading the steps",
                                                            "password": factories.PASSWORDS["pharm2"]})
    assert preparation.get(pharmacy, own.id).state == "mixed"
    by_preparer = reject(pharm, own.id)
    assert by_preparer.status_code == 403 and "You prepared this bag, so you cannot check it" in text(by_preparer)
    for role in ("tech", "nurse"):
        browser = signed_in(role)
        browser.get("/")
        assert browser.post(f"/check/{own.id}/reject", {"version": "9", "reason": "the bag is damaged",
                                                       "password": factories.PASSWORDS[role]}).status_code == 403, role
    assert preparation.get(pharmacy, own.id).state == "mixed"
