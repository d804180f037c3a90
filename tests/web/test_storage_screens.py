"""Storage: a released bag put into a location by scanning, the moves, locations added by the admin;
temperatures by form and CSV upload, each location's readings with its excursions and the bags they
quarantined."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pharmacy.domain.coldchain import reading
from pharmacy.services import bags, coldchain
from tests import factories
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible
from tests.web.test_ward_screens import plain


@pytest.fixture
def bag(pharmacy):
    return factories.released_bag(pharmacy, pharmacy.vial_serials[0])


def store(browser, bag_scan: str, location: str = factories.FRIDGE):
    browser.get("/storage/")
    return browser.post("/storage/store", {"bag": bag_scan, "location": location})


def test_a_released_bag_is_stored_by_scanning_its_label_and_the_move_is_listed(signed_in, pharmacy, bag, clock):
    tech = signed_in("tech")
    clock.advance(minutes=3)
    response = store(tech, factories.label_scan(pharmacy, bag.serial).replace(factories.GS, "<GS>"))
    assert response.status_code == 302 and response.headers["Location"] == "/storage/"
    page = plain(tech.get("/storage/"))
    assert "Bag BAG0000001 stored in Pharmacy fridge 1." in page
    assert "20 Nov 09:03 CET BAG0000001 Pharmacy fridge 1 Tessa Technician" in page
    stored = bags.get_bag(pharmacy, bag.serial)
    assert stored.state == "stored" and stored.location_id is not None


def test_the_gs1_128_or_the_typed_serial_store_a_bag_too(signed_in, pharmacy):
    first = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    second = factories.released_bag(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Bruno Other"))
    nurse = signed_in("nurse")
    assert store(nurse, factories.label_scan(pharmacy, first.serial, "gs1-128")).status_code == 302
    assert store(nurse, second.serial).status_code == 302
    assert {bags.get_bag(pharmacy, s).state for s in (first.serial, second.serial)} == {"stored"}


def test_an_unknown_location_is_refused_and_the_bag_stays_where_it_was(signed_in, pharmacy, bag):
    response = store(signed_in("tech"), bag.serial, "Fridge 99")
    assert response.status_code == 404 and "No storage location “Fridge 99”." in text(response)
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


def test_a_bag_not_yet_released_is_not_stored(signed_in, pharmacy):
    _, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    response = store(signed_in("tech"), bag.serial)
    assert response.status_code == 409 and "only a released bag is put into storage" in text(response)


def test_the_store_form_has_a_focused_bag_scan_and_the_locations_to_pick(signed_in):
    page = text(signed_in("tech").get("/storage/"))
    assert 'id="bag" name="bag"' in page and "autofocus" in page
    assert '<datalist id="location-names"><option value="Pharmacy fridge 1">' in page


def test_the_admin_adds_a_location_with_the_default_range(signed_in, pharmacy):
    admin = signed_in("admin")
    page = text(admin.get("/storage/"))
    assert 'name="min_celsius" type="text" inputmode="decimal" required value="2"' in page
    assert 'name="max_celsius" type="text" inputmode="decimal" required value="8"' in page
    response = admin.post("/storage/locations", {"name": "Ward 5 fridge", "min_celsius": "2", "max_celsius": "8"})
    assert response.status_code == 302
    assert "Location Ward 5 fridge added (2–8 °C)." in plain(admin.get("/storage/"))
    assert [(loc.name, loc.min_celsius, loc.max_celsius) for loc in bags.locations(pharmacy)] == [
        ("Pharmacy fridge 1", 2.0, 8.0), ("Ward 5 fridge", 2.0, 8.0)]


@pytest.mark.parametrize(("form", "status", "words"), [
    ({"name": factories.FRIDGE, "min_celsius": "2", "max_celsius": "8"}, 409, "exists already"),
    ({"name": "Warm fridge", "min_celsius": "8", "max_celsius": "2"}, 422, "minimum is below its maximum"),
    ({"name": "Odd fridge", "min_celsius": "two", "max_celsius": "8"}, 400, "The lowest temperature must be a number"),
    ({"name": "", "min_celsius": "2", "max_celsius": "8"}, 400, "The location's name is required"),
])
def test_a_wrong_location_is_refused_with_its_reason(signed_in, pharmacy, form, status, words):
    admin = signed_in("admin")
    admin.get("/storage/")
    response = admin.post("/storage/locations", form)
    assert response.status_code == status and words in text(response)
    assert len(bags.locations(pharmacy)) == 1


def test_a_nurse_cannot_add_a_location_and_is_not_offered_the_form(signed_in, pharmacy):
    nurse = signed_in("nurse")
    assert "Add a location" not in text(nurse.get("/storage/"))
    assert nurse.post("/storage/locations", {"name": "Ward fridge", "min_celsius": "2", "max_celsius": "8"}).status_code == 403
    assert len(bags.locations(pharmacy)) == 1


def test_an_auditor_reads_storage_and_temperatures_but_changes_nothing(signed_in, pharmacy, bag):
    auditor = signed_in("auditor")
    page = text(auditor.get("/storage/"))
    assert factories.FRIDGE in page and 'name="bag"' not in page and "Record temperatures" not in page
    assert auditor.get("/storage/locations/1").status_code == 200
    assert auditor.get("/storage/temperatures").status_code == 403
    for url, form in [("/storage/store", {"bag": bag.serial, "location": factories.FRIDGE}),
                      ("/storage/locations", {"name": "X fridge", "min_celsius": "2", "max_celsius": "8"}),
                      ("/storage/temperatures", {"location": factories.FRIDGE, "time": "2026-11-20 09:00", "celsius": "9"})]:
        assert auditor.post(url, form).status_code == 403, url
    assert bags.get_bag(pharmacy, bag.serial).state == "released"
    assert coldchain.readings_for(pharmacy, factories.FRIDGE, factories.clock_module_now() - timedelta(days=1),
                                  factories.clock_module_now()) == []


def test_storage_forms_need_their_csrf_token(signed_in, pharmacy, bag):
    tech = signed_in("tech")
    assert tech.post("/storage/store", {"bag": bag.serial, "location": factories.FRIDGE}, csrf=False).status_code == 400
    assert tech.post("/storage/temperatures", {"location": factories.FRIDGE, "time": "2026-11-20 09:00",
                                               "celsius": "5"}, csrf=False).status_code == 400
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


# --- temperatures --------------------------------------------------------------------------------

def record(browser, celsius: str, time: str = "2026-11-20 09:00", location: str = factories.FRIDGE):
    browser.get("/storage/temperatures")
    return browser.post("/storage/temperatures", {"location": location, "time": time, "celsius": celsius})


def test_the_reading_form_defaults_to_now_in_local_time(signed_in):
    page = text(signed_in("nurse").get("/storage/temperatures"))
    assert 'name="time" type="text" required autocomplete="off" value="2026-11-20 09:00"' in page
    assert "Time (Europe/Brussels)" in page


def test_a_reading_in_range_is_recorded_at_the_local_time_given(signed_in, pharmacy, clock):
    nurse = signed_in("nurse")
    response = record(nurse, "5,4", "2026-11-20 08:45")
    assert response.status_code == 302
    assert "Reading recorded: Pharmacy fridge 1, 5.4 °C." in plain(nurse.get("/storage/temperatures"))
    [stored] = coldchain.readings_for(pharmacy, factories.FRIDGE, clock.now - timedelta(hours=1), clock.now)
    assert stored.at == clock.now - timedelta(minutes=15) and stored.celsius == 5.4 and stored.source == "form"


@pytest.mark.hazard("H6")
def test_a_reading_of_8_5_quarantines_the_stored_bag_and_says_so(signed_in, pharmacy, bag, clock):
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    clock.advance(minutes=10)
    tech = signed_in("tech")
    assert record(tech, "8.5", "2026-11-20 09:10").status_code == 302
    page = plain(tech.get("/storage/temperatures"))
    assert "8.5 °C is out of range for Pharmacy fridge 1. QUARANTINED: BAG0000001." in page
    assert bags.get_bag(pharmacy, bag.serial).state == "quarantined"


def test_the_same_reading_twice_is_recorded_once(signed_in, pharmacy, clock):
    nurse = signed_in("nurse")
    record(nurse, "5")
    record(nurse, "5")
    assert "already has a reading at that time: nothing was recorded twice" in plain(nurse.get("/storage/temperatures"))
    assert len(coldchain.readings_for(pharmacy, factories.FRIDGE, clock.now - timedelta(hours=1), clock.now)) == 1


@pytest.mark.parametrize(("time", "celsius", "location", "status", "words"), [
    ("2026-10-25 02:30", "5", factories.FRIDGE, 400, "happens twice or not at all in Europe/Brussels"),
    ("2026-03-29 02:30", "5", factories.FRIDGE, 400, "happens twice or not at all"),
    ("yesterday", "5", factories.FRIDGE, 400, "The time must be a date and time"),
    ("2026-11-20 09:00", "warm", factories.FRIDGE, 422, "“warm” is not a temperature in °C."),
    ("2026-11-20 09:00", "5", "Fridge 99", 422, "Unknown location “Fridge 99”."),
])
def test_a_bad_reading_is_refused_with_its_reason_and_nothing_is_recorded(signed_in, pharmacy, clock, time, celsius, location,
                                                                          status, words):
    response = record(signed_in("nurse"), celsius, time, location)
    assert response.status_code == status and words in text(response)
    assert coldchain.readings_for(pharmacy, factories.FRIDGE, clock.now - timedelta(days=400), clock.now) == []


def test_an_ambiguous_time_with_its_offset_is_taken(signed_in, pharmacy, clock):
    assert record(signed_in("nurse"), "5", "2026-10-25T02:30:00+01:00").status_code == 302
    [stored] = coldchain.readings_for(pharmacy, factories.FRIDGE, clock.now - timedelta(days=30), clock.now)
    assert stored.at.isoformat() == "2026-10-25T01:30:00+00:00"


def upload(browser, content: bytes, name: str = "fridge.csv"):
    from io import BytesIO

    browser.get("/storage/temperatures")
    return browser.post("/storage/temperatures/import", {"file": (BytesIO(content), name)},
                        content_type="multipart/form-data")


def test_a_csv_upload_keeps_the_good_rows_and_lists_the_bad_ones_by_line(signed_in, pharmacy, bag, clock):
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    lines = ["location,time,celsius",
             f"{factories.FRIDGE},2026-11-20T09:05:00+01:00,5.0",
             f"{factories.FRIDGE},2026-11-20T09:10:00,5.0",
             f"{factories.FRIDGE},2026-11-20T09:15:00+01:00,warm",
             "Nowhere,2026-11-20T09:15:00+01:00,5.0",
             f"{factories.FRIDGE},2026-11-20T09:20:00+01:00,8.5"]
    content = ("\ufeff" + "\n".join(lines) + "\n").encode()
    clock.advance(minutes=30)  # the log comes in after its last reading (a reading in the future is refused)
    nurse = signed_in("nurse")
    response = upload(nurse, content)
    assert response.status_code == 200
    page = plain(response)
    assert "CSV imported Imported 2 Already recorded 0 Bad rows 3 Bags quarantined 1" in page
    assert "3 The time 2026-11-20T09:10:00 has no UTC offset" in page
    assert "4 “warm” is not a temperature in °C." in page and "5 unknown location “Nowhere”" in page
    assert "Out-of-range readings quarantined: BAG0000001." in page
    assert bags.get_bag(pharmacy, bag.serial).state == "quarantined"
    again = plain(upload(nurse, content))
    assert "Imported 0 Already recorded 2 Bad rows 3" in again


@pytest.mark.parametrize(("content", "words"), [
    (b"when,where\n1,2\n", "The CSV header must name location, time and celsius (missing: celsius, location, time)."),
    ("location,time,celsius\nK\xfchlschrank,2026-11-20T09:00:00+01:00,5\n".encode("latin-1"), "is not UTF-8 text"),
])
def test_a_csv_that_cannot_be_read_is_refused_whole(signed_in, content, words):
    response = upload(signed_in("tech"), content)
    assert response.status_code in (400, 422) and words in text(response)


def test_an_upload_without_a_file_asks_for_one(signed_in):
    tech = signed_in("tech")
    tech.get("/storage/temperatures")
    response = tech.post("/storage/temperatures/import", {}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose the CSV file to upload." in text(response)


def test_a_locations_page_shows_its_readings_excursions_and_the_bags_they_quarantined(signed_in, pharmacy, bag, clock):
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.advance(minutes=10), 5.0)),
                                        (2, reading(factories.FRIDGE, clock.advance(minutes=10), 8.5)),
                                        (3, reading(factories.FRIDGE, clock.advance(minutes=10), 9.0))], "form")
    page = plain(signed_in("nurse").get("/storage/locations/1"))
    assert "Pharmacy fridge 1 2–8 °C" in page
    assert "09:20 CET 8.5 °C form BAG0000001" in page  # the excursion that quarantined the bag
    assert "09:30 CET 9.0 °C form none (no bag stored then)" in page  # the bag was quarantined already
    assert "Readings 3" in page and "09:10 CET 5.0 form" in page and "09:20 CET 8.5 — out of range form" in page
    assert "20 Nov 09:00 CET BAG0000001 Tessa Technician" in page


def test_a_locations_page_shows_another_day_and_its_gaps(signed_in, pharmacy, clock):
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now - timedelta(days=1, hours=1), 4.0)),
                                        (2, reading(factories.FRIDGE, clock.now - timedelta(minutes=70), 4.0))], "csv")
    nurse = signed_in("nurse")
    today = plain(nurse.get("/storage/locations/1"))
    assert "No reading from 19 Nov 09:00 CET to 20 Nov 07:50 CET (22 h 50 min)" in today  # the day before the reading
    assert "No reading from 20 Nov 07:50 CET to 20 Nov 09:00 CET (1 h 10 min)" in today and "Readings 1" in today
    yesterday = plain(nurse.get("/storage/locations/1?day=2026-11-19"))
    assert "Thursday 19 Nov 2026" in yesterday and "08:00 CET 4.0 csv" in yesterday
    assert nurse.get("/storage/locations/1?day=someday").status_code == 400
    assert nurse.get("/storage/locations/99").status_code == 404


def test_the_storage_screens_are_labelled_and_have_no_inline_code(signed_in, pharmacy, bag):
    admin = signed_in("admin")
    for url in ("/storage/", "/storage/temperatures", "/storage/locations/1"):
        accessible(admin.get(url))
    accessible(store(signed_in("tech"), "BAG404"))
