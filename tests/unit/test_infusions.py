"""When an infusion may start (SmPC 4.2 one a day, 4.4 observation of at least 2 h, the pharmacy's
least interval between starts), when an end is early, and the pre-medication confirmed before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain.infusions import (
    EarlierInfusion,
    EarlyEndNeedsReason,
    EndReasonInvalid,
    GivenPremedication,
    PremedicationRequired,
    PremedicationTimeInvalid,
    check_premedication,
    end_reason,
    is_early_end,
    start_refusals,
)
from pharmacy.domain.units import Q_

BRUSSELS = ZoneInfo("Europe/Brussels")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BRUSSELS)


def codes(earlier, now, monograph, zone=BRUSSELS) -> list[str]:
    return [r.code for r in start_refusals(earlier, now, zone, monograph)]


def test_the_monograph_gives_12_hours_between_starts_as_the_pharmacys_policy(lemtrada):
    assert lemtrada.min_interval == Q_(12, "h")




@pytest.mark.hazard("H8")
def test_the_first_infusion_of_a_patient_may_start_at_any_time(lemtrada):
    assert codes([], at(20, 3), lemtrada) == []


@pytest.mark.hazard("H8")
def test_day_2_at_0010_is_refused_while_day_1_from_2330_is_still_running(lemtrada):
    reasons = start_refusals([EarlierInfusion(at(19, 23, 30), None)], at(20, 0, 10), BRUSSELS, lemtrada)
    assert [r.code for r in reasons] == ["in_progress", "too_soon"]
    assert reasons[0].message.startswith("IN PROGRESS: an infusion of LEMTRADA started at 23:30 CET on 19 Nov")
    assert reasons[1].message.startswith("TOO SOON: earliest start 11:30 CET.")


@pytest.mark.hazard("H8")
@pytest.mark.parametrize(("after_end", "refused"), [(timedelta(hours=2) - timedelta(minutes=1), True),
                                                     (timedelta(hours=2), False)])
def test_the_observation_ends_exactly_2_hours_after_the_end_smpc_4_4(lemtrada, after_end, refused):
    cheap = replace(lemtrada, min_interval=Q_(1, "min"))  # only the observation is under test here
    ended = at(20, 13)
    reasons = start_refusals([EarlierInfusion(at(20, 9), ended)], ended + after_end, BRUSSELS,
                             replace(cheap, courses=replace(cheap.courses, max_doses_per_day=2)))
    assert [r.code for r in reasons] == (["observation"] if refused else [])
    if refused:
        assert reasons[0].message.startswith("OBSERVATION: until 15:00 CET.")


@pytest.mark.hazard("H8")
def test_a_second_dose_on_the_same_local_day_is_refused(lemtrada):
    cheap = replace(lemtrada, min_interval=Q_(1, "min"))
    reasons = start_refusals([EarlierInfusion(at(20, 0, 30), at(20, 4, 30))], at(20, 23, 50), BRUSSELS, cheap)
    assert [r.code for r in reasons] == ["same_day"]
    assert reasons[0].message == ("SAME DAY: a dose was already started today (00:30 CET); at most 1 infusion a day "
                                  "(SmPC 4.2).")


@pytest.mark.hazard("H8")
def test_the_local_day_changes_at_midnight_not_at_midnight_utc(lemtrada):
    cheap = replace(lemtrada, min_interval=Q_(1, "min"))
    earlier = [EarlierInfusion(at(19, 17), at(19, 21))]  # 16:00–20:00 UTC
    assert codes(earlier, at(19, 23, 59), cheap) == ["same_day"]  # 22:59 UTC, still the 19th in Brussels
    assert codes(earlier, at(20, 0, 0), cheap) == []  # 23:00 UTC on the 19th, but the 20th in Brussels


@pytest.mark.hazard("H8")
def test_the_same_local_day_across_the_clock_change_in_october(lemtrada):
    cheap = replace(lemtrada, min_interval=Q_(1, "min"), observation=Q_(1, "min"))
    # 25 Oct 2026 has 25 hours in Brussels: 00:30 CEST and 23:45 CET are 24 h 15 min apart, one local day
    first = datetime(2026, 10, 25, 0, 30, tzinfo=BRUSSELS)
    last = datetime(2026, 10, 25, 23, 45, tzinfo=BRUSSELS)
    assert last.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=24, minutes=15)
    earlier = [EarlierInfusion(first, first + timedelta(hours=4))]
    assert codes(earlier, last, cheap) == ["same_day"]
    assert codes(earlier, datetime(2026, 10, 26, 0, 0, tzinfo=BRUSSELS), cheap) == []


@pytest.mark.hazard("H8")
@pytest.mark.parametrize(("after_start", "refused"), [(timedelta(hours=12) - timedelta(minutes=1), True),
                                                       (timedelta(hours=12), False)])
def test_the_least_interval_between_two_starts_is_the_monographs(lemtrada, after_start, refused):
    started = at(19, 18)
    reasons = start_refusals([EarlierInfusion(started, at(19, 22))], started + after_start, BRUSSELS, lemtrada)
    assert [r.code for r in reasons] == (["too_soon"] if refused else [])
    if refused:
        assert "earliest start 06:00 CET" in reasons[0].message and "at least 12 h between the starts" in reasons[0].message


@pytest.mark.hazard("H8")
def test_the_least_interval_is_counted_in_real_hours_across_the_clock_change(lemtrada):
    started = datetime(2026, 10, 24, 20, 0, tzinfo=BRUSSELS)  # CEST; 12 real hours later is 07:00 CET
    earlier = [EarlierInfusion(started, started + timedelta(hours=4))]
    assert codes(earlier, datetime(2026, 10, 25, 7, 0, tzinfo=BRUSSELS), lemtrada) == []
    assert codes(earlier, datetime(2026, 10, 25, 6, 59, tzinfo=BRUSSELS), lemtrada) == ["too_soon"]


@pytest.mark.hazard("H8")
def test_an_end_before_90_percent_of_4_hours_is_early(lemtrada):
    assert is_early_end(timedelta(0), lemtrada)
    assert is_early_end(timedelta(hours=3, minutes=35, seconds=59), lemtrada)
    assert not is_early_end(timedelta(hours=3, minutes=36), lemtrada)


@pytest.mark.hazard("H8")
def test_an_early_end_without_a_reason_is_refused_and_a_normal_one_needs_none(lemtrada):
    with pytest.raises(EarlyEndNeedsReason) as refused:
        end_reason(timedelta(0), lemtrada, None, None)
    assert refused.value.code == "early_end_reason_required"
    assert "ran for 0 min of the planned 4 h" in refused.value.message
    assert end_reason(timedelta(hours=4), lemtrada, "", "") is None


@pytest.mark.hazard("H8")
def test_the_reason_of_an_early_end_comes_from_the_list_and_other_says_what(lemtrada):
    assert end_reason(timedelta(minutes=50), lemtrada, "bag_leaked", "") == ("bag_leaked", "bag leaked")
    assert end_reason(timedelta(minutes=50), lemtrada, "other", "  patient  left ") == ("other", "other: patient left")
    with pytest.raises(EndReasonInvalid):
        end_reason(timedelta(minutes=50), lemtrada, "other", " ")
    with pytest.raises(EndReasonInvalid):
        end_reason(timedelta(minutes=50), lemtrada, "felt like it", None)


@pytest.mark.hazard("H17")
def test_days_1_to_3_require_the_corticosteroid_and_day_4_does_not_smpc_4_2(lemtrada):
    assert [p.what.split(" ")[0] for p in lemtrada.premedication_for_day(1)] == ["Corticosteroid", "Oral"]
    assert [p.what.split(" ")[0] for p in lemtrada.premedication_for_day(3)] == ["Corticosteroid"]
    assert lemtrada.premedication_for_day(4) == ()


@pytest.mark.hazard("H17")
def test_each_required_premedication_is_confirmed_with_a_plausible_time(lemtrada):
    required, now = lemtrada.premedication_for_day(2), at(20, 9)
    [steroid] = required
    with pytest.raises(PremedicationRequired) as missing:
        check_premedication(required, [], now, BRUSSELS)
    assert missing.value.code == "premedication_required" and "Corticosteroid" in missing.value.message
    with pytest.raises(PremedicationTimeInvalid, match="is in the future"):
        check_premedication(required, [GivenPremedication(steroid.what, now + timedelta(minutes=1))], now, BRUSSELS)
    with pytest.raises(PremedicationTimeInvalid, match="more than 24 h before"):
        check_premedication(required, [GivenPremedication(steroid.what, now - timedelta(hours=24, minutes=1))], now,
                            BRUSSELS)
    assert check_premedication(required, [GivenPremedication(steroid.what, now)], now, BRUSSELS)[0].given_at == now
    assert check_premedication(required, [GivenPremedication(steroid.what, now - timedelta(hours=24))], now, BRUSSELS)
