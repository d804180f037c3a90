"""Reports and traceability over a seeded pharmacy whose every answer is known (issue 7): four local
days, two vial lots, two diluent lots, three patients, six bags, refusals of five kinds, waste with
a configured cost, bags that expired unused, and vial lot K123A recalled at the end.

``seed`` is shared with the web tests (tests/web/test_trace_screens.py, test_reports_screens.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pharmacy import config
from pharmacy.domain.coldchain import reading
from pharmacy.domain.errors import (
    AdministrationRefused,
    Expired,
    NotAllowed,
    PharmacyError,
    SeparationOfDuties,
    StateConflict,
    VolumeOutOfTolerance,
    WrongDiluent,
)
from pharmacy.services import administration, bags, coldchain, preparation, release, reports, stock, trace
from tests import factories
from tests.factories import GLUCOSE_SCAN, NACL_SCAN, PASSWORDS, WATER_SCAN, vial_scan
from tests.integration.records import audit_entries

BRUSSELS = ZoneInfo("Europe/Brussels")
D1, D2, D3, D4 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23), date(2026, 11, 24)
VIAL_COST = Decimal("8500.00")
RECALL_REASON = "Manufacturer recall notice 2026/17"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local (Brussels, CET = UTC+1 in November) time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BRUSSELS)


@dataclass
class Seeded:
    """Bag serials by letter: A..F are preparations 1..6, so BAG0000001..BAG0000006."""

    A: str = "BAG0000001"  # Anna, K123A/0001, NaCl: given on day 1
    B: str = "BAG0000002"  # Béla, K123A/0002, glucose: printed twice, stored, expired, destroyed on day 2
    C: str = "BAG0000003"  # Chloé, L200B/0001 (L200B/0002 rejected at inspection), NaCl: expired unused
    D: str = "BAG0000004"  # Anna, K123A/0003, NaCl: rejected at the check, destroyed
    E: str = "BAG0000005"  # Anna, K123A/0004, NaCl: stored on day 3, quarantined by the recall
    F: str = "BAG0000006"  # Béla, K123A/0005, glucose: never checked, quarantined by the recall
    recalled: dict | None = None


def _order(pharmacy, who, course: int, day: int, on: date):
    return factories.verified_order(pharmacy, who, course=course, day=day, on=on)


def _prepare(pharmacy, clock, when: datetime, order, vial: str, diluent: str, preparer: str, *,
             wrong_diluent: bool = False, wrong_volume: bool = False, rejected_vial: str | None = None) -> None:
    clock.set(when)
    prep = preparation.start(pharmacy, preparer, order.id)
    if rejected_vial:
        prep = preparation.scan_vial(pharmacy, preparer, prep.id, prep.version, vial_scan(rejected_vial, "L200B", "281231"))
        prep = preparation.inspect_vial(pharmacy, preparer, prep.id, prep.version, False, "particles seen in the vial")
    lot = "L200B" if vial.startswith("L200B") else "K123A"
    prep = preparation.scan_vial(pharmacy, preparer, prep.id, prep.version,
                                 vial_scan(vial, lot, "281231" if lot == "L200B" else "280630"))
    prep = preparation.inspect_vial(pharmacy, preparer, prep.id, prep.version, True)
    if wrong_diluent:
        with pytest.raises(WrongDiluent):
            preparation.scan_diluent(pharmacy, preparer, prep.id, prep.version, WATER_SCAN)
    prep = preparation.scan_diluent(pharmacy, preparer, prep.id, prep.version, diluent)
    if wrong_volume:
        with pytest.raises(VolumeOutOfTolerance):
            preparation.record_volume(pharmacy, preparer, prep.id, prep.version, "1.5 mL")
    prep = factories.photograph(pharmacy, preparation.record_volume(pharmacy, preparer, prep.id, prep.version, "1.2 mL"),
                                "syringe", preparer)
    prep = factories.photograph(pharmacy, preparation.confirm_mixing(pharmacy, preparer, prep.id, prep.version), "bag",
                                preparer)
    preparation.sign(pharmacy, preparer, prep.id, prep.version, PASSWORDS[preparer])


def _decide(pharmacy, clock, when: datetime, serial: str, checker: str, decision: str = "released", reason: str = ""):
    clock.set(when)
    prep = preparation.get(pharmacy, bags.get_bag(pharmacy, serial).preparation_id)
    seen = {miss.id for miss in release.near_misses(pharmacy, prep.id)}  # the checker was shown each near miss
    release.decide(pharmacy, checker, prep.id, prep.version, PASSWORDS[checker], decision, reason,
                   acknowledged=seen, bag_scan=factories.in_process_scan(prep.id))


def seed(pharmacy, clock, recall: bool = True) -> Seeded:
    """The four days below; ``recall=False`` stops on day 4 at 10:00 just before the recall."""
    s = Seeded()
    anna = factories.patient("P-1", "Anna Example", "Neurology 5")
    bela = factories.patient("P-2", "Béla Kovács", "+3 Neurology")  # a ward a spreadsheet would read as a formula
    chloe = factories.patient("P-3", "Chloé Ξένη", "Neurology 5")
    fridge = factories.FRIDGE

    # day 1, Friday 20 November 2026
    clock.set(at(D1, 9))
    for serial in ("L200B0001", "L200B0002"):
        stock.receive(pharmacy, "tech", vial_scan(serial, "L200B", "281231"))
    with pytest.raises(Expired):
        stock.receive(pharmacy, "tech", vial_scan("OLD0001", "OLD1", "250131"))
    _prepare(pharmacy, clock, at(D1, 9), _order(pharmacy, anna, 1, 1, D1), "TK123A000001", NACL_SCAN, "tech")
    _decide(pharmacy, clock, at(D1, 9, 10), s.A, "pharm")
    clock.set(at(D1, 9, 15))
    bags.print_labels(pharmacy, "tech", [s.A])
    factories.confirm_label(pharmacy, s.A)  # stuck on the bag and scanned back: the bedside needs it (H27)
    clock.set(at(D1, 9, 20))
    bags.store(pharmacy, "tech", s.A, fridge)
    _prepare(pharmacy, clock, at(D1, 9, 30), _order(pharmacy, bela, 1, 1, D1), "TK123A000002", GLUCOSE_SCAN, "tech2",
             wrong_diluent=True, wrong_volume=True)
    _decide(pharmacy, clock, at(D1, 9, 45), s.B, "pharm2")
    clock.set(at(D1, 9, 50))
    bags.print_labels(pharmacy, "tech", [s.B])
    clock.set(at(D1, 9, 55))
    bags.print_labels(pharmacy, "tech", [s.B])
    clock.set(at(D1, 10))
    bags.store(pharmacy, "tech", s.B, fridge)
    clock.set(at(D1, 11))
    factories.start_infusion(pharmacy, s.A, "P-1")
    clock.set(at(D1, 15))
    administration.end(pharmacy, "nurse", s.A)

    # day 2, Saturday: the fridge log of day 1 comes in at midnight local (23:00 UTC on day 1)
    clock.set(at(D2, 0))
    coldchain.record(pharmacy, "tech", [(1, reading(fridge, at(D1, 10, 30), 4.8)), (2, reading(fridge, at(D1, 12), 5.1))],
                     "form")
    _prepare(pharmacy, clock, at(D2, 9), _order(pharmacy, chloe, 1, 1, D2), "L200B0001", NACL_SCAN, "pharm",
             rejected_vial="L200B0002")
    clock.set(at(D2, 9, 10))
    with pytest.raises(SeparationOfDuties):
        _decide(pharmacy, clock, at(D2, 9, 10), s.C, "pharm")
    _decide(pharmacy, clock, at(D2, 9, 15), s.C, "pharm2")
    _prepare(pharmacy, clock, at(D2, 9, 30), _order(pharmacy, anna, 1, 2, D2), "TK123A000003", NACL_SCAN, "tech")
    _decide(pharmacy, clock, at(D2, 9, 40), s.D, "pharm2", "rejected", "bag leaking at the port")
    clock.set(at(D2, 9, 45))
    bags.dispose_bag(pharmacy, "tech", s.D, "other", "rejected at check: leaking", confirmed=True)
    clock.set(at(D2, 10))
    bags.dispose_bag(pharmacy, "pharm", s.B, "other", "-expired: patient did not come", confirmed=True)
    clock.set(at(D2, 12, 30))
    coldchain.record(pharmacy, "tech", [(1, reading(fridge, at(D2, 8), 4.9)), (2, reading(fridge, at(D2, 12), 5.0))],
                     "form")

    # day 3, Monday
    _prepare(pharmacy, clock, at(D3, 9), _order(pharmacy, anna, 1, 3, D3), "TK123A000004", NACL_SCAN, "tech2")
    _decide(pharmacy, clock, at(D3, 9, 10), s.E, "pharm")
    clock.set(at(D3, 9, 15))
    bags.print_labels(pharmacy, "pharm", [s.E])
    clock.set(at(D3, 9, 20))
    bags.store(pharmacy, "tech2", s.E, fridge)
    clock.set(at(D3, 9, 30))
    with pytest.raises(AdministrationRefused):
        administration.start(pharmacy, "nurse", s.E, "P-2")
    _prepare(pharmacy, clock, at(D3, 10), _order(pharmacy, bela, 1, 2, D3), "TK123A000005", GLUCOSE_SCAN, "tech",
             wrong_diluent=True)

    # day 4, Tuesday 10:00: the manufacturer recalls vial lot K123A
    clock.set(at(D4, 10))
    if recall:
        s.recalled = trace.quarantine_lot(pharmacy, "pharm", "K123A", "vial", RECALL_REASON)
    return s


@pytest.fixture
def seeded(pharmacy, clock) -> Seeded:
    return seed(pharmacy, clock)


@pytest.fixture
def costed(seeded, pharmacy, monkeypatch):
    monkeypatch.setattr(pharmacy, "settings", replace(pharmacy.settings, vial_cost=VIAL_COST))
    return seeded


WEEK = reports.Period(D1, D4)


def test_the_recall_quarantined_the_two_bags_not_yet_given_and_the_lots_last_vial(seeded):
    assert seeded.recalled == {"bags": [seeded.E, seeded.F], "stock": 1, "preparations": []}


def test_the_recall_of_k123a_names_every_bag_patient_state_print_and_administration(pharmacy, seeded):
    rows = trace.recall(pharmacy, "K123A")
    assert [(r["bag_serial"], r["patient_id"], r["state"], r["vial_serial"], r["diluent_lot"], r["label_prints"],
             r["administration_started"], r["administration_ended"]) for r in rows] == [
        (seeded.A, "P-1", "administered", "TK123A000001", "N9931", 1, at(D1, 11), at(D1, 15)),
        (seeded.B, "P-2", "destroyed", "TK123A000002", "G5520", 2, None, None),
        (seeded.D, "P-1", "destroyed", "TK123A000003", "N9931", 0, None, None),
        (seeded.E, "P-1", "quarantined", "TK123A000004", "N9931", 1, None, None),
        (seeded.F, "P-2", "quarantined", "TK123A000005", "G5520", 0, None, None),
    ]
    assert [r["use_by"] for r in rows] == [at(D1, 17), at(D1, 17, 30), at(D2, 17, 30), at(D3, 17), at(D3, 18)]


def test_the_recall_by_diluent_lot_and_by_one_vial_serial(pharmacy, seeded):
    assert [r["bag_serial"] for r in trace.recall(pharmacy, "G5520", kind="diluent")] == [seeded.B, seeded.F]
    assert [r["bag_serial"] for r in trace.recall(pharmacy, "N9931", kind="diluent")] == [
        seeded.A, seeded.C, seeded.D, seeded.E]
    assert [r["bag_serial"] for r in trace.recall(pharmacy, "K123A", serial=" TK123A000004 ")] == [seeded.E]
    assert [(r["bag_serial"], r["state"]) for r in trace.recall(pharmacy, " L200B ")] == [(seeded.C, "expired")]


def test_a_recall_names_the_lot_kind(pharmacy):
    with pytest.raises(PharmacyError, match="vial lot or a diluent lot"):
        trace.recall(pharmacy, "K123A", kind="carton")
    with pytest.raises(PharmacyError, match="vial lot or a diluent lot"):
        trace.quarantine_lot(pharmacy, "pharm", "K123A", "carton", RECALL_REASON)


def test_the_quarantine_preview_changes_nothing_and_matches_the_action(pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    before = len(audit_entries(pharmacy))
    assert trace.quarantine_preview(pharmacy, "K123A") == {"bags": [bag.serial], "stock": 5, "preparations": []}
    assert len(audit_entries(pharmacy)) == before
    with pytest.raises(PharmacyError, match="recall reason"):
        trace.quarantine_preview(pharmacy, "K123A", reason="short")
    assert trace.quarantine_lot(pharmacy, "pharm", "K123A", "vial", RECALL_REASON, expected_bags=1,
                                expected_stock=5) == {"bags": [bag.serial], "stock": 5, "preparations": []}
    assert trace.quarantine_preview(pharmacy, "K123A") == {"bags": [], "stock": 0, "preparations": []}


def test_a_quarantine_confirmed_for_other_counts_than_the_lots_is_refused_and_changes_nothing(pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    before = len(audit_entries(pharmacy))
    with pytest.raises(StateConflict, match="now has 1 bag"):
        trace.quarantine_lot(pharmacy, "pharm", "K123A", "vial", RECALL_REASON, expected_bags=0, expected_stock=5)
    assert len(audit_entries(pharmacy)) == before
    assert bags.get_bag(pharmacy, bag.serial).state == "released"
    with pytest.raises(NotAllowed):
        trace.quarantine_lot(pharmacy, "auditor", "K123A", "vial", RECALL_REASON)


def test_the_recall_is_audited_per_bag_and_per_vial_with_the_reason(pharmacy, seeded):
    entries = [e for e in audit_entries(pharmacy) if e.action in ("bag.quarantine", "vial.quarantine")]
    assert [(e.username, e.action, e.old, e.new, e.reason) for e in entries] == [
        ("pharm", "bag.quarantine", {"state": "stored"}, {"state": "quarantined"},
         f"recall of vial lot K123A: {RECALL_REASON}"),
        ("pharm", "bag.quarantine", {"state": "awaiting_check"}, {"state": "quarantined"},
         f"recall of vial lot K123A: {RECALL_REASON}"),
        ("pharm", "vial.quarantine", {"state": "received"}, {"state": "quarantined"}, f"recall of lot K123A: {RECALL_REASON}"),
        ("pharm", "vial.quarantine", {"state": "in_use"}, {"state": "quarantined"},  # the vial of the bag awaiting check
         f"recall of vial lot K123A (vial in a preparation): {RECALL_REASON}"),
    ]
    assert all(e.at == at(D4, 10) for e in entries)


# --- histories ----------------------------------------------------------------------------------
def test_a_bag_history_has_ingredients_steps_signatures_prints_storage_and_administration(pharmacy, seeded):
    h = trace.bag_history(pharmacy, seeded.A)
    assert h["ingredients"] == [
        {"kind": "vial", "gtin": "09506000134369", "lot": "K123A", "serial": "TK123A000001", "expiry": date(2028, 6, 30)},
        {"kind": "diluent", "gtin": "09506000134376", "lot": "N9931", "serial": None, "expiry": h["ingredients"][1]["expiry"]},
    ]
    assert [(s["step"], s["by"], s["at"]) for s in h["steps"]] == [
        (step, "Tessa Technician", at(D1, 9))
        for step in ("start", "vial", "inspection", "diluent", "volume", "photo", "mixing", "photo", "sign")
    ] + [("check", "Petra Pharmacist", at(D1, 9, 10))]
    assert h["signatures"] == [
        {"meaning": "prepared", "by": "Tessa Technician", "at": at(D1, 9), "reason": None},
        {"meaning": "released", "by": "Petra Pharmacist", "at": at(D1, 9, 10), "reason": None},
    ]
    assert h["prints"] == [{"number": 1, "by": "Tessa Technician", "at": at(D1, 9, 15),
                            "stock": h["prints"][0]["stock"], "destination": "download"}]
    assert h["moves"] == [{"location": factories.FRIDGE, "by": "Tessa Technician", "at": at(D1, 9, 20)}]
    assert h["administration"] == {"by": "Nora Nurse", "started_at": at(D1, 11), "ended_at": at(D1, 15),
                                   "interrupted_reason": None}
    assert h["disposal"] == [] and h["quarantines"] == [] and h["refusals"] == []


def test_the_temperatures_in_a_bag_history_are_those_of_while_it_was_stored(pharmacy, seeded):
    """Bag A left the fridge at 11:00 when its infusion started: the 12:00 reading is not its own.
    Bag B was destroyed at 10:00 on day 2: it has the readings up to then."""
    temps = lambda serial: [(t["at"], t["celsius"]) for t in trace.bag_history(pharmacy, serial)["temperatures"]]  # noqa: E731
    assert temps(seeded.A) == [(at(D1, 10, 30), 4.8)]
    assert temps(seeded.B) == [(at(D1, 10, 30), 4.8), (at(D1, 12), 5.1), (at(D2, 8), 4.9)]
    assert temps(seeded.E) == []


def test_a_bag_history_names_the_rejection_the_reprint_the_disposal_and_the_recall(pharmacy, seeded):
    d = trace.bag_history(pharmacy, seeded.D)
    assert d["signatures"][1] == {"meaning": "rejected", "by": "Paul Pharmacist", "at": at(D2, 9, 40),
                                  "reason": "bag leaking at the port"}
    assert d["disposal"] == [{"reason": "rejected at check: leaking", "by": "Tessa Technician", "at": at(D2, 9, 45)}]
    assert [(p["number"], p["at"]) for p in trace.bag_history(pharmacy, seeded.B)["prints"]] == [
        (1, at(D1, 9, 50)), (2, at(D1, 9, 55))]
    assert trace.bag_history(pharmacy, seeded.E)["quarantines"] == [
        {"by": "pharm", "at": at(D4, 10), "reason": f"recall of vial lot K123A: {RECALL_REASON}"}]
    assert [(r["at"], r["by"], r["code"]) for r in trace.bag_history(pharmacy, seeded.B)["refusals"]] == [
        (at(D1, 9, 30), "tech2", "wrong_diluent"), (at(D1, 9, 30), "tech2", "volume_out_of_tolerance")]
    assert [(r["at"], r["code"]) for r in trace.bag_history(pharmacy, seeded.E)["refusals"]] == [
        (at(D3, 9, 30), "administration_refused")]
    assert [r["by"] for r in trace.bag_history(pharmacy, seeded.C)["refusals"]] == ["pharm"]  # the self-check
    c = trace.bag_history(pharmacy, seeded.C)
    assert [(s["step"], (s["detail"] or {}).get("passed")) for s in c["steps"][:3]] == [
        ("start", None), ("vial", None), ("inspection", False)]
    assert c["ingredients"][0]["serial"] == "L200B0001"


def test_a_patient_history_has_every_order_preparation_administration_and_override(pharmacy, seeded):
    h = trace.patient_history(pharmacy, "P-1")
    assert [(o["scheduled_on"], o["course"], o["day"], o["bag"], o["bag_state"], o["prepared_by"], o["checked_by"],
             o["administration_started"], o["administered_by"]) for o in h["orders"]] == [
        (D1, 1, 1, seeded.A, "administered", "Tessa Technician", "Petra Pharmacist", at(D1, 11), "Nora Nurse"),
        (D2, 1, 2, seeded.D, "destroyed", "Tessa Technician", "Paul Pharmacist", None, None),
        (D3, 1, 3, seeded.E, "quarantined", "Tom Technician", "Petra Pharmacist", None, None),
    ]
    overridden = [(o["day"], o["override_by"], o["override_reason"]) for o in h["orders"] if o["override_reason"]]
    assert overridden == [(3, "Petra Pharmacist", "Course history kept in another hospital's records")]
    assert [v["code"] for v in h["orders"][2]["violations"]] == ["earlier_course_days_missing",
                                                                 "course_days_not_consecutive"]


# --- reports ------------------------------------------------------------------------------------
def _work(day, username, name, signed=0, checked=0, released=0, rejected=0, labels=0, reprints=0, given=0) -> dict:
    return {"day": day, "username": username, "name": name, "preparations_signed": signed, "bags_checked": checked,
            "bags_released": released, "bags_rejected": rejected, "labels_printed": labels, "reprints": reprints,
            "administrations": given}


WORK_ROWS = [
    _work(D1, "nurse", "Nora Nurse", given=1),
    _work(D1, "pharm", "Petra Pharmacist", checked=1, released=1),
    _work(D1, "pharm2", "Paul Pharmacist", checked=1, released=1),
    _work(D1, "tech", "Tessa Technician", signed=1, labels=2, reprints=1),
    _work(D1, "tech2", "Tom Technician", signed=1),
    _work(D2, "pharm", "Petra Pharmacist", signed=1),
    _work(D2, "pharm2", "Paul Pharmacist", checked=2, released=1, rejected=1),
    _work(D2, "tech", "Tessa Technician", signed=1),
    _work(D3, "pharm", "Petra Pharmacist", checked=1, released=1, labels=1),
    _work(D3, "tech", "Tessa Technician", signed=1),
    _work(D3, "tech2", "Tom Technician", signed=1),
]


def test_work_done_per_day_and_user(pharmacy, seeded):
    assert reports.work_done(pharmacy, WEEK) == WORK_ROWS
    assert reports.work_done(pharmacy, reports.Period(D2, D2)) == [r for r in WORK_ROWS if r["day"] == D2]
    assert reports.work_done(pharmacy, reports.Period(D4, D4)) == []


REFUSAL_SUMMARY = [
    {"code": "wrong_diluent", "what": "Wrong diluent scanned", "count": 2},
    {"code": "administration_refused", "what": "Bedside check refused", "count": 1},
    {"code": "expired", "what": "Expired item scanned or bag past its use-by", "count": 1},
    {"code": "separation_of_duties", "what": "Self-check attempt (preparer tried to check)", "count": 1},
    {"code": "volume_out_of_tolerance", "what": "Withdrawn volume out of tolerance", "count": 1},
]


def test_refusals_are_counted_by_kind(pharmacy, seeded):
    assert reports.refusal_summary(pharmacy, WEEK) == REFUSAL_SUMMARY


def test_every_refusal_is_listed_grouped_by_kind_in_time_order(pharmacy, seeded):
    rows = reports.refusals(pharmacy, WEEK)
    assert [(r["at"], r["code"], r["username"], r["action"], r["object_type"]) for r in rows] == [
        (at(D1, 9, 30), "wrong_diluent", "tech2", "prep.diluent", "preparation"),
        (at(D3, 10), "wrong_diluent", "tech", "prep.diluent", "preparation"),
        (at(D3, 9, 30), "administration_refused", "nurse", "administration.start", "bag"),
        (at(D1, 9), "expired", "tech", "stock.receive", None),
        (at(D2, 9, 10), "separation_of_duties", "pharm", "bag.released", "preparation"),
        (at(D1, 9, 30), "volume_out_of_tolerance", "tech2", "prep.volume", "preparation"),
    ]
    assert rows[4]["message"].startswith("You prepared this bag, so you cannot check it.")
    assert {r["code"]: r["what"] for r in rows} == {r["code"]: r["what"] for r in REFUSAL_SUMMARY}
    assert reports.refusals(pharmacy, reports.Period(D2, D2)) == [rows[4]]


def test_waste_lists_destroyed_bags_and_rejected_vials_with_reasons_and_cost(pharmacy, costed):
    rows = reports.waste(pharmacy, WEEK)
    assert rows == [
        {"at": at(D2, 9), "what": "vial rejected at inspection", "bag_serial": None, "vial_serial": "L200B0002",
         "vial_lot": "L200B", "patient_id": None, "reason": "particles seen in the vial", "by": "pharm", "cost": VIAL_COST},
        {"at": at(D2, 9, 45), "what": "bag destroyed", "bag_serial": costed.D, "vial_serial": "TK123A000003",
         "vial_lot": "K123A", "patient_id": "P-1", "reason": "rejected at check: leaking", "by": "tech", "cost": VIAL_COST},
        {"at": at(D2, 10), "what": "bag destroyed", "bag_serial": costed.B, "vial_serial": "TK123A000002",
         "vial_lot": "K123A", "patient_id": "P-2", "reason": "-expired: patient did not come", "by": "pharm",
         "cost": VIAL_COST},
    ]
    assert reports.waste_total(pharmacy, rows) == "3 vial(s) wasted, cost 25500.00 (8500.00 a vial)"


def test_waste_without_a_configured_cost_shows_none(pharmacy, seeded):
    rows = reports.waste(pharmacy, WEEK)
    assert [r["cost"] for r in rows] == [None, None, None]
    assert reports.waste_total(pharmacy, rows) == "3 vial(s) wasted"
    assert reports.waste(pharmacy, reports.Period(D1, D1)) == []


EXPIRED_ROWS = [  # (use-by, bag, state, patient, released, destroyed)
    (at(D1, 17, 30), "BAG0000002", "destroyed", "P-2", at(D1, 9, 45), at(D2, 10)),
    (at(D2, 17), "BAG0000003", "expired", "P-3", at(D2, 9, 15), None),
    (at(D3, 17), "BAG0000005", "quarantined", "P-1", at(D3, 9, 10), None),
    (at(D3, 18), "BAG0000006", "quarantined", "P-2", None, None),
]


def test_bags_whose_use_by_passed_unused(pharmacy, seeded):
    """Not A (given), not D (rejected at the check, so waste, not left to expire)."""
    rows = reports.expired_unused(pharmacy, WEEK)
    assert [(r["use_by"], r["bag_serial"], r["state"], r["patient_id"], r["released_at"], r["destroyed_at"])
            for r in rows] == EXPIRED_ROWS
    assert list(rows[0]) == reports.EXPIRED_COLUMNS
    assert [r["bag_serial"] for r in reports.expired_unused(pharmacy, reports.Period(D1, D1))] == ["BAG0000002"]


def test_a_bag_still_in_date_or_destroyed_before_its_use_by_has_not_expired_unused(pharmacy, clock):
    fresh = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    dropped = factories.released_bag(pharmacy, pharmacy.vial_serials[1], factories.patient("P-9", "Dora Drop"))
    bags.dispose_bag(pharmacy, "tech", dropped.serial, "contaminated", "dropped on the floor", confirmed=True,
                     signer="pharm", password=factories.PASSWORDS["pharm"])  # in date: a pharmacist signs
    today = factories.today(pharmacy)
    assert reports.expired_unused(pharmacy, reports.Period(today, today)) == []
    clock.advance(hours=9)
    assert [r["bag_serial"] for r in reports.expired_unused(pharmacy, reports.Period(today, today))] == [fresh.serial]


def test_a_period_is_whole_local_days_and_must_be_in_order():
    start, end = reports.Period(D2, D2).bounds(BRUSSELS)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-20T23:00:00+00:00", "2026-11-21T23:00:00+00:00")
    summer = reports.Period(date(2026, 3, 29), date(2026, 3, 29)).bounds(BRUSSELS)  # the day the clocks go forward
    assert summer[1] - summer[0] == timedelta(hours=23)
    with pytest.raises(PharmacyError, match="ends"):
        reports.period(D2, D1)
    with pytest.raises(PharmacyError, match="at most 366 days"):
        reports.period(date(2025, 1, 1), date(2026, 1, 2))  # 367 days
    assert reports.period(date(2025, 1, 1), date(2026, 1, 1)).last == date(2026, 1, 1)  # 366 days


# --- the audit log ------------------------------------------------------------------------------
def test_the_audit_filter_by_local_day_turns_local_midnight_into_utc(pharmacy, seeded):
    day2 = reports.Period(D2, D2).bounds(pharmacy.zone)
    entries, total = trace.audit_log(pharmacy, start=day2[0], end=day2[1], per_page=1000)
    expected = [e.id for e in audit_entries(pharmacy) if e.at.astimezone(BRUSSELS).date() == D2]
    assert sorted(e.id for e in entries) == expected and total == len(expected)
    first = min(entries, key=lambda e: e.id)
    assert (first.action, first.at) == ("temps.record", at(D2, 0))  # 23:00 UTC on day 1, yet day 2 here


def test_an_action_filter_is_a_prefix_of_whole_words_not_a_pattern(pharmacy, seeded):
    _, labels = trace.audit_log(pharmacy, action="label")
    assert labels == 5  # A, A's confirmation on the bag (H27), B, B again, E
    assert trace.audit_log(pharmacy, action="labe")[1] == 0
    assert trace.audit_log(pharmacy, action="%")[1] == 0
    assert trace.audit_log(pharmacy, action="bag_")[1] == 0


def test_the_audit_export_holds_every_matching_entry_oldest_first_across_batches(pharmacy, seeded):
    everything = list(reports.audit_export(pharmacy, batch=7))
    assert [r["id"] for r in everything] == [e.id for e in audit_entries(pharmacy)]
    assert everything[0]["hash"] == audit_entries(pharmacy)[0].hash
    mine = list(reports.audit_export(pharmacy, batch=3, username="nurse"))
    assert [(r["action"], r["at"]) for r in mine] == [("administration.start", at(D1, 11)),
                                                      ("administration.end", at(D1, 15))]
    assert {k: v for k, v in json.loads(mine[0]["new"]).items() if k in ("patient", "state")} == {
        "patient": "P-1", "state": "in_administration"}
    assert json.loads(mine[0]["new"])["premedication"][0]["what"].startswith("Corticosteroid")  # H17


def test_the_audit_export_stops_at_the_entries_that_existed_when_it_began(pharmacy, seeded):
    export = reports.audit_export(pharmacy, batch=5)
    first = next(export)
    stock.receive(pharmacy, "tech", vial_scan("LATE000001", "L300C"))  # K123A is recalled: its receipt is refused
    assert [first["id"], *(r["id"] for r in export)] == [e.id for e in audit_entries(pharmacy)][:-1]


def test_verifying_the_chain_keeps_the_result_and_records_nothing(pharmacy, seeded, clock):
    assert reports.last_verification(pharmacy) is None
    before = len(audit_entries(pharmacy))
    result = reports.verify_audit_chain(pharmacy, "auditor")
    assert (result["ok"], result["checked"], result["by"], result["at"]) == (True, before, "auditor", at(D4, 10))
    assert len(audit_entries(pharmacy)) == before
    clock.advance(hours=1)
    assert reports.last_verification(pharmacy)["at"] == at(D4, 10)
    with pytest.raises(NotAllowed):
        reports.verify_audit_chain(pharmacy, "tech")


def test_the_vial_cost_is_a_setting_read_as_an_exact_amount(tmp_path):
    assert config.load({"instance": tmp_path}, environ={"PHARMACY_VIAL_COST": " 8500.10 "}).vial_cost == Decimal("8500.10")
    assert config.load({"instance": tmp_path}, environ={}).vial_cost is None
    for wrong in ("8.500,00", "-1", "NaN", "inf"):
        with pytest.raises(config.ConfigError, match="PHARMACY_VIAL_COST"):
            config.load({"instance": tmp_path}, environ={"PHARMACY_VIAL_COST": wrong})
