"""Times in the in-use rules (SmPC 6.3) are instants: a time without a zone is refused, naming which time it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain.inuse import expiry_end, format_local, is_expired, start_by, to_local, unambiguous_use_by, use_by

BRUSSELS = ZoneInfo("Europe/Brussels")
AWARE = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
NAIVE = datetime(2026, 6, 10, 16, 0)


class NoOffset(tzinfo):
    """A zone that does not know its offset: Python treats such a datetime as naive."""

    def utcoffset(self, dt):
        return None

    def tzname(self, dt):
        return "?"

    def dst(self, dt):
        return None


@pytest.mark.parametrize(
    "call, what",
    [
        (lambda: use_by(NAIVE, timedelta(hours=8), [], BRUSSELS), "dilution time"),
        (lambda: is_expired(AWARE, NAIVE), "now"),
        (lambda: is_expired(NAIVE, AWARE), "use-by"),
        (lambda: to_local(NAIVE, BRUSSELS), "time"),
        (lambda: format_local(NAIVE, BRUSSELS), "time"),
        (lambda: start_by(NAIVE, timedelta(hours=4), "end"), "use-by"),
        (lambda: unambiguous_use_by(NAIVE, BRUSSELS), "use-by"),
    ],
    ids=["use_by", "is_expired now", "is_expired use-by", "to_local", "format_local", "start_by", "unambiguous_use_by"],
)
def test_a_naive_datetime_is_refused_naming_the_time_that_lacks_its_zone(call, what):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == f"{what} must be an aware datetime"


def test_a_datetime_whose_zone_has_no_offset_counts_as_naive():
    unknown = datetime(2026, 6, 10, 8, 0, tzinfo=NoOffset())
    with pytest.raises(ValueError, match="dilution time must be an aware datetime"):
        use_by(unknown, timedelta(hours=8), [], BRUSSELS)
    with pytest.raises(ValueError, match="time must be an aware datetime"):
        to_local(unknown, BRUSSELS)


def test_an_expiry_end_is_given_in_utc_like_every_instant_inside():
    end = expiry_end(date(2028, 6, 30), BRUSSELS)
    assert end.tzinfo is UTC
    assert (end.hour, end.minute) == (21, 59)  # 23:59 CEST


def test_use_by_is_given_in_utc_also_when_an_ingredient_expiry_decides_it():
    diluted = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    result = use_by(diluted, timedelta(hours=8), [date(2026, 6, 30)], BRUSSELS)
    assert result == datetime(2026, 6, 30, 21, 59, tzinfo=UTC)
    assert result.tzinfo is UTC


@pytest.mark.parametrize("policy", ["start", "end"])
def test_an_infusion_of_no_duration_may_start_until_the_use_by_but_a_negative_one_is_an_error(policy):
    assert start_by(AWARE, timedelta(0), policy) == AWARE
    with pytest.raises(ValueError, match="the infusion duration cannot be negative"):
        start_by(AWARE, -timedelta(minutes=1), policy)
