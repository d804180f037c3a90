"""Irreversible acts are deliberate (issue 12 point 8): destroying a bag needs a listed reason and a
confirmation, and a pharmacist's signature while the bag could still be given (H20); a vial serial
seen again is a suspected falsification (EU FMD): the pack is set aside, a pharmacist is alerted on
the dashboard, and the incident is kept although the act is refused (H10)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pharmacy.db.models import Disposal, FalsificationIncident, Preparation, Refusal, Vial
from pharmacy.services import bags, preparation, users
from tests import factories
from tests.web.conftest import text, version_on


def dispose(browser, serial: str, **fields):
    browser.get(f"/bags/{serial}")
    return browser.post(f"/bags/{serial}/dispose", fields)


@pytest.mark.hazard("H20")
def test_a_disposal_without_the_confirmation_changes_nothing(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.advance(hours=9)  # expired: no signature needed, the confirmation still is
    refused = dispose(signed_in("nurse"), bag.serial, reason="use_by_passed")
    assert refused.status_code == 422 and "Confirm that you have bag BAG0000001 in hand" in text(refused)
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


@pytest.mark.hazard("H20")
def test_a_nurse_cannot_destroy_a_usable_bag_without_a_pharmacists_signature(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    nurse = signed_in("nurse")
    assert "a pharmacist signs its destruction" in text(nurse.get(f"/bags/{bag.serial}"))
    unsigned = dispose(nurse, bag.serial, reason="not_needed", confirm="on")
    assert unsigned.status_code == 422 and "needs a pharmacist's signature" in text(unsigned)
    own = dispose(nurse, bag.serial, reason="not_needed", confirm="on", password=factories.PASSWORDS["nurse"])
    assert own.status_code == 403 and "only a pharmacist may sign its destruction" in text(own)
    wrong = dispose(nurse, bag.serial, reason="not_needed", confirm="on", signer="pharm", password="not-the-password")
    assert wrong.status_code == 401
    assert bags.get_bag(pharmacy, bag.serial).state == "released"
    with pharmacy.uow(readonly=True) as uow:
        codes = [r.code for r in uow.session.execute(select(Refusal).where(Refusal.action == "bag.dispose")).scalars()]
    assert len(codes) == 3 and codes[0] == "disposal_refused" and codes[2] == "authentication_failed"


@pytest.mark.hazard("H20")
def test_a_usable_bag_is_destroyed_with_reason_confirmation_and_signature_recorded(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    response = dispose(signed_in("nurse"), bag.serial, reason="damaged", note="port cracked", confirm="on",
                       signer="pharm", password=factories.PASSWORDS["pharm"])
    assert response.status_code == 302
    assert bags.get_bag(pharmacy, bag.serial).state == "destroyed"
    with pharmacy.uow(readonly=True) as uow:
        row = uow.session.execute(select(Disposal)).scalar_one()
    nurse, pharm = users._find(pharmacy, "nurse"), users._find(pharmacy, "pharm")
    assert (row.reason_code, row.note, row.reason) == ("damaged", "port cracked", "Damaged or leaking: port cracked")
    assert (row.confirmed_by, row.signed_by) == (nurse.id, pharm.id)


@pytest.mark.hazard("H20")
def test_a_pharmacist_signs_a_usable_bags_destruction_with_their_own_password(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    response = dispose(signed_in("pharm"), bag.serial, reason="not_needed", confirm="on",
                       password=factories.PASSWORDS["pharm"])
    assert response.status_code == 302 and bags.get_bag(pharmacy, bag.serial).state == "destroyed"


@pytest.mark.hazard("H10")
def test_a_serial_seen_again_at_receipt_sets_the_pack_aside_and_alerts_a_pharmacist(app, signed_in, pharmacy, clock):
    serial = pharmacy.vial_serials[0]
    token = users.create_token(pharmacy, "tech", "bench scanner")
    response = app.test_client().post("/api/v1/stock/receive", json={"scan": factories.vial_scan(serial)},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409
    assert "set aside as a suspected falsification" in response.get_json()["message"]
    assert "a pharmacist was alerted" in response.get_json()["message"]
    with pharmacy.uow(readonly=True) as uow:
        incident = uow.session.execute(select(FalsificationIncident)).scalar_one()
        vial = uow.session.execute(select(Vial).where(Vial.serial == serial)).scalar_one()
    assert (incident.seen_at, incident.username, incident.vial_state, vial.state) == ("receipt", "tech", "received", "suspect")
    dashboard = text(signed_in("pharm").get("/dashboard"))
    assert "Suspected falsified packs (EU FMD)" in dashboard and f"Serial <strong>{serial}</strong>" in dashboard
    assert "Suspected falsified packs" in text(signed_in("auditor").get("/dashboard"))
    assert "Suspected falsified packs" not in text(signed_in("nurse").get("/dashboard"))
    # the pack set aside cannot go into a preparation
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    with pytest.raises(Exception, match="set aside as a suspected falsification"):
        preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(serial))


@pytest.mark.hazard("H10")
def test_a_used_vial_scanned_again_at_the_vial_step_records_an_incident(signed_in, pharmacy, clock):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    order = factories.verified_order(pharmacy, factories.patient("P-2", "Bruno Other"))
    tech = signed_in("tech")
    tech.post(f"/prep/start/{order.id}")
    with pharmacy.uow(readonly=True) as uow:
        prep = uow.session.execute(select(Preparation).where(Preparation.order_id == order.id)).scalar_one()
    page = tech.get(f"/prep/{prep.id}")
    refused = tech.post(f"/prep/{prep.id}/vial", {"version": version_on(page),
                                                  "scan": factories.vial_scan(pharmacy.vial_serials[0])})
    assert refused.status_code == 409 and "suspected falsification" in text(refused)
    with pharmacy.uow(readonly=True) as uow:
        incident = uow.session.execute(select(FalsificationIncident)).scalar_one()
        vial = uow.session.execute(select(Vial).where(Vial.serial == pharmacy.vial_serials[0])).scalar_one()
    assert (incident.seen_at, incident.vial_state, vial.state) == ("vial step", "used", "used")


@pytest.mark.hazard("H10")
def test_a_pharmacist_resolves_a_suspect_pack_and_a_genuine_one_returns_to_stock(signed_in, pharmacy, clock):
    serial = pharmacy.vial_serials[0]
    tech = signed_in("tech")
    tech.post("/stock/receive", {"scan": factories.vial_scan(serial)})
    with pharmacy.uow(readonly=True) as uow:
        incident = uow.session.execute(select(FalsificationIncident)).scalar_one()
    assert tech.post(f"/dashboard/suspect-packs/{incident.id}/resolve", {"outcome": "genuine"}).status_code == 403
    pharm = signed_in("pharm")
    pharm.get("/dashboard")
    short = pharm.post(f"/dashboard/suspect-packs/{incident.id}/resolve", {"outcome": "genuine", "note": "ok"})
    assert short.status_code == 422
    done = pharm.post(f"/dashboard/suspect-packs/{incident.id}/resolve",
                      {"outcome": "genuine", "note": "NMVS: pack active; the same pack scanned twice"})
    assert done.status_code == 302
    with pharmacy.uow(readonly=True) as uow:
        vial = uow.session.execute(select(Vial).where(Vial.serial == serial)).scalar_one()
    assert vial.state == "received"
    assert "Suspected falsified packs (EU FMD)" not in text(pharm.get("/dashboard"))
    assert "NMVS: pack active" in text(signed_in("auditor").get("/dashboard/suspect-packs"))
