"""Treatment-course rules a dose order is checked against at pharmacist verification (SPEC 1, 2).

The rules are data from the product monograph (``CourseRules``); for LEMTRADA, SmPC 4.2 says:
course 1 = 12 mg/day on 5 consecutive days; course 2 = 3 consecutive days 12 months after the first
course; courses 3 and 4 (optional) = 3 consecutive days at least 12 months after the prior course;
"missed doses should not be given on the same day as a scheduled dose".

``check_course`` never refuses anything itself: it lists every rule a proposed dose breaks, so the
order screen can show them all at once and a pharmacist can override with a written reason.

Conventions (chosen here, tested in tests/unit/test_courses.py):

* **The spacing between courses is counted from day 1 of the prior course to day 1 of the new
  one.** SmPC 4.2 says "12 months after the *first treatment course*", i.e. the course as an
  event, and its start is the one date every pharmacy record has; counting from the last day would
  silently add 2-4 days. If the prior course's day 1 is not in the history, its start is counted
  back from its earliest recorded day (day d on date D started on D - (d - 1) days).
* **The spacing is a minimum only.** Course 2's "12 months after" and courses 3/4's "at least 12
  months after" are both enforced as "not earlier than"; a later course is never refused.
* **"12 months" is calendar months, clamped to the end of a short month.** ``add_months`` keeps the
  day of the month, and where the target month is shorter it falls on that month's last day:
  2028-02-29 + 12 months = 2029-02-28 (not 1 March), 2027-02-28 + 12 months = 2028-02-28. This is
  how EDATE, SQL ``add_months`` and dateutil count, so the date matches what a pharmacist works out
  by hand, and it is never less than 365 days.
* **Days within a course are strictly consecutive.** A dose given late (e.g. a missed dose moved to
  the next free day) shifts the calendar and is reported as ``course_days_not_consecutive``; that is
  exactly the case the pharmacist override with a written reason exists for.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from pharmacy.i18n import _, ngettext

SMPC = "SmPC 4.2"

# Stable violation codes (the JSON API and the audit of overrides store these).
SECOND_DOSE_SAME_DAY = "second_dose_same_day"
COURSE_OUT_OF_RANGE = "course_out_of_range"
COURSE_DAY_OUT_OF_RANGE = "course_day_out_of_range"
COURSE_DAY_REPEATED = "course_day_repeated"
EARLIER_COURSE_DAYS_MISSING = "earlier_course_days_missing"
COURSE_DAYS_NOT_CONSECUTIVE = "course_days_not_consecutive"
PREVIOUS_COURSE_MISSING = "previous_course_missing"
COURSE_TOO_EARLY = "course_too_early"
DOSE_OUT_OF_ORDER = "dose_out_of_order"


@dataclass(frozen=True)
class CourseRules:
    """A product's course schedule, read from its monograph (no defaults: the data must say it)."""

    days_per_course: tuple[int, ...]  # length of course 1, 2, ...; len() = the maximum number of courses
    months_between_courses: int  # minimum, counted day 1 to day 1
    max_doses_per_day: int  # per patient per calendar day

    def __post_init__(self) -> None:
        # A monograph loaded from TOML hands over a list; keep the dataclass hashable and immutable.
        object.__setattr__(self, "days_per_course", tuple(self.days_per_course))
        if not self.days_per_course or any(n < 1 for n in self.days_per_course):
            raise ValueError("days_per_course needs at least one course, each of at least one day")
        if self.months_between_courses < 0 or self.max_doses_per_day < 1:
            raise ValueError("months_between_courses must be >= 0 and max_doses_per_day >= 1")


@dataclass(frozen=True)
class Dose:
    """A dose already ordered/given for the patient, or the one proposed."""

    on: datetime.date
    course: int
    day: int  # course day, 1-based


@dataclass(frozen=True)
class CourseViolation:
    code: str  # one of the constants above
    message: str  # for the pharmacist, citing the rule


def add_months(start: datetime.date, months: int) -> datetime.date:
    """``start`` plus calendar months; a day the target month lacks becomes its last day."""
    years, month0 = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month0 + 1
    return datetime.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _start(doses: Sequence[Dose]) -> datetime.date:
    """Date of day 1 of a course, counted back from its recorded days (the earliest start wins)."""
    return min(d.on - datetime.timedelta(days=d.day - 1) for d in doses)


def check_course(rules: CourseRules, history: Sequence[Dose], proposed: Dose) -> list[CourseViolation]:
    """Every rule the proposed dose breaks, given the patient's other doses (any order). Empty list = OK.

    The order of the list is fixed (the order of the checks below), so screens and tests are stable.
    """
    out: list[CourseViolation] = []

    def refuse(code: str, message: str) -> None:  # each message ends with its rule: “(SmPC 4.2).”
        out.append(CourseViolation(code, message))

    n, day, on = proposed.course, proposed.day, proposed.on
    max_courses = len(rules.days_per_course)
    length = rules.days_per_course[n - 1] if 1 <= n <= max_courses else None
    same_course = sorted((d for d in history if d.course == n), key=lambda d: d.day)

    if length is None:
        refuse(COURSE_OUT_OF_RANGE, _("There is no course {course}: the posology allows courses 1 to {last} ({smpc}).",
                                      course=n, last=max_courses, smpc=SMPC))
    elif not 1 <= day <= length:
        refuse(COURSE_DAY_OUT_OF_RANGE, _("Course {course} lasts {length} days; there is no day {day} ({smpc}).",
                                          course=n, length=length, day=day, smpc=SMPC))

    same_date = sum(1 for d in history if d.on == on)
    if same_date >= rules.max_doses_per_day:
        refuse(
            SECOND_DOSE_SAME_DAY,
            ngettext("The patient already has {count} dose on {day}: at most {most} per day, and a missed dose is "
                     "never given on the same day as a scheduled dose ({smpc}).",
                     "The patient already has {count} doses on {day}: at most {most} per day, and a missed dose is "
                     "never given on the same day as a scheduled dose ({smpc}).",
                     same_date, day=on, most=rules.max_doses_per_day, smpc=SMPC),
        )

    if any(d.day == day for d in same_course):
        refuse(COURSE_DAY_REPEATED, _("Day {day} of course {course} is already ordered or given ({smpc}).",
                                      day=day, course=n, smpc=SMPC))

    # Bounded by the course length so an absurd day number cannot make an absurd list.
    known = {d.day for d in same_course}
    missing = [d for d in range(1, min(day, (length or max(rules.days_per_course)) + 1)) if d not in known]
    if missing:
        refuse(
            EARLIER_COURSE_DAYS_MISSING,
            ngettext("Day {day} of course {course} is ordered but day {days} of that course is not ({smpc}).",
                     "Day {day} of course {course} is ordered but days {days} of that course are not ({smpc}).",
                     len(missing), day=day, course=n, days=", ".join(str(d) for d in missing), smpc=SMPC),
        )

    for other in same_course:
        expected = other.on + datetime.timedelta(days=day - other.day)
        if other.day != day and on != expected:
            refuse(
                COURSE_DAYS_NOT_CONSECUTIVE,
                _("Day {day} of course {course} must be on {expected}, since day {other_day} is on {other_on}: "
                  "the days of a course are consecutive ({smpc}).", day=day, course=n, expected=expected,
                  other_day=other.day, other_on=other.on, smpc=SMPC),
            )
            break

    if n >= 2:
        previous = [d for d in history if d.course == n - 1]
        if not previous:
            refuse(PREVIOUS_COURSE_MISSING, _("Course {course} is ordered but the patient has no course {previous} "
                                              "({smpc}).", course=n, previous=n - 1, smpc=SMPC))
        else:
            prior_start = _start(previous)
            earliest = add_months(prior_start, rules.months_between_courses)
            start = _start([*same_course, proposed])
            if start < earliest:
                refuse(
                    COURSE_TOO_EARLY,
                    _("Course {course} would start on {start} but may not start before {earliest}, "
                      "{months} months after day 1 of course {previous} ({prior_start}) ({smpc}).", course=n,
                      start=start, earliest=earliest, months=rules.months_between_courses, previous=n - 1,
                      prior_start=prior_start, smpc=SMPC),
                )

    before = [d.on for d in history if d.course < n]
    after = [d.on for d in history if d.course > n]
    if (before and on <= max(before)) or (after and on >= min(after)):
        refuse(
            DOSE_OUT_OF_ORDER,
            _("A dose of course {course} on {day} is out of order: it must come after every dose of an earlier "
              "course and before every dose of a later one ({smpc}).", course=n, day=on, smpc=SMPC),
        )
    return out
