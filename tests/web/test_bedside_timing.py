"""The bedside against the clock and the patient's earlier infusions (issue 12, findings 1 and 6):
no infusion while another runs or inside its observation (SmPC 4.4), one a day (SmPC 4.2) and the
pharmacy's least interval between starts; an early end needs its reason, an interrupted bag is resumed
with the same bag and wristband; the pre-medication of days 1–3 is confirmed before the start."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry
from pharmacy.services import bags
from tests import factories
from tests.web.conftest import text
from tests.web.test_api import api  # noqa: F401  (the fixture)
from tests.web.test_ward_screens import administrations, bedside, plain, refusal_of

BRUSSELS = ZoneInfo("Europe/Brussels")
SCANNED = {"entry": "scanned"}  # the screen's scan timing said so (H7)
TYPED = {"patient_entry_reason": "scanner_broken"}  # a typed patient_scan says why (H7)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BRUSSELS)


def bag_for(pharmacy, clock, moment: datetime, vial: int, day: int):
    """A bag of course day ``day`` for Anna Example, prepared and released at ``moment``."""
    clock.set(moment)
    return factories.bedside_bag(pharmacy, pharmacy.vial_serials[vial], day=day)


def start_on_screen(signed_in, pharmacy, serial: str, day: int = 1, wristband: str = "P-1"):
    nurse = signed_in("nurse")
    bedside(nurse, serial, wristband)
    return nurse.post("/ward/start", {**SCANNED, "bag": serial, "wristband": wristband, **factories.premedication_form(pharmacy, day)})


def audit_actions(pharmacy) -> list[tuple[str, dict]]:
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(select(AuditEntry.action, AuditEntry.new_json).where(
            AuditEntry.action.like("administration.%")).order_by(AuditEntry.id)).all()
    return [(action, json.loads(new or "{}")) for action, new in rows]


# --- finding 1: overlapping or too-close infusions -------------------------------------------------------------
@pytest.mark.hazard("H8")
def test_day_2_at_0010_is_refused_on_the_screen_while_day_1_from_2330_still_runs(signed_in, pharmacy, clock):
    day1 = bag_for(pharmacy, clock, at(19, 23, 15), vial=0, day=1)
    clock.set(at(19, 23, 30))
    assert start_on_screen(signed_in, pharmacy, day1.serial).status_code == 302
    day2 = bag_for(pharmacy, clock, at(20, 0), vial=1, day=2)
    clock.set(at(20, 0, 10))
    nurse = signed_in("nurse")
    body = refusal_of(bedside(nurse, day2.serial, "P-1"))
    assert "IN PROGRESS: an infusion of LEMTRADA started at 23:30 CET on 19 Nov is still running" in body
    assert "TOO SOON: earliest start 11:30 CET." in body
    refused = nurse.post("/ward/start", {**SCANNED, "bag": day2.serial, "wristband": "P-1", **factories.premedication_form(pharmacy, 2)})
    assert refused.status_code == 422
    assert 'data-code="in_progress"' in text(refused) and "Checked again when Start was touched" in text(refused)
    assert [a.bag_id for a in administrations(pharmacy)] == [day1.id]
    assert bags.get_bag(pharmacy, day2.serial).state == "released"


@pytest.mark.hazard("H8")
def test_day_2_at_0010_is_refused_by_the_api_while_day_1_from_2330_still_runs(api, pharmacy, clock):  # noqa: F811
    day1 = bag_for(pharmacy, clock, at(19, 23, 15), vial=0, day=1)
    clock.set(at(19, 23, 30))
    premed = [{"what": p.what, "given_at": (clock.now - timedelta(minutes=20)).isoformat()}
              for p in pharmacy.product("lemtrada").premedication_for_day(1)]
    body = {"bag_scan": day1.serial, "patient_scan": "P-1", "premedication": premed}
    assert api("POST", "/administrations", who="nurse", json={**TYPED, **body}).status_code == 201
    day2 = bag_for(pharmacy, clock, at(20, 0), vial=1, day=2)
    clock.set(at(20, 0, 10))
    check = api("POST", "/bedside/check", who="nurse", json={"bag_scan": day2.serial, "patient_scan": "P-1"}).get_json()
    assert check["ok"] is False and [r["code"] for r in check["reasons"]] == ["in_progress", "too_soon"]
    premed = [{"what": p.what, "given_at": clock.now.isoformat()} for p in pharmacy.product("lemtrada").premedication_for_day(2)]
    refused = api("POST", "/administrations", who="nurse",
                  json={**TYPED, "bag_scan": day2.serial, "patient_scan": "P-1", "premedication": premed})
    assert refused.status_code == 422 and refused.get_json()["code"] == "administration_refused"
    assert [r["code"] for r in refused.get_json()["reasons"]] == ["in_progress", "too_soon"]


@pytest.mark.hazard("H8")
def test_after_the_end_the_observation_then_the_interval_hold_the_next_dose(signed_in, api, pharmacy, clock):  # noqa: F811
    day1 = bag_for(pharmacy, clock, at(19, 23, 15), vial=0, day=1)
    clock.set(at(19, 23, 30))
    assert start_on_screen(signed_in, pharmacy, day1.serial).status_code == 302
    clock.set(at(20, 3, 30))
    assert api("POST", f"/administrations/{day1.serial}/end", who="nurse", json={}).status_code == 200
    day2 = bag_for(pharmacy, clock, at(20, 5), vial=1, day=2)
    check = api("POST", "/bedside/check", who="nurse", json={"bag_scan": day2.serial, "patient_scan": "P-1"}).get_json()
    assert {r["code"]: r["message"].split(".")[0] for r in check["reasons"]} == {
        "observation": "OBSERVATION: until 05:30 CET", "too_soon": "TOO SOON: earliest start 11:30 CET"}
    clock.set(at(20, 5, 30))
    check = api("POST", "/bedside/check", who="nurse", json={"bag_scan": day2.serial, "patient_scan": "P-1"}).get_json()
    assert [r["code"] for r in check["reasons"]] == ["too_soon"]
    fresh = bag_for(pharmacy, clock, at(20, 11, 15), vial=2, day=2)  # the pharmacy makes the dose for its time
    clock.set(at(20, 11, 30))
    check = api("POST", "/bedside/check", who="nurse", json={"bag_scan": fresh.serial, "patient_scan": "P-1"}).get_json()
    assert check["ok"] is True and check["premedication_required"][0].startswith("Corticosteroid")


@pytest.mark.hazard("H8")
def test_a_second_dose_on_the_same_local_day_is_refused(api, pharmacy, clock):  # noqa: F811
    first = bag_for(pharmacy, clock, at(20, 0, 15), vial=0, day=1)
    clock.set(at(20, 0, 30))
    factories.start_infusion(pharmacy, first.serial)
    clock.set(at(20, 4, 30))
    api("POST", f"/administrations/{first.serial}/end", who="nurse", json={})
    second = bag_for(pharmacy, clock, at(20, 22, 50), vial=1, day=2)  # entered for the same day by mistake
    clock.set(at(20, 23, 0))
    check = api("POST", "/bedside/check", who="nurse", json={"bag_scan": second.serial, "patient_scan": "P-1"}).get_json()
    assert [r["code"] for r in check["reasons"]] == ["same_day"]
    assert check["reasons"][0]["message"].startswith("SAME DAY: a dose was already started today (00:30 CET)")


@pytest.mark.hazard("H8")
def test_an_end_at_once_needs_a_reason_by_api_with_a_stable_code(api, pharmacy, clock):  # noqa: F811
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    refused = api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={})
    assert refused.status_code == 422 and refused.get_json()["code"] == "early_end_reason_required"
    assert "ran for 0 min of the planned 4 h" in refused.get_json()["message"]
    assert api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={"reason": "sleepy"}).get_json()["code"] == (
        "end_reason_invalid")
    assert bags.get_bag(pharmacy, bag.serial).state == "in_administration"
    clock.advance(minutes=50)
    ended = api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={"reason": "bag_leaked"}).get_json()
    assert (ended["end_reason"], ended["state"]) == ("bag_leaked", "administered")
    assert administrations(pharmacy)[0].interrupted_reason == "bag leaked"
    assert audit_actions(pharmacy)[-1] == ("administration.end", {"state": "administered", "end_reason": "bag_leaked",
                                                                  "ran_minutes": 50,
                                                                  "ended_at": clock.now.astimezone(UTC).isoformat()})


@pytest.mark.hazard("H8")
def test_an_end_after_90_percent_of_the_planned_4_hours_needs_no_reason(api, pharmacy, clock):  # noqa: F811
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(hours=3, minutes=35)
    assert api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={}).get_json()["code"] == (
        "early_end_reason_required")
    clock.advance(minutes=1)
    assert api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={}).get_json()["end_reason"] is None


# --- an interrupted infusion resumed with the same bag ---------------------------------------------------------
@pytest.mark.hazard("H8", "H18")
def test_an_interrupted_bag_is_resumed_on_the_screens_with_the_same_bag_and_wristband(signed_in, pharmacy, clock):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    assert start_on_screen(signed_in, pharmacy, bag.serial).status_code == 302
    clock.advance(hours=1)
    nurse = signed_in("nurse")
    assert nurse.post(f"/ward/infusions/{bag.serial}/interrupt", {"reason": "interrupted", "detail": "line occluded"}).status_code == 302
    assert bags.get_bag(pharmacy, bag.serial).state == "interrupted"
    page = plain(nurse.get("/ward/infusions"))
    assert "interrupted: line occluded" in page and "End: not resumed" in page
    clock.advance(minutes=30)
    nurse = signed_in("nurse")
    verdict = text(bedside(nurse, bag.serial, "P-1"))
    assert "Resume infusion" in verdict and "premed_given_0" not in verdict  # confirmed at the first start
    assert nurse.post("/ward/start", {**SCANNED, "bag": bag.serial, "wristband": "P-1"}).status_code == 302
    assert "Infusion of bag BAG0000001 resumed at 10:30 CET" in plain(nurse.get("/ward/infusions"))
    assert bags.get_bag(pharmacy, bag.serial).state == "in_administration"
    [record] = administrations(pharmacy)
    assert record.ended_at is None and record.interruptions[0]["reason"] == "interrupted: line occluded"
    clock.advance(hours=3)  # 4 h run in all, the 30 min pause not counted: a normal end
    nurse = signed_in("nurse")
    assert nurse.post(f"/ward/infusions/{bag.serial}/end").status_code == 302
    assert [a for a, _ in audit_actions(pharmacy)] == ["administration.start", "administration.interrupt",
                                                       "administration.resume", "administration.end"]


@pytest.mark.hazard("H18")
def test_an_interrupted_bag_is_not_resumed_on_another_patient_or_after_its_use_by(api, pharmacy, clock):  # noqa: F811
    factories.verified_order(pharmacy, factories.patient("P-2", "Bruno Other"))
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(minutes=20)
    assert api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={"reason": "interrupted"}).get_json()[
        "state"] == "interrupted"
    other = api("POST", "/administrations", who="nurse", json={**TYPED, "bag_scan": bag.serial, "patient_scan": "P-2"})
    assert other.status_code == 422 and [r["code"] for r in other.get_json()["reasons"]] == ["wrong_patient"]
    clock.set(bag.use_by)
    late = api("POST", "/administrations", who="nurse", json={**TYPED, "bag_scan": bag.serial, "patient_scan": "P-1"})
    assert late.status_code == 422 and "expired" in [r["code"] for r in late.get_json()["reasons"]]
    assert bags.get_bag(pharmacy, bag.serial).state == "interrupted"
    ended = api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={}).get_json()
    assert ended["state"] == "administered" and ended["end_reason"] == "interrupted"
    again = api("POST", "/administrations", who="nurse", json={**TYPED, "bag_scan": bag.serial, "patient_scan": "P-1"})
    assert [r["code"] for r in again.get_json()["reasons"]][:1] == ["already_given"]


@pytest.mark.hazard("H18")
def test_a_bag_ended_early_for_another_reason_is_never_started_again(api, pharmacy, clock):  # noqa: F811
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(minutes=10)
    api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={"reason": "patient_reaction", "detail": "rigors"})
    again = api("POST", "/administrations", who="nurse", json={**TYPED, "bag_scan": bag.serial, "patient_scan": "P-1"})
    assert again.status_code == 422 and again.get_json()["reasons"][0]["code"] == "already_given"


# --- finding 6: pre-medication at the bedside ------------------------------------------------------------------
@pytest.mark.hazard("H17")
def test_the_start_screen_asks_for_each_required_premedication_with_its_time(signed_in, pharmacy, clock):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    nurse = signed_in("nurse")
    verdict = text(bedside(nurse, bag.serial, "P-1"))
    assert "Pre-medication given before this infusion" in verdict and verdict.count('type="checkbox"') == 2
    assert "Given: Corticosteroid immediately before the infusion" in verdict and 'type="datetime-local"' in verdict
    refused = nurse.post("/ward/start", {**SCANNED, "bag": bag.serial, "wristband": "P-1"})
    assert refused.status_code == 422 and "Pre-medication not confirmed" in text(refused)
    assert "Confirm the pre-medication given before this infusion (SmPC 4.2): Corticosteroid" in text(refused)
    future = factories.premedication_form(pharmacy, minutes_before=-5)
    refused = nurse.post("/ward/start", {**SCANNED, "bag": bag.serial, "wristband": "P-1", **future})
    assert refused.status_code == 422 and "is in the future" in text(refused)
    stale = factories.premedication_form(pharmacy, minutes_before=25 * 60)
    stale_page = nurse.post("/ward/start", {**SCANNED, "bag": bag.serial, "wristband": "P-1", **stale})
    assert "more than 24 h before this infusion" in text(stale_page)
    untimed = {**factories.premedication_form(pharmacy), "premed_at_0": ""}
    assert nurse.post("/ward/start", {**SCANNED, "bag": bag.serial, "wristband": "P-1", **untimed}).status_code == 400
    assert administrations(pharmacy) == []
    assert nurse.post("/ward/start", {**SCANNED, "bag": bag.serial, "wristband": "P-1",
                                      **factories.premedication_form(pharmacy)}).status_code == 302
    [record] = administrations(pharmacy)
    assert [p["given_at"] for p in record.premedication] == ["2026-11-20T07:30:00+00:00"] * 2
    start = audit_actions(pharmacy)[0]
    assert start[0] == "administration.start" and start[1]["premedication"][0]["what"].startswith("Corticosteroid")


@pytest.mark.hazard("H17")
def test_the_api_refuses_a_day_1_start_without_its_premedication_with_a_stable_code(api, pharmacy, clock):  # noqa: F811
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    body = {"bag_scan": bag.serial, "patient_scan": "P-1"}
    refused = api("POST", "/administrations", who="nurse", json={**TYPED, **body})
    assert refused.status_code == 422 and refused.get_json()["code"] == "premedication_required"
    required = [p.what for p in pharmacy.product("lemtrada").premedication_for_day(1)]
    naive = [{"what": w, "given_at": "2026-11-20T08:30:00"} for w in required]
    assert api("POST", "/administrations", who="nurse", json={**TYPED, **body, "premedication": naive}).status_code == 400
    partial = [{"what": required[0], "given_at": "2026-11-20T08:30:00+01:00"}]
    assert api("POST", "/administrations", who="nurse", json={**TYPED, **body, "premedication": partial}).get_json()["code"] == (
        "premedication_required")
    given = [{"what": w, "given_at": "2026-11-20T08:30:00+01:00"} for w in required]
    assert api("POST", "/administrations", who="nurse", json={**TYPED, **body, "premedication": given}).status_code == 201
    assert administrations(pharmacy)[0].premedication[0] == {"what": required[0], "given_at": "2026-11-20T07:30:00+00:00"}


@pytest.mark.hazard("H17")
def test_day_4_of_course_1_needs_no_premedication_at_the_bedside(api, pharmacy, clock):  # noqa: F811
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], day=4)
    check = api("POST", "/bedside/check", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-1"}).get_json()
    assert check["ok"] is True and check["premedication_required"] == []
    assert api("POST", "/administrations", who="nurse", json={**TYPED, "bag_scan": bag.serial, "patient_scan": "P-1"}).status_code == 201
