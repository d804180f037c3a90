"""Readings from the future, locations that fit a bag, and a bag's time out of the fridge (SmPC 6.3: 2–8 °C)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pharmacy.domain.coldchain import (
    FUTURE_TOLERANCE,
    Move,
    ReadingError,
    check_not_future,
    duration_text,
    range_fits,
    reading,
    time_out_of_fridge,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SECOND, MINUTE, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
RELEASED = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


# --- a reading cannot come from the future ---------------------------------------------------------------
def test_a_reading_up_to_five_minutes_ahead_of_the_clock_is_accepted():
    assert FUTURE_TOLERANCE == 5 * MINUTE
    assert check_not_future(NOW + 5 * MINUTE, NOW) is None
    assert reading("Fridge 1", NOW + 5 * MINUTE, "4.5", now=NOW).at == NOW + 5 * MINUTE


def test_a_reading_more_than_five_minutes_ahead_of_the_clock_is_refused_in_its_own_zone():
    brussels = timezone(timedelta(hours=1))
    at = (NOW + 5 * MINUTE + SECOND).astimezone(brussels)
    with pytest.raises(ReadingError) as caught:
        reading("Fridge 1", at, "4.5", now=NOW)
    assert str(caught.value) == (
        "The time 2026-11-20T09:05+01:00 is in the future (it is now 2026-11-20T09:00+01:00): a reading cannot be "
        "recorded more than 5 min ahead of the clock."
    )


def test_without_the_clock_a_reading_is_not_checked_for_the_future():
    assert reading("Fridge 1", NOW + 10 * HOUR, "4.5").at == NOW + 10 * HOUR


# --- a location fits a bag when its whole range lies inside the bag's --------------------------------------
@pytest.mark.parametrize("low, high, fits", [(2.0, 8.0, True), (3.0, 7.0, True), (1.9, 8.0, False), (2.0, 8.1, False),
                                             (-20.0, -15.0, False), (15.0, 25.0, False)])
def test_a_location_fits_a_bag_only_if_it_keeps_it_within_2_to_8_degrees_smpc_6_3(low, high, fits):
    assert range_fits(low, high, 2.0, 8.0) is fits


# --- time out of the fridge ---------------------------------------------------------------------------------
def test_a_bag_not_yet_released_has_been_out_for_no_time():
    assert time_out_of_fridge(None, [Move(RELEASED, False)], NOW) == timedelta(0)


def test_a_released_bag_is_out_until_it_is_put_into_a_fridge():
    assert time_out_of_fridge(RELEASED, [], NOW) == 2 * HOUR
    assert time_out_of_fridge(RELEASED, [Move(RELEASED + 10 * MINUTE, True)], NOW) == 10 * MINUTE


def test_every_stretch_out_of_the_fridge_adds_up():
    moves = [Move(RELEASED + 10 * MINUTE, True), Move(RELEASED + HOUR, False), Move(RELEASED + HOUR + 20 * MINUTE, True),
             Move(NOW - 15 * MINUTE, False)]
    assert time_out_of_fridge(RELEASED, moves, NOW) == 10 * MINUTE + 20 * MINUTE + 15 * MINUTE


def test_moves_are_taken_in_time_order_whatever_order_they_come_in():
    moves = [Move(RELEASED + HOUR, False), Move(RELEASED + 10 * MINUTE, True)]
    assert time_out_of_fridge(RELEASED, moves, NOW) == 10 * MINUTE + HOUR


def test_a_move_to_another_fridge_or_another_warm_place_changes_nothing():
    moves = [Move(RELEASED + 10 * MINUTE, True), Move(RELEASED + 20 * MINUTE, True), Move(RELEASED + HOUR, False),
             Move(RELEASED + 90 * MINUTE, False)]
    assert time_out_of_fridge(RELEASED, moves, NOW) == 10 * MINUTE + HOUR


def test_moves_after_until_are_not_counted():
    moves = [Move(RELEASED + 10 * MINUTE, True), Move(NOW + MINUTE, False)]
    assert time_out_of_fridge(RELEASED, moves, NOW) == 10 * MINUTE
    assert time_out_of_fridge(RELEASED, [Move(NOW + MINUTE, True)], NOW) == 2 * HOUR


def test_only_the_time_after_a_pharmacist_s_decision_counts():
    """Out from 06:00 to 06:10 and from 07:00; a pharmacist accepted the bag at 07:30."""
    moves = [Move(RELEASED + 10 * MINUTE, True), Move(RELEASED + HOUR, False)]
    since = RELEASED + 90 * MINUTE
    assert time_out_of_fridge(RELEASED, moves, NOW, since=since) == 30 * MINUTE
    assert time_out_of_fridge(RELEASED, [Move(RELEASED + HOUR, True)], NOW, since=since) == timedelta(0)


def test_a_decision_before_the_release_counts_from_the_release():
    assert time_out_of_fridge(RELEASED, [], NOW, since=RELEASED - HOUR) == 2 * HOUR


def test_time_out_of_the_fridge_is_said_in_hours_and_minutes():
    assert duration_text(7 * HOUR + 50 * MINUTE) == "7 h 50 min"
    assert duration_text(HOUR + 5 * MINUTE + 59 * SECOND) == "1 h 05 min"
    assert duration_text(12 * MINUTE) == "12 min"
    assert duration_text(timedelta(0)) == "0 min"
    assert duration_text(-5 * MINUTE) == "0 min"
