"""HL7 FHIR R4 under /fhir/r4 (issue 17): the CapabilityStatement, bearer tokens with the integration scope,
orders in (alone or in a transaction Bundle) matched to the right patient, idempotent, and every error an
OperationOutcome with the refusal's words; everything accepted and emitted valid for ``fhir.resources`` (R4B)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import AuditEntry, FhirOrder, Order, Patient
from pharmacy.services import orders, users
from tests import factories
from tests.fhir_resources import ORDER_SYSTEM, PATIENT_SYSTEM, medication_request, patient, transaction, validate

FHIR = "application/fhir+json"


@pytest.fixture
def ehr(app, pharmacy):
    """The hospital's record: a technician-role account's token scoped to the integration (H24)."""
    client = app.test_client()
    tokens = {"ehr": users.create_token(pharmacy, "tech", "hospital EHR", scope="fhir.orders fhir.read"),
              "pharm": users.create_token(pharmacy, "pharm", "pharmacist's EHR link", scope="fhir.orders fhir.read"),
              "nurse": users.create_token(pharmacy, "nurse", "ward system", scope="fhir.read"),
              "temps": users.create_token(pharmacy, "tech", "fridge monitor", scope="temps.record")}

    def call(method: str, url: str, body=None, who: str | None = "ehr", headers: dict | None = None, raw: bytes | None = None,
             content_type: str = FHIR):
        sent = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = client.open(f"/fhir/r4{url}", method=method, headers={**sent, **(headers or {})}, data=data,
                               content_type=content_type if data is not None else None)
        assert response.mimetype == FHIR, (response.status_code, response.get_data(as_text=True)[:300])
        return response

    return call


def count(pharmacy, model) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar_one()


def issue(response) -> str:
    body = validate(response.get_json())
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["diagnostics"]


def test_the_capability_statement_answers_without_a_token_and_is_valid_fhir(ehr):
    response = ehr("GET", "/metadata", who=None)
    statement = validate(response.get_json())
    assert response.status_code == 200 and statement["fhirVersion"] == "4.0.1"
    kinds = {r["type"]: {i["code"] for i in r["interaction"]} for r in statement["rest"][0]["resource"]}
    assert kinds["MedicationRequest"] == {"create", "update"} and "search-type" in kinds["MedicationDispense"]


@pytest.mark.hazard("H24")
def test_a_missing_or_unknown_token_is_a_401_and_a_token_without_the_fhir_scope_a_403(ehr, pharmacy):
    missing = ehr("POST", "/MedicationRequest", medication_request(), who=None)
    assert missing.status_code == 401 and "Bearer" in issue(missing)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = ehr("POST", "/MedicationRequest", medication_request(), who=None, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "Unknown API token" in issue(wrong)
    scoped = ehr("POST", "/MedicationRequest", medication_request(), who="temps")
    assert scoped.status_code == 403 and "fhir.orders" in issue(scoped)
    nurse = ehr("POST", "/MedicationRequest", medication_request(), who="nurse")
    assert nurse.status_code == 403 and "A nurse may not send orders" in issue(nurse)
    assert count(pharmacy, Order) == 0


@pytest.mark.hazard("H37")
def test_an_order_comes_in_as_a_medication_request_with_its_patient_contained(ehr, pharmacy):
    sent = validate(medication_request())
    response = ehr("POST", "/MedicationRequest", sent)
    assert response.status_code == 201, response.get_json()
    answer = validate(response.get_json())
    assert response.headers["Location"].endswith(f"/fhir/r4/MedicationRequest/{answer['id']}")
    order = orders.get_order(pharmacy, int(answer["id"]))
    assert (order.patient.identifier, order.patient.name, str(order.patient.date_of_birth)) == ("P-1", "Anna Example",
                                                                                                  "1980-01-01")
    assert (order.product_id, order.dose_mg, order.course, order.course_day, str(order.scheduled_on), order.state.value) == \
        ("lemtrada", 12.0, 1, 1, "2026-11-20", "entered")
    assert answer["identifier"] == [{"system": ORDER_SYSTEM, "value": "RX-1"}] and answer["status"] == "active"
    state = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in answer["extension"]}
    assert state["urn:pharmacy:fhir:order-state"] == "entered"


def test_the_same_request_sent_twice_is_one_order_and_the_second_answer_is_the_first_order(ehr, pharmacy):
    first = ehr("POST", "/MedicationRequest", medication_request())
    again = ehr("POST", "/MedicationRequest", medication_request())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Location"] == first.headers["Location"]
    assert count(pharmacy, Order) == 1 and count(pharmacy, FhirOrder) == 1


def test_other_content_under_an_identifier_already_received_is_refused_and_nothing_changes(ehr, pharmacy):
    ehr("POST", "/MedicationRequest", medication_request())
    other = ehr("POST", "/MedicationRequest", medication_request(on="2026-11-21", day=2))
    assert other.status_code == 409 and "with other content" in issue(other)
    assert count(pharmacy, Order) == 1


def test_a_transaction_bundle_carries_the_patient_and_the_order(ehr, pharmacy):
    bundle = validate(transaction(who=patient("P-77", "Bruno", "Bundle", "1975-03-04"), order="RX-77"))
    response = ehr("POST", "", bundle)
    assert response.status_code == 200, response.get_json()
    reply = validate(response.get_json())
    assert reply["type"] == "transaction-response" and reply["entry"][0]["response"]["status"] == "201 Created"
    order = orders.get_order(pharmacy, int(reply["entry"][0]["resource"]["id"]))
    assert (order.patient.identifier, order.patient.name) == ("P-77", "Bruno Bundle")


@pytest.mark.hazard("H16")
@pytest.mark.hazard("H37")
def test_a_known_identifier_with_another_name_or_birth_date_is_refused_never_a_second_patient(ehr, pharmacy):
    factories.verified_order(pharmacy)  # P-1 Anna Example, born 1980-01-01
    for who in (patient(given="Bert"), patient(born="1981-01-01")):
        response = ehr("POST", "/MedicationRequest", medication_request(order="RX-X", who=who))
        assert response.status_code == 422 and "another name or date of birth" in issue(response)
    twin = ehr("POST", "/MedicationRequest", medication_request(order="RX-T", who=patient("P-NEW")))
    assert twin.status_code == 422 and "is known already" in issue(twin)  # same name and birth date, new identifier
    assert count(pharmacy, Patient) == 1 and count(pharmacy, Order) == 1 and count(pharmacy, FhirOrder) == 0


@pytest.mark.hazard("H7")
def test_another_patients_wristband_number_is_refused(ehr, pharmacy):
    factories.verified_order(pharmacy, factories.patient("P-2", "Bea Other", gsrn="735005385000000011"))
    response = ehr("POST", "/MedicationRequest", medication_request(who=patient(gsrn="735005385000000011")))
    assert response.status_code == 422 and "belongs to another patient" in issue(response)
    assert count(pharmacy, Patient) == 1


@pytest.mark.parametrize(("change", "words"), [
    ({"dose": 10}, "is not the dose of LEMTRADA"),
    ({"dose": 12, "unit": "mL"}, "a volume, but a mass is needed"),
    ({"dose": 0.012, "unit": "g"}, None),  # 12 mg in grams: the same dose
    ({"code": ("http://www.whocc.no/atc", "L04AA34")}, "No product of this pharmacy has the medication codes"),
])
def test_the_dose_must_be_the_products_in_ucum_units_and_the_medication_a_code_the_monograph_lists(ehr, pharmacy, change,
                                                                                                    words):
    response = ehr("POST", "/MedicationRequest", medication_request(**change))
    if words is None:
        assert response.status_code == 201
        return
    assert response.status_code == 422 and words in issue(response)
    assert count(pharmacy, Order) == 0


@pytest.mark.parametrize("code", [("urn:pharmacy:product", "lemtrada"), ("https://www.gs1.org/gtin", "09506000134406")])
def test_the_pharmacys_product_code_and_the_bags_gtin_name_the_product_too(ehr, code):
    assert ehr("POST", "/MedicationRequest", medication_request(code=code)).status_code == 201


@pytest.mark.hazard("H8")
def test_a_course_rule_breach_blocks_the_order_for_a_pharmacist_as_on_the_screens(ehr, pharmacy):
    response = ehr("POST", "/MedicationRequest", medication_request(course=2))
    assert response.status_code == 201
    answer = response.get_json()
    assert orders.get_order(pharmacy, int(answer["id"])).state.value == "blocked"
    assert answer["note"] and "course" in answer["note"][0]["text"].lower()


BAD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"resourceType": "Patient"}', "must be a MedicationRequest"),
    (json.dumps({**medication_request(), "identifier": []}).encode(), "exactly one identifier"),
    (json.dumps({**medication_request(), "intent": "plan"}).encode(), "intent must be order"),
    (json.dumps({**medication_request(), "status": "whatever"}).encode(), "is not a MedicationRequest status"),
    (json.dumps({**medication_request(), "extension": []}).encode(), "urn:pharmacy:fhir:course"),
    (json.dumps({**medication_request(), "subject": {"reference": "Patient/123"}}).encode(), "send the Patient with the order"),
    (json.dumps(medication_request(who=patient(identifier="P\u0000X"))).encode(), "control character"),
    (json.dumps(medication_request(on="2026-13-45")).encode(), "must be a date"),
    (json.dumps(medication_request(day=10**20)).encode(), "from 1 to 31"),
    (json.dumps(medication_request(who=patient(identifier="P" * 41))).encode(), "too long"),
    (json.dumps(medication_request(ward="W" * 101)).encode(), "too long"),
    (json.dumps({**medication_request(), "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 12, "unit": "mg"}}],
                                                                "timing": {"event": ["2026-11-20"]}}]}).encode(),
     "unitsofmeasure.org"),
    (("[" * 50 + "]" * 50).encode(), "nested deeper"),
]


@pytest.mark.hazard("H25")
@pytest.mark.parametrize(("raw", "words"), BAD_BODIES)
def test_bad_input_of_every_kind_is_a_clear_operation_outcome_and_nothing_changes(ehr, pharmacy, raw, words):
    before = count(pharmacy, AuditEntry)
    response = ehr("POST", "/MedicationRequest", raw=raw)
    assert 400 <= response.status_code < 500 and words in issue(response), issue(response)
    assert count(pharmacy, Order) == 0 and count(pharmacy, Patient) == 0 and count(pharmacy, AuditEntry) == before


def test_a_body_not_sent_as_json_is_a_400_operation_outcome(ehr):
    response = ehr("POST", "/MedicationRequest", raw=b"status=active", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "application/fhir+json" in issue(response)


def test_unknown_paths_and_methods_are_operation_outcomes_never_html(ehr):
    assert ehr("GET", "/Observation", who=None).status_code == 404
    assert ehr("DELETE", "/MedicationRequest/1").status_code == 404
    assert ehr("GET", "/Medication/NOSUCH").status_code == 404
    assert ehr("GET", "/MedicationDispense").status_code == 400  # a search needs its patient


def test_an_unexpected_fault_is_a_500_operation_outcome_not_a_page(ehr, app, monkeypatch):
    from pharmacy.services import fhir

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the app's own handler answers

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(fhir, "receive_order", broken)
    response = ehr("POST", "/MedicationRequest", medication_request())
    assert response.status_code == 500 and "Something went wrong" in issue(response)


@pytest.mark.hazard("H19")
def test_cancelled_or_held_in_the_record_cancels_or_holds_the_order_through_the_same_rules(ehr, pharmacy):
    created = ehr("POST", "/MedicationRequest", medication_request(), who="pharm").get_json()
    url = f"/MedicationRequest/{created['id']}"
    held = ehr("PUT", url, {**medication_request(status="on-hold"), "statusReason": {"text": "Awaiting blood results"}},
               who="pharm")
    assert held.status_code == 200 and validate(held.get_json())["status"] == "on-hold"
    order = orders.get_order(pharmacy, int(created["id"]))
    assert order.state.value == "held" and order.hold_reason == "Awaiting blood results"
    lifted = ehr("PUT", f"/MedicationRequest?identifier={ORDER_SYSTEM}|RX-1", medication_request(status="active"), who="pharm")
    assert lifted.status_code == 200 and orders.get_order(pharmacy, int(created["id"])).state.value == "entered"
    cancelled = ehr("PUT", url, medication_request(status="entered-in-error"), who="pharm")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert orders.get_order(pharmacy, int(created["id"])).state.value == "cancelled"


def test_a_technicians_token_cannot_hold_an_order_and_says_so(ehr, pharmacy):
    created = ehr("POST", "/MedicationRequest", medication_request()).get_json()
    response = ehr("PUT", f"/MedicationRequest/{created['id']}", medication_request(status="on-hold"))
    assert response.status_code == 403 and "pharmacist" in issue(response)
    assert orders.get_order(pharmacy, int(created["id"])).state.value == "entered"


@pytest.mark.hazard("H37")
def test_an_update_for_another_patient_is_refused(ehr, pharmacy):
    created = ehr("POST", "/MedicationRequest", medication_request()).get_json()
    other = medication_request(status="cancelled", subject={"identifier": {"system": PATIENT_SYSTEM, "value": "P-9"}})
    other.pop("contained")
    response = ehr("PUT", f"/MedicationRequest/{created['id']}", other)
    assert response.status_code == 422 and "cannot move an order to another patient" in issue(response)
    assert orders.get_order(pharmacy, int(created["id"])).state.value == "entered"


@pytest.mark.hazard("H37")
def test_a_cancellation_after_preparation_began_changes_nothing_and_the_checker_must_acknowledge_it(ehr, pharmacy):
    from pharmacy.services import release

    created = ehr("POST", "/MedicationRequest", medication_request(), who="pharm").get_json()
    order_id = int(created["id"])
    orders.verify_order(pharmacy, "pharm", order_id, premedication_confirmed=True)
    prep = factories.preparation.start(pharmacy, "tech", order_id)
    response = ehr("PUT", f"/MedicationRequest/{order_id}", medication_request(status="cancelled"), who="pharm")
    assert response.status_code == 409 and "its preparation has begun" in issue(response)
    assert orders.get_order(pharmacy, order_id).state.value == "in_preparation"
    misses = release.near_misses(pharmacy, prep.id)
    assert [m.code for m in misses] == ["fhir_preparation_begun"] and misses[0].safety


def test_a_ward_system_reads_the_dispenses_administrations_and_the_bag_as_searchset_bundles(ehr, pharmacy, clock):
    from pharmacy.services import administration

    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    dispenses = ehr("GET", f"/MedicationDispense?patient={PATIENT_SYSTEM}|P-1", who="nurse")
    found = validate(dispenses.get_json())
    assert (found["type"], found["total"]) == ("searchset", 1)
    assert found["entry"][0]["resource"]["status"] == "completed"
    running = validate(ehr("GET", "/MedicationAdministration?patient=P-1", who="nurse").get_json())
    assert [e["resource"]["status"] for e in running["entry"]] == ["in-progress"]
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", bag.serial)
    ended = validate(ehr("GET", "/MedicationAdministration?patient=P-1", who="nurse").get_json())
    assert [e["resource"]["status"] for e in ended["entry"]] == ["completed"]
    medication = validate(ehr("GET", f"/Medication/{bag.serial}", who="nurse").get_json())
    assert medication["id"] == bag.serial and {c["id"] for c in medication["contained"]} == {"vial", "diluent"}
    assert ehr("GET", "/MedicationDispense?patient=other-system|P-1", who="nurse").get_json()["total"] == 0
    assert ehr("GET", "/MedicationDispense?patient=P-1", who="temps").status_code == 403


def test_an_admins_token_reads_no_patient_over_fhir(ehr, app, pharmacy):
    token = users.create_token(pharmacy, "admin", "stock system")
    response = app.test_client().get("/fhir/r4/MedicationDispense?patient=P-1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.mimetype == FHIR and "admin may not" in issue(response)


def test_the_same_request_sent_twice_at_once_is_still_one_order(pharmacy, monkeypatch):
    """Two retries racing past the look-up: the identifier's unique constraint rolls the second back whole, and
    it answers with the first one's order."""
    from pharmacy.services import fhir

    first = fhir.receive_order(pharmacy, "tech", medication_request())
    real = fhir._known
    calls = []

    def raced(*args):
        calls.append(1)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(fhir, "_known", raced)
    second = fhir.receive_order(pharmacy, "tech", medication_request())
    assert (second.created, second.order.id) == (False, first.order.id) and len(calls) == 2
    assert count(pharmacy, Order) == 1 and count(pharmacy, Patient) == 1


@pytest.mark.hazard("H38")
def test_the_admin_sees_the_outbox_with_its_failing_rows_and_no_patient(signed_in, pharmacy, clock):
    from dataclasses import replace

    from pharmacy.services import outbox
    from tests.integration.test_fhir_outbox import closed_port_url

    pharmacy.settings = replace(pharmacy.settings, fhir_outbound_url=closed_port_url())
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    for _ in range(outbox.FAILING_AFTER):
        outbox.deliver(pharmacy)
        clock.advance(hours=1)
    page = signed_in("admin").get("/admin/fhir-outbox")
    shown = page.get_data(as_text=True)
    assert page.status_code == 200 and f"MedicationDispense/{bag.serial}" in shown and "FAILING" in shown
    assert "not reached" in shown and "Anna Example" not in shown and "P-1" not in shown
    assert signed_in("nurse").get("/admin/fhir-outbox").status_code == 403


def test_a_narrative_with_line_breaks_is_read_past_and_the_order_accepted(ehr):
    sent = {**medication_request(), "text": {"status": "generated",
                                             "div": '<div xmlns="http://www.w3.org/1999/xhtml">\n<p>Alemtuzumab 12 mg</p>\n</div>'}}
    assert ehr("POST", "/MedicationRequest", validate(sent)).status_code == 201
