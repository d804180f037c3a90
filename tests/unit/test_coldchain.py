"""The cold chain (SmPC 6.3 in use, 6.4 vials): plausible readings, excursions at the band edges, gaps."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from pharmacy.domain.coldchain import Reading, ReadingError, gaps, is_excursion, reading

LOW, HIGH = 2.0, 8.0  # SmPC 6.4 (vials) and 6.3 (diluted bags): 2–8 °C
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=30)
SECOND = timedelta(seconds=1)


# --- excursions: the band's edges are inside it -------------------------------------------------------
@pytest.mark.parametrize("celsius", [LOW, 5.0, HIGH])
def test_a_reading_from_2_to_8_degrees_inclusive_is_no_excursion_smpc_6_4(celsius):
    assert is_excursion(celsius, LOW, HIGH) is False


@pytest.mark.parametrize("celsius", [1.9, math.nextafter(LOW, -math.inf), 8.1, math.nextafter(HIGH, math.inf), -20.0, 25.0])
def test_a_reading_just_outside_2_to_8_degrees_is_an_excursion_smpc_6_4(celsius):
    assert is_excursion(celsius, LOW, HIGH) is True


def test_the_band_comes_from_the_caller_not_from_the_code():
    assert is_excursion(-18.0, -25.0, -15.0) is False
    assert is_excursion(5.0, -25.0, -15.0) is True


# --- gaps in the record --------------------------------------------------------------------------------
def test_readings_exactly_one_interval_apart_leave_no_gap():
    assert gaps([T0, T0 + INTERVAL, T0 + 2 * INTERVAL], INTERVAL) == []


def test_one_second_more_than_the_interval_is_a_gap_from_reading_to_reading():
    late = T0 + INTERVAL + SECOND
    assert gaps([T0, late], INTERVAL) == [(T0, late)]


def test_every_gap_is_listed_in_time_order():
    times = [T0, T0 + 2 * INTERVAL, T0 + 2 * INTERVAL + timedelta(minutes=10), T0 + 4 * INTERVAL]
    assert gaps(times, INTERVAL) == [(times[0], times[1]), (times[2], times[3])]


def test_readings_in_any_order_give_the_same_gaps():
    times = [T0 + 3 * INTERVAL, T0, T0 + INTERVAL]
    assert gaps(times, INTERVAL) == [(T0 + INTERVAL, T0 + 3 * INTERVAL)]
    assert gaps(iter(times), INTERVAL) == gaps(sorted(times), INTERVAL)


def test_the_silence_after_the_last_reading_is_a_gap_up_to_until():
    now = T0 + INTERVAL + SECOND
    assert gaps([T0], INTERVAL, until=now) == [(T0, now)]


def test_the_silence_after_the_last_reading_is_no_gap_while_it_is_at_most_the_interval():
    assert gaps([T0], INTERVAL, until=T0 + INTERVAL) == []


def test_the_trailing_gap_follows_the_gaps_between_readings():
    now = T0 + 5 * INTERVAL
    assert gaps([T0 + 2 * INTERVAL, T0], INTERVAL, until=now) == [(T0, T0 + 2 * INTERVAL), (T0 + 2 * INTERVAL, now)]


def test_without_until_only_the_gaps_between_readings_count():
    assert gaps([T0], INTERVAL) == []


def test_no_readings_and_no_start_give_no_gap_the_caller_adds_the_start_of_its_window():
    """services.coldchain.location_gaps passes the start of its window as the first time."""
    assert gaps([], INTERVAL, until=T0 + 10 * INTERVAL) == []
    assert gaps([T0], INTERVAL, until=T0 + 10 * INTERVAL) == [(T0, T0 + 10 * INTERVAL)]


# --- a reading is checked before it is stored ----------------------------------------------------------
def test_a_reading_from_a_form_is_trimmed_and_read():
    assert reading("  Fridge 1 ", "2026-11-20T09:00:00+01:00", " 4.5 ") == Reading(
        "Fridge 1", datetime(2026, 11, 20, 8, 0, tzinfo=UTC), 4.5
    )


@pytest.mark.parametrize("celsius, value", [(-90, -90.0), ("-90", -90.0), (90, 90.0), ("90.0", 90.0), ("0", 0.0)])
def test_minus_90_to_90_degrees_inclusive_are_plausible(celsius, value):
    assert reading("Freezer", T0, celsius).celsius == value


@pytest.mark.parametrize("celsius", [-90.1, "90.1", math.nextafter(90.0, math.inf), -1000, "NaN", "nan", math.nan, "inf",
                                     "-inf", math.inf, "1e3"])
def test_an_implausible_temperature_or_nan_or_infinity_is_refused(celsius):
    with pytest.raises(ReadingError, match="is not a plausible fridge reading") as caught:
        reading("Fridge 1", T0, celsius)
    assert caught.value.code == "reading_invalid"


@pytest.mark.parametrize("celsius", ["4,5", " 4,5 ", "4.5"])
def test_a_decimal_comma_is_read_as_a_decimal_point(celsius):
    assert reading("Fridge 1", T0, celsius).celsius == 4.5


@pytest.mark.parametrize("celsius", ["", "warm", "4,5,1", "4 °C"])
def test_a_temperature_that_is_not_a_number_is_refused(celsius):
    with pytest.raises(ReadingError, match="is not a temperature in °C"):
        reading("Fridge 1", T0, celsius)


@pytest.mark.parametrize("at", ["2026-11-20T09:00:00", "2026-11-20 09:00", datetime(2026, 11, 20, 9, 0)])
def test_a_time_without_utc_offset_is_refused_it_is_ambiguous_twice_a_year(at):
    with pytest.raises(ReadingError, match="has no UTC offset"):
        reading("Fridge 1", at, "4.5")


@pytest.mark.parametrize("at", ["2026-11-20T08:00:00Z", " 2026-11-20T08:00:00Z ", "2026-11-20T08:00:00+00:00",
                                "2026-11-20T09:00:00+01:00", datetime(2026, 11, 20, 3, 0, tzinfo=timezone(timedelta(hours=-5)))])
def test_a_z_suffix_or_any_offset_is_read_as_that_instant(at):
    assert reading("Fridge 1", at, "4.5").at == T0


def test_a_lower_case_z_is_not_an_offset():
    with pytest.raises(ReadingError, match="is not a time like"):
        reading("Fridge 1", "2026-11-20T08:00:00z", "4.5")


@pytest.mark.parametrize("at", ["", "yesterday", "20.11.2026 09:00"])
def test_a_time_that_is_not_iso_8601_is_refused(at):
    with pytest.raises(ReadingError, match="is not a time like 2026-11-20T09:00:00"):
        reading("Fridge 1", at, "4.5")


@pytest.mark.parametrize("location", ["", "   ", None])
def test_a_reading_without_a_location_is_refused(location):
    with pytest.raises(ReadingError, match="The location is missing"):
        reading(location, T0, "4.5")


class _NoOffset(tzinfo):
    """A zone that does not know its offset: Python treats such a time as naive."""

    def utcoffset(self, dt):
        return None


def test_a_time_whose_zone_has_no_offset_is_refused_like_a_time_without_one():
    with pytest.raises(ReadingError, match="has no UTC offset"):
        reading("Fridge 1", datetime(2026, 11, 20, 9, 0, tzinfo=_NoOffset()), "4.5")
