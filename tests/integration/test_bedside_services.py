"""Services under the bedside and storage screens, on a real database: where a bag was when a late
reading came in, what the quarantine records, wristbands, refusal notes and location names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry, Refusal
from pharmacy.domain.coldchain import reading
from pharmacy.domain.errors import AdministrationRefused, StateConflict
from pharmacy.services import administration, bags, coldchain, dashboard
from tests import factories

WARD_FRIDGE = "Ward 5 fridge"


@pytest.fixture
def moved(pharmacy, clock):
    """A bag stored in the pharmacy fridge at 09:00, moved to the ward fridge at 10:00."""
    bags.add_location(pharmacy, None, WARD_FRIDGE, 2.0, 8.0)
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    clock.advance(hours=1)
    bags.store(pharmacy, "nurse", bag.serial, WARD_FRIDGE)
    clock.advance(hours=1)
    return bag


@pytest.mark.hazard("H6")
def test_a_late_fridge_log_quarantines_a_bag_that_was_there_though_it_moved_on_since(pharmacy, clock, moved):
    result = coldchain.import_csv(pharmacy, "tech", "location,time,celsius\n"
                                  f"{factories.FRIDGE},2026-11-20T09:30:00+01:00,8.5\n")
    assert result.quarantined == [moved.serial]
    assert bags.get_bag(pharmacy, moved.serial).state == "quarantined"
    with pytest.raises(AdministrationRefused) as refused:
        administration.start(pharmacy, "nurse", moved.serial, "P-1")
    assert [r.code for r in refused.value.reasons] == ["quarantined"]


def test_an_excursion_after_the_bag_left_does_not_touch_it(pharmacy, clock, moved):
    result = coldchain.import_csv(pharmacy, "tech", "location,time,celsius\n"
                                  f"{factories.FRIDGE},2026-11-20T10:30:00+01:00,12.0\n")
    assert result.quarantined == []
    assert bags.get_bag(pharmacy, moved.serial).state == "stored"


def test_an_excursion_where_the_bag_is_now_quarantines_it(pharmacy, clock, moved):
    assert coldchain.record(pharmacy, "tech", [(1, reading(WARD_FRIDGE, clock.now, 1.5))], "api").quarantined == [moved.serial]


def test_the_quarantine_records_which_reading_did_it_and_the_excursion_lists_the_bag(pharmacy, clock, moved):
    coldchain.record(pharmacy, "tech", [(1, reading(WARD_FRIDGE, clock.now - timedelta(minutes=5), 9.0))], "api")
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "bag.quarantine")).scalar_one()
    assert entry.new == {"state": "quarantined", "location": WARD_FRIDGE, "reading_at": "2026-11-20T09:55:00+00:00",
                         "celsius": 9.0}
    ward = next(loc for loc in bags.locations(pharmacy) if loc.name == WARD_FRIDGE)
    [excursion] = dashboard.excursions(pharmacy, ward.id, clock.now - timedelta(hours=1), clock.now)
    assert excursion.celsius == 9.0 and excursion.quarantined == [moved.serial]


@pytest.mark.parametrize("identifier", ["8018123", "P-8018", "48018"])
def test_a_patient_identifier_with_the_digits_8018_is_read_as_an_identifier(pharmacy, identifier):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], who=factories.patient(identifier))
    assert administration.bedside_check(pharmacy, "nurse", bag.serial, identifier).ok


def test_a_gsrn_wristband_without_its_symbology_identifier_is_read_as_gs1(pharmacy):
    gsrn = "123456789012345675"
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], who=factories.patient(gsrn=gsrn))
    assert administration.bedside_check(pharmacy, "nurse", bag.serial, "8018" + gsrn).ok


def test_a_refusal_at_start_from_a_full_label_scan_is_kept_for_the_safety_review(pharmacy, clock):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    scan = factories.label_scan(pharmacy, bag.serial)
    assert len(scan) > 40
    with pytest.raises(AdministrationRefused):
        administration.start(pharmacy, "nurse", scan, "P-404")
    with pharmacy.uow(readonly=True) as uow:
        refusal = uow.session.execute(select(Refusal)).scalar_one()
    assert refusal.code == "administration_refused" and refusal.object_id == scan[:40]


def test_a_second_location_of_the_same_name_is_refused(pharmacy):
    with pytest.raises(StateConflict, match="exists already"):
        bags.add_location(pharmacy, "admin", f"  {factories.FRIDGE} ", 2.0, 8.0)
    assert [loc.name for loc in bags.locations(pharmacy)] == [factories.FRIDGE]


def test_infusions_list_running_first_and_the_end_of_observation(pharmacy, clock):
    first = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    second = factories.bedside_bag(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Bruno Other"))
    factories.start_infusion(pharmacy, first.serial, "P-1")
    factories.start_infusion(pharmacy, second.serial, "P-2")
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", first.serial)
    found = dashboard.infusions(pharmacy, clock.now - timedelta(hours=24))
    assert [(i.serial, i.ended_at is None) for i in found] == [(second.serial, True), (first.serial, False)]
    assert found[1].observe_until == clock.now + timedelta(hours=2) and found[0].observe_until is None
