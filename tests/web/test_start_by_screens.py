"""START BY (H4): with the default policy "end" the infusion must end within the in-use limit (SmPC 6.3;
carton: "administer within 8 hours after dilution"), so it must start by use-by less the planned 4-hour
infusion (SmPC 4.2). The bag page, the done page, the check page, the dashboard, the bedside and the
label print that START BY next to the use-by; the bedside warns (amber) 30 minutes before it and refuses
from it on, naming both times."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pharmacy.db.models import Administration, Refusal
from pharmacy.domain.gs1 import parse_scan
from pharmacy.services import bags
from tests import factories
from tests.unit.label_helpers import decode, pdf_text
from tests.web.conftest import text
from tests.web.test_api import api  # noqa: F401  (the API client fixture)
from tests.web.test_ward_screens import plain, scan_bag

BRUSSELS = ZoneInfo("Europe/Brussels")
GIVE = "Give this bag to Anna Example"
REFUSED = "Do not give this bag"
# the clock fixture starts at 20 Nov 2026 09:00 CET: diluted then, use-by 8 h later, START BY 4 h before that
USE_BY, START_BY = "20 Nov 2026 17:00 CET", "20 Nov 2026 13:00 CET"


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, tzinfo=BRUSSELS)


@pytest.fixture
def bag(pharmacy):
    """A released bag kept in the fridge (so only its times can stand against it)."""
    made = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", made.serial, factories.FRIDGE)
    return made


def verdict(nurse, serial: str):
    page = scan_bag(nurse, serial)
    assert page.status_code == 200, text(page)
    return nurse.post("/ward/check", {"bag": serial, "wristband": "P-1", "entry": "scanned"})


def start(nurse, pharmacy, serial: str):
    return nurse.post("/ward/start", {"bag": serial, "wristband": "P-1", "entry": "scanned",
                                      **factories.premedication_form(pharmacy)})


def administrations(pharmacy) -> list[Administration]:
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(Administration)).scalars())


@pytest.mark.hazard("H4")
def test_the_default_policy_is_that_the_infusion_ends_by_the_use_by(pharmacy):
    assert pharmacy.settings.administration_policy == "end"


@pytest.mark.hazard("H4")
def test_the_bag_page_shows_start_by_with_the_use_by(signed_in, bag):
    page = plain(signed_in("pharm").get(f"/bags/{bag.serial}"))
    assert f"Start by {START_BY} Use by {USE_BY}" in page


@pytest.mark.hazard("H4")
def test_the_done_page_and_the_check_page_show_start_by_with_the_use_by(signed_in, pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    done = plain(signed_in("tech").get(f"/prep/{prep.id}"))
    assert f"start by {START_BY} Use by {USE_BY}" in done
    review = plain(signed_in("pharm").get(f"/check/{prep.id}"))
    assert f"Start by {START_BY} · Use by {USE_BY}" in review


@pytest.mark.hazard("H4")
def test_the_dashboard_lists_each_bags_start_by_before_its_use_by(signed_in, bag):
    page = plain(signed_in("tech").get("/dashboard"))
    assert "Start by Use by Time left" in page
    assert "20 Nov 13:00 CET 20 Nov 17:00 CET" in page


@pytest.mark.hazard("H4")
def test_the_wristband_step_and_the_verdict_show_start_by_with_the_use_by(signed_in, bag):
    nurse = signed_in("nurse")
    assert f"Start by {START_BY} Use by {USE_BY}" in plain(scan_bag(nurse, bag.serial))
    page = plain(verdict(nurse, bag.serial))
    assert GIVE in page and f"Start by {START_BY} Use by {USE_BY}" in page


@pytest.mark.hazard("H4")
@pytest.mark.parametrize(("now", "warned"), [(at(12, 29), False), (at(12, 30), True), (at(12, 59), True)])
def test_the_bedside_warns_in_amber_from_30_minutes_before_start_by(signed_in, bag, clock, now, warned):
    clock.set(now)
    response = verdict(signed_in("nurse"), bag.serial)
    page = plain(response)
    assert GIVE in page
    assert ('class="verdict-warning"' in text(response)) is warned
    if warned:
        left = int((at(13) - now).total_seconds() // 60)
        assert (f"START SOON: start this infusion by {START_BY} ({left} min left). After that it is refused: "
                f"it would not end before the bag's use-by time ({USE_BY}).") in page


@pytest.mark.hazard("H4")
def test_the_warning_time_is_a_setting(signed_in, pharmacy, bag, clock):
    pharmacy.settings = replace(pharmacy.settings, start_by_warning_minutes=60)
    clock.set(at(12, 1))
    assert "START SOON" in plain(verdict(signed_in("nurse"), bag.serial))


@pytest.mark.hazard("H4")
@pytest.mark.parametrize(("now", "given"), [(at(12, 59, 59), True), (at(13), False), (at(16, 59), False)])
def test_the_bedside_accepts_until_start_by_and_refuses_from_it_naming_both_times(signed_in, bag, clock, now, given):
    clock.set(now)
    response = verdict(signed_in("nurse"), bag.serial)
    page = plain(response)
    assert (GIVE in page) is given and (REFUSED in page) is not given
    if not given:
        assert 'data-code="past_start_by"' in text(response)
        assert (f"TOO LATE TO START: Its START BY time ({START_BY}) has passed. The infusion would not end before "
                f"the bag's use-by time ({USE_BY}). Do not start it; contact pharmacy.") in page


@pytest.mark.hazard("H4")
def test_start_is_refused_when_start_by_passes_between_the_verdict_and_the_touch_on_start(signed_in, pharmacy, bag,
                                                                                         clock):
    clock.set(at(12, 59, 30))
    nurse = signed_in("nurse")
    assert GIVE in plain(verdict(nurse, bag.serial))
    clock.advance(seconds=30)
    refused = start(nurse, pharmacy, bag.serial)
    assert refused.status_code == 422
    page = plain(refused)
    assert "Checked again when Start was touched" in page
    assert f"TOO LATE TO START: Its START BY time ({START_BY}) has passed" in page and USE_BY in page
    assert administrations(pharmacy) == []
    assert bags.get_bag(pharmacy, bag.serial).state == "stored"
    with pharmacy.uow(readonly=True) as uow:
        codes = uow.session.execute(select(Refusal.code).where(Refusal.action == "administration.start")).scalars()
        assert list(codes) == ["administration_refused"]


@pytest.mark.hazard("H4")
def test_a_start_one_minute_before_start_by_is_recorded(signed_in, pharmacy, bag, clock):
    clock.set(at(12, 59))
    response = start(signed_in("nurse"), pharmacy, bag.serial)
    assert response.status_code == 302, text(response)
    [record] = administrations(pharmacy)
    assert record.started_at == at(12, 59)


@pytest.mark.hazard("H4")
def test_under_policy_start_start_by_is_the_use_by_everywhere(signed_in, pharmacy, bag, clock):
    pharmacy.settings = replace(pharmacy.settings, administration_policy="start")
    assert f"Start by {USE_BY} Use by {USE_BY}" in plain(signed_in("pharm").get(f"/bags/{bag.serial}"))
    clock.set(at(16, 59))
    nurse = signed_in("nurse")
    page = plain(verdict(nurse, bag.serial))
    assert GIVE in page and "START SOON: start this infusion by " + USE_BY in page and "the bag expires then" in page
    clock.set(at(17))
    page = plain(verdict(nurse, bag.serial))
    assert REFUSED in page and f"EXPIRED: This bag expired at {USE_BY}" in page


@pytest.mark.hazard("H4")
def test_the_bedside_api_gives_start_by_and_the_warning(api, pharmacy, bag, clock):  # noqa: F811
    clock.set(at(12, 45))
    body = api("POST", "/bedside/check", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-1"}).get_json()
    assert body["use_by"] == USE_BY and body["start_by"] == START_BY
    assert [w["code"] for w in body["warnings"]] == ["start_by_soon"]
    clock.set(at(13))
    body = api("POST", "/bedside/check", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-1"}).get_json()
    assert body["ok"] is False and "past_start_by" in [r["code"] for r in body["reasons"]]


@pytest.mark.hazard("H4")
@pytest.mark.parametrize("stock", ["bag-100x70", "thermal-4x6"])
def test_the_label_prints_start_by_next_to_use_by_and_its_barcode_keeps_the_use_by(signed_in, pharmacy, bag, stock):
    pharmacy.settings = replace(pharmacy.settings, label_stock=stock)
    response = signed_in("tech").post(f"/bags/{bag.serial}/label.pdf")
    assert response.status_code == 200, text(response)
    words = pdf_text(response.data)
    assert "START BY 2026-11-20 13:00 CET" in words and "USE BY 2026-11-20 17:00 CET" in words
    matrix = parse_scan("]d2" + decode(response.data)["]d2"].bytes.decode("ascii"))
    assert matrix.elements["7003"] == "2611201700"
