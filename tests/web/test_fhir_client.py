"""End to end as an EHR would (issue 17): the SMART ``fhirclient`` library reads the CapabilityStatement, sends the
order as a MedicationRequest to the real server (waitress on loopback), and reads back the dispense, the
administration and the bag as Medication — every resource parsed by fhirclient's R4 models and validated by
``fhir.resources`` (R4B)."""

from __future__ import annotations

import pytest

from pharmacy.services import administration, orders, users
from tests import factories
from tests.e2e.conftest import LiveServer
from tests.fhir_resources import medication_request, require_module, validate


@pytest.fixture
def live(pharmacy):
    from pharmacy.web.app import create_app

    server = LiveServer(create_app(pharmacy=pharmacy))
    server.start()
    yield server
    server.stop()


@pytest.mark.hazard("H37")
@pytest.mark.hazard("H38")
def test_an_ehr_with_fhirclient_sends_an_order_and_reads_back_the_dispense_and_the_administration(pharmacy, live, clock,
                                                                                                   monkeypatch):
    client = require_module("fhirclient.client")
    from fhirclient.models.medication import Medication
    from fhirclient.models.medicationadministration import MedicationAdministration
    from fhirclient.models.medicationdispense import MedicationDispense
    from fhirclient.models.medicationrequest import MedicationRequest

    token = users.create_token(pharmacy, "tech", "hospital EHR", scope="fhir.orders fhir.read")
    smart = client.FHIRClient(settings={"app_id": "hospital-ehr", "api_base": f"{live.url}/fhir/r4"})
    smart.server.session.headers["Authorization"] = f"Bearer {token}"
    smart.server.get_capability()  # parsed by fhirclient's CapabilityStatement model
    assert smart.server.capabilityStatement.fhirVersion == "4.0.1"

    sent = MedicationRequest(validate(medication_request()))
    answer = sent.create(smart.server)
    assert answer["status"] == "active" and answer["identifier"][0]["value"] == "RX-1"
    again = MedicationRequest(medication_request()).create(smart.server)  # a retry after a lost answer
    assert again["id"] == answer["id"]
    read = MedicationRequest.read(answer["id"], smart.server)
    assert read.subject.identifier.value == "P-1" and read.dosageInstruction[0].doseAndRate[0].doseQuantity.value == 12

    order_id = int(answer["id"])
    verified = orders.verify_order(pharmacy, "pharm", order_id, premedication_confirmed=True)
    monkeypatch.setattr(factories, "verified_order", lambda *_a, **_k: verified)  # the pharmacy prepares this order
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", bag.serial)

    dispenses = list(MedicationDispense.where(struct={"patient": "P-1"}).perform_resources_iter(smart.server))
    assert [d.status for d in dispenses] == ["completed"]
    validate(dispenses[0].as_json())
    assert dispenses[0].authorizingPrescription[0].identifier.value == "RX-1"
    assert {p.function.coding[0].code for p in dispenses[0].performer} == {"packager", "checker"}
    given = list(MedicationAdministration.where(struct={"patient": "urn:pharmacy:patient|P-1"})
                 .perform_resources_iter(smart.server))
    assert [a.status for a in given] == ["completed"] and given[0].request.identifier.value == "RX-1"
    validate(given[0].as_json())
    medication = Medication.read(bag.serial, smart.server)
    assert medication.batch.lotNumber == bag.batch
    lots = {c.id: c.batch.lotNumber for c in medication.contained}
    assert lots["vial"] == "K123A" and lots["diluent"]
    validate(medication.as_json())
    assert list(MedicationDispense.where(struct={"patient": "P-NOBODY"}).perform_resources_iter(smart.server)) == []
