"""Each course-rule violation (SmPC 4.2) is read in full by the pharmacist who may override it."""

from __future__ import annotations

import datetime

import pytest

from pharmacy.domain.courses import CourseRules, Dose, check_course

D = datetime.date
LEMTRADA = CourseRules(days_per_course=(5, 3, 3, 3), months_between_courses=12, max_doses_per_day=1)
COURSE_1 = [Dose(D(2025, 1, 6) + datetime.timedelta(days=i), 1, i + 1) for i in range(5)]
COURSE_2 = [Dose(D(2026, 1, 6) + datetime.timedelta(days=i), 2, i + 1) for i in range(3)]


def messages(history, proposed) -> list[str]:
    return [v.message for v in check_course(LEMTRADA, history, proposed)]


def test_a_course_that_does_not_exist_smpc_4_2():
    assert messages(COURSE_1 + COURSE_2, Dose(D(2029, 1, 6), 5, 1))[0] == (
        "There is no course 5: the posology allows courses 1 to 4 (SmPC 4.2)."
    )


def test_a_course_day_that_does_not_exist_smpc_4_2():
    assert messages(COURSE_1 + COURSE_2, Dose(D(2026, 1, 9), 2, 4)) == [
        "Course 2 lasts 3 days; there is no day 4 (SmPC 4.2)."
    ]


def test_a_second_dose_on_one_day_smpc_4_2():
    assert messages(COURSE_1[:2], Dose(D(2025, 1, 7), 1, 3))[0] == (
        "The patient already has 1 dose on 2025-01-07: at most 1 per day, and a missed dose is never "
        "given on the same day as a scheduled dose (SmPC 4.2)."
    )


def test_a_course_day_ordered_twice_smpc_4_2():
    assert messages(COURSE_1[:2], Dose(D(2025, 1, 8), 1, 2))[0] == (
        "Day 2 of course 1 is already ordered or given (SmPC 4.2)."
    )


def test_several_missing_days_are_all_named_smpc_4_2():
    assert messages([], Dose(D(2025, 1, 9), 1, 4)) == [
        "Day 4 of course 1 is ordered but days 1, 2, 3 of that course are not (SmPC 4.2)."
    ]


def test_a_course_day_on_the_wrong_date_names_the_date_it_must_be_on_smpc_4_2():
    assert messages(COURSE_1[:2], Dose(D(2025, 1, 9), 1, 3)) == [
        "Day 3 of course 1 must be on 2025-01-08, since day 1 is on 2025-01-06: the days of a course are "
        "consecutive (SmPC 4.2)."
    ]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_course_without_the_one_before_it_names_that_course_smpc_4_2(n):
    assert messages([], Dose(D(2030, 1, 6), n, 1)) == [
        f"Course {n} is ordered but the patient has no course {n - 1} (SmPC 4.2)."
    ]


def test_a_course_too_early_names_the_course_it_is_counted_from_smpc_4_2():
    course_3 = [Dose(D(2027, 1, 6), 3, 1)]
    assert messages(COURSE_1 + COURSE_2 + course_3, Dose(D(2028, 1, 5), 4, 1)) == [
        "Course 4 would start on 2028-01-05 but may not start before 2028-01-06, 12 months after day 1 of "
        "course 3 (2027-01-06) (SmPC 4.2)."
    ]


def test_a_dose_out_of_the_order_of_courses_smpc_4_2():
    assert messages(COURSE_1[:4] + COURSE_2, Dose(D(2026, 1, 10), 1, 5))[-1] == (
        "A dose of course 1 on 2026-01-10 is out of order: it must come after every dose of an earlier "
        "course and before every dose of a later one (SmPC 4.2)."
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"days_per_course": (), "months_between_courses": 12, "max_doses_per_day": 1},
         "days_per_course needs at least one course, each of at least one day"),
        ({"days_per_course": (5, 0), "months_between_courses": 12, "max_doses_per_day": 1},
         "days_per_course needs at least one course, each of at least one day"),
        ({"days_per_course": (5,), "months_between_courses": -1, "max_doses_per_day": 1},
         "months_between_courses must be >= 0 and max_doses_per_day >= 1"),
        ({"days_per_course": (5,), "months_between_courses": 12, "max_doses_per_day": 0},
         "months_between_courses must be >= 0 and max_doses_per_day >= 1"),
    ],
)
def test_impossible_course_rules_say_which_rule_is_impossible(fields, message):
    with pytest.raises(ValueError, match=message):
        CourseRules(**fields)


def test_course_rules_at_their_smallest_are_possible():
    rules = CourseRules(days_per_course=(1,), months_between_courses=0, max_doses_per_day=1)
    assert check_course(rules, [], Dose(D(2025, 1, 6), 1, 1)) == []
