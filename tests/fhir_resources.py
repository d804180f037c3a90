"""FHIR resources as the hospital's record sends them (tests of issue 17), and their validation by others' code:
``fhir.resources`` (R4B models) for every resource accepted or emitted."""

from __future__ import annotations

import copy
import os

import pytest

PATIENT_SYSTEM = "urn:pharmacy:patient"  # the default PHARMACY_FHIR_PATIENT_SYSTEM
ORDER_SYSTEM = "urn:oid:1.2.3.4.5.6.1"   # the hospital's order numbers (an OID of its own)


def require_module(name: str):
    """A test-extra library (``fhir.resources``, ``fhirclient``): missing is a skip locally, a failure in CI."""
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        message = f"{name} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message + ": in CI a missing test dependency is a failure, not a skip")
        pytest.skip(message)


def validate(resource: dict) -> dict:
    """The resource, validated by the R4B models of ``fhir.resources`` (raises on anything invalid)."""
    module = require_module("fhir.resources.R4B")
    from fhir.resources.R4B import get_fhir_model_class

    assert module is not None
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)  # pydantic 2: every element, type and cardinality
    for item in resource.get("contained") or []:
        validate(item)
    for entry in resource.get("entry") or []:
        if "resource" in entry:
            validate(entry["resource"])
    return resource


def patient(identifier: str = "P-1", given: str = "Anna", family: str = "Example", born: str = "1980-01-01",
            gsrn: str | None = None, rid: str = "patient") -> dict:
    identifiers = [{"system": PATIENT_SYSTEM, "value": identifier}]
    if gsrn:
        identifiers.append({"system": "https://www.gs1.org/gsrn", "value": gsrn})
    return {"resourceType": "Patient", "id": rid, "identifier": identifiers,
            "name": [{"use": "official", "family": family, "given": [given]}], "birthDate": born}


def medication_request(order: str = "RX-1", on: str = "2026-11-20", course: int = 1, day: int = 1, dose: float = 12,
                       unit: str = "mg", code: tuple[str, str] = ("http://www.whocc.no/atc", "L04AG06"),
                       ward: str | None = "Ward 5", who: dict | None = None, status: str = "active",
                       subject: dict | None = None) -> dict:
    """A MedicationRequest with its Patient contained (``who``: the Patient resource; default Anna Example)."""
    resource = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": ORDER_SYSTEM, "value": order}],
        "status": status, "intent": "order",
        "contained": [copy.deepcopy(who or patient())],
        "subject": subject or {"reference": "#patient"},
        "medicationCodeableConcept": {"coding": [{"system": code[0], "code": code[1]}]},
        "dosageInstruction": [{"timing": {"event": [on]},
                               "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit,
                                                                 "system": "http://unitsofmeasure.org", "code": unit}}]}],
        "extension": [{"url": "urn:pharmacy:fhir:course", "valueInteger": course},
                      {"url": "urn:pharmacy:fhir:course-day", "valueInteger": day}],
    }
    if ward:
        resource["extension"].append({"url": "urn:pharmacy:fhir:ward", "valueString": ward})
    return resource


def transaction(who: dict | None = None, **order) -> dict:
    """A transaction Bundle: the Patient and the MedicationRequest that refers to it by fullUrl."""
    person = copy.deepcopy(who or patient())
    person.pop("id", None)
    request = medication_request(**order)
    request.pop("contained")
    request["subject"] = {"reference": "urn:uuid:7c3a1e0e-0b7e-4f7e-9d7a-2f1d2b3c4d5e"}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:7c3a1e0e-0b7e-4f7e-9d7a-2f1d2b3c4d5e", "resource": person,
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:0d8f2c4a-5b6e-4a1f-8c3d-9e0f1a2b3c4d", "resource": request,
         "request": {"method": "POST", "url": "MedicationRequest"}}]}
