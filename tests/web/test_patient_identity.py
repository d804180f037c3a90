"""Identity at the door (SAFETY.md H16, H7): identifiers are normalised (``h6-a`` is ``H6-A``), a new
patient with a known patient's name and date of birth needs a pharmacist's confirmation, and another
patient's wristband number (GSRN) is refused with a clear message, not "database is full"."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import AuditEntry, Order, Patient, Refusal
from pharmacy.services import orders
from tests import factories
from tests.web.conftest import text
from tests.web.test_api import api  # noqa: F401 - the API client fixture

GSRN = "123456789012345675"


def order_form(**changes) -> dict:
    form = {"identifier": "H6-A", "name": "Ewa Nowak", "date_of_birth": "1985-02-03", "ward": "Ward 5", "gsrn": "",
            "product": "lemtrada", "course": "1", "course_day": "1", "scheduled_on": "2026-11-20"}
    return {**form, **changes}


def patients(pharmacy) -> list[tuple[str, str]]:
    with pharmacy.uow(readonly=True) as uow:
        return [(p.identifier, p.name) for p in uow.session.execute(select(Patient).order_by(Patient.id)).scalars()]


def orders_count(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(Order)).scalar_one()


@pytest.mark.hazard("H16")
def test_h6_a_entered_for_the_patient_h6_upper_a_is_the_same_patient_and_keeps_one_course_history(signed_in, pharmacy, clock):
    tech = signed_in("tech")
    assert tech.post("/orders/new", order_form()).status_code == 302
    second = tech.post("/orders/new", order_form(identifier=" h6-a ", course_day="2", scheduled_on="2026-11-21"))
    assert second.status_code == 302, text(second)
    assert patients(pharmacy) == [("H6-A", "Ewa Nowak")]
    with pharmacy.uow(readonly=True) as uow:
        states = uow.session.execute(select(Order.state).order_by(Order.id)).scalars().all()
    assert states == ["entered", "entered"]  # day 2 follows the day 1 it can see: one history
    again = tech.post("/orders/new", order_form(identifier="h6 -a"))  # day 1 twice on one day: the rules see it
    assert again.status_code == 302
    assert "BLOCKED" in text(tech.get(again.headers["Location"]))


@pytest.mark.hazard("H16")
def test_a_new_identifier_with_a_known_patients_name_and_birth_date_is_refused_naming_that_patient(signed_in, pharmacy):
    tech = signed_in("tech")
    assert tech.post("/orders/new", order_form()).status_code == 302
    refused = tech.post("/orders/new", order_form(identifier="H6-B", name="  ewa   NOWAK "))
    assert refused.status_code == 422
    page = text(refused)
    assert "A patient with this name and date of birth is known already: Ewa Nowak, born 03 Feb 1985, identifier H6-A" in page
    assert 'name="confirm_new_patient"' in page and orders_count(pharmacy) == 1
    assert patients(pharmacy) == [("H6-A", "Ewa Nowak")]
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(Refusal.code).where(Refusal.action == "order.create")).scalars().all() == [
            "lookalike_patient"]


@pytest.mark.hazard("H16")
def test_a_technician_cannot_confirm_a_look_alike_new_patient_and_is_told_to_ask_a_pharmacist(signed_in, pharmacy):
    tech = signed_in("tech")
    tech.post("/orders/new", order_form())
    refused = tech.post("/orders/new", order_form(identifier="H6-B", confirm_new_patient="on",
                                                  new_patient_reason="Twin sister, checked the hospital record"))
    assert refused.status_code == 403 and "Ask a pharmacist" in text(refused)
    assert patients(pharmacy) == [("H6-A", "Ewa Nowak")]


@pytest.mark.hazard("H16")
def test_a_pharmacist_confirms_a_look_alike_new_patient_with_a_reason_and_it_is_audited(signed_in, pharmacy):
    signed_in("tech").post("/orders/new", order_form())
    pharm = signed_in("pharm")
    no_reason = pharm.post("/orders/new", order_form(identifier="H6-B", confirm_new_patient="on"))
    assert no_reason.status_code == 422 and "Write why H6-B is another person than H6-A" in text(no_reason)
    confirmed = pharm.post("/orders/new", order_form(identifier="H6-B", confirm_new_patient="on",
                                                     new_patient_reason="Twin sister, checked the hospital record"))
    assert confirmed.status_code == 302, text(confirmed)
    assert patients(pharmacy) == [("H6-A", "Ewa Nowak"), ("H6-B", "Ewa Nowak")]
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "patient.add")
                                    .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
        twin = uow.session.execute(select(Patient).where(Patient.identifier == "H6-B")).scalar_one()
    assert entry.username == "pharm" and entry.reason == "Twin sister, checked the hospital record"
    assert entry.new["confirmed_other_than"] == ["H6-A"]
    assert twin.lookalike_reason == "Twin sister, checked the hospital record" and twin.lookalike_confirmed_by is not None


@pytest.mark.hazard("H16")
def test_by_api_a_look_alike_new_patient_is_refused_unless_a_pharmacist_confirms_it(api, pharmacy):  # noqa: F811
    person = {"identifier": "H6-A", "name": "Ewa Nowak", "date_of_birth": "1985-02-03", "ward": "W1"}
    body = {"patient": person, "product": "lemtrada", "course": 1, "course_day": 1, "scheduled_on": "2026-11-20"}
    assert api("POST", "/orders", json=body).status_code == 201
    twin = {**body, "patient": {**person, "identifier": "H6-B"}}
    refused = api("POST", "/orders", json=twin)
    assert refused.status_code == 422 and refused.get_json()["code"] == "lookalike_patient"
    confirmed = {**body, "patient": {**person, "identifier": "H6-B", "confirm_new_patient": True,
                                     "new_patient_reason": "Twin sister, checked the hospital record"}}
    assert api("POST", "/orders", json=confirmed).status_code == 403  # a technician's token
    assert api("POST", "/orders", who="pharm", json=confirmed).status_code == 201


@pytest.mark.hazard("H7")
def test_another_patients_gsrn_at_order_entry_is_refused_with_a_clear_message_not_database_full(signed_in, pharmacy):
    factories.verified_order(pharmacy, factories.patient("P-1", "Anna Example", gsrn=GSRN))
    refused = signed_in("tech").post("/orders/new", order_form(gsrn=GSRN))
    assert refused.status_code == 422
    page = text(refused)
    assert f"Wristband number (GSRN) {GSRN} belongs to another patient, Anna Example (P-1)" in page
    assert "database is full" not in page and orders_count(pharmacy) == 1


@pytest.mark.hazard("H7")
def test_by_api_another_patients_gsrn_is_refused_with_a_stable_code(api, pharmacy):  # noqa: F811
    factories.verified_order(pharmacy, factories.patient("P-1", "Anna Example", gsrn=GSRN))
    body = {"patient": {"identifier": "P-9", "name": "Ida Nine", "date_of_birth": "1970-05-05", "ward": "W1", "gsrn": GSRN},
            "product": "lemtrada", "course": 1, "course_day": 1, "scheduled_on": "2026-11-20"}
    refused = api("POST", "/orders", json=body)
    assert refused.status_code == 422 and refused.get_json()["code"] == "gsrn_of_another_patient"


@pytest.mark.hazard("H7")
def test_a_known_patient_with_another_wristband_number_is_refused(signed_in, pharmacy):
    factories.verified_order(pharmacy, factories.patient("H6-A", "Ewa Nowak", gsrn=GSRN))
    refused = signed_in("tech").post("/orders/new", order_form(date_of_birth="1980-01-01", gsrn="123456789012345682"))
    assert refused.status_code == 422 and f"has wristband number (GSRN) {GSRN}, not 123456789012345682" in text(refused)


@pytest.mark.hazard("H16")
def test_the_patient_history_is_found_whatever_the_case_and_spaces_of_the_identifier(signed_in, pharmacy):
    orders.create_order(pharmacy, "tech", factories.patient("H6-A", "Ewa Nowak"), "lemtrada", 1, 1,
                        factories.today(pharmacy))
    page = signed_in("pharm").get("/trace/patients/h6-a ")
    assert page.status_code == 200 and "Ewa Nowak" in text(page)
