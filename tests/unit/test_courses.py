"""Course rules of LEMTRADA (SmPC 4.2), checked on a proposed dose against the patient's other doses."""

from __future__ import annotations

import dataclasses
import datetime
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pharmacy.domain.courses import (
    COURSE_DAY_OUT_OF_RANGE,
    COURSE_DAY_REPEATED,
    COURSE_DAYS_NOT_CONSECUTIVE,
    COURSE_OUT_OF_RANGE,
    COURSE_TOO_EARLY,
    DOSE_OUT_OF_ORDER,
    EARLIER_COURSE_DAYS_MISSING,
    PREVIOUS_COURSE_MISSING,
    SECOND_DOSE_SAME_DAY,
    CourseRules,
    CourseViolation,
    Dose,
    add_months,
    check_course,
)

pytestmark = pytest.mark.hazard("H8")

D = datetime.date
LEMTRADA = CourseRules(days_per_course=(5, 3, 3, 3), months_between_courses=12, max_doses_per_day=1)


def course(n: int, start: datetime.date, days: int | None = None) -> list[Dose]:
    """Course ``n`` given on consecutive days from ``start`` (all its days unless ``days`` says fewer)."""
    length = LEMTRADA.days_per_course[n - 1] if days is None else days
    return [Dose(start + datetime.timedelta(days=i), n, i + 1) for i in range(length)]


def codes(history, proposed, rules=LEMTRADA) -> list[str]:
    return [v.code for v in check_course(rules, history, proposed)]


COURSE_1 = course(1, D(2025, 1, 6))  # 6-10 January 2025
COURSE_2 = course(2, D(2026, 1, 6))
COURSE_3 = course(3, D(2027, 3, 1))
COURSE_4 = course(4, D(2028, 6, 1))
FULL = COURSE_1 + COURSE_2 + COURSE_3 + COURSE_4


# --- a valid treatment ------------------------------------------------------------------------------
def test_every_dose_of_a_complete_four_course_history_passes_smpc_4_2():
    for i, dose in enumerate(FULL):
        assert check_course(LEMTRADA, FULL[:i] + FULL[i + 1 :], dose) == [], dose


def test_each_dose_passes_when_ordered_one_after_the_other_smpc_4_2():
    for i, dose in enumerate(FULL):
        assert check_course(LEMTRADA, FULL[:i], dose) == [], dose


def test_the_first_dose_of_the_first_course_needs_no_history_smpc_4_2():
    assert check_course(LEMTRADA, [], Dose(D(2025, 1, 6), 1, 1)) == []


def test_the_history_may_come_in_any_order():
    shuffled = COURSE_1 + COURSE_2[:1]
    random.Random(4).shuffle(shuffled)
    assert check_course(LEMTRADA, shuffled, COURSE_2[1]) == []


# --- one dose per day (missed doses) ------------------------------------------------------------------
def test_second_dose_on_the_same_day_is_refused_smpc_4_2():
    violations = check_course(LEMTRADA, COURSE_1[:2], Dose(COURSE_1[1].on, 1, 3))
    assert violations[0].code == SECOND_DOSE_SAME_DAY
    assert "missed dose" in violations[0].message and "(SmPC 4.2)" in violations[0].message


def test_a_missed_dose_is_not_given_on_the_day_of_a_scheduled_dose_smpc_4_2():
    """Day 2 was missed; giving it on day 3's date next to day 3 breaks the one-dose-a-day rule."""
    history = [COURSE_1[0], COURSE_1[2]]
    assert SECOND_DOSE_SAME_DAY in codes(history, Dose(COURSE_1[2].on, 1, 2))


def test_the_daily_limit_comes_from_the_monograph_not_from_the_code():
    twice_a_day = dataclasses.replace(LEMTRADA, max_doses_per_day=2)
    one_other = [Dose(D(2025, 1, 6), 1, 1)]
    two_others = one_other + [Dose(D(2025, 1, 6), 2, 1)]
    assert SECOND_DOSE_SAME_DAY not in codes(one_other, Dose(D(2025, 1, 6), 3, 1), twice_a_day)
    assert SECOND_DOSE_SAME_DAY in codes(two_others, Dose(D(2025, 1, 6), 3, 1), twice_a_day)


# --- number of courses and course length ---------------------------------------------------------------
def test_a_fifth_course_is_refused_at_most_four_courses_smpc_4_2():
    assert codes(FULL, Dose(D(2029, 7, 1), 5, 1)) == [COURSE_OUT_OF_RANGE]


@pytest.mark.parametrize("n", [0, -1])
def test_a_course_number_below_one_is_refused_smpc_4_2(n):
    assert COURSE_OUT_OF_RANGE in codes([], Dose(D(2025, 1, 6), n, 1))


def test_day_6_of_course_1_is_refused_course_1_is_5_days_smpc_4_2():
    assert codes(COURSE_1, Dose(D(2025, 1, 11), 1, 6)) == [COURSE_DAY_OUT_OF_RANGE]


def test_day_4_of_course_2_is_refused_course_2_is_3_days_smpc_4_2():
    assert codes(COURSE_1 + COURSE_2, Dose(D(2026, 1, 9), 2, 4)) == [COURSE_DAY_OUT_OF_RANGE]


def test_day_0_of_a_course_is_refused_smpc_4_2():
    assert COURSE_DAY_OUT_OF_RANGE in codes([], Dose(D(2025, 1, 6), 1, 0))


# --- consecutive days within a course -----------------------------------------------------------------
def test_the_same_course_day_twice_is_refused_smpc_4_2():
    assert COURSE_DAY_REPEATED in codes(COURSE_1[:2], Dose(D(2025, 1, 8), 1, 2))


def test_ordering_day_3_without_days_1_and_2_is_refused_smpc_4_2():
    (violation,) = check_course(LEMTRADA, [], Dose(D(2025, 1, 8), 1, 3))
    assert violation.code == EARLIER_COURSE_DAYS_MISSING
    assert "days 1, 2 of that course" in violation.message


def test_ordering_day_3_without_day_2_is_refused_smpc_4_2():
    assert codes(COURSE_1[:1], Dose(D(2025, 1, 8), 1, 3)) == [EARLIER_COURSE_DAYS_MISSING]


def test_a_gap_of_a_day_within_a_course_is_refused_smpc_4_2():
    (violation,) = check_course(LEMTRADA, COURSE_1[:1], Dose(D(2025, 1, 8), 1, 2))
    assert violation.code == COURSE_DAYS_NOT_CONSECUTIVE
    assert "must be on 2025-01-07" in violation.message


def test_a_gap_within_a_later_course_is_refused_smpc_4_2():
    assert codes(COURSE_1 + COURSE_2[:2], Dose(D(2026, 1, 10), 2, 3)) == [COURSE_DAYS_NOT_CONSECUTIVE]


def test_a_course_day_dated_before_the_previous_day_is_refused_smpc_4_2():
    assert COURSE_DAYS_NOT_CONSECUTIVE in codes(COURSE_1[:1], Dose(D(2025, 1, 5), 1, 2))


def test_an_earlier_day_ordered_after_a_later_one_must_still_fit_the_calendar_smpc_4_2():
    """Day 2 is checked against day 3 already in the history, not only against day 1."""
    history = [COURSE_1[0], COURSE_1[2]]
    assert codes(history, COURSE_1[1]) == []
    assert codes([COURSE_1[2]], Dose(D(2025, 1, 9), 1, 2)) == [
        EARLIER_COURSE_DAYS_MISSING,
        COURSE_DAYS_NOT_CONSECUTIVE,
    ]


# --- spacing between courses --------------------------------------------------------------------------
def test_course_2_without_course_1_is_refused_smpc_4_2():
    assert codes([], Dose(D(2026, 1, 6), 2, 1)) == [PREVIOUS_COURSE_MISSING]


def test_course_3_without_course_2_is_refused_smpc_4_2():
    assert codes(COURSE_1, Dose(D(2027, 3, 1), 3, 1)) == [PREVIOUS_COURSE_MISSING]


def test_course_2_one_day_short_of_12_months_is_refused_smpc_4_2():
    (violation,) = check_course(LEMTRADA, COURSE_1, Dose(D(2026, 1, 5), 2, 1))
    assert violation.code == COURSE_TOO_EARLY
    assert "may not start before 2026-01-06" in violation.message and "(SmPC 4.2)" in violation.message


def test_course_2_exactly_12_months_after_day_1_of_course_1_is_accepted_smpc_4_2():
    """Counted day 1 to day 1 ("12 months after the first treatment course"), not from its last day."""
    assert check_course(LEMTRADA, COURSE_1, Dose(D(2026, 1, 6), 2, 1)) == []


def test_course_3_one_day_short_of_12_months_after_course_2_is_refused_smpc_4_2():
    assert codes(COURSE_1 + COURSE_2, Dose(D(2027, 1, 5), 3, 1)) == [COURSE_TOO_EARLY]


def test_course_3_on_the_day_12_months_after_course_2_is_accepted_smpc_4_2():
    assert codes(COURSE_1 + COURSE_2, Dose(D(2027, 1, 6), 3, 1)) == []


def test_a_course_years_later_is_accepted_there_is_no_maximum_gap_smpc_4_2():
    assert codes(COURSE_1 + COURSE_2, Dose(D(2035, 6, 30), 3, 1)) == []


def test_a_later_day_of_a_course_that_started_too_early_is_refused_too_smpc_4_2():
    early_day_1 = Dose(D(2025, 12, 1), 2, 1)
    assert codes(COURSE_1 + [early_day_1], Dose(D(2025, 12, 2), 2, 2)) == [COURSE_TOO_EARLY]


def test_the_prior_course_start_is_counted_back_when_its_day_1_is_not_recorded_smpc_4_2():
    """Only days 2-5 of course 1 are on record: course 1 still started on 6 January 2025."""
    assert codes(COURSE_1[1:], Dose(D(2026, 1, 5), 2, 1)) == [COURSE_TOO_EARLY]
    assert codes(COURSE_1[1:], Dose(D(2026, 1, 6), 2, 1)) == []


# --- 29 February and calendar months --------------------------------------------------------------------
def test_course_1_started_on_29_february_allows_course_2_from_28_february_smpc_4_2():
    leap = course(1, D(2028, 2, 29))
    assert codes(leap, Dose(D(2029, 2, 27), 2, 1)) == [COURSE_TOO_EARLY]
    assert codes(leap, Dose(D(2029, 2, 28), 2, 1)) == []


def test_course_1_started_on_28_february_allows_course_2_from_28_february_of_a_leap_year_smpc_4_2():
    before_leap = course(1, D(2027, 2, 28))
    assert codes(before_leap, Dose(D(2028, 2, 27), 2, 1)) == [COURSE_TOO_EARLY]
    assert codes(before_leap, Dose(D(2028, 2, 28), 2, 1)) == []
    assert codes(before_leap, Dose(D(2028, 2, 29), 2, 1)) == []


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2028, 2, 29), 12, D(2029, 2, 28)),  # clamped to the end of February, not 1 March
        (D(2027, 2, 28), 12, D(2028, 2, 28)),
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2025, 1, 31), 1, D(2025, 2, 28)),
        (D(2025, 8, 31), 1, D(2025, 9, 30)),
        (D(2025, 12, 15), 1, D(2026, 1, 15)),
        (D(2025, 3, 31), -1, D(2025, 2, 28)),
        (D(2025, 5, 17), 0, D(2025, 5, 17)),
    ],
)
def test_calendar_months_keep_the_day_or_fall_on_the_last_day_of_a_short_month(start, months, expected):
    assert add_months(start, months) == expected


# --- order of courses -----------------------------------------------------------------------------------
def test_a_course_2_dose_dated_before_course_1_is_refused_smpc_4_2():
    assert codes(COURSE_1, Dose(D(2024, 6, 1), 2, 1)) == [COURSE_TOO_EARLY, DOSE_OUT_OF_ORDER]


def test_a_course_1_dose_dated_after_course_2_is_refused_smpc_4_2():
    history = COURSE_1[:4] + COURSE_2
    assert codes(history, Dose(D(2026, 2, 1), 1, 5)) == [COURSE_DAYS_NOT_CONSECUTIVE, DOSE_OUT_OF_ORDER]


def test_a_course_overlapping_the_prior_course_is_out_of_order_even_with_no_spacing_rule():
    no_spacing = dataclasses.replace(LEMTRADA, months_between_courses=0)
    assert codes(COURSE_1, Dose(D(2025, 1, 10), 2, 1), no_spacing) == [
        SECOND_DOSE_SAME_DAY,
        DOSE_OUT_OF_ORDER,
    ]
    assert codes(COURSE_1, Dose(D(2025, 1, 11), 2, 1), no_spacing) == []


# --- several at once -----------------------------------------------------------------------------------
def test_several_violations_are_all_reported_in_a_fixed_order_smpc_4_2():
    proposed = Dose(COURSE_1[0].on, 5, 3)  # course 5, day 3, no days 1-2, no course 4, on a dosing date
    violations = check_course(LEMTRADA, COURSE_1, proposed)
    assert [v.code for v in violations] == [
        COURSE_OUT_OF_RANGE,
        SECOND_DOSE_SAME_DAY,
        EARLIER_COURSE_DAYS_MISSING,
        PREVIOUS_COURSE_MISSING,
        DOSE_OUT_OF_ORDER,
    ]
    assert all(v.message.endswith("(SmPC 4.2).") for v in violations)
    assert check_course(LEMTRADA, list(reversed(COURSE_1)), proposed) == violations


def test_a_day_repeated_on_another_date_too_early_reports_each_rule():
    history = COURSE_1 + course(2, D(2026, 1, 6), days=2)
    assert codes(history, Dose(D(2025, 12, 1), 2, 2)) == [
        COURSE_DAY_REPEATED,
        COURSE_DAYS_NOT_CONSECUTIVE,
        COURSE_TOO_EARLY,
    ]


# --- the rules are data ---------------------------------------------------------------------------------
def test_course_rules_have_no_built_in_lemtrada_defaults():
    with pytest.raises(TypeError):
        CourseRules()  # type: ignore[call-arg]


def test_course_rules_from_a_monograph_list_become_an_immutable_tuple():
    rules = CourseRules(days_per_course=[5, 3], months_between_courses=12, max_doses_per_day=1)
    assert rules.days_per_course == (5, 3)
    hash(rules)


@pytest.mark.parametrize(
    "fields",
    [
        {"days_per_course": (), "months_between_courses": 12, "max_doses_per_day": 1},
        {"days_per_course": (5, 0), "months_between_courses": 12, "max_doses_per_day": 1},
        {"days_per_course": (5,), "months_between_courses": -1, "max_doses_per_day": 1},
        {"days_per_course": (5,), "months_between_courses": 12, "max_doses_per_day": 0},
    ],
)
def test_impossible_course_rules_are_refused(fields):
    with pytest.raises(ValueError):
        CourseRules(**fields)


def test_violations_are_plain_values():
    assert CourseViolation("x", "y") == CourseViolation("x", "y")


# --- properties -----------------------------------------------------------------------------------------
rules_strategy = st.one_of(
    st.just(LEMTRADA),
    st.builds(
        CourseRules,
        days_per_course=st.lists(st.integers(1, 7), min_size=1, max_size=5).map(tuple),
        months_between_courses=st.integers(0, 24),
        max_doses_per_day=st.integers(1, 3),
    ),
)


@st.composite
def valid_schedules(draw, rules=rules_strategy):
    """A rules set and the doses of a schedule that keeps them, possibly stopped part-way."""
    rules = draw(rules)
    start = draw(st.dates(D(1990, 1, 1), D(2100, 12, 31)))
    doses: list[Dose] = []
    for n, length in enumerate(rules.days_per_course, start=1):
        if n > 1:
            earliest = max(
                add_months(start, rules.months_between_courses), doses[-1].on + datetime.timedelta(1)
            )
            start = earliest + datetime.timedelta(days=draw(st.integers(0, 800)))
        doses += [Dose(start + datetime.timedelta(days=i), n, i + 1) for i in range(length)]
    return rules, doses[: draw(st.integers(1, len(doses)))]


@given(valid_schedules(), st.randoms(use_true_random=False))
def test_any_dose_of_a_valid_schedule_passes_against_all_the_others_in_any_order(schedule, rnd):
    rules, doses = schedule
    for i, dose in enumerate(doses):
        others = doses[:i] + doses[i + 1 :]
        rnd.shuffle(others)
        assert check_course(rules, others, dose) == [], dose


@given(
    valid_schedules(rules_strategy.map(lambda r: dataclasses.replace(r, max_doses_per_day=1))),
    st.data(),
)
def test_a_second_dose_on_any_date_already_dosed_is_always_refused_smpc_4_2(schedule, data):
    rules, doses = schedule
    taken = data.draw(st.sampled_from(doses))
    proposed = Dose(taken.on, data.draw(st.integers(-1, 7)), data.draw(st.integers(-1, 9)))
    assert SECOND_DOSE_SAME_DAY in [v.code for v in check_course(rules, doses, proposed)]
