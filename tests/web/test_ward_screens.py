"""The bedside screens: scan the bag label, then the wristband; the verdict fills the screen (give it,
or every reason not to); Start is checked again; End, Interrupt and the observation after (SmPC 4.4)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pharmacy.db.models import Administration, Refusal
from pharmacy.domain.coldchain import reading
from pharmacy.services import bags, coldchain
from tests import factories
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible

GSRN = "123456789012345675"
BRUSSELS = ZoneInfo("Europe/Brussels")


def scan_bag(nurse, raw: str):
    nurse.get("/ward/")
    return nurse.post("/ward/bag", {"bag": raw})


def bedside(nurse, raw_bag: str, wristband: str):
    """Both scans as the screens take them; the verdict page."""
    page = scan_bag(nurse, raw_bag)
    assert page.status_code == 200, text(page)
    serial = page.get_data(as_text=True).split('name="bag" value="', 1)[1].split('"', 1)[0]
    return nurse.post("/ward/check", {"bag": serial, "wristband": wristband})


def administrations(pharmacy) -> list[Administration]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(Administration)).scalars())


@pytest.fixture
def bag(pharmacy):
    return factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])


def test_the_bedside_starts_with_a_focused_scan_field_for_the_bag_label(signed_in):
    page = text(signed_in("nurse").get("/ward/"))
    assert "Scan the bag label" in page
    assert 'id="scan" name="bag"' in page and "autofocus" in page and "data-scan" in page


def test_a_nurse_starts_at_the_bedside(signed_in):
    assert signed_in("nurse").get("/").headers["Location"] == "/ward/"


@pytest.mark.parametrize("symbol", ["datamatrix", "gs1-128"])
def test_the_bag_label_is_read_from_either_barcode_and_the_wristband_is_asked_for(signed_in, pharmacy, bag, symbol):
    raw = factories.label_scan(pharmacy, bag.serial, symbol).replace(factories.GS, "<GS>")
    page = scan_bag(signed_in("nurse"), raw)
    assert page.status_code == 200
    body = text(page)
    assert "Scan the patient's wristband" in body and bag.serial in body and "Anna Example (P-1)" in body
    assert "LEMTRADA (alemtuzumab) 12 mg" in body and "20 Nov 2026 17:00 CET" in body


def test_the_serial_typed_from_the_label_is_accepted(signed_in, bag):
    assert "Scan the patient's wristband" in text(scan_bag(signed_in("nurse"), bag.serial))


def test_a_vial_carton_scanned_as_a_bag_is_refused_at_once(signed_in, pharmacy):
    page = scan_bag(signed_in("nurse"), factories.vial_scan(pharmacy.vial_serials[3]))
    assert page.status_code == 422
    assert "is not one of this pharmacy's bag labels" in text(page)
    assert "Scan the bag label" in text(page)


def test_an_unknown_bag_is_refused_at_once(signed_in):
    page = scan_bag(signed_in("nurse"), "BAG9999999")
    assert page.status_code == 404 and "No bag with serial “BAG9999999”." in text(page)


@pytest.mark.hazard("H7")
def test_the_right_wristband_gives_a_green_verdict_with_a_start_button(signed_in, pharmacy, bag):
    page = bedside(signed_in("nurse"), factories.label_scan(pharmacy, bag.serial), "P-1")
    body = text(page)
    assert page.status_code == 200
    assert "Give this bag to Anna Example" in body and "verdict-ok" in body
    assert "Start infusion" in body and "Do not give" not in body
    assert 'data-use-by="2026-11-20T17:00:00+01:00"' in body and 'data-server-now="2026-11-20T09:00:00+01:00"' in body


@pytest.mark.hazard("H7")
def test_a_gs1_wristband_with_the_patients_gsrn_is_accepted(signed_in, pharmacy):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0], who=factories.patient(gsrn=GSRN))
    body = text(bedside(signed_in("nurse"), bag.serial, factories.wristband_scan(GSRN)))
    assert "Give this bag to Anna Example" in body


def test_start_records_the_administration_and_lists_the_infusion(signed_in, pharmacy, bag, clock):
    nurse = signed_in("nurse")
    bedside(nurse, bag.serial, "P-1")
    clock.advance(minutes=2)
    response = nurse.post("/ward/start", {"bag": bag.serial, "wristband": "P-1", "entry": "scanned",  # the page's timing: a scanner
                                          **factories.premedication_form(pharmacy)})
    assert response.status_code == 302 and response.headers["Location"] == "/ward/infusions"
    page = text(nurse.get("/ward/infusions"))
    assert "Infusion of bag BAG0000001 started at 09:02 CET" in page
    assert "Under way" in page and "Anna Example" in page and "End: bag ran through" in page
    assert bags.get_bag(pharmacy, bag.serial).state == "in_administration"
    [record] = administrations(pharmacy)
    assert record.started_at == clock.now and record.ended_at is None


def plain(response) -> str:
    """The page's words only, tags dropped and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def refusal_of(page) -> str:
    """The red verdict, as read; the data-code of each reason stays visible."""
    body = text(page)
    assert "Do not give this bag" in body and "verdict-refused" in body and "Start infusion" not in body
    return " ".join(re.sub(r"<(?!li )[^>]+>", " ", body).split())


@pytest.mark.hazard("H7")
def test_the_wrong_wristband_is_refused_and_names_both_patients(signed_in, pharmacy, bag):
    factories.verified_order(pharmacy, factories.patient("P-2", "Bruno Other"))
    body = refusal_of(bedside(signed_in("nurse"), bag.serial, "P-2"))
    assert "WRONG PATIENT" in body and "this bag is for Anna Example (P-1), not Bruno Other (P-2)" in body
    assert administrations(pharmacy) == []


@pytest.mark.hazard("H7")
def test_a_wristband_that_matches_nobody_is_refused(signed_in, bag):
    assert "UNKNOWN PATIENT" in refusal_of(bedside(signed_in("nurse"), bag.serial, "P-404"))


@pytest.mark.hazard("H4")
def test_an_expired_bag_is_refused(signed_in, bag, clock):
    clock.advance(hours=8)
    body = refusal_of(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert "EXPIRED" in body and "This bag expired at 20 Nov 2026 17:00 CET" in body


@pytest.mark.hazard("H6")
def test_a_quarantined_bag_is_refused(signed_in, pharmacy, bag, clock):
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.advance(minutes=5), 8.5))], "form")
    body = refusal_of(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert "QUARANTINED: this bag was taken out of use" in body


def test_a_bag_not_yet_released_is_refused(signed_in, pharmacy):
    _, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    assert "NOT RELEASED: a pharmacist has not checked this bag yet" in refusal_of(bedside(signed_in("nurse"), bag.serial, "P-1"))


@pytest.mark.hazard("H18")
def test_a_bag_already_given_is_refused(signed_in, pharmacy, bag):
    factories.start_infusion(pharmacy, bag.serial)
    assert "ALREADY GIVEN" in refusal_of(bedside(signed_in("nurse"), bag.serial, "P-1"))


def test_yesterdays_dose_is_refused_after_midnight_though_still_in_date(signed_in, pharmacy, clock):
    clock.set(datetime(2026, 11, 19, 22, 0, tzinfo=BRUSSELS))
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    clock.set(datetime(2026, 11, 20, 0, 30, tzinfo=BRUSSELS))
    body = refusal_of(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert "OTHER DAY: this dose is for 19 Nov 2026, not today" in body and "EXPIRED" not in body


def test_every_reason_is_listed_not_only_the_first(signed_in, pharmacy, bag, clock):
    factories.verified_order(pharmacy, factories.patient("P-2", "Bruno Other"))
    clock.advance(hours=9)
    page = bedside(signed_in("nurse"), bag.serial, "P-2")
    body = refusal_of(page)
    assert 'data-code="expired"' in body and 'data-code="wrong_patient"' in body


@pytest.mark.hazard("H4")
def test_start_checks_again_and_refuses_a_bag_that_expired_after_the_scan(signed_in, pharmacy, bag, clock):
    # policy "start", where the use-by is the last start (under the default "end" START BY comes first:
    # tests/web/test_start_by_screens.py)
    pharmacy.settings = replace(pharmacy.settings, administration_policy="start")
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)  # kept in the fridge until hung (H6)
    clock.set(bag.use_by - timedelta(seconds=30))
    nurse = signed_in("nurse")
    assert "Give this bag to Anna Example" in text(bedside(nurse, bag.serial, "P-1"))
    clock.advance(seconds=30)
    refused = nurse.post("/ward/start", {"bag": bag.serial, "wristband": "P-1"})
    assert refused.status_code == 422
    body = refusal_of(refused)
    assert "Checked again when Start was touched" in body and "EXPIRED" in body
    assert administrations(pharmacy) == []
    assert bags.get_bag(pharmacy, bag.serial).state == "stored"
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(Refusal.code).where(Refusal.action == "administration.start")).scalars().all() == [
            "administration_refused"]


def test_a_wristband_that_is_not_gs1_data_is_shown_on_the_wristband_step(signed_in, bag):
    page = bedside(signed_in("nurse"), bag.serial, "]C1ABC")
    assert page.status_code == 422 and "Scan the patient's wristband" in text(page) and "not a GS1" in text(page)


def start(nurse, serial: str, pharmacy=None) -> None:
    """Start from the verdict, with the day-1 pre-medication ticked as given 30 min ago (H17)."""
    nurse.get("/ward/")
    fields = factories.premedication_form(pharmacy) if pharmacy is not None else {}
    response = nurse.post("/ward/start", {"bag": serial, "wristband": "P-1", "entry": "scanned", **fields})
    assert response.status_code == 302, text(response)


def test_end_shows_the_observation_period_of_two_hours(signed_in, pharmacy, bag, clock):
    nurse = signed_in("nurse")
    start(nurse, bag.serial, pharmacy)
    clock.set(clock.now + timedelta(hours=4, minutes=5))
    nurse = signed_in("nurse")  # the idle timeout signed the first session out
    assert nurse.post(f"/ward/infusions/{bag.serial}/end").status_code == 302
    page = plain(nurse.get("/ward/infusions"))
    assert "ended at 13:05" in page and "Observe the patient until 20 Nov 2026 15:05 CET." in page
    assert "Observe the patient until 15:05" in page and "No infusion under way" in page
    assert bags.get_bag(pharmacy, bag.serial).state == "administered"
    clock.advance(hours=2, minutes=1)
    assert "Observation period ended at 15:05" in plain(signed_in("nurse").get("/ward/infusions"))


@pytest.mark.hazard("H8")
def test_an_early_end_needs_a_reason_from_the_list_and_records_it(signed_in, pharmacy, bag, clock):
    nurse = signed_in("nurse")
    start(nurse, bag.serial, pharmacy)
    clock.advance(minutes=40)
    nurse = signed_in("nurse")
    page = text(nurse.get("/ward/infusions"))
    assert "Ending before 12:36 CET is an early end" in page and 'value="patient_reaction"' in page
    refused = nurse.post(f"/ward/infusions/{bag.serial}/end")
    assert refused.status_code == 422 and "ran for 40 min of the planned 4 h: say why it ended early" in text(refused)
    assert nurse.post(f"/ward/infusions/{bag.serial}/interrupt", {"reason": "Rash and fever"}).status_code == 400
    unsaid = nurse.post(f"/ward/infusions/{bag.serial}/interrupt", {"reason": "other", "detail": " "})
    assert unsaid.status_code == 422 and "Say what happened" in text(unsaid)
    assert administrations(pharmacy)[0].ended_at is None
    assert nurse.post(f"/ward/infusions/{bag.serial}/interrupt",
                      {"reason": "patient_reaction", "detail": "Rash and fever"}).status_code == 302
    page = plain(nurse.get("/ward/infusions"))
    assert "Stopped early 09:40" in page and "patient reaction: Rash and fever" in page and "until 11:40" in page
    record = administrations(pharmacy)[0]
    assert (record.end_reason, record.interrupted_reason) == ("patient_reaction", "patient reaction: Rash and fever")
    assert bags.get_bag(pharmacy, bag.serial).state == "administered"


@pytest.mark.hazard("H18")
def test_an_infusion_cannot_be_ended_twice(signed_in, pharmacy, bag, clock):
    nurse = signed_in("nurse")
    start(nurse, bag.serial, pharmacy)
    clock.advance(hours=4)
    nurse = signed_in("nurse")
    nurse.get("/ward/infusions")
    assert nurse.post(f"/ward/infusions/{bag.serial}/end").status_code == 302
    again = nurse.post(f"/ward/infusions/{bag.serial}/end")
    assert again.status_code == 409 and "was already ended" in text(again)


@pytest.mark.parametrize("username", ["tech", "auditor", "admin"])
def test_only_nurses_and_pharmacists_use_the_bedside(signed_in, username):
    assert signed_in(username).get("/ward/").status_code == 403


def test_an_auditor_cannot_check_start_or_end_at_the_bedside(signed_in, bag):
    auditor = signed_in("auditor")
    for url in ("/ward/bag", "/ward/check", "/ward/start", f"/ward/infusions/{bag.serial}/end"):
        assert auditor.post(url, {"bag": bag.serial, "wristband": "P-1"}).status_code == 403, url


def test_a_pharmacist_may_give_a_bag_too(signed_in, bag):
    assert "Give this bag to Anna Example" in text(bedside(signed_in("pharm"), bag.serial, "P-1"))


def test_the_bedside_forms_need_their_csrf_token(signed_in, pharmacy, bag):
    nurse = signed_in("nurse")
    response = nurse.post("/ward/start", {"bag": bag.serial, "wristband": "P-1"}, csrf=False)
    assert response.status_code == 400 and "security token" in text(response)
    assert administrations(pharmacy) == []


def test_the_bedside_screens_are_labelled_and_have_no_inline_code(signed_in, pharmacy, bag):
    nurse = signed_in("nurse")
    accessible(nurse.get("/ward/"))
    accessible(scan_bag(nurse, bag.serial))
    accessible(nurse.post("/ward/check", {"bag": bag.serial, "wristband": "P-1"}))
    accessible(nurse.post("/ward/check", {"bag": bag.serial, "wristband": "P-9"}))
    start(nurse, bag.serial, pharmacy)
    accessible(nurse.get("/ward/infusions"))
