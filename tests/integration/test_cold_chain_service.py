"""Cold chain (SmPC 6.3: 2–8 °C): readings by form, CSV and monitoring systems; excursions quarantine."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain.coldchain import ReadingError, reading
from pharmacy.domain.errors import AdministrationRefused
from pharmacy.services import administration, bags, coldchain
from tests import factories

BRUSSELS = ZoneInfo("Europe/Brussels")


def _stored_bag(pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    return bag


@pytest.mark.hazard("H6")
def test_a_reading_of_8_5_degrees_quarantines_the_bag_stored_there_smpc_6_3(pharmacy, clock):
    bag = _stored_bag(pharmacy)
    clock.advance(minutes=10)
    result = coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now, 8.5))], "form")
    assert result.quarantined == [bag.serial]
    assert bags.get_bag(pharmacy, bag.serial).state == "quarantined"
    with pytest.raises(AdministrationRefused) as refused:
        administration.start(pharmacy, "nurse", bag.serial, "P-1")
    assert "QUARANTINED" in refused.value.message


def test_an_in_range_reading_changes_no_bag(pharmacy, clock):
    bag = _stored_bag(pharmacy)
    result = coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.advance(minutes=5), 7.9))], "form")
    assert result.imported == 1 and result.quarantined == []
    assert bags.get_bag(pharmacy, bag.serial).state == "stored"


def test_a_late_reading_from_before_the_bag_came_in_does_not_quarantine_it(pharmacy, clock):
    bag = _stored_bag(pharmacy)
    earlier = clock.now - timedelta(hours=1)
    assert coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, earlier, 12.0))], "csv").quarantined == []
    assert bags.get_bag(pharmacy, bag.serial).state == "stored"


def test_a_csv_of_10000_rows_with_3_bad_imports_the_9997_others_and_reports_the_3_by_line(pharmacy, clock):
    start = datetime(2026, 11, 1, tzinfo=BRUSSELS)
    lines = ["location,time,celsius"]
    for n in range(10_000):
        lines.append(f"{factories.FRIDGE},{(start + timedelta(minutes=n)).isoformat()},5.0")
    lines[101] = f"{factories.FRIDGE},2026-11-01T10:00:00,5.0"  # no UTC offset
    lines[5001] = f"{factories.FRIDGE},{start.isoformat()},warm"
    lines[9001] = f"Nowhere fridge,{start.isoformat()},5.0"
    result = coldchain.import_csv(pharmacy, "tech", "\n".join(lines) + "\n")
    assert result.imported == 9_997
    assert [line for line, _ in result.errors] == [102, 5002, 9002]
    assert "no UTC offset" in result.errors[0][1] and "not a temperature" in result.errors[1][1]
    assert "unknown location" in result.errors[2][1]
    again = coldchain.import_csv(pharmacy, "tech", "\n".join(lines) + "\n")
    assert again.imported == 0 and again.duplicates == 9_997


@pytest.mark.parametrize("at, celsius, words", [
    ("2026-11-20T09:00:00", "5", "no UTC offset"),
    ("yesterday", "5", "is not a time"),
    ("2026-11-20T09:00:00+01:00", "nan", "not a plausible"),
    ("2026-11-20T09:00:00+01:00", "500", "not a plausible"),
])
def test_a_bad_reading_is_refused_with_a_reason(at, celsius, words):
    with pytest.raises(ReadingError) as refused:
        reading("Fridge", at, celsius)
    assert words in refused.value.message


def test_a_gap_longer_than_the_interval_is_flagged(pharmacy, clock):
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now - timedelta(hours=3), 5.0)),
                                        (2, reading(factories.FRIDGE, clock.now - timedelta(minutes=5), 5.0))], "form")
    found = coldchain.location_gaps(pharmacy, timedelta(minutes=30))[factories.FRIDGE]
    assert [end - start for start, end in found] == [timedelta(hours=21), timedelta(hours=2, minutes=55)]
