"""Identity at the bed (SAFETY.md H7): the bedside knows a scanned wristband from a typed one, a typed
one needs its reason and is recorded as typed, and another patient's wristband is the wrong patient.
(The keystroke timing itself is proved in the browser: tests/e2e/test_bedside_typing_browser.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pharmacy.db.models import Administration, AuditEntry, Refusal
from pharmacy.services import bags
from tests import factories
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible
from tests.web.test_api import api  # noqa: F401 - the API client fixture
from tests.web.test_ward_screens import bedside, refusal_of

GSRN = "123456789012345675"
OTHER_GSRN = "123456789012345682"


@pytest.fixture
def bag(pharmacy):
    return factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], who=factories.patient(gsrn=GSRN))


def administrations(pharmacy) -> list[Administration]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(Administration)).scalars())


def start_entries(pharmacy) -> list[dict]:
    with pharmacy.uow(readonly=True) as uow:
        return [e.new for e in uow.session.execute(select(AuditEntry).where(AuditEntry.action == "administration.start"))
                .scalars()]


def start(nurse, pharmacy, serial: str, wristband: str, **fields):
    return nurse.post("/ward/start", {"bag": serial, "wristband": wristband, **factories.premedication_form(pharmacy),
                                      **fields})


@pytest.mark.hazard("H7")
def test_a_wristband_typed_by_hand_is_not_accepted_like_a_scan_it_is_shown_typed_and_start_asks_why(
        signed_in, pharmacy, bag, clock):
    nurse = signed_in("nurse")
    verdict = text(bedside(nurse, bag.serial, "P-1"))  # no timing field from the page: typed (fail safe)
    assert "Give this bag to Anna Example" in verdict
    assert "TYPED:" in verdict and "typed by hand, not scanned" in verdict
    assert 'name="entry" value="typed"' in verdict and 'name="typed_reason"' in verdict
    refused = start(nurse, pharmacy, bag.serial, "P-1", entry="typed")
    assert refused.status_code == 422
    assert "Scan the wristband, or say why it was typed" in text(refused) and 'name="typed_reason"' in text(refused)
    assert administrations(pharmacy) == [] and bags.get_bag(pharmacy, bag.serial).state == "released"
    with pharmacy.uow(readonly=True) as uow:
        codes = uow.session.execute(select(Refusal.code).where(Refusal.action == "administration.start")).scalars().all()
    assert codes == ["typed_wristband_needs_reason"]


@pytest.mark.hazard("H7")
def test_a_typed_wristband_with_its_reason_is_recorded_as_typed_with_the_reason(signed_in, pharmacy, bag, clock):
    nurse = signed_in("nurse")
    bedside(nurse, bag.serial, "P-1")
    clock.advance(minutes=1)
    response = start(nurse, pharmacy, bag.serial, "P-1", entry="typed", typed_reason="wristband_unreadable")
    assert response.status_code == 302, text(response)
    [record] = administrations(pharmacy)
    assert (record.patient_entry, record.patient_entry_reason) == ("typed", "Wristband unreadable")
    [entry] = start_entries(pharmacy)
    assert entry["patient_entry"] == "typed" and entry["patient_entry_reason"] == "Wristband unreadable"


@pytest.mark.hazard("H7")
def test_other_as_the_reason_for_typing_needs_its_words(signed_in, pharmacy, bag):
    nurse = signed_in("nurse")
    bedside(nurse, bag.serial, "P-1")
    refused = start(nurse, pharmacy, bag.serial, "P-1", typed_reason="other", typed_other=" ")
    assert refused.status_code == 422 and "say in a few words why the wristband was typed" in text(refused)
    assert administrations(pharmacy) == []
    assert start(nurse, pharmacy, bag.serial, "P-1", typed_reason="other",
                 typed_other="Patient in isolation, band behind glass").status_code == 302
    assert administrations(pharmacy)[0].patient_entry_reason == "Other: Patient in isolation, band behind glass"


@pytest.mark.hazard("H7")
def test_a_wristband_with_its_gs1_symbology_identifier_is_a_scan_and_needs_no_reason(signed_in, pharmacy, bag):
    nurse = signed_in("nurse")
    scan = factories.wristband_scan(GSRN)  # ]C1 8018…: what the scanner sends
    verdict = text(bedside(nurse, bag.serial, scan))
    assert "Give this bag to Anna Example" in verdict and "TYPED" not in verdict
    assert start(nurse, pharmacy, bag.serial, scan, entry="typed").status_code == 302  # the identifier decides
    [record] = administrations(pharmacy)
    assert (record.patient_entry, record.patient_entry_reason) == ("scanned", None)


@pytest.mark.hazard("H7")
def test_the_pages_keystroke_timing_saying_scanned_is_recorded_as_scanned(signed_in, pharmacy, bag):
    nurse = signed_in("nurse")
    assert "TYPED" not in text(nurse.post("/ward/check", {"bag": bag.serial, "wristband": "P-1", "entry": "scanned"}))
    assert start(nurse, pharmacy, bag.serial, "P-1", entry="scanned").status_code == 302
    assert administrations(pharmacy)[0].patient_entry == "scanned"


@pytest.mark.hazard("H7")
def test_an_unknown_entry_word_from_the_page_is_typed(signed_in, pharmacy, bag):
    nurse = signed_in("nurse")
    assert "TYPED:" in text(nurse.post("/ward/check", {"bag": bag.serial, "wristband": "P-1", "entry": "SCANNED!"}))
    assert start(nurse, pharmacy, bag.serial, "P-1", entry="barcode").status_code == 422


@pytest.mark.hazard("H7")
def test_a_typed_identifier_is_found_whatever_its_case_and_spaces(signed_in, pharmacy, bag):
    verdict = text(bedside(signed_in("nurse"), bag.serial, " p-1 "))
    assert "Give this bag to Anna Example" in verdict and "TYPED:" in verdict


@pytest.mark.hazard("H7")
def test_another_patients_wristband_gsrn_at_the_bedside_is_the_wrong_patient(signed_in, pharmacy, bag):
    factories.verified_order(pharmacy, factories.patient("P-2", "Bruno Other", gsrn=OTHER_GSRN))
    body = refusal_of(bedside(signed_in("nurse"), bag.serial, factories.wristband_scan(OTHER_GSRN)))
    assert "WRONG PATIENT" in body and "this bag is for Anna Example (P-1), not Bruno Other (P-2)" in body


@pytest.mark.hazard("H7")
def test_a_typed_wristband_refused_for_another_reason_still_shows_typed(signed_in, pharmacy, bag):
    factories.verified_order(pharmacy, factories.patient("P-2", "Bruno Other"))
    body = refusal_of(bedside(signed_in("nurse"), bag.serial, "P-2"))
    assert "WRONG PATIENT" in body and "TYPED:" in body


@pytest.mark.hazard("H7")
def test_the_typed_reason_form_is_labelled(signed_in, bag):
    accessible(bedside(signed_in("nurse"), bag.serial, "P-1"))


def api_premedication(pharmacy) -> list[dict]:
    return [{"what": g.what, "given_at": g.given_at.isoformat()} for g in factories.premedication_given(pharmacy)]


@pytest.mark.hazard("H7")
def test_by_api_a_patient_scan_without_symbology_identifier_is_typed_and_needs_its_reason(api, pharmacy, bag):  # noqa: F811
    body = {"bag_scan": bag.serial, "patient_scan": "P-1", "premedication": api_premedication(pharmacy)}
    checked = api("POST", "/bedside/check", who="nurse", json=body).get_json()
    assert checked["ok"] is True and checked["patient_entry"] == "typed"
    refused = api("POST", "/administrations", who="nurse", json=body)
    assert refused.status_code == 422 and refused.get_json()["code"] == "typed_wristband_needs_reason"
    assert administrations(pharmacy) == []
    started = api("POST", "/administrations", who="nurse", json={**body, "patient_entry_reason": "scanner_broken"})
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["patient_entry"] == "typed" and started.get_json()["patient_entry_reason"] == "Scanner broken"


@pytest.mark.hazard("H7")
def test_by_api_a_wristband_scan_with_its_symbology_identifier_is_scanned(api, pharmacy, bag):  # noqa: F811
    body = {"bag_scan": factories.label_scan(pharmacy, bag.serial), "patient_scan": factories.wristband_scan(GSRN),
            "premedication": api_premedication(pharmacy)}
    assert api("POST", "/bedside/check", who="nurse", json=body).get_json()["patient_entry"] == "scanned"
    started = api("POST", "/administrations", who="nurse", json=body)
    assert started.status_code == 201 and started.get_json()["patient_entry"] == "scanned"


@pytest.mark.hazard("H7")
def test_by_api_an_unknown_reason_for_typing_is_refused(api, pharmacy, bag):  # noqa: F811
    body = {"bag_scan": bag.serial, "patient_scan": "P-1", "patient_entry_reason": "in a hurry",
            "premedication": api_premedication(pharmacy)}
    refused = api("POST", "/administrations", who="nurse", json=body)
    assert refused.status_code == 422 and "is not a reason for a typed wristband" in refused.get_json()["message"]
    assert administrations(pharmacy) == []
