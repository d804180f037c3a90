"""The FHIR mapping is pure (domain/fhir.py): a MedicationRequest read into plain values, codes to a product,
UCUM doses through pint, the day in the pharmacy's zone."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain import fhir
from tests.fhir_resources import PATIENT_SYSTEM, medication_request, patient

ZONE = ZoneInfo("Europe/Brussels")
PRODUCTS = {"lemtrada": fhir.codes_of("lemtrada", "L04AG06", "09506000134406", ("09506000134369",)),
            "other": fhir.codes_of("other", "L01XC02", "09506000999991", ())}


def test_a_request_is_read_into_plain_values():
    request = fhir.read_medication_request(medication_request(course=2, day=3), PATIENT_SYSTEM, ZONE)
    assert (request.identifier, request.status, request.course, request.course_day, request.ward) == ("RX-1", "active", 2, 3,
                                                                                                     "Ward 5")
    assert request.patient == fhir.PatientFacts(PATIENT_SYSTEM, "P-1", "Anna Example", date(1980, 1, 1), None)
    assert request.dose is not None and request.dose.to("mg").magnitude == 12


def test_a_datetime_with_its_offset_is_the_day_it_falls_on_in_the_pharmacys_zone():
    late = medication_request(on="2026-11-20T23:30:00Z")  # 00:30 on the 21st in Brussels
    assert fhir.read_medication_request(late, PATIENT_SYSTEM, ZONE).scheduled_on == date(2026, 11, 21)
    with pytest.raises(fhir.FhirInvalid, match="UTC offset"):
        fhir.read_medication_request(medication_request(on="2026-11-20T10:00:00"), PATIENT_SYSTEM, ZONE)


@pytest.mark.parametrize(("value", "code", "mg"), [(12, "mg", 12), (0.012, "g", 12), (12000, "ug", 12)])
def test_ucum_doses_are_read_through_pint(value, code, mg):
    dose = fhir.read_dose({"value": value, "code": code, "system": fhir.UCUM}, "dose")
    assert dose.to("mg").magnitude == pytest.approx(mg)


def test_a_dose_that_is_not_a_mass_is_refused():
    with pytest.raises(fhir.FhirUnprocessable, match="a volume"):
        fhir.read_dose({"value": 12, "code": "mL", "system": fhir.UCUM}, "dose")


def test_codes_name_one_product_or_the_refusal_lists_the_known_codes():
    assert fhir.product_for(((fhir.ATC, "L04AG06"),), PRODUCTS) == "lemtrada"
    assert fhir.product_for(((fhir.GTIN, "09506000134369"),), PRODUCTS) == "lemtrada"  # the vial's GTIN
    with pytest.raises(fhir.FhirUnprocessable, match="more than one product"):
        fhir.product_for(((fhir.ATC, "L04AG06"), (fhir.ATC, "L01XC02")), PRODUCTS)
    with pytest.raises(fhir.FhirUnprocessable, match=re.escape("Known: lemtrada: http://www.whocc.no/atc|L04AG06")):
        fhir.product_for(((fhir.ATC, "L04AA34"),), PRODUCTS)


def test_the_official_name_is_read_as_one_line():
    names = [{"use": "usual", "given": ["Annie"], "family": "E"}, {"use": "official", "given": ["Anna", "Maria"],
                                                                    "family": "Example"}]
    assert fhir.human_name(names, "Patient.name") == "Anna Maria Example"
    assert fhir.human_name([{"text": "  Anna   Example "}], "Patient.name") == "Anna Example"


def test_a_patient_without_the_hospitals_identifier_system_is_refused():
    other = patient()
    other["identifier"][0]["system"] = "urn:other"
    with pytest.raises(fhir.FhirUnprocessable, match="urn:other"):
        fhir.read_patient(other, PATIENT_SYSTEM)


def test_every_error_is_an_operation_outcome_with_the_words():
    assert fhir.operation_outcome("No.", "conflict", details="x") == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "conflict", "diagnostics": "No.", "details": {"text": "x"}}]}
