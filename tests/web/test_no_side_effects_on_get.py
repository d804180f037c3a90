"""Issue 13 point 7: a GET never changes anything, and patient data goes only where it belongs.

Printing a label is recorded (the second print says REPRINT), so it is a POST with the form's CSRF
token: a browser's prefetch, a crawler or a link on another site cannot make the real label a reprint.
An admin looks after stock, fridges and accounts and sees no patient; API answers are never cached."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import AuditEntry, LabelPrint
from pharmacy.services import users
from tests import factories
from tests.web.conftest import text


def _prints(pharmacy) -> tuple[int, int]:
    with pharmacy.uow(readonly=True) as uow:
        prints = uow.session.execute(select(func.count()).select_from(LabelPrint)).scalar_one()
        audited = uow.session.execute(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.action.in_(["label.print", "label.reprint"]))).scalar_one()
    return prints, audited


@pytest.fixture
def bag(pharmacy):
    return factories.released_bag(pharmacy, pharmacy.vial_serials[0])


def test_a_get_of_the_label_prints_nothing_so_the_real_label_is_not_a_reprint(signed_in, pharmacy, bag):
    tech = signed_in("tech")
    for _ in range(3):  # a prefetch, a crawler, a cross-site <img src>: all GETs
        assert tech.get(f"/bags/{bag.serial}/label.pdf").status_code == 405
    assert _prints(pharmacy) == (0, 0)
    first = tech.post(f"/bags/{bag.serial}/label.pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    assert f"{bag.serial}-label-1.pdf" in first.headers["Content-Disposition"]  # the first print, not a REPRINT
    assert _prints(pharmacy) == (1, 1)


def test_a_print_posted_without_the_forms_token_is_refused_and_prints_nothing(signed_in, pharmacy, bag):
    tech = signed_in("tech")
    for token in (None, "forged-token"):  # what a form on another site can send
        response = tech.post(f"/bags/{bag.serial}/label.pdf", {"csrf_token": token} if token else {}, csrf=token is not None)
        assert response.status_code == 400 and "Nothing was recorded" in text(response)
    assert _prints(pharmacy) == (0, 0)


def test_the_bag_page_prints_through_a_form_with_its_token(signed_in, bag):
    page = signed_in("tech").get(f"/bags/{bag.serial}").get_data(as_text=True)
    form = page[page.index(f'action="/bags/{bag.serial}/label.pdf"') - 40:]
    assert form.startswith('<form method="post"') or 'method="post"' in form[:80]
    assert 'name="csrf_token"' in form[:400] and f'href="/bags/{bag.serial}/label.pdf"' not in page


def test_an_admin_sees_bags_but_no_patient(signed_in, bag):
    admin = signed_in("admin")
    listing, page = text(admin.get("/bags/")), text(admin.get(f"/bags/{bag.serial}"))
    assert bag.serial in listing and bag.serial in page
    for shown in (listing, page):
        assert "Anna Example" not in shown and "P-1" not in shown and "Patient ID" not in shown
    tech_listing, tech_page = text(signed_in("tech").get("/bags/")), text(signed_in("tech").get(f"/bags/{bag.serial}"))
    assert "P-1" in tech_listing and "Anna Example" in tech_page  # the people who make and give the dose do


def test_the_api_gives_an_admins_token_no_patient_and_nobody_a_cached_answer(app, pharmacy, bag):
    client = app.test_client()
    answers = {}
    for who in ("admin", "nurse"):
        token = users.create_token(pharmacy, who, f"{who} device")
        answers[who] = client.get(f"/api/v1/bags/{bag.serial}", headers={"Authorization": f"Bearer {token}"})
    assert answers["nurse"].get_json()["patient_id"] == "P-1"
    assert answers["admin"].status_code == 200 and "patient_id" not in answers["admin"].get_json()
    refused = client.get("/api/v1/bags/NOSUCH", headers={"Authorization": "Bearer wrong"})
    for response in (*answers.values(), refused):
        assert response.headers["Cache-Control"] == "no-store"
