"""Use-by (SmPC 6.3: at most 8 h after dilution), ingredient expiry and the administration window (SPEC 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain.errors import Expired
from pharmacy.domain.inuse import (
    check_administration_window,
    check_ingredient_in_date,
    expiry_end,
    floor_to_minute,
    format_local,
    is_expired,
    to_local,
    use_by,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
NEW_YORK = ZoneInfo("America/New_York")
EIGHT_HOURS = timedelta(hours=8)  # SmPC 6.3
FOUR_HOURS = timedelta(hours=4)  # SmPC 4.2
FAR = date(2030, 12, 31)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- dilution + 8 hours -----------------------------------------------------------------------------------
def test_use_by_is_dilution_plus_8_hours_smpc_6_3():
    assert use_by(utc(2026, 6, 10, 8, 0), EIGHT_HOURS, [FAR, FAR], BRUSSELS) == utc(2026, 6, 10, 16, 0)


def test_use_by_is_an_aware_utc_datetime_whatever_zone_the_dilution_time_is_in():
    result = use_by(datetime(2026, 6, 10, 10, 0, tzinfo=BRUSSELS), EIGHT_HOURS, [], BRUSSELS)
    assert result == utc(2026, 6, 10, 16, 0)
    assert result.tzinfo is UTC


def test_use_by_is_floored_to_the_minute_so_screen_print_and_ai_7003_agree():
    assert use_by(utc(2026, 6, 10, 8, 17, 45, 123456), EIGHT_HOURS, [], BRUSSELS) == utc(2026, 6, 10, 16, 17)
    assert floor_to_minute(utc(2026, 6, 10, 8, 17, 59, 999999)) == utc(2026, 6, 10, 8, 17)


@pytest.mark.parametrize(
    "zone, diluted_local, use_by_local, abbreviation",
    [
        # Brussels, DST ends 25 Oct 2026 03:00 CEST → 02:00 CET: 8 real hours are 7 on the wall clock.
        (BRUSSELS, datetime(2026, 10, 24, 22, 0), datetime(2026, 10, 25, 5, 0), "CET"),
        # Brussels, DST starts 29 Mar 2026 02:00 CET → 03:00 CEST: 8 real hours are 9 on the wall clock.
        (BRUSSELS, datetime(2026, 3, 28, 22, 0), datetime(2026, 3, 29, 7, 0), "CEST"),
        # New York, DST ends 1 Nov 2026 02:00 EDT → 01:00 EST.
        (NEW_YORK, datetime(2026, 10, 31, 22, 0), datetime(2026, 11, 1, 5, 0), "EST"),
        # New York, DST starts 8 Mar 2026 02:00 EST → 03:00 EDT.
        (NEW_YORK, datetime(2026, 3, 7, 22, 0), datetime(2026, 3, 8, 7, 0), "EDT"),
    ],
)
def test_use_by_is_8_real_hours_across_a_daylight_saving_change_smpc_6_3(zone, diluted_local, use_by_local,
                                                                         abbreviation):
    diluted = diluted_local.replace(tzinfo=zone).astimezone(UTC)
    result = use_by(diluted, EIGHT_HOURS, [FAR], zone)
    assert result - diluted == EIGHT_HOURS
    assert to_local(result, zone).replace(tzinfo=None) == use_by_local
    assert format_local(result, zone) == f"{use_by_local:%d %b %Y %H:%M} {abbreviation}"


@pytest.mark.parametrize("fold, use_by_local", [(0, "25 Oct 2026 09:30 CET"), (1, "25 Oct 2026 10:30 CET")])
def test_a_dilution_in_the_repeated_hour_at_dst_end_still_gets_8_real_hours_smpc_6_3(fold, use_by_local):
    diluted = datetime(2026, 10, 25, 2, 30, fold=fold, tzinfo=BRUSSELS)  # 02:30 happens twice that night
    result = use_by(diluted, EIGHT_HOURS, [FAR], BRUSSELS)
    assert result - diluted == EIGHT_HOURS
    assert format_local(result, BRUSSELS) == use_by_local


# --- ingredient expiry (SPEC 3: usable through the end of the GS1 date, 23:59 local) ----------------------
def test_a_gs1_expiry_date_ends_at_23_59_local_time():
    assert expiry_end(date(2028, 6, 30), BRUSSELS) == utc(2028, 6, 30, 21, 59)  # CEST, UTC+2
    assert expiry_end(date(2028, 1, 31), BRUSSELS) == utc(2028, 1, 31, 22, 59)  # CET, UTC+1
    assert expiry_end(date(2026, 11, 1), NEW_YORK) == utc(2026, 11, 2, 4, 59)  # EST on the day DST ends


def test_use_by_is_the_earliest_of_dilution_plus_8_hours_and_every_ingredient_expiry_smpc_6_3():
    diluted = utc(2026, 6, 30, 16, 0)  # 18:00 CEST; + 8 h would be 02:00 CEST on 1 July
    vial_expiry, diluent_expiry = date(2026, 6, 30), date(2027, 1, 31)
    result = use_by(diluted, EIGHT_HOURS, [diluent_expiry, vial_expiry], BRUSSELS)
    assert result == expiry_end(vial_expiry, BRUSSELS)
    assert format_local(result, BRUSSELS) == "30 Jun 2026 23:59 CEST"


def test_ingredients_expiring_later_leave_the_8_hour_limit_in_force_smpc_6_3():
    assert use_by(utc(2026, 6, 30, 8, 0), EIGHT_HOURS, [date(2026, 6, 30)], BRUSSELS) == utc(2026, 6, 30, 16, 0)


def test_an_ingredient_is_usable_up_to_the_end_of_its_expiry_date():
    end = expiry_end(date(2026, 6, 30), BRUSSELS)
    assert check_ingredient_in_date(date(2026, 6, 30), end - timedelta(seconds=1), BRUSSELS, "LEMTRADA batch K123A") is None


def test_an_ingredient_is_expired_from_its_expiry_end_on_like_a_bag_at_its_use_by():
    end = expiry_end(date(2026, 6, 30), BRUSSELS)
    with pytest.raises(Expired):
        check_ingredient_in_date(date(2026, 6, 30), end, BRUSSELS, "LEMTRADA batch K123A")


def test_an_ingredient_past_its_expiry_date_is_refused_with_its_name_and_date():
    after = expiry_end(date(2026, 6, 30), BRUSSELS) + timedelta(minutes=1)
    with pytest.raises(Expired) as caught:
        check_ingredient_in_date(date(2026, 6, 30), after, BRUSSELS, "LEMTRADA batch K123A")
    assert str(caught.value) == "LEMTRADA batch K123A expired on 30 Jun 2026: it must not be used."
    assert caught.value.details["expiry"] == "2026-06-30"


# --- is the bag expired? ----------------------------------------------------------------------------------
def test_a_bag_is_not_expired_one_second_before_its_use_by():
    deadline = utc(2026, 6, 10, 16, 0)
    assert is_expired(deadline, deadline - timedelta(seconds=1)) is False


def test_a_bag_is_expired_at_its_use_by():
    deadline = utc(2026, 6, 10, 16, 0)
    assert is_expired(deadline, deadline) is True
    assert is_expired(deadline, deadline + timedelta(hours=1)) is True


def test_expiry_compares_instants_not_wall_clocks():
    deadline = utc(2026, 6, 10, 16, 0)
    assert is_expired(deadline, datetime(2026, 6, 10, 17, 59, tzinfo=BRUSSELS)) is False
    assert is_expired(deadline, datetime(2026, 6, 10, 18, 0, tzinfo=BRUSSELS)) is True


# --- administration window (SPEC 3: must start before use-by; configurable to "must end before") ---------
DEADLINE = utc(2026, 6, 10, 16, 0)


def test_policy_start_allows_starting_a_4_hour_infusion_one_minute_before_use_by():
    now = DEADLINE - timedelta(minutes=1)
    assert check_administration_window(now, DEADLINE, FOUR_HOURS, "start", BRUSSELS) is None


@pytest.mark.parametrize("policy", ["start", "end"])
def test_an_expired_bag_is_refused_under_either_policy(policy):
    with pytest.raises(Expired) as caught:
        check_administration_window(DEADLINE, DEADLINE, FOUR_HOURS, policy, BRUSSELS)
    assert str(caught.value) == (
        "This bag expired at 10 Jun 2026 18:00 CEST. Do not give it: return it to pharmacy for disposal."
    )


def test_policy_end_allows_a_4_hour_infusion_started_a_minute_before_start_by_smpc_4_2():
    # START BY = use-by − 4 h; from that minute on the start is refused (tests/unit/test_start_by.py)
    now = DEADLINE - FOUR_HOURS - timedelta(minutes=1)
    assert check_administration_window(now, DEADLINE, FOUR_HOURS, "end", BRUSSELS) is None


def test_policy_end_refuses_a_4_hour_infusion_that_would_end_after_use_by_smpc_4_2():
    now = DEADLINE - FOUR_HOURS + timedelta(minutes=1)
    with pytest.raises(Expired) as caught:
        check_administration_window(now, DEADLINE, FOUR_HOURS, "end", BRUSSELS)
    assert "would not end before the bag's use-by time (10 Jun 2026 18:00 CEST)" in str(caught.value)
    assert "Do not start it" in str(caught.value)


def test_policy_start_allows_what_policy_end_refuses():
    now = DEADLINE - timedelta(hours=1)
    assert check_administration_window(now, DEADLINE, FOUR_HOURS, "start", BRUSSELS) is None
    with pytest.raises(Expired):
        check_administration_window(now, DEADLINE, FOUR_HOURS, "end", BRUSSELS)


def test_an_unknown_policy_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown administration policy 'middle'"):
        check_administration_window(DEADLINE, DEADLINE, FOUR_HOURS, "middle", BRUSSELS)


# --- naive datetimes are refused ----------------------------------------------------------------------
NAIVE = datetime(2026, 6, 10, 8, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: use_by(NAIVE, EIGHT_HOURS, [], BRUSSELS),
        lambda: is_expired(NAIVE, DEADLINE),
        lambda: is_expired(DEADLINE, NAIVE),
        lambda: check_ingredient_in_date(FAR, NAIVE, BRUSSELS, "vial"),
        lambda: check_administration_window(NAIVE, DEADLINE, FOUR_HOURS, "start", BRUSSELS),
        lambda: format_local(NAIVE, BRUSSELS),
        lambda: to_local(NAIVE, BRUSSELS),
    ],
    ids=["use_by", "is_expired use-by", "is_expired now", "ingredient", "window", "format_local", "to_local"],
)
def test_a_naive_datetime_is_refused_because_its_zone_would_be_a_guess(call):
    with pytest.raises(ValueError, match="must be an aware datetime"):
        call()


# --- showing times ------------------------------------------------------------------------------------
def test_a_time_is_shown_in_the_pharmacy_zone_with_its_abbreviation():
    assert format_local(utc(2026, 1, 15, 12, 0), BRUSSELS) == "15 Jan 2026 13:00 CET"
    assert format_local(utc(2026, 7, 15, 12, 0), BRUSSELS) == "15 Jul 2026 14:00 CEST"
    assert format_local(utc(2026, 7, 15, 12, 0), NEW_YORK) == "15 Jul 2026 08:00 EDT"
    assert format_local(utc(2026, 7, 15, 12, 0), BRUSSELS, "%H:%M") == "14:00 CEST"
