"""The bedside gives only a bag whose final label was scanned back on it in the pharmacy (SAFETY.md H27):
a released bag whose label was never confirmed, or was printed again after its confirmation, is refused
on the screen and in the API, at the check and at Start, saying what the pharmacy must do."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from pharmacy.db.models import Administration, AuditEntry, LabelConfirmation
from pharmacy.services import bags
from tests import factories
from tests.web.conftest import text
from tests.web.test_ward_screens import bedside

NOT_CONFIRMED = "LABEL NOT CONFIRMED: nobody in the pharmacy scanned this label on bag"
WHAT_TO_DO = "return it to the pharmacy, where the printed label is scanned on the bag"


@pytest.fixture
def released(pharmacy):
    return factories.released_bag(pharmacy, pharmacy.vial_serials[0])


def readable(response) -> str:
    """The page's words, without tags (the verdict sets each reason's first words in bold)."""
    return " ".join(re.sub(r"<[^>]+>", "", text(response)).split())


def administrations(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return len(uow.session.execute(select(Administration)).scalars().all())


def start_form(pharmacy, serial: str) -> dict:
    order = bags.get_bag(pharmacy, serial).preparation.order
    return {"bag": serial, "wristband": "P-1", "entry": "scanned",
            **factories.premedication_form(pharmacy, order.course_day)}


@pytest.mark.hazard("H27")
def test_the_bedside_screen_refuses_a_bag_whose_label_was_never_confirmed(signed_in, pharmacy, released):
    bags.print_labels(pharmacy, "tech", [released.serial])  # printed, stuck on, never scanned back
    nurse = signed_in("nurse")
    verdict = readable(bedside(nurse, factories.label_scan(pharmacy, released.serial), "P-1"))
    assert NOT_CONFIRMED in verdict and WHAT_TO_DO in verdict and "Confirm the label on the bag" in verdict
    assert 'action="/ward/start"' not in verdict  # no Start button
    refused = nurse.post("/ward/start", start_form(pharmacy, released.serial))
    assert refused.status_code == 422 and NOT_CONFIRMED in readable(refused)
    assert administrations(pharmacy) == 0 and bags.get_bag(pharmacy, released.serial).state == "released"


@pytest.mark.hazard("H27")
def test_a_bag_with_no_label_printed_is_refused_saying_so(signed_in, pharmacy, released):
    verdict = readable(bedside(signed_in("nurse"), released.serial, "P-1"))
    assert f"LABEL NOT PRINTED: bag {released.serial} has no label printed for administration" in verdict


@pytest.mark.hazard("H27")
def test_once_the_pharmacy_scans_the_label_on_the_bag_the_bedside_gives_it(signed_in, pharmacy, released):
    bags.print_labels(pharmacy, "tech", [released.serial])
    tech = signed_in("tech")
    page = text(tech.get(f"/bags/{released.serial}"))
    assert "Confirm the label on the bag" in page
    confirmed = tech.post(f"/bags/{released.serial}/confirm-label",
                          {"scan": factories.label_scan(pharmacy, released.serial)})
    assert confirmed.status_code == 302
    assert "Label on the bag confirmed by scan" in text(tech.get(f"/bags/{released.serial}"))
    with pharmacy.uow(readonly=True) as uow:
        row = uow.session.execute(select(LabelConfirmation)).scalar_one()
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "label.confirm")).scalar_one()
    assert row.print_number == 1 and entry.new["print"] == 1 and entry.username == "tech"
    nurse = signed_in("nurse")
    verdict = readable(bedside(nurse, factories.label_scan(pharmacy, released.serial), "P-1"))
    assert NOT_CONFIRMED not in verdict and "Give this bag to Anna Example" in verdict
    started = nurse.post("/ward/start", start_form(pharmacy, released.serial))
    assert started.status_code == 302, text(started)
    assert bags.get_bag(pharmacy, released.serial).state == "in_administration"


@pytest.mark.hazard("H27")
def test_a_reprint_must_be_scanned_on_the_bag_again_before_the_bedside_gives_it(signed_in, pharmacy, released):
    factories.confirm_label(pharmacy, released.serial)
    bags.print_labels(pharmacy, "pharm", [released.serial])  # REPRINT 1: a new label, which bag is it on?
    nurse = signed_in("nurse")
    verdict = readable(bedside(nurse, factories.label_scan(pharmacy, released.serial), "P-1"))
    assert (f"REPRINTED LABEL NOT CONFIRMED: bag {released.serial}'s label was printed again (print 2) after the label "
            "was scanned on the bag (print 1); the new label was never scanned on it.") in verdict
    assert "scan the new label on the bag" in readable(signed_in("tech").get(f"/bags/{released.serial}"))
    bags.confirm_label(pharmacy, "tech", released.serial, factories.label_scan(pharmacy, released.serial, "gs1-128"))
    assert "REPRINTED LABEL" not in readable(bedside(nurse, factories.label_scan(pharmacy, released.serial), "P-1"))


@pytest.mark.hazard("H27")
def test_the_api_refuses_an_unconfirmed_label_at_the_check_and_at_the_start(app, pharmacy, released):
    from pharmacy.services import users
    token = users.create_token(pharmacy, "nurse", "ward 5 tablet")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    bags.print_labels(pharmacy, "tech", [released.serial])
    scan = factories.label_scan(pharmacy, released.serial)
    check = client.post("/api/v1/bedside/check", headers=headers, json={"bag_scan": scan, "patient_scan": "P-1"})
    assert check.status_code == 200 and check.get_json()["ok"] is False
    reasons = {r["code"]: r["message"] for r in check.get_json()["reasons"]}
    assert NOT_CONFIRMED in reasons["label_not_confirmed"] and WHAT_TO_DO in reasons["label_not_confirmed"]
    order = bags.get_bag(pharmacy, released.serial).preparation.order
    premedication = [{"what": g.what, "given_at": g.given_at.isoformat()}
                     for g in factories.premedication_given(pharmacy, order.course_day)]
    body = {"bag_scan": scan, "patient_scan": "P-1", "patient_entry_reason": "scanner_broken",
            "premedication": premedication}
    start = client.post("/api/v1/administrations", headers=headers, json=body)
    assert start.status_code == 422 and start.get_json()["code"] == "administration_refused"
    assert [r["code"] for r in start.get_json()["reasons"]] == ["label_not_confirmed"]
    assert administrations(pharmacy) == 0
    bags.confirm_label(pharmacy, "tech", released.serial, scan)
    assert client.post("/api/v1/administrations", headers=headers, json=body).status_code == 201
