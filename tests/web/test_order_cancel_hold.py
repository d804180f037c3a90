"""H19: a mistaken order counts as a dose. A pharmacist (or the technician who entered it, before
verification) cancels an order with a reason, or puts it on hold; a cancelled order no longer counts
in the course rules of SmPC 4.2 ("at most one dose a day", course days); a cancelled or held order is
never prepared; every move is audited with the old and new state and the reason."""

from __future__ import annotations

import pytest

from pharmacy.domain import courses
from pharmacy.services import orders, preparation, users
from tests import factories
from tests.integration.records import audit_entries, counts, last_refusal
from tests.web.conftest import text

DUPLICATE = "Entered twice by mistake: duplicate of the first order"
WAIT = "Waiting for today's blood count before the infusion"


def entered(pharmacy, by: str = "tech", day: int = 1):
    return orders.create_order(pharmacy, by, factories.patient(), "lemtrada", 1, day, factories.today(pharmacy))


def state_of(pharmacy, order) -> str:
    return orders.get_order(pharmacy, order.id).state


@pytest.mark.hazard("H19")
def test_cancelling_a_duplicate_lets_the_right_order_be_verified_without_an_override(signed_in, pharmacy):
    mistake = entered(pharmacy)
    right = entered(pharmacy)  # the same day 1 of course 1, same patient, same date
    assert right.state == "blocked"
    assert {courses.SECOND_DOSE_SAME_DAY, courses.COURSE_DAY_REPEATED} <= {v["code"] for v in right.violations}
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{mistake.id}")
    response = pharm.post(f"/orders/{mistake.id}/cancel", {"reason": DUPLICATE})
    assert response.status_code == 302, text(response)
    page = text(pharm.get(response.headers["Location"]))
    assert "CANCELLED" in page and DUPLICATE in page and "no longer counts in the course rules" in page
    assert state_of(pharmacy, mistake) == "cancelled"
    # the right order is verified now with no override: the cancelled one is not a dose (SmPC 4.2)
    page = text(pharm.get(f"/orders/{right.id}"))
    response = pharm.post(f"/orders/{right.id}/verify", {"premedication_confirmed": "on"})
    assert response.status_code == 302, text(response)
    verified = orders.get_order(pharmacy, right.id)
    assert verified.state == "verified" and verified.override_reason is None


@pytest.mark.hazard("H19")
def test_a_cancelled_order_is_never_prepared_and_leaves_the_lists(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{order.id}")
    assert pharm.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE}).status_code == 302
    tech = signed_in("tech")
    worklist = text(tech.get("/worklist"))
    assert "Anna Example" not in worklist and "No verified orders left to prepare today." in worklist
    assert "Anna Example" not in text(pharm.get("/orders/pending"))
    before = counts(pharmacy)
    response = tech.post(f"/prep/start/{order.id}")
    assert response.status_code == 409
    assert f"Order {order.id} is cancelled: only a verified order is prepared. Nothing was recorded." in text(response)
    assert counts(pharmacy)["preparations"] == before["preparations"]
    assert last_refusal(pharmacy).action == "prep.start"


@pytest.mark.hazard("H19")
def test_a_held_order_is_shown_held_to_the_pharmacist_kept_off_the_worklist_and_not_prepared(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{order.id}")
    response = pharm.post(f"/orders/{order.id}/hold", {"reason": WAIT})
    assert response.status_code == 302, text(response)
    page = text(pharm.get(f"/orders/{order.id}"))
    assert "HELD: do not prepare" in page and WAIT in page and "Lift hold" in page
    assert f'action="/orders/{order.id}/verify"' not in page  # lifting the hold comes first
    pending = text(pharm.get("/orders/pending"))
    assert "HELD" in pending and "Anna Example" in pending and "and 1 on hold" in pending
    tech = signed_in("tech")
    assert "Anna Example" not in text(tech.get("/worklist"))
    response = tech.post(f"/prep/start/{order.id}")
    assert response.status_code == 409
    assert f"Order {order.id} is held: only a verified order is prepared." in text(response)
    # a held order may still be given: it still counts, so a second order that day is blocked
    assert entered(pharmacy, day=2).state == "blocked"


@pytest.mark.hazard("H19")
def test_lifting_a_hold_sends_the_order_back_for_verification_with_the_course_rules_checked_again(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{order.id}")
    pharm.post(f"/orders/{order.id}/hold", {"reason": WAIT})
    response = pharm.post(f"/orders/{order.id}/lift-hold", {"reason": "Blood count normal, dose may go ahead"})
    assert response.status_code == 302, text(response)
    again = orders.get_order(pharmacy, order.id)
    assert again.state == "entered" and again.verified_by is None and not again.premedication_confirmed
    page = text(pharm.get(f"/orders/{order.id}"))
    assert "Verify order" in page and "Verified by" not in page
    tech = signed_in("tech")
    assert "Anna Example" not in text(tech.get("/worklist"))  # not before a pharmacist verifies it again
    assert pharm.post(f"/orders/{order.id}/verify", {"premedication_confirmed": "on"}).status_code == 302
    assert "Anna Example" in text(tech.get("/worklist"))
    [lifted] = audit_entries(pharmacy, "order.lift_hold")
    assert lifted.old["state"] == "held" and lifted.new == {"state": "entered", "violations": []}
    assert lifted.reason == "Blood count normal, dose may go ahead"


@pytest.mark.hazard("H19")
def test_a_hold_lifted_while_another_order_took_its_day_comes_back_blocked(signed_in, pharmacy):
    first = entered(pharmacy)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{first.id}")
    pharm.post(f"/orders/{first.id}/hold", {"reason": WAIT})
    second = entered(pharmacy)
    assert second.state == "blocked"  # the held order still counts
    pharm.post(f"/orders/{first.id}/lift-hold", {"reason": "Blood count normal, dose may go ahead"})
    assert state_of(pharmacy, first) == "blocked"
    page = text(pharm.get(f"/orders/{first.id}"))
    assert "Blocked by the course rules" in page and "Override and verify" in page


@pytest.mark.hazard("H19")
def test_a_technician_cancels_their_own_order_before_verification(signed_in, pharmacy):
    order = entered(pharmacy, by="tech")
    tech = signed_in("tech")
    page = text(tech.get(f"/orders/{order.id}"))
    assert "Cancel order" in page and "Put on hold" not in page  # holding is a pharmacist's decision
    response = tech.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE})
    assert response.status_code == 302, text(response)
    assert state_of(pharmacy, order) == "cancelled"
    cancelled = orders.get_order(pharmacy, order.id)
    assert cancelled.cancel_reason == DUPLICATE and cancelled.cancelled_at is not None


@pytest.mark.hazard("H19")
def test_a_technician_may_not_cancel_an_order_another_user_entered(signed_in, pharmacy):
    order = entered(pharmacy, by="tech2")
    tech = signed_in("tech")
    page = text(tech.get(f"/orders/{order.id}"))
    assert "Only a pharmacist can cancel this order now" in page and 'name="reason"' not in page
    before = counts(pharmacy)
    response = tech.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE})
    assert response.status_code == 403
    assert (f"Order {order.id} was entered by someone else: a technician cancels only an order they entered "
            "themselves. Ask a pharmacist to cancel it. Nothing was recorded.") in text(response)
    assert state_of(pharmacy, order) == "entered"
    assert counts(pharmacy)["audit"] == before["audit"]
    assert last_refusal(pharmacy).action == "order.cancel"


@pytest.mark.hazard("H19")
def test_a_technician_may_not_cancel_their_own_order_once_a_pharmacist_verified_it(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)  # entered by "tech"
    tech = signed_in("tech")
    assert "Only a pharmacist can cancel this order now" in text(tech.get(f"/orders/{order.id}"))
    response = tech.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE})
    assert response.status_code == 403
    assert (f"Order {order.id} is verified: a technician cancels an order only before a pharmacist has "
            "verified it. Ask a pharmacist to cancel it.") in text(response)
    assert state_of(pharmacy, order) == "verified"


@pytest.mark.hazard("H19")
def test_a_technician_may_not_put_an_order_on_hold(signed_in, pharmacy):
    order = entered(pharmacy)
    tech = signed_in("tech")
    tech.get(f"/orders/{order.id}")
    assert tech.post(f"/orders/{order.id}/hold", {"reason": WAIT}).status_code == 403
    assert state_of(pharmacy, order) == "entered"


@pytest.mark.hazard("H19")
@pytest.mark.parametrize("reason", ["", "   ", "oops"])
def test_cancelling_or_holding_needs_a_written_reason(signed_in, pharmacy, reason):
    order = entered(pharmacy)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{order.id}")
    for act in ("cancel", "hold"):
        response = pharm.post(f"/orders/{order.id}/{act}", {"reason": reason})
        assert response.status_code == 422
        assert "in a few words (at least 10 characters)" in text(response) and "Nothing was recorded." in text(response)
    assert state_of(pharmacy, order) == "entered"


@pytest.mark.hazard("H19")
def test_an_order_whose_preparation_has_started_is_not_cancelled_here(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    preparation.start(pharmacy, "tech", order.id)
    pharm = signed_in("pharm")
    page = text(pharm.get(f"/orders/{order.id}"))
    assert "Cancel order" not in page and "Put on hold" not in page
    response = pharm.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE})
    assert response.status_code == 409
    assert (f"Order {order.id} is in preparation: only an order not yet in preparation is cancelled here; once a "
            "preparation has started, the pharmacist rejects it at the check. Nothing was recorded.") in text(response)
    assert state_of(pharmacy, order) == "in_preparation"


@pytest.mark.hazard("H19")
def test_a_cancelled_order_is_not_cancelled_again(signed_in, pharmacy):
    order = entered(pharmacy)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{order.id}")
    pharm.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE})
    response = pharm.post(f"/orders/{order.id}/cancel", {"reason": DUPLICATE})
    assert response.status_code == 409 and f"Order {order.id} is already cancelled." in text(response)
    assert len(audit_entries(pharmacy, "order.cancel")) == 1


@pytest.mark.hazard("H19")
def test_cancel_and_hold_are_audited_with_the_old_and_new_state_and_the_reason(signed_in, pharmacy):
    held = factories.verified_order(pharmacy)
    cancelled = entered(pharmacy, day=2)
    pharm = signed_in("pharm")
    pharm.get(f"/orders/{held.id}")
    pharm.post(f"/orders/{held.id}/hold", {"reason": WAIT})
    pharm.post(f"/orders/{cancelled.id}/cancel", {"reason": DUPLICATE})
    [hold] = audit_entries(pharmacy, "order.hold")
    assert (hold.username, hold.object_type, hold.object_id) == ("pharm", "order", str(held.id))
    assert (hold.old, hold.new, hold.reason) == ({"state": "verified"}, {"state": "held"}, WAIT)
    [cancel] = audit_entries(pharmacy, "order.cancel")
    assert (cancel.username, cancel.object_id) == ("pharm", str(cancelled.id))
    assert (cancel.old, cancel.new, cancel.reason) == ({"state": "blocked"}, {"state": "cancelled"}, DUPLICATE)
    log = text(pharm.get("/audit/", query_string={"object_type": "order", "object_id": str(cancelled.id)}))
    assert "order.cancel" in log and DUPLICATE in log


# --- the JSON API: the hospital's order system cancels a duplicate it sent ---------------------------
def _bearer(pharmacy, username: str) -> dict:
    return {"Authorization": f"Bearer {users.create_token(pharmacy, username, f'{username} device')}"}


@pytest.mark.hazard("H19")
def test_the_api_cancels_a_duplicate_and_the_right_order_is_then_verified_without_an_override(app, pharmacy):
    client = app.test_client()
    mistake, right = entered(pharmacy), entered(pharmacy)
    assert right.state == "blocked"
    response = client.post(f"/api/v1/orders/{mistake.id}/cancel", headers=_bearer(pharmacy, "pharm"),
                           json={"reason": DUPLICATE})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"order": mistake.id, "state": "cancelled", "reason": DUPLICATE}
    assert orders.verify_order(pharmacy, "pharm", right.id, premedication_confirmed=True).state == "verified"
    [cancel] = audit_entries(pharmacy, "order.cancel")
    assert (cancel.username, cancel.reason) == ("pharm", DUPLICATE)


@pytest.mark.hazard("H19")
def test_the_api_refuses_a_cancel_without_a_reason_or_of_another_technicians_order(app, pharmacy):
    client = app.test_client()
    order = entered(pharmacy, by="tech2")
    response = client.post(f"/api/v1/orders/{order.id}/cancel", headers=_bearer(pharmacy, "pharm"), json={})
    assert response.status_code == 400 and "reason" in response.get_json()["message"]
    response = client.post(f"/api/v1/orders/{order.id}/cancel", headers=_bearer(pharmacy, "tech"),
                           json={"reason": DUPLICATE})
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden" and "entered by someone else" in response.get_json()["message"]
    response = client.post("/api/v1/orders/one/cancel", headers=_bearer(pharmacy, "pharm"), json={"reason": DUPLICATE})
    assert response.status_code == 400
    assert state_of(pharmacy, order) == "entered"
