"""Dose orders (SPEC 2.2): the course rules of SmPC 4.2 block an order until a pharmacist overrides
them with a written reason (audited), and the pre-medication of SmPC 4.2 is confirmed on days 1–3."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pharmacy.domain import courses
from pharmacy.domain.errors import CourseRuleBreach, NotAllowed, PharmacyError, StateConflict
from pharmacy.services import orders
from tests import factories
from tests.integration.records import audit_entries, counts, last_refusal

REASON = "Course 1 day 1 was given at another hospital on this date"


def order(pharmacy, day: int = 1, on=None, course: int = 1, who=None):
    return orders.create_order(pharmacy, "tech", who or factories.patient(), "lemtrada", course, day,
                               on or factories.today(pharmacy))


def course_up_to(pharmacy, day: int):
    """Days 1..day of course 1 on consecutive dates ending today; returns the order of ``day``."""
    today = factories.today(pharmacy)
    made = [order(pharmacy, d, today - timedelta(days=day - d)) for d in range(1, day + 1)]
    return made[-1]


@pytest.mark.hazard("H8")
def test_an_order_that_breaks_a_course_rule_is_entered_but_blocked(pharmacy):
    blocked = order(pharmacy, day=6)  # course 1 lasts 5 days (SmPC 4.2)
    assert blocked.state == "blocked"
    assert courses.COURSE_DAY_OUT_OF_RANGE in {v["code"] for v in blocked.violations}
    assert "SmPC 4.2" in blocked.violations[0]["message"]


@pytest.mark.hazard("H8")
def test_one_dose_per_patient_per_day_a_second_order_that_day_is_blocked(pharmacy):
    order(pharmacy, day=1)
    second = order(pharmacy, day=2)  # same patient, same date (SmPC 4.2: never two doses on one day)
    assert second.state == "blocked"
    assert courses.SECOND_DOSE_SAME_DAY in {v["code"] for v in second.violations}
    with pytest.raises(CourseRuleBreach, match="per day"):
        orders.verify_order(pharmacy, "pharm", second.id, premedication_confirmed=True)


@pytest.mark.parametrize("reason", [None, "", "   ", "because"])
def test_a_blocked_order_is_not_verified_without_a_written_reason(pharmacy, reason):
    blocked = order(pharmacy, day=6)
    before = counts(pharmacy)
    with pytest.raises(CourseRuleBreach) as caught:
        orders.verify_order(pharmacy, "pharm", blocked.id, premedication_confirmed=True, override_reason=reason)
    assert "there is no day 6" in caught.value.message
    assert orders.get_order(pharmacy, blocked.id).state == "blocked"
    assert counts(pharmacy)["audit"] == before["audit"]
    assert last_refusal(pharmacy).code == "course_rule_breach"


def test_a_pharmacist_override_verifies_the_order_and_the_reason_is_audited(pharmacy):
    blocked = order(pharmacy, day=2)  # day 1 is missing
    verified = orders.verify_order(pharmacy, "pharm", blocked.id, premedication_confirmed=True,
                                   override_reason=f"  {REASON}  ")
    assert (verified.state, verified.override_reason) == ("verified", REASON)
    assert verified.override_by == verified.verified_by is not None
    entry = audit_entries(pharmacy, "order.verify")[-1]
    assert (entry.object_id, entry.reason, entry.username) == (str(blocked.id), REASON, "pharm")
    assert entry.new["overridden"] == [courses.EARLIER_COURSE_DAYS_MISSING]
    assert entry.old == {"state": "blocked"}


@pytest.mark.parametrize("day, needed", [
    (1, ["Corticosteroid", "herpes prophylaxis"]), (2, ["Corticosteroid"]), (3, ["Corticosteroid"])])
def test_pre_medication_must_be_confirmed_on_days_1_to_3(pharmacy, day, needed):
    # SmPC 4.2: corticosteroid immediately before the infusion on the first 3 days of every course;
    # aciclovir from day 1.
    entered = course_up_to(pharmacy, day)
    assert entered.state == "entered"
    audit_before = counts(pharmacy)["audit"]
    with pytest.raises(PharmacyError) as caught:
        orders.verify_order(pharmacy, "pharm", entered.id, premedication_confirmed=False)
    assert caught.value.message.startswith("Confirm the pre-medication first")
    assert "(SmPC 4.2)" in caught.value.message
    for what in needed:
        assert what in caught.value.message
    if day > 1:
        assert "herpes" not in caught.value.message
    assert orders.get_order(pharmacy, entered.id).state == "entered"
    assert counts(pharmacy)["audit"] == audit_before
    confirmed = orders.verify_order(pharmacy, "pharm", entered.id, premedication_confirmed=True)
    assert confirmed.premedication_confirmed is True


def test_no_pre_medication_confirmation_is_asked_on_day_4(pharmacy):
    entered = course_up_to(pharmacy, 4)
    verified = orders.verify_order(pharmacy, "pharm", entered.id, premedication_confirmed=False)
    assert verified.state == "verified" and verified.premedication_confirmed is False


def test_only_a_pharmacist_verifies_an_order(pharmacy):
    entered = order(pharmacy)
    with pytest.raises(NotAllowed, match="A technician may not verify orders; only a pharmacist may"):
        orders.verify_order(pharmacy, "tech", entered.id, premedication_confirmed=True)


def test_an_order_is_verified_once_a_second_verification_is_refused(pharmacy):
    entered = order(pharmacy)
    orders.verify_order(pharmacy, "pharm", entered.id, premedication_confirmed=True)
    audit_before = counts(pharmacy)["audit"]
    with pytest.raises(StateConflict, match="is verified"):
        orders.verify_order(pharmacy, "pharm2", entered.id, premedication_confirmed=True)
    assert counts(pharmacy)["audit"] == audit_before


@pytest.mark.hazard("H16")
def test_a_known_patient_identifier_with_another_name_is_refused(pharmacy):
    order(pharmacy)
    before = counts(pharmacy)
    with pytest.raises(PharmacyError, match="another name or date of birth"):
        order(pharmacy, on=factories.today(pharmacy) + timedelta(days=1), day=2,
              who=factories.patient("P-1", "Someone Else"))
    assert counts(pharmacy)["audit"] == before["audit"]
