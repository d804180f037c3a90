"""Refusals carry their message, their details and, when there are several reasons, every one of them."""

from __future__ import annotations

import datetime

from pharmacy.domain.courses import CourseRules, Dose, check_course
from pharmacy.domain.errors import AdministrationRefused, CourseRuleBreach, PharmacyError, WrongDiluent

LEMTRADA = CourseRules(days_per_course=(5, 3, 3, 3), months_between_courses=12, max_doses_per_day=1)


class Reason:
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


def test_a_refusal_reads_as_its_message_and_keeps_its_details():
    error = WrongDiluent("Water for injections is not permitted.", diluent="water-for-injections-100ml")
    assert str(error) == error.message == "Water for injections is not permitted."
    assert error.details == {"diluent": "water-for-injections-100ml"}
    assert error.args == ("Water for injections is not permitted.",)  # what logs and repr() show
    assert repr(error) == "WrongDiluent('Water for injections is not permitted.')"
    assert isinstance(error, PharmacyError) and error.code == "wrong_diluent"


def test_a_course_rule_breach_lists_every_violation_smpc_4_2():
    """Course 2 on a course 1 day, before course 1 is over: two rules at once."""
    history = [Dose(datetime.date(2025, 1, 6), 1, 1)]
    violations = check_course(LEMTRADA, history, Dose(datetime.date(2025, 1, 6), 2, 1))
    error = CourseRuleBreach(iter(violations))
    assert error.violations == tuple(violations) and len(violations) == 3
    assert error.message == "; ".join(v.message for v in violations)
    assert error.details == {"violations": tuple(violations)}
    assert error.code == "course_rule_breach"


def test_a_bedside_refusal_lists_every_reason_to_read_aloud():
    reasons = [Reason("wrong_patient", "This bag is for another patient."), Reason("expired", "This bag expired.")]
    error = AdministrationRefused(reason for reason in reasons)
    assert error.reasons == tuple(reasons)
    assert str(error) == "This bag is for another patient.; This bag expired."
    assert error.details == {"reasons": tuple(reasons)}
    assert error.code == "administration_refused"
