"""The volume step weighs on screen, and the checking pharmacist sees the balance's evidence — or that
the volume was typed and not weighed (issue 14 point 3, SAFETY.md H2)."""

from __future__ import annotations

import re

import pytest

from pharmacy.devices.simulator import BalanceSimulator
from pharmacy.web.app import create_app
from tests import factories
from tests.integration.test_weighing import SYRINGE, calibrated, grams_for, weighed_pharmacy
from tests.web.conftest import Browser, text, version_on


@pytest.fixture
def sim():
    with BalanceSimulator("mt-sics", serial_number="B123456789") as simulator:
        simulator.place(SYRINGE)
        yield simulator


def browser_for(app, username):
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def to_volume_step(tech, pharmacy) -> int:
    order = factories.verified_order(pharmacy)
    tech.get("/worklist")
    prep_id = int(tech.post(f"/prep/start/{order.id}").headers["Location"].rsplit("/", 1)[1])
    for step, fields in (("vial", {"scan": factories.vial_scan(pharmacy.vial_serials[0])}), ("inspection", {"result": "pass"}),
                         ("diluent", {"scan": factories.NACL_SCAN})):
        page = tech.get(f"/prep/{prep_id}")
        assert tech.post(f"/prep/{prep_id}/{step}", {"version": version_on(page), **fields}).status_code == 302
    return prep_id


def sign_and_review(tech, pharm, prep_id):
    for step, fields in (("photo/syringe", factories.photo_field(prep_id, "syringe")), ("mixing", {}),
                         ("photo/bag", factories.photo_field(prep_id, "bag")),
                         ("sign", {"password": factories.PASSWORDS["tech"]})):
        page = tech.get(f"/prep/{prep_id}")
        assert tech.post(f"/prep/{prep_id}/{step}", {"version": version_on(page), **fields}).status_code == 302
    return " ".join(re.sub(r"<[^>]+>", " ", text(pharm.get(f"/check/{prep_id}"))).split())  # as read


@pytest.mark.hazard("H2")
def test_the_technician_tares_and_weighs_on_screen_and_the_checker_sees_the_readings(pharmacy, sim):
    weighed = weighed_pharmacy(pharmacy, sim, demo=True)
    calibrated(weighed)
    app = create_app({"TESTING": True}, pharmacy=weighed)
    tech, pharm = browser_for(app, "tech"), browser_for(app, "pharm")
    prep_id = to_volume_step(tech, weighed)
    page = text(tech.get(f"/prep/{prep_id}"))
    assert "Tare the balance" in page and 'name="volume"' not in page  # no typed volume where it is weighed
    assert "DEMO DENSITY — not validated" in page
    tared = tech.post(f"/prep/{prep_id}/tare", {"version": version_on(tech.get(f"/prep/{prep_id}"))})
    assert tared.status_code == 302
    page = tech.get(f"/prep/{prep_id}")
    assert "Tared on balance B123456789 (6.5210 g)" in text(page) and "Weigh the filled syringe" in text(page)
    sim.place(SYRINGE + grams_for("1.4"))  # overdrawn: refused on the same screen
    refused = tech.post(f"/prep/{prep_id}/weigh", {"version": version_on(page)})
    assert refused.status_code == 422 and f"Weighed {grams_for('1.4')} g net" in text(refused)
    sim.place(SYRINGE + grams_for("1.19"))
    done = tech.post(f"/prep/{prep_id}/weigh", {"version": version_on(tech.get(f"/prep/{prep_id}"))})
    assert done.status_code == 302
    assert "1.190 mL, within the tolerance" in text(tech.get(done.headers["Location"]))
    review = sign_and_review(tech, pharm, prep_id)
    assert "Volume: weighed" in review and "NOT WEIGHED" not in review
    assert f"Net {grams_for('1.19')} g on balance B123456789 at 1.006 g/mL = 1.1900 mL" in review
    assert "tare B123456789 6.5210 g" in review and "DEMO DENSITY" in review


@pytest.mark.hazard("H2")
def test_a_typed_volume_is_shown_to_the_checker_as_not_weighed_with_the_reason(signed_in, pharmacy):
    tech, pharm = signed_in("tech"), signed_in("pharm")
    prep_id = to_volume_step(tech, pharmacy)
    page = text(tech.get(f"/prep/{prep_id}"))
    assert "Not weighed: no validated density for LEMTRADA" in page
    assert tech.post(f"/prep/{prep_id}/volume", {"version": version_on(tech.get(f"/prep/{prep_id}")),
                                                 "volume": "1.2 mL"}).status_code == 302
    review = sign_and_review(tech, pharm, prep_id)
    assert "Volume: NOT WEIGHED" in review and "“1.2 mL” was typed by the preparer" in review
    assert "no validated density for LEMTRADA" in review


def test_a_pharmacist_records_a_calibration_and_a_technician_only_reads_it(signed_in, pharmacy):
    today = factories.today(pharmacy)
    pharm = signed_in("pharm")
    pharm.get("/devices/balances")
    recorded = pharm.post("/devices/balances", {"serial_number": "B123456789", "model": "XPR204",
                                                "calibrated_on": today.isoformat(), "certificate": "CAL-7",
                                                "calibration_due": today.replace(year=today.year + 1).isoformat()})
    assert recorded.status_code == 302
    tech = signed_in("tech")
    listing = text(tech.get("/devices/balances"))
    assert "B123456789" in listing and "CAL-7" in listing and "Record a calibration" not in listing
    assert "no balance configured" in listing
    assert tech.post("/devices/balances", {"serial_number": "X", "model": "Y", "certificate": "Z",
                                           "calibrated_on": today.isoformat(),
                                           "calibration_due": today.isoformat()}).status_code == 403
    refused = pharm.post("/devices/balances", {"serial_number": "B2", "model": "XPR204", "certificate": "C",
                                               "calibrated_on": today.isoformat(), "calibration_due": today.isoformat()})
    assert refused.status_code == 422 and "must be due after the calibration date" in text(refused)
