"""The order entry screen (and the API) refuse an order whose bag label could not be printed, saying which
field, which stock and what fits, keep what was typed, and store nothing (issue 15; SAFETY.md H30, H31)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import Patient
from pharmacy.services import orders, users
from tests.web.conftest import text

from .test_order_screens import order_form

pytestmark = pytest.mark.hazard("H30")

LONG_NAME = ("Maria-Magdalena Alexandra Konstantinopoulou-Wiśniewska de la Santísima Trinidad "
             "Papadopoulou-Vandenbroucke Nepomucena Dvořáková Ferreiras")


def _nothing_entered(pharmacy) -> None:
    assert orders.pending_verification(pharmacy) == []
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(func.count()).select_from(Patient)).scalar_one() == 0


def test_a_name_too_long_for_the_label_is_refused_on_the_order_screen(signed_in, pharmacy):
    response = signed_in("tech").post("/orders/new", order_form(name=LONG_NAME))
    assert response.status_code == 422
    page = text(response)
    assert "The patient name “Maria-Magdalena" in page and "(137 characters) does not fit the" in page
    assert "characters of it fit there" in page and "Nothing was recorded." in page
    assert f'value="{LONG_NAME}"' in response.get_data(as_text=True)  # what was typed is kept, to be shortened
    _nothing_entered(pharmacy)


def test_a_patient_without_a_gsrn_is_refused_on_the_order_screen_when_labels_carry_it(signed_in, pharmacy):
    pharmacy.settings = replace(pharmacy.settings, patient_ai="8018")
    response = signed_in("tech").post("/orders/new", order_form())
    assert response.status_code == 422
    assert "has no wristband number (GSRN), but this pharmacy's labels carry the wristband GSRN (AI 8018" in text(response)
    _nothing_entered(pharmacy)


@pytest.mark.hazard("H31")
def test_a_name_with_a_character_no_font_has_is_refused_on_the_order_screen(signed_in, pharmacy):
    response = signed_in("tech").post("/orders/new", order_form(name="Ewa \U00013000 Nowak"))
    assert response.status_code == 422
    assert "U+13000, EGYPTIAN HIEROGLYPH A001" in text(response)
    _nothing_entered(pharmacy)


@pytest.mark.hazard("H31")
def test_a_korean_name_is_entered(signed_in, pharmacy):
    response = signed_in("tech").post("/orders/new", order_form(name="김민준"))
    assert response.status_code == 302, text(response)
    [order] = orders.pending_verification(pharmacy)
    assert order.patient.name == "김민준"


@pytest.mark.hazard("H7")
def test_the_api_refuses_an_identifier_the_label_barcode_cannot_carry(app, pharmacy):
    pharmacy.settings = replace(pharmacy.settings, patient_ai="91")
    token = users.create_token(pharmacy, "tech", "tech device")
    response = app.test_client().post("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}, json={
        "patient": {"identifier": "MRN#2026/0042", "name": "Ewa Nowak", "date_of_birth": "1985-02-03", "ward": "Ward 5"},
        "product": "lemtrada", "course": 1, "course_day": 1, "scheduled_on": "2026-11-20"})
    assert response.status_code == 422
    assert response.get_json()["code"] == "label_cannot_print"
    assert "“MRN#2026/0042”" in response.get_json()["message"] and "GS1 character set 82" in response.get_json()["message"]
    _nothing_entered(pharmacy)
