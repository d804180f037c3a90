"""START BY (``inuse.start_by``) and its enforcement (``check_administration_window``), and the use-by
moved out of the repeated hour of a daylight-saving change (``inuse.unambiguous_use_by``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy import config
from pharmacy.domain.errors import Expired
from pharmacy.domain.inuse import TooLateToStart, check_administration_window, start_by, unambiguous_use_by, use_by

BRUSSELS, NEW_YORK = ZoneInfo("Europe/Brussels"), ZoneInfo("America/New_York")
FOUR_HOURS = timedelta(hours=4)  # LEMTRADA infusion, SmPC 4.2
EIGHT_HOURS = timedelta(hours=8)  # in-use limit after dilution, SmPC 6.3
USE_BY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 18:00 CEST
MINUTE = timedelta(minutes=1)


@pytest.mark.hazard("H4")
def test_under_policy_end_start_by_is_the_use_by_less_the_infusion():
    assert start_by(USE_BY, FOUR_HOURS, "end") == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


@pytest.mark.hazard("H4")
def test_under_policy_end_start_by_is_floored_to_the_minute_so_it_is_never_later_than_the_rule():
    assert start_by(USE_BY, FOUR_HOURS + timedelta(seconds=30), "end") == datetime(2026, 6, 10, 11, 59, tzinfo=UTC)


@pytest.mark.hazard("H4")
def test_under_policy_start_start_by_is_the_use_by():
    assert start_by(USE_BY, FOUR_HOURS, "start") == USE_BY


@pytest.mark.hazard("H4")
@pytest.mark.parametrize("policy", ["start", "end"])
def test_a_start_one_minute_before_start_by_is_accepted_under_either_policy(policy):
    latest = start_by(USE_BY, FOUR_HOURS, policy)
    assert check_administration_window(latest - MINUTE, USE_BY, FOUR_HOURS, policy, BRUSSELS) is None


@pytest.mark.hazard("H4")
@pytest.mark.parametrize("policy", ["start", "end"])
def test_a_start_at_start_by_is_refused_under_either_policy(policy):
    latest = start_by(USE_BY, FOUR_HOURS, policy)
    with pytest.raises(Expired):
        check_administration_window(latest, USE_BY, FOUR_HOURS, policy, BRUSSELS)


@pytest.mark.hazard("H4")
def test_the_refusal_after_start_by_names_both_times():
    with pytest.raises(TooLateToStart) as caught:
        check_administration_window(USE_BY - FOUR_HOURS, USE_BY, FOUR_HOURS, "end", BRUSSELS)
    assert str(caught.value) == (
        "Its START BY time (10 Jun 2026 14:00 CEST) has passed. The infusion would not end before the bag's "
        "use-by time (10 Jun 2026 18:00 CEST). Do not start it; contact pharmacy."
    )
    assert caught.value.code == "expired"  # counted with the expired bags in the refusal report


def test_start_by_needs_a_known_policy_and_a_duration_that_is_not_negative():
    with pytest.raises(ValueError, match="unknown administration policy 'middle'"):
        start_by(USE_BY, FOUR_HOURS, "middle")
    with pytest.raises(ValueError, match="cannot be negative"):
        start_by(USE_BY, -FOUR_HOURS, "end")


@pytest.mark.hazard("H4")
def test_the_default_policy_is_end_and_the_environment_may_still_choose_start():
    assert config.load(environ={}).administration_policy == "end"
    assert config.load(environ={"PHARMACY_ADMINISTRATION_POLICY": "start"}).administration_policy == "start"
    with pytest.raises(config.ConfigError, match="PHARMACY_ADMINISTRATION_POLICY"):
        config.load(environ={"PHARMACY_ADMINISTRATION_POLICY": "middle"})


@pytest.mark.hazard("H4")
def test_the_start_by_warning_is_30_minutes_unless_set():
    assert config.load(environ={}).start_by_warning_minutes == 30
    assert config.load(environ={"PHARMACY_START_BY_WARNING_MINUTES": "45"}).start_by_warning_minutes == 45
    with pytest.raises(config.ConfigError, match="whole number of minutes"):
        config.load(environ={"PHARMACY_START_BY_WARNING_MINUTES": "soon"})


# --- the repeated hour (H5) ------------------------------------------------------------------------------
def readings(moment: datetime, zone: ZoneInfo) -> set[datetime]:
    """Every instant a reader of the local wall time (as AI 7003 prints it, no offset) may take it for."""
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}


FOLDS = [  # (zone, true limit (UTC), the use-by it becomes (UTC))
    pytest.param(BRUSSELS, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 24, 23, 59, tzinfo=UTC),
                 id="brussels-02:30-CEST-to-01:59-CEST"),
    pytest.param(BRUSSELS, datetime(2026, 10, 25, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                 id="brussels-02:30-CET-to-02:30-CEST"),
    pytest.param(BRUSSELS, datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 24, 23, 59, tzinfo=UTC),
                 id="brussels-first-minute-of-the-fold"),
    pytest.param(BRUSSELS, datetime(2026, 10, 25, 1, 59, tzinfo=UTC), datetime(2026, 10, 25, 0, 59, tzinfo=UTC),
                 id="brussels-last-minute-of-the-fold"),
    pytest.param(NEW_YORK, datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 4, 59, tzinfo=UTC),
                 id="new-york-01:30-EDT-to-00:59-EDT"),
    pytest.param(NEW_YORK, datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
                 id="new-york-01:30-EST-to-01:30-EDT"),
]


@pytest.mark.hazard("H5")
@pytest.mark.parametrize(("zone", "limit", "moved"), FOLDS)
def test_a_use_by_in_the_repeated_hour_moves_earlier_until_no_reading_is_later_than_the_limit(zone, limit, moved):
    assert unambiguous_use_by(limit, zone) == moved
    assert max(readings(moved, zone)) <= limit


@pytest.mark.hazard("H5")
@pytest.mark.parametrize(("zone", "limit", "moved"), FOLDS)
def test_use_by_applies_the_move_to_dilution_plus_8_hours(zone, limit, moved):
    assert use_by(limit - EIGHT_HOURS, EIGHT_HOURS, [], zone) == moved


@pytest.mark.hazard("H5")
@pytest.mark.parametrize("limit", [datetime(2026, 10, 24, 23, 59, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
                                   datetime(2026, 3, 29, 1, 30, tzinfo=UTC)],
                         ids=["01:59-CEST", "03:00-CET", "spring-forward-03:30-CEST"])
def test_a_use_by_outside_the_repeated_hour_is_unchanged(limit):
    assert unambiguous_use_by(limit, BRUSSELS) == limit
    assert readings(limit, BRUSSELS) == {limit}


@pytest.mark.hazard("H5")
def test_every_minute_around_the_autumn_change_gives_a_use_by_no_reading_of_which_is_late():
    start = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    for minute in range(0, 240):
        limit = start + timedelta(minutes=minute)
        moved = unambiguous_use_by(limit, BRUSSELS)
        assert moved <= limit and max(readings(moved, BRUSSELS)) <= limit
        assert limit - moved <= timedelta(hours=1)
