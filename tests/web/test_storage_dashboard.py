"""The dashboard: every live bag with a countdown to its use-by (amber in the last hour, red when
expired, the state decided by the server at each load), discarding expired and quarantined bags, and
locations whose temperature record has a gap longer than the configured interval."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from pharmacy import config
from pharmacy.domain.coldchain import reading
from pharmacy.services import bags, coldchain
from tests import factories
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible
from tests.web.test_ward_screens import plain


def rows(response) -> dict[str, str]:
    """serial → the words of its dashboard row."""
    body = text(response)
    found = {}
    for row in re.findall(r'<tr class="bag-row[^"]*" data-bag-row>(.*?)</tr>', body, re.S):
        words = " ".join(re.sub(r"<[^>]+>", " ", row).split())
        found[words.split()[0]] = words
    return found


def row_html(response, serial: str) -> str:
    return next(r for r in re.findall(r'<tr class="bag-row[^"]*" data-bag-row>.*?</tr>', text(response), re.S)
                if f">{serial}<" in r)


def three_bags(pharmacy, clock):
    """BAG0000001 diluted 09:00 (use-by 17:00), BAG0000002 at 09:30 (17:30), BAG0000003 at 10:30 (18:30)."""
    made = []
    for number, minutes in enumerate((0, 30, 60)):
        clock.advance(minutes=minutes)
        made.append(factories.released_bag(pharmacy, pharmacy.vial_serials[number],
                                           who=factories.patient(f"P-{number + 1}", f"Patient {number + 1}")))
    return made


def test_every_live_bag_is_listed_with_its_state_and_a_live_countdown(signed_in, pharmacy, clock):
    released = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    stored = factories.released_bag(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Bruno Other"))
    bags.store(pharmacy, "tech", stored.serial, factories.FRIDGE)
    _, awaiting = factories.signed_preparation(pharmacy, pharmacy.vial_serials[2], who=factories.patient("P-3", "Carla Third"))
    destroyed = factories.released_bag(pharmacy, pharmacy.vial_serials[3], who=factories.patient("P-4", "Dora Fourth"))
    bags.dispose_bag(pharmacy, "tech", destroyed.serial, "contaminated", "Dropped on the floor", confirmed=True,
                     signer="pharm", password=factories.PASSWORDS["pharm"])
    page = signed_in("nurse").get("/dashboard")
    found = rows(page)
    assert set(found) == {released.serial, stored.serial, awaiting.serial}
    assert "RELEASED" in found[released.serial] and "STORED Pharmacy fridge 1" in found[stored.serial]
    assert "AWAITING CHECK" in found[awaiting.serial] and "Carla Third P-3 · Ward 5" in found[awaiting.serial]
    assert "20 Nov 17:00 CET 8 h 00 min left" in found[released.serial]
    body = text(page)
    assert 'data-server-now="2026-11-20T09:00:00+01:00" data-reload-on-expiry' in body
    assert body.count('data-use-by="2026-11-20T17:00:00+01:00"') == 3
    assert "Discard" not in body


def test_amber_in_the_last_hour_and_red_when_expired(signed_in, pharmacy, clock):
    first, second, third = three_bags(pharmacy, clock)
    clock.set(first.use_by + timedelta(minutes=10))  # 17:10: first expired, second 20 min left, third 1 h 20 min
    page = signed_in("nurse").get("/dashboard")
    found = rows(page)
    assert list(found) == [first.serial, second.serial, third.serial]  # to discard first, then soonest use-by
    assert "EXPIRED" in found[first.serial] and "Discard" in found[first.serial]
    assert "20 min left" in found[second.serial] and "1 h 20 min left" in found[third.serial]
    assert 'class="countdown live is-expired"' in row_html(page, first.serial)
    assert 'class="countdown live is-urgent"' in row_html(page, second.serial)
    assert 'class="countdown live "' in row_html(page, third.serial)


@pytest.mark.parametrize(("before", "state", "words"), [(timedelta(seconds=1), "RELEASED", "0 min left"),
                                                         (timedelta(0), "EXPIRED", "Discard")])
def test_the_server_decides_expired_at_each_load_to_the_second(signed_in, pharmacy, clock, before, state, words):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.set(bag.use_by - before)
    row = rows(signed_in("tech").get("/dashboard"))[bag.serial]
    assert state in row and words in row


def discard(browser, serial: str, reason: str, note: str = "", confirm: bool = True):
    """The dashboard's discard form: a reason from the list, a note, and the "bag in hand" box."""
    browser.get("/dashboard")
    return browser.post(f"/dashboard/{serial}/discard", {"reason": reason, "note": note,
                                                         **({"confirm": "on"} if confirm else {})})


def test_a_nurse_discards_an_expired_bag_with_a_reason(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.advance(hours=8)
    nurse = signed_in("nurse")
    assert '<option value="use_by_passed" selected>Expired (use-by passed)</option>' in row_html(nurse.get("/dashboard"), bag.serial)
    refused = discard(nurse, bag.serial, "other", "old")
    assert refused.status_code == 422 and "“Other”: say why the bag is destroyed" in text(refused)
    response = discard(nurse, bag.serial, "use_by_passed")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    page = nurse.get("/dashboard")
    assert "Bag BAG0000001 recorded as destroyed." in plain(page) and rows(page) == {}
    assert bags.get_bag(pharmacy, bag.serial).state == "destroyed"


@pytest.fixture
def quarantined(pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.advance(minutes=20), 8.5))], "form")
    return bag


def test_a_quarantined_bag_shows_why_and_only_a_pharmacist_is_offered_the_discard(signed_in, quarantined):
    for username in ("tech", "nurse"):
        row = rows(signed_in(username).get("/dashboard"))[quarantined.serial]
        assert "QUARANTINED" in row and "Do not use" in row and "A pharmacist reviews and discards it" in row
        assert "Pharmacy fridge 1 read 8.5 °C at 20 Nov 09:20 CET" in row
        assert "Discard" not in row
    assert "Discard" in rows(signed_in("pharm").get("/dashboard"))[quarantined.serial]


def test_a_technician_cannot_discard_a_quarantined_bag_and_a_pharmacist_can(signed_in, pharmacy, quarantined):
    refused = discard(signed_in("tech"), quarantined.serial, "quarantine_reviewed")
    assert refused.status_code == 403
    assert ("A technician may not discard a quarantined bag (they review why it was quarantined first); "
            "only a pharmacist may.") in text(refused)
    assert bags.get_bag(pharmacy, quarantined.serial).state == "quarantined"
    assert discard(signed_in("pharm"), quarantined.serial, "quarantine_reviewed", "8.5 °C for 20 min").status_code == 302
    assert bags.get_bag(pharmacy, quarantined.serial).state == "destroyed"


def test_an_auditor_sees_the_dashboard_but_cannot_discard(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.advance(hours=9)
    auditor = signed_in("auditor")
    assert "Discard" not in rows(auditor.get("/dashboard"))[bag.serial]
    assert discard(auditor, bag.serial, "use_by_passed").status_code == 403
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


def test_the_admin_has_no_dashboard(signed_in):
    assert signed_in("admin").get("/dashboard").status_code == 403


def test_discarding_needs_the_csrf_token(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.advance(hours=9)
    nurse = signed_in("nurse")
    nurse.get("/dashboard")
    assert nurse.post(f"/dashboard/{bag.serial}/discard", {"reason": "use_by_passed", "confirm": "on"}, csrf=False).status_code == 400
    assert bags.get_bag(pharmacy, bag.serial).state == "released"


def locations_section(response) -> str:
    return plain(response).split("Storage locations", 1)[1]


def test_a_location_without_a_reading_for_longer_than_the_interval_is_flagged(signed_in, pharmacy, clock):
    coldchain.record(pharmacy, "tech", [(n, reading(factories.FRIDGE, clock.now - timedelta(minutes=m), 5.0))
                                        for n, m in enumerate(range(24 * 60, 30, -20))], "csv")
    clock.advance(minutes=15)  # the last reading was 55 min ago
    section = locations_section(signed_in("nurse").get("/dashboard"))
    assert "no reading for more than 30 min" in section
    assert "Last reading: 5.0 °C at 20 Nov 08:20 CET" in section
    assert "No reading from 20 Nov 08:20 CET to 20 Nov 09:15 CET (55 min)" in section
    assert 'class="card location is-flagged"' in text(signed_in("nurse").get("/dashboard"))


def test_the_interval_is_a_setting(signed_in, pharmacy, clock):
    coldchain.record(pharmacy, "tech", [(n, reading(factories.FRIDGE, clock.now - timedelta(minutes=m), 5.0))
                                        for n, m in enumerate(range(24 * 60, 30, -20))], "csv")
    clock.advance(minutes=15)
    pharmacy.settings = replace(pharmacy.settings, reading_interval_minutes=90)
    page = signed_in("nurse").get("/dashboard")
    assert "No reading from" not in locations_section(page) and "more than 1 h 30 min" in locations_section(page)
    assert 'class="card location "' in text(page)


def test_the_interval_comes_from_the_environment():
    assert config.Settings().reading_interval_minutes == 30
    assert config.load(environ={"PHARMACY_READING_INTERVAL_MINUTES": "45"}).reading_interval_minutes == 45
    for bad in ("half an hour", "0"):
        with pytest.raises(config.ConfigError, match="PHARMACY_READING_INTERVAL_MINUTES"):
            config.load(environ={"PHARMACY_READING_INTERVAL_MINUTES": bad})


def test_a_location_with_an_out_of_range_last_reading_is_flagged(signed_in, pharmacy, clock):
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.now, 9.5))], "form")
    page = signed_in("tech").get("/dashboard")
    assert "Last reading: 9.5 °C" in locations_section(page)
    assert '<strong class="bad">9.5 °C</strong>' in text(page) and "is-flagged" in text(page)


def test_the_dashboard_is_labelled_and_has_no_inline_code(signed_in, pharmacy, quarantined, clock):
    factories.released_bag(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Bruno Other"))
    clock.advance(hours=9)
    accessible(signed_in("pharm").get("/dashboard"))


def test_a_bag_quarantined_by_a_recall_shows_the_recall_reason(signed_in, pharmacy):
    from pharmacy.services import trace

    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    trace.quarantine_lot(pharmacy, "pharm", "K123A", "vial", "Manufacturer's notice 2026-17")
    row = rows(signed_in("pharm").get("/dashboard"))[bag.serial]
    assert "QUARANTINED" in row and "recall of vial lot K123A: Manufacturer's notice 2026-17" in row
