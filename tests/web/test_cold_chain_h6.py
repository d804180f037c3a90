"""Hazard H6, a bag kept outside 2–8 °C (SmPC 6.3: the diluted solution is kept at 2–8 °C), through
the screens, the API and the clock: storage only where the location's range fits the product's in-use
storage, the time out of refrigeration from release and every move out, the pharmacist's decision
beyond the allowance, late excursions over a bag already given, and readings from the future."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from pharmacy import config
from pharmacy.db.models import AuditEntry, ColdChainDecision
from pharmacy.domain.coldchain import Move, reading, time_out_of_fridge
from pharmacy.services import bags, coldchain, users
from tests import factories
from tests.web.conftest import text

ROOM = "Pharmacy room"


def plain(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def bedside(nurse, serial: str, wristband: str = "P-1"):
    nurse.get("/ward/")
    nurse.post("/ward/bag", {"bag": serial})
    return nurse.post("/ward/check", {"bag": serial, "wristband": wristband})


def audit_actions(pharmacy, action: str) -> list[AuditEntry]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


@pytest.fixture
def bag(pharmacy):
    return factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])


# --- "a bag can be stored in a 15–25 °C room and a 22 °C reading there does nothing" ------------------

@pytest.mark.hazard("H6")
def test_a_bag_is_not_stored_in_a_15_to_25_degree_room_and_the_refusal_names_both_ranges(signed_in, pharmacy, bag):
    bags.add_location(pharmacy, None, ROOM, 15.0, 25.0)
    tech = signed_in("tech")
    tech.get("/storage/")
    refused = tech.post("/storage/store", {"bag": bag.serial, "location": ROOM})
    assert refused.status_code == 422
    assert ("Pharmacy room is kept at 15–25 °C, but LEMTRADA bags must be stored at 2–8 °C" in plain(refused)
            and "it was not stored" in plain(refused))
    assert bags.get_bag(pharmacy, bag.serial).state == "released" and bags.get_bag(pharmacy, bag.serial).location_id is None
    tech.get(f"/bags/{bag.serial}")
    from_bag_page = tech.post(f"/bags/{bag.serial}/store", {"location": ROOM})
    assert from_bag_page.status_code == 422 and "LEMTRADA bags must be stored at 2–8 °C" in plain(from_bag_page)
    assert audit_actions(pharmacy, "bag.store") == []


@pytest.mark.hazard("H6")
def test_a_fridge_range_that_reaches_outside_2_to_8_degrees_is_refused_too_but_2_to_8_is_accepted(signed_in, pharmacy, bag):
    bags.add_location(pharmacy, None, "Wide fridge", 0.0, 8.0)
    tech = signed_in("tech")
    tech.get("/storage/")
    assert tech.post("/storage/store", {"bag": bag.serial, "location": "Wide fridge"}).status_code == 422
    assert tech.post("/storage/store", {"bag": bag.serial, "location": factories.FRIDGE}).status_code == 302
    assert bags.get_bag(pharmacy, bag.serial).state == "stored"


# --- "a bag released and never stored is accepted 7 h 50 min later" -----------------------------------

@pytest.mark.hazard("H6")
def test_a_bag_released_and_never_stored_is_refused_at_the_bedside_7_h_50_min_later(signed_in, bag, clock):
    clock.advance(hours=7, minutes=50)
    page = bedside(signed_in("nurse"), bag.serial)
    body = plain(page)
    assert "Do not give this bag" in body and 'data-code="out_of_fridge"' in text(page)
    assert ("OUT OF FRIDGE: this bag has been out of the fridge for 7 h 50 min (the pharmacy allows 30 min)" in body)
    assert "Out of the fridge: 7 h 50 min (allowed 30 min)." in body


@pytest.mark.hazard("H6")
def test_the_bedside_refuses_the_start_too_and_records_the_refusal(signed_in, pharmacy, bag, clock):
    clock.advance(minutes=31)
    nurse = signed_in("nurse")
    bedside(nurse, bag.serial)
    refused = nurse.post("/ward/start", {"bag": bag.serial, "wristband": "P-1", **factories.premedication_form(pharmacy)})
    assert refused.status_code == 422 and "OUT OF FRIDGE" in plain(refused)
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


@pytest.mark.hazard("H6")
def test_within_the_allowance_the_bedside_gives_the_bag_and_shows_its_time_out_of_the_fridge(signed_in, pharmacy, bag, clock):
    clock.advance(minutes=10)
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    clock.advance(hours=2)
    bags.take_out(pharmacy, "nurse", bag.serial, "Ward 5")
    clock.advance(minutes=20)
    body = plain(bedside(signed_in("nurse"), bag.serial))
    assert "Give this bag to Anna Example" in body and "Out of fridge 30 min (allowed 30 min)" in body


@pytest.mark.hazard("H6")
def test_time_out_counts_from_release_and_every_move_out_and_the_bag_page_and_dashboard_flag_it(signed_in, pharmacy, bag, clock):
    clock.advance(minutes=20)
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)  # 20 min out since release
    clock.advance(minutes=40)
    nurse = signed_in("nurse")
    nurse.get(f"/bags/{bag.serial}")
    taken = nurse.post(f"/bags/{bag.serial}/take-out", {"destination": "Ward 5"})
    assert taken.status_code == 302 and bags.get_bag(pharmacy, bag.serial).state == "released"
    clock.advance(minutes=15)  # 35 min in all
    nurse = signed_in("nurse")
    page = plain(nurse.get(f"/bags/{bag.serial}"))
    assert "Out of the fridge: 35 min since release (allowed 30 min), and counting" in page
    assert "OUT OF FRIDGE: beyond the allowance. The bedside refuses this bag until a pharmacist decides." in page
    assert "OUT OF FRIDGE 35 min (allowed 30 min): a pharmacist decides" in plain(nurse.get("/dashboard"))
    [entry] = audit_actions(pharmacy, "bag.take_out")
    assert entry.new == {"state": "released", "location": None, "to": "Ward 5"}


@pytest.mark.hazard("H6")
def test_a_pharmacist_signs_a_use_decision_and_the_bedside_then_gives_the_bag_showing_the_decision(signed_in, pharmacy, bag, clock):
    clock.advance(minutes=45)
    nurse = signed_in("nurse")
    assert "Sign the decision" not in text(nurse.get(f"/bags/{bag.serial}"))
    assert nurse.post(f"/bags/{bag.serial}/cold-chain-decision", {"decision": "use", "reason": "trying",
                                                                   "password": factories.PASSWORDS["nurse"]}).status_code == 403
    pharm = signed_in("pharm")
    assert "Sign the decision" in text(pharm.get(f"/bags/{bag.serial}"))
    wrong = pharm.post(f"/bags/{bag.serial}/cold-chain-decision",
                       {"decision": "use", "reason": "Stability data: 24 h at 25 °C", "password": "not-my-password"})
    assert wrong.status_code == 401 and "Password not accepted" in plain(wrong)
    assert audit_actions(pharmacy, "coldchain.decision") == []
    signed = pharm.post(f"/bags/{bag.serial}/cold-chain-decision",
                        {"decision": "use", "reason": "Stability data: 24 h at 25 °C", "password": factories.PASSWORDS["pharm"]})
    assert signed.status_code == 302
    [entry] = audit_actions(pharmacy, "coldchain.decision")
    assert entry.username == "pharm" and entry.new == {"decision": "use", "out_minutes": 45}
    clock.advance(minutes=5)
    body = plain(bedside(signed_in("nurse"), bag.serial))
    assert "Give this bag to Anna Example" in body and "Out of fridge 50 min (allowed 30 min)" in body
    assert "Pharmacist's decision: may be used — Petra Pharmacist" in body and "Stability data: 24 h at 25 °C" in body


@pytest.mark.hazard("H6")
def test_after_a_use_decision_a_further_stretch_beyond_the_allowance_needs_a_new_decision(signed_in, pharmacy, bag, clock):
    clock.advance(minutes=45)
    coldchain.decide(pharmacy, "pharm", bag.serial, "use", "Stability data: 24 h at 25 °C", factories.PASSWORDS["pharm"])
    clock.advance(minutes=31)
    assert "OUT OF FRIDGE: this bag has been out of the fridge for 1 h 16 min" in plain(bedside(signed_in("nurse"), bag.serial))


@pytest.mark.hazard("H6")
def test_a_pharmacist_discards_a_bag_kept_out_too_long_and_it_is_recorded_as_destroyed(signed_in, pharmacy, bag, clock):
    clock.advance(hours=3)
    pharm = signed_in("pharm")
    pharm.get(f"/bags/{bag.serial}")
    response = pharm.post(f"/bags/{bag.serial}/cold-chain-decision",
                          {"decision": "discard", "reason": "Left on the trolley", "password": factories.PASSWORDS["pharm"]})
    assert response.status_code == 302 and bags.get_bag(pharmacy, bag.serial).state == "destroyed"
    [dispose] = audit_actions(pharmacy, "bag.dispose")
    assert dispose.reason == "Out of the fridge 3 h 00 min: Left on the trolley"
    with pharmacy.uow(readonly=True) as uow:
        assert [d.decision for d in uow.session.execute(select(ColdChainDecision)).scalars()] == ["discard"]


@pytest.mark.hazard("H6")
def test_no_decision_is_taken_for_a_bag_within_the_allowance(signed_in, pharmacy, bag, clock):
    clock.advance(minutes=10)
    pharm = signed_in("pharm")
    pharm.get(f"/bags/{bag.serial}")
    refused = pharm.post(f"/bags/{bag.serial}/cold-chain-decision",
                         {"decision": "use", "reason": "Just in case", "password": factories.PASSWORDS["pharm"]})
    assert refused.status_code == 409 and "within the 30 min allowed: no decision is needed" in plain(refused)


def test_the_allowance_is_a_setting_of_30_minutes_by_default():
    assert config.Settings().out_of_fridge_minutes == 30
    assert config.load(environ={"PHARMACY_OUT_OF_FRIDGE_MINUTES": "45"}).out_of_fridge_minutes == 45
    with pytest.raises(config.ConfigError, match="whole number of minutes"):
        config.load(environ={"PHARMACY_OUT_OF_FRIDGE_MINUTES": "half an hour"})


def test_time_out_of_the_fridge_adds_up_every_stretch_out_of_a_fitting_place(clock):
    t0 = clock.now
    moves = [Move(t0 + timedelta(minutes=10), True), Move(t0 + timedelta(minutes=70), False),
             Move(t0 + timedelta(minutes=80), True)]
    assert time_out_of_fridge(t0, moves, t0 + timedelta(hours=5)) == timedelta(minutes=20)
    assert time_out_of_fridge(t0, moves[:2], t0 + timedelta(minutes=100)) == timedelta(minutes=40)
    assert time_out_of_fridge(t0, moves[:2], t0 + timedelta(minutes=100), since=t0 + timedelta(minutes=90)) == timedelta(minutes=10)
    assert time_out_of_fridge(None, moves, t0 + timedelta(hours=5)) == timedelta(0)


# --- "a late excursion for a bag being infused alerts nobody" -------------------------------------------

@pytest.mark.hazard("H6")
def test_a_late_excursion_over_a_bag_being_infused_is_an_incident_a_pharmacist_sees_and_acknowledges(signed_in, pharmacy, bag, clock):
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    stored_at = clock.now
    clock.advance(minutes=20)
    bags.take_out(pharmacy, "nurse", bag.serial, "Ward 5")
    clock.advance(minutes=5)
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(hours=1)
    tech = signed_in("tech")
    csv = f"location,time,celsius\n{factories.FRIDGE},{(stored_at + timedelta(minutes=10)).isoformat()},11.5\n"
    from io import BytesIO
    tech.get("/storage/temperatures")
    tech.post("/storage/temperatures/import", {"file": (BytesIO(csv.encode()), "late.csv")}, content_type="multipart/form-data")
    assert bags.get_bag(pharmacy, bag.serial).state == "in_administration"  # under way: nothing to quarantine
    pharm = signed_in("pharm")
    dashboard = plain(pharm.get("/dashboard"))
    assert "Cold-chain incidents 1" in dashboard
    assert ("BAG0000001 (in administration): Pharmacy fridge 1 read 11.5 °C at 20 Nov 09:10 CET (permitted 2–8 °C) "
            "while the bag was there.") in dashboard
    assert "Pharmacy fridge 1 read 11.5 °C" in plain(pharm.get(f"/bags/{bag.serial}")) and "Not yet acknowledged" in plain(
        pharm.get(f"/bags/{bag.serial}"))
    [incident] = coldchain.incidents(pharmacy)
    assert tech.post(f"/dashboard/incidents/{incident.id}/acknowledge", {"note": "seen"}).status_code == 403
    assert pharm.post(f"/dashboard/incidents/{incident.id}/acknowledge", {"note": "ok"}).status_code == 422
    done = pharm.post(f"/dashboard/incidents/{incident.id}/acknowledge", {"note": "Patient reviewed, neurologist informed"})
    assert done.status_code == 302 and "Cold-chain incidents" not in plain(pharm.get("/dashboard"))
    assert "Acknowledged by Petra Pharmacist" in plain(pharm.get(f"/bags/{bag.serial}"))
    assert [e.reason for e in audit_actions(pharmacy, "coldchain.incident_ack")] == ["Patient reviewed, neurologist informed"]
    assert len(audit_actions(pharmacy, "coldchain.incident")) == 1


@pytest.mark.hazard("H6")
def test_a_late_excursion_after_the_bag_was_hung_or_before_it_was_stored_is_no_incident(pharmacy, bag, clock):
    start = clock.now
    clock.advance(minutes=10)
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    clock.advance(minutes=10)
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(minutes=30)
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, start + timedelta(minutes=5), 12.0)),
                                        (2, reading(factories.FRIDGE, start + timedelta(minutes=25), 12.0))], "csv")
    assert coldchain.incidents(pharmacy) == []


@pytest.mark.hazard("H6")
def test_a_late_excursion_quarantines_a_bag_that_was_there_then_and_has_been_taken_out_since(pharmacy, bag, clock):
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    clock.advance(minutes=20)
    bags.take_out(pharmacy, "nurse", bag.serial, "Ward 5")
    clock.advance(minutes=5)
    result = coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now - timedelta(minutes=15), 9.0))], "csv")
    assert result.quarantined == [bag.serial] and bags.get_bag(pharmacy, bag.serial).state == "quarantined"


# --- "a reading dated tomorrow is accepted" ------------------------------------------------------------

@pytest.mark.hazard("H6")
def test_a_reading_dated_tomorrow_is_refused_on_the_form(signed_in, pharmacy, clock):
    tech = signed_in("tech")
    tech.get("/storage/temperatures")
    refused = tech.post("/storage/temperatures", {"location": factories.FRIDGE, "time": "2026-11-21T09:00", "celsius": "5"})
    assert refused.status_code == 422
    assert "is in the future" in plain(refused) and "more than 5 min ahead of the clock" in plain(refused)
    assert coldchain.readings_for(pharmacy, factories.FRIDGE, clock.now - timedelta(days=1), clock.now + timedelta(days=2)) == []


@pytest.mark.hazard("H6")
def test_a_reading_up_to_5_minutes_ahead_is_accepted_and_one_more_minute_is_refused_by_the_api(app, pharmacy, clock):
    token = users.create_token(pharmacy, "tech", "fridge monitor")
    client = app.test_client()
    ahead = [(clock.now + timedelta(minutes=5)).isoformat(), (clock.now + timedelta(minutes=6)).isoformat()]
    response = client.post("/api/v1/temperatures", headers={"Authorization": f"Bearer {token}"}, json={"readings": [
        {"location": factories.FRIDGE, "time": at, "celsius": 5.0} for at in ahead]})
    body = response.get_json()
    assert body["imported"] == 1 and [e["index"] for e in body["errors"]] == [1]
    assert "is in the future" in body["errors"][0]["message"]


@pytest.mark.hazard("H6")
def test_a_reading_dated_tomorrow_in_a_csv_is_refused_by_line_and_the_others_kept(signed_in, pharmacy, clock):
    from io import BytesIO
    csv = ("location,time,celsius\n"
           f"{factories.FRIDGE},2026-11-20T08:50:00+01:00,5.0\n"
           f"{factories.FRIDGE},2026-11-21T08:50:00+01:00,5.0\n")
    tech = signed_in("tech")
    tech.get("/storage/temperatures")
    page = plain(tech.post("/storage/temperatures/import", {"file": (BytesIO(csv.encode()), "log.csv")},
                           content_type="multipart/form-data"))
    assert "Imported 1 Already recorded 0 Bad rows 1" in page and "3 The time 2026-11-21T08:50+01:00 is in the future" in page


@pytest.mark.hazard("H6")
def test_a_caller_that_does_not_pass_the_clock_to_reading_is_still_refused_by_the_service(pharmacy, clock):
    result = coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now + timedelta(days=1), 5.0))], "api")
    assert result.imported == 0 and "is in the future" in result.errors[0][1]
