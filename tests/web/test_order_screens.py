"""Order entry, pharmacist verification with the pre-medication plan, and the worklist."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pharmacy.services import orders, preparation
from tests import factories
from tests.web.conftest import text


def order_form(**changes) -> dict:
    form = {"identifier": "P-77", "name": "Ewa Nowak", "date_of_birth": "1985-02-03", "ward": "Ward 5",
            "gsrn": "", "product": "lemtrada", "course": "1", "course_day": "1", "scheduled_on": "2026-11-20"}
    form.update(changes)
    return form


def test_a_technician_enters_an_order_and_sees_it_wait_for_verification(signed_in, pharmacy):
    tech = signed_in("tech")
    assert "LEMTRADA (alemtuzumab) 12 mg" in text(tech.get("/orders/new"))
    response = tech.post("/orders/new", order_form(urgent="on"))
    assert response.status_code == 302
    page = text(tech.get(response.headers["Location"]))
    assert "waits for a pharmacist's verification" in page and "URGENT" in page and "Ewa Nowak" in page
    [order] = orders.pending_verification(pharmacy)
    assert (order.state, order.course, order.course_day, order.urgent) == ("entered", 1, 1, True)


@pytest.mark.hazard("H8")
def test_an_order_that_breaks_a_course_rule_is_entered_blocked_and_shows_every_violation(signed_in, pharmacy):
    factories.verified_order(pharmacy, factories.patient("P-77", "Ewa Nowak"))
    tech = signed_in("tech")
    response = tech.post("/orders/new", order_form(course_day="2", date_of_birth="1980-01-01"))
    assert response.status_code == 302, text(response)
    page = text(tech.get(response.headers["Location"]))
    assert "BLOCKED" in page
    blocked = [o for o in orders.pending_verification(pharmacy) if o.state == "blocked"]
    assert len(blocked) == 1 and blocked[0].violations
    for violation in blocked[0].violations:
        assert violation["message"] in page


def test_an_order_form_with_a_malformed_field_is_refused_and_nothing_is_entered(signed_in, pharmacy):
    tech = signed_in("tech")
    response = tech.post("/orders/new", order_form(course="two"))
    assert response.status_code == 400
    page = text(response)
    assert "Course must be a whole number from 1 to 99, not “two”." in page
    assert 'value="Ewa Nowak"' in response.get_data(as_text=True)  # what was typed is kept
    assert orders.pending_verification(pharmacy) == []


def test_a_date_of_birth_in_the_future_is_refused_by_the_service(signed_in, pharmacy):
    response = signed_in("tech").post("/orders/new", order_form(date_of_birth="2030-01-01"))
    assert response.status_code == 422
    assert "The date of birth is in the future." in text(response)


def test_the_verification_screen_shows_the_premedication_plan_of_the_course_day(signed_in, pharmacy):
    order = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, factories.today(pharmacy))
    page = text(signed_in("pharm").get(f"/orders/{order.id}"))
    assert "Pre-medication for course day 1" in page
    assert "Corticosteroid immediately before the infusion" in page
    assert "Oral herpes prophylaxis" in page
    assert 'name="premedication_confirmed"' in page
    assert 'name="override_reason"' not in page


@pytest.mark.hazard("H17")
def test_verification_without_the_premedication_confirmation_is_refused(signed_in, pharmacy):
    order = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, factories.today(pharmacy))
    response = signed_in("pharm").post(f"/orders/{order.id}/verify", {})
    assert response.status_code == 422
    assert "Confirm the pre-medication first" in text(response)
    assert orders.get_order(pharmacy, order.id).state == "entered"


@pytest.mark.hazard("H17")
def test_a_pharmacist_verifies_with_the_premedication_confirmed(signed_in, pharmacy):
    order = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, factories.today(pharmacy))
    pharm = signed_in("pharm")
    response = pharm.post(f"/orders/{order.id}/verify", {"premedication_confirmed": "on"})
    assert response.status_code == 302
    assert "verified" in text(pharm.get(response.headers["Location"]))
    verified = orders.get_order(pharmacy, order.id)
    assert verified.state == "verified" and verified.premedication_confirmed


@pytest.mark.hazard("H8")
def test_a_blocked_order_needs_a_written_override_reason(signed_in, pharmacy):
    factories.verified_order(pharmacy)
    today = factories.today(pharmacy)
    blocked = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 2, today)
    pharm = signed_in("pharm")
    assert 'name="override_reason"' in text(pharm.get(f"/orders/{blocked.id}"))
    refused = pharm.post(f"/orders/{blocked.id}/verify", {"premedication_confirmed": "on", "override_reason": "ok"})
    assert refused.status_code == 422
    assert blocked.violations[0]["message"] in text(refused)
    assert orders.get_order(pharmacy, blocked.id).state == "blocked"
    done = pharm.post(f"/orders/{blocked.id}/verify", {"premedication_confirmed": "on",
                                                       "override_reason": "Day 1 was given at another hospital."})
    assert done.status_code == 302
    assert orders.get_order(pharmacy, blocked.id).override_reason == "Day 1 was given at another hospital."


def test_a_technician_sees_the_order_but_no_verification_form(signed_in, pharmacy):
    order = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, factories.today(pharmacy))
    page = text(signed_in("tech").get(f"/orders/{order.id}"))
    assert "Corticosteroid" in page and "/verify" not in page


def test_the_worklist_lists_todays_verified_orders_urgent_first_then_oldest(signed_in, pharmacy, clock):
    today = factories.today(pharmacy)
    first = factories.verified_order(pharmacy, factories.patient("P-1", "First Entered"))
    clock.advance(minutes=1)
    urgent = orders.create_order(pharmacy, "tech", factories.patient("P-2", "Urgent Later"), "lemtrada", 1, 1, today,
                                 urgent=True)
    orders.verify_order(pharmacy, "pharm", urgent.id, premedication_confirmed=True)
    clock.advance(minutes=1)
    factories.verified_order(pharmacy, factories.patient("P-3", "Second Entered"))
    factories.verified_order(pharmacy, factories.patient("P-4", "Tomorrow Patient"), on=today + timedelta(days=1))
    orders.create_order(pharmacy, "tech", factories.patient("P-5", "Not Verified"), "lemtrada", 1, 1, today)
    page = text(signed_in("tech").get("/worklist"))
    assert page.index("Urgent Later") < page.index("First Entered") < page.index("Second Entered")
    assert "Tomorrow Patient" not in page and "Not Verified" not in page
    assert first.id


def test_the_worklist_counts_down_the_use_by_of_bags_in_progress_and_awaiting_check(signed_in, pharmacy, clock):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    order = factories.verified_order(pharmacy, factories.patient("P-9", "Mixing Now"))
    running = preparation.start(pharmacy, "tech", order.id)
    running = preparation.scan_vial(pharmacy, "tech", running.id, running.version,
                                    factories.vial_scan(pharmacy.vial_serials[1]))
    running = preparation.inspect_vial(pharmacy, "tech", running.id, running.version, True)
    running = preparation.scan_diluent(pharmacy, "tech", running.id, running.version, factories.GLUCOSE_SCAN)
    running = preparation.record_volume(pharmacy, "tech", running.id, running.version, "1.2 mL")
    running = factories.photograph(pharmacy, running, "syringe")
    clock.advance(hours=1)
    preparation.confirm_mixing(pharmacy, "tech", running.id, running.version)
    clock.advance(minutes=30)
    page = text(signed_in("tech").get("/worklist"))
    assert "6 h 30 min left" in page  # the bag awaiting its check, diluted at 09:00
    assert "7 h 30 min left" in page  # the bag mixed at 10:00, not yet signed
    assert bag.serial in page and "In progress: Sign the preparation" in page
    assert date(2026, 11, 20).strftime("%A %d %B %Y") in page


def test_pending_orders_are_listed_for_verification(signed_in, pharmacy):
    orders.create_order(pharmacy, "tech", factories.patient("P-8", "Waiting Verification"), "lemtrada", 1, 1,
                        factories.today(pharmacy))
    page = text(signed_in("pharm").get("/orders/pending"))
    assert "Waiting Verification" in page and ">\n      Verify</a>" in page


def test_a_long_worklist_shows_its_top_and_the_rest_on_request_with_work_under_way_first(signed_in, pharmacy, clock):
    from pharmacy.services import preparation
    from pharmacy.web.orders import WORKLIST_TOP

    made = [factories.verified_order(pharmacy, factories.patient(f"P-{n:03d}", f"Patient {n:03d}"))
            for n in range(WORKLIST_TOP + 5)]
    preparation.start(pharmacy, "tech", made[-1].id)  # the newest order, already under way
    tech = signed_in("tech")
    page = text(tech.get("/worklist"))
    assert f"Showing the first {WORKLIST_TOP} of {WORKLIST_TOP + 5} orders" in page
    assert page.count("Patient ") == WORKLIST_TOP and "Patient 044" in page  # under way: at the top
    assert page.index("Patient 044") < page.index("Patient 000")
    assert "Patient 043" not in page
    everything = text(tech.get("/worklist?all=1"))
    assert everything.count("Patient ") == WORKLIST_TOP + 5 and "Showing the first" not in everything
