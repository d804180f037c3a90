"""The edges of the LEMTRADA course rules (SmPC 4.2), each one day or one course day either side.

SmPC 4.2: course 1 = 12 mg/day on 5 consecutive days, course 2 = 3 consecutive days 12 months after
course 1, courses 3 and 4 = 3 consecutive days at least 12 months after the prior course; a missed dose
is not given on the same day as a scheduled dose.
"""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from pharmacy.domain.courses import (
    COURSE_DAY_OUT_OF_RANGE,
    COURSE_DAYS_NOT_CONSECUTIVE,
    COURSE_OUT_OF_RANGE,
    COURSE_TOO_EARLY,
    DOSE_OUT_OF_ORDER,
    EARLIER_COURSE_DAYS_MISSING,
    PREVIOUS_COURSE_MISSING,
    SECOND_DOSE_SAME_DAY,
    CourseRules,
    Dose,
    check_course,
)

D = datetime.date
DAY = datetime.timedelta(days=1)
LEMTRADA = CourseRules(days_per_course=(5, 3, 3, 3), months_between_courses=12, max_doses_per_day=1)
# Without the spacing and the one-dose-a-day rule, so that only the rule under test can speak.
ORDER_ONLY = dataclasses.replace(LEMTRADA, months_between_courses=0, max_doses_per_day=2)


def course(n: int, start: datetime.date, days: int | None = None) -> list[Dose]:
    length = LEMTRADA.days_per_course[n - 1] if days is None else days
    return [Dose(start + i * DAY, n, i + 1) for i in range(length)]


def codes(history, proposed, rules=LEMTRADA) -> list[str]:
    return [v.code for v in check_course(rules, history, proposed)]


COURSE_1 = course(1, D(2025, 1, 6))  # 6-10 January 2025
COURSE_2 = course(2, D(2026, 1, 6))  # 6-8 January 2026, 12 months after day 1 of course 1


# --- an earlier day of the course never ordered (SmPC 4.2: consecutive days) --------------------------------
def test_the_last_day_of_course_1_is_refused_when_only_the_day_before_it_was_never_ordered_smpc_4_2():
    (violation,) = check_course(LEMTRADA, COURSE_1[:3], Dose(D(2025, 1, 10), 1, 5))
    assert violation.code == EARLIER_COURSE_DAYS_MISSING
    assert violation.message == "Day 5 of course 1 is ordered but day 4 of that course is not (SmPC 4.2)."


def test_the_last_day_of_course_1_passes_once_every_earlier_day_is_ordered_smpc_4_2():
    assert codes(COURSE_1[:4], COURSE_1[4]) == []


def test_day_2_is_refused_when_day_1_was_never_ordered_smpc_4_2():
    (violation,) = check_course(LEMTRADA, [], Dose(D(2025, 1, 7), 1, 2))
    assert violation.message == "Day 2 of course 1 is ordered but day 1 of that course is not (SmPC 4.2)."


def test_the_last_day_of_course_2_is_refused_when_its_day_2_was_never_ordered_smpc_4_2():
    (violation,) = check_course(LEMTRADA, COURSE_1 + COURSE_2[:1], Dose(D(2026, 1, 8), 2, 3))
    assert violation.message == "Day 3 of course 2 is ordered but day 2 of that course is not (SmPC 4.2)."


def test_a_day_past_the_end_of_a_course_is_out_of_range_and_no_day_after_the_last_is_called_missing_smpc_4_2():
    """Course 1 has 5 days: ordering day 7 names no missing day 6, which does not exist."""
    assert codes(COURSE_1, Dose(D(2025, 1, 12), 1, 7)) == [COURSE_DAY_OUT_OF_RANGE]
    assert codes(COURSE_1[:4], Dose(D(2025, 1, 12), 1, 7)) == [COURSE_DAY_OUT_OF_RANGE, EARLIER_COURSE_DAYS_MISSING]
    (_, missing) = check_course(LEMTRADA, COURSE_1[:4], Dose(D(2025, 1, 12), 1, 7))
    assert "but day 5 of that course is not" in missing.message


def test_the_missing_days_of_a_course_that_does_not_exist_are_bounded_by_the_longest_course_smpc_4_2():
    violations = check_course(LEMTRADA, [], Dose(D(2025, 1, 6), 5, 9))
    assert [v.code for v in violations] == [COURSE_OUT_OF_RANGE, EARLIER_COURSE_DAYS_MISSING, PREVIOUS_COURSE_MISSING]
    assert "but days 1, 2, 3, 4, 5 of that course are not" in violations[1].message


def test_the_days_of_a_course_are_checked_against_the_day_before_and_the_day_after_smpc_4_2():
    """Day 3 of course 1 between days 2 and 4 must fall on exactly the date between them."""
    history = [d for d in COURSE_1 if d.day != 3]
    assert codes(history, COURSE_1[2]) == []
    assert codes(history, Dose(COURSE_1[2].on + DAY, 1, 3)) == [SECOND_DOSE_SAME_DAY, COURSE_DAYS_NOT_CONSECUTIVE]
    assert codes(history, Dose(COURSE_1[2].on - DAY, 1, 3)) == [SECOND_DOSE_SAME_DAY, COURSE_DAYS_NOT_CONSECUTIVE]


# --- a dose on the first day of a later course (order of courses) ----------------------------------------
def test_a_course_1_dose_on_the_day_of_the_first_course_2_dose_is_out_of_order_smpc_4_2():
    assert codes(COURSE_2[:1], Dose(COURSE_2[0].on, 1, 1), ORDER_ONLY) == [DOSE_OUT_OF_ORDER]


def test_a_course_1_dose_the_day_before_the_first_course_2_dose_is_in_order_smpc_4_2():
    assert codes(COURSE_2[:1], Dose(COURSE_2[0].on - DAY, 1, 1), ORDER_ONLY) == []


def test_a_course_2_dose_on_the_day_of_the_last_course_1_dose_is_out_of_order_smpc_4_2():
    assert codes(COURSE_1, Dose(COURSE_1[-1].on, 2, 1), ORDER_ONLY) == [DOSE_OUT_OF_ORDER]
    assert codes(COURSE_1, Dose(COURSE_1[-1].on + DAY, 2, 1), ORDER_ONLY) == []


# --- the months between courses (counted day 1 to day 1) ------------------------------------------------
def test_course_2_on_the_first_permitted_day_passes_and_one_day_earlier_is_too_early_smpc_4_2():
    assert codes(COURSE_1, Dose(D(2026, 1, 6), 2, 1)) == []
    assert codes(COURSE_1, Dose(D(2026, 1, 5), 2, 1)) == [COURSE_TOO_EARLY]


def test_a_later_day_of_a_course_counts_from_that_course_s_day_1_smpc_4_2():
    """Day 2 of course 2 on 7 January 2026 means course 2 started on 6 January: not too early."""
    assert codes(COURSE_1, Dose(D(2026, 1, 7), 2, 2)) == [EARLIER_COURSE_DAYS_MISSING]
    assert codes(COURSE_1, Dose(D(2026, 1, 6), 2, 2)) == [EARLIER_COURSE_DAYS_MISSING, COURSE_TOO_EARLY]


def test_the_too_early_message_names_both_start_dates_and_the_spacing_smpc_4_2():
    (violation,) = check_course(LEMTRADA, COURSE_1, Dose(D(2026, 1, 5), 2, 1))
    assert violation.message == (
        "Course 2 would start on 2026-01-05 but may not start before 2026-01-06, "
        "12 months after day 1 of course 1 (2025-01-06) (SmPC 4.2)."
    )


def test_course_3_is_counted_from_course_2_not_from_course_1_smpc_4_2():
    late_course_2 = course(2, D(2026, 6, 1))
    assert codes(COURSE_1 + late_course_2, Dose(D(2027, 5, 31), 3, 1)) == [COURSE_TOO_EARLY]
    assert codes(COURSE_1 + late_course_2, Dose(D(2027, 6, 1), 3, 1)) == []


@pytest.mark.parametrize("months, first_allowed", [(0, D(2025, 1, 11)), (1, D(2025, 2, 6)), (24, D(2027, 1, 6))])
def test_the_spacing_comes_from_the_monograph(months, first_allowed):
    rules = dataclasses.replace(LEMTRADA, months_between_courses=months)
    assert codes(COURSE_1, Dose(first_allowed, 2, 1), rules) == []
    assert codes(COURSE_1, Dose(first_allowed - DAY, 2, 1), rules) != []


# --- one dose a day --------------------------------------------------------------------------------------
def test_the_message_counts_the_doses_already_on_that_day_smpc_4_2():
    twice = dataclasses.replace(LEMTRADA, max_doses_per_day=2)
    two = [Dose(D(2025, 1, 6), 1, 1), Dose(D(2025, 1, 6), 2, 1)]
    (violation, *_) = check_course(twice, two, Dose(D(2025, 1, 6), 3, 1))
    assert violation.message.startswith("The patient already has 2 doses on 2025-01-06: at most 2 per day")
    (violation, *_) = check_course(LEMTRADA, two[:1], Dose(D(2025, 1, 6), 1, 2))
    assert violation.message.startswith("The patient already has 1 dose on 2025-01-06: at most 1 per day")
