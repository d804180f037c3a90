"""The bedside against a controlled clock: the use-by boundary to the second, 8 real hours across a
daylight-saving change, and the "must end before use-by" policy (SmPC 6.3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.services import bags
from tests import factories
from tests.web.test_ward_screens import bedside, plain

BRUSSELS = ZoneInfo("Europe/Brussels")
GIVE = "Give this bag to Anna Example"
REFUSED = "Do not give this bag"


@pytest.mark.hazard("H4")
@pytest.mark.parametrize(("before_use_by", "verdict"), [(timedelta(seconds=1), GIVE), (timedelta(0), REFUSED)])
def test_a_bag_passes_one_second_before_use_by_and_is_refused_at_use_by(signed_in, start_policy, clock, before_use_by,
                                                                        verdict):
    pharmacy = start_policy  # policy "start": the use-by itself is the boundary (the default "end" is START BY)
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)  # kept in the fridge until hung (H6)
    clock.set(bag.use_by - before_use_by)
    page = plain(bedside(signed_in("nurse"), factories.label_scan(pharmacy, bag.serial), "P-1"))
    assert verdict in page
    if verdict == REFUSED:
        assert "EXPIRED: This bag expired at 20 Nov 2026 17:00 CET" in page


def test_a_dilution_just_before_the_clocks_go_back_expires_8_real_hours_later(signed_in, start_policy, clock):
    pharmacy = start_policy  # policy "start", so the bag may be started up to its use-by
    clock.set(datetime(2026, 10, 25, 0, 30, tzinfo=BRUSSELS))  # CEST; at 03:00 CEST the clocks go back to 02:00 CET
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    assert bag.use_by == datetime(2026, 10, 25, 7, 30, tzinfo=BRUSSELS)  # 9 hours on the wall clock
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)  # kept in the fridge until hung (H6)
    assert bag.use_by - datetime(2026, 10, 25, 0, 30, tzinfo=BRUSSELS).astimezone(bag.use_by.tzinfo) == timedelta(hours=8)

    clock.set(datetime(2026, 10, 25, 7, 29, 59, tzinfo=BRUSSELS))
    page = plain(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert GIVE in page and "25 Oct 2026 07:30 CET" in page and "0 min left" in page

    clock.set(datetime(2026, 10, 25, 6, 30, tzinfo=BRUSSELS))  # 8 wall-clock hours: still an hour to go
    assert "1 h 00 min left" in plain(bedside(signed_in("nurse"), bag.serial, "P-1"))

    clock.set(datetime(2026, 10, 25, 7, 30, tzinfo=BRUSSELS))
    page = plain(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert REFUSED in page and "This bag expired at 25 Oct 2026 07:30 CET" in page


@pytest.fixture
def start_policy(pharmacy):
    pharmacy.settings = replace(pharmacy.settings, administration_policy="start")
    return pharmacy


@pytest.fixture
def end_policy(pharmacy):
    pharmacy.settings = replace(pharmacy.settings, administration_policy="end")
    return pharmacy


@pytest.mark.hazard("H4")
def test_policy_end_refuses_a_bag_whose_4_hour_infusion_would_finish_after_use_by(signed_in, end_policy, clock):
    bag = factories.bedside_bag(end_policy, end_policy.vial_serials[0])  # use-by 17:00
    bags.store(end_policy, "tech", bag.serial, factories.FRIDGE)  # kept in the fridge until hung (H6)
    clock.set(datetime(2026, 11, 20, 12, 59, tzinfo=BRUSSELS))
    assert GIVE in plain(bedside(signed_in("nurse"), bag.serial, "P-1"))
    clock.set(datetime(2026, 11, 20, 13, 1, tzinfo=BRUSSELS))
    page = plain(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert REFUSED in page
    assert "The infusion would not end before the bag's use-by time (20 Nov 2026 17:00 CET). Do not start it" in page


def test_policy_end_is_checked_again_at_start(signed_in, end_policy, clock):
    bag = factories.bedside_bag(end_policy, end_policy.vial_serials[0])
    bags.store(end_policy, "tech", bag.serial, factories.FRIDGE)  # kept in the fridge until hung (H6)
    clock.set(datetime(2026, 11, 20, 12, 59, 30, tzinfo=BRUSSELS))
    nurse = signed_in("nurse")
    assert GIVE in plain(bedside(nurse, bag.serial, "P-1"))
    clock.advance(seconds=31)
    refused = nurse.post("/ward/start", {"bag": bag.serial, "wristband": "P-1"})
    assert refused.status_code == 422 and "would not end before" in plain(refused)
