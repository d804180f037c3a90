"""Issue 16 point 1: the worklist's box opens what is scanned or typed into it. An order has no barcode of
its own, so the patient's wristband (GSRN or identifier) or the order number opens (starts or resumes)
its preparation, and a bag's in-process label opens its step, or its check once signed. Anything else
goes back to the worklist saying why, with nothing started; every answer is a redirect."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from pharmacy.db.models import Preparation
from pharmacy.services import preparation
from tests import factories
from tests.web.conftest import text

GSRN = "123456789012345675"


def open_code(browser, code: str):
    browser.get("/worklist")
    return browser.post("/worklist/open", {"code": code})


def preparations(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(Preparation)).scalar_one()


def test_the_worklist_waits_for_a_scan(signed_in, pharmacy):
    factories.verified_order(pharmacy)
    page = text(signed_in("tech").get("/worklist"))
    assert 'id="open-code" name="code"' in page and "autofocus" in page.split('id="open-code"', 1)[1].split(">", 1)[0]


def test_the_wristband_gsrn_opens_and_starts_the_orders_preparation(signed_in, pharmacy):
    order = factories.verified_order(pharmacy, who=factories.patient(gsrn=GSRN))
    tech = signed_in("tech")
    response = open_code(tech, factories.wristband_scan(GSRN))
    assert response.status_code == 302
    prep_id = int(response.headers["Location"].rsplit("/", 1)[1])
    prep = preparation.get(pharmacy, prep_id)
    assert prep.order_id == order.id and prep.state == "started"
    again = open_code(tech, "p-1")  # the identifier typed (one spelling: P-1): the same preparation, resumed
    assert again.headers["Location"] == response.headers["Location"] and preparations(pharmacy) == 1


def test_the_order_number_opens_it_typed_with_or_without_its_mark(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    tech = signed_in("tech")
    for typed in (f"#{order.id}", f"order {order.id}", str(order.id)):
        response = open_code(tech, typed)
        assert response.status_code == 302 and "/prep/" in response.headers["Location"], typed
    assert preparations(pharmacy) == 1


def test_a_code_that_names_no_order_of_today_goes_back_saying_why(signed_in, pharmacy, clock):
    tomorrow = factories.verified_order(pharmacy, on=factories.today(pharmacy) + timedelta(days=1))
    tech = signed_in("tech")
    for code in ("P-404", f"#{tomorrow.id}", "#999"):
        response = open_code(tech, code)
        assert response.status_code == 302 and response.headers["Location"].endswith("/worklist"), code
        assert "names no order on today's worklist" in text(tech.get("/worklist")), code
    assert preparations(pharmacy) == 0


def test_digits_that_name_two_orders_are_refused_not_guessed(signed_in, pharmacy):
    first = factories.verified_order(pharmacy)  # order 1, patient P-1
    second = factories.verified_order(pharmacy, who=factories.patient(str(first.id), "Ben Digits", "Ward 3"))
    tech = signed_in("tech")
    response = open_code(tech, str(first.id))  # order 1, or the patient whose identifier is "1"?
    assert response.headers["Location"].endswith("/worklist")
    page = text(tech.get("/worklist"))
    assert "names more than one order today" in page and f"#{first.id}" in page and f"#{second.id}" in page
    assert preparations(pharmacy) == 0


def test_the_in_process_label_opens_the_check_with_the_bag_scanned(signed_in, pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    pharm = signed_in("pharm")
    scan = factories.in_process_scan(prep.id)  # what the scanner sends: ]C0IP-BAG…
    response = open_code(pharm, scan)
    assert response.status_code == 302 and f"/check/{prep.id}?bag_scan=" in response.headers["Location"]
    review = text(pharm.get(response.headers["Location"]))
    assert f'value="{scan}"' in review.split('id="bag_scan"', 1)[1].split(">", 1)[0]
    assert preparation.get(pharmacy, prep.id).state == "signed"  # opened, nothing decided


def test_the_in_process_label_of_a_bag_under_way_opens_its_step(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    response = open_code(signed_in("tech"), factories.in_process_scan(prep.id))
    assert response.headers["Location"].endswith(f"/prep/{prep.id}")
