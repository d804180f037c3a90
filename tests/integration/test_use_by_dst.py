"""H5: a use-by in the hour repeated when the clocks go back. AI 7003 carries local YYMMDDhhmm with no
offset, so such a use-by could be read an hour later than meant; the use-by is moved earlier until no
reading of its wall time (first or second occurrence) is later than dilution + 8 real hours (SmPC 6.3).
Proved on the bag the services make and the label they print, decoded as a scanner reads it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain.gs1 import parse_scan
from pharmacy.services import bags
from tests import factories
from tests.unit.label_helpers import decode, pdf_text

EIGHT_HOURS = timedelta(hours=8)  # SmPC 6.3: in-use limit after dilution


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# (zone, dilution (UTC), the use-by the bag gets (UTC), the use-by printed)
CASES = [
    # Brussels, 25 Oct 2026: 03:00 CEST -> 02:00 CET, so 02:00-02:59 happens twice
    pytest.param("Europe/Brussels", utc(2026, 10, 24, 16, 30), utc(2026, 10, 24, 23, 59), "2026-10-25 01:59 CEST",
                 id="brussels-first-occurrence"),  # 8 h -> 02:30 CEST: moved before the repeated hour
    pytest.param("Europe/Brussels", utc(2026, 10, 24, 17, 30), utc(2026, 10, 25, 0, 30), "2026-10-25 02:30 CEST",
                 id="brussels-second-occurrence"),  # 8 h -> 02:30 CET: moved to 02:30 CEST, an hour earlier
    # New York, 1 Nov 2026: 02:00 EDT -> 01:00 EST, so 01:00-01:59 happens twice
    pytest.param("America/New_York", utc(2026, 10, 31, 21, 30), utc(2026, 11, 1, 4, 59), "2026-11-01 00:59 EDT",
                 id="new-york-first-occurrence"),  # 8 h -> 01:30 EDT: moved before the repeated hour
    pytest.param("America/New_York", utc(2026, 10, 31, 22, 30), utc(2026, 11, 1, 5, 30), "2026-11-01 01:30 EDT",
                 id="new-york-second-occurrence"),  # 8 h -> 01:30 EST: moved to 01:30 EDT
]


@pytest.mark.hazard("H5")
@pytest.mark.parametrize(("zone_name", "diluted", "expected", "printed"), CASES)
def test_a_use_by_in_the_repeated_hour_cannot_be_read_later_than_8_hours_after_dilution(
    pharmacy, clock, zone_name, diluted, expected, printed
):
    pharmacy.settings = replace(pharmacy.settings, timezone=zone_name)
    zone = ZoneInfo(zone_name)
    clock.set(diluted)
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    limit = diluted + EIGHT_HOURS
    assert bag.use_by == expected and bag.use_by <= limit

    pdf = bags.print_labels(pharmacy, "tech", [bag.serial]).pdf
    assert f"USE BY {printed}" in pdf_text(pdf)
    wall = parse_scan("]d2" + decode(pdf)["]d2"].bytes.decode("ascii")).use_by_local
    assert wall is not None and wall.tzinfo is None  # (7003) has no offset: a reader must guess the occurrence
    readings = {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}
    assert max(readings) <= limit
    assert bag.use_by in readings  # what the barcode says is what the bedside enforces, read as the first


@pytest.mark.hazard("H5")
def test_a_use_by_outside_the_repeated_hour_keeps_its_8_real_hours(pharmacy, clock):
    clock.set(utc(2026, 10, 24, 22, 30))  # 00:30 CEST; 8 real hours later is 07:30 CET
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    assert bag.use_by == utc(2026, 10, 25, 6, 30)
    assert "USE BY 2026-10-25 07:30 CET" in pdf_text(bags.print_labels(pharmacy, "tech", [bag.serial]).pdf)
