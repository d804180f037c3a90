"""Receiving stock by scan, the bag list, storing and disposing of bags."""

from __future__ import annotations

import re

from pharmacy.services import bags, stock
from pharmacy.services.demo import VIAL_GTIN
from tests import factories
from tests.web.conftest import text


def test_a_pack_is_received_by_scanning_it(signed_in, pharmacy):
    tech = signed_in("tech")
    response = tech.post("/stock/receive", {"scan": factories.vial_scan("NEW000000001").replace(factories.GS, "<GS>")})
    assert response.status_code == 302
    page = text(tech.get("/stock/"))
    assert "Received LEMTRADA (alemtuzumab): serial NEW000000001, lot K123A, expiry 2028-06-30." in page
    assert any(row["serial"] == "NEW000000001" for row in stock.list_stock(pharmacy))


def test_a_pack_serial_seen_before_is_refused(signed_in, pharmacy):
    response = signed_in("tech").post("/stock/receive", {"scan": factories.vial_scan(pharmacy.vial_serials[0])})
    assert response.status_code == 409
    assert "this may be a falsified pack" in text(response)


def test_a_plain_ean_is_refused_with_its_reason(signed_in):
    response = signed_in("tech").post("/stock/receive", {"scan": "5901234123457"})
    assert response.status_code == 422
    assert "This is a plain product barcode (EAN/UPC)" in text(response)


def test_an_auditor_sees_the_stock_without_the_receive_form(signed_in):
    page = text(signed_in("auditor").get("/stock/"))
    assert "K123A" in page and 'name="scan"' not in page


def test_the_bag_list_shows_state_and_use_by_in_local_time(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    page = text(signed_in("nurse").get("/bags/"))
    assert bag.serial in page and "released" in page and "20 Nov 2026 17:00 CET" in page


def test_the_bag_list_shows_the_newest_bags_first_and_every_bag_a_click_away(signed_in, pharmacy, monkeypatch):
    """The list grows with every bag made: it shows the latest (100; 2 here), the filter kept behind the link."""
    monkeypatch.setattr("pharmacy.web.bags.LATEST_BAGS", 2)
    made = [factories.released_bag(pharmacy, serial).serial for serial in pharmacy.vial_serials[:3]]
    nurse = signed_in("nurse")
    page = text(nurse.get("/bags/"))
    assert page.index(made[2]) < page.index(made[1]) and made[0] not in page
    assert "Showing the latest 2 of 3 bags." in page and 'href="/bags/?all=1">Show all 3</a>' in page
    released = nurse.get("/bags/?state=released").get_data(as_text=True)
    assert 'href="/bags/?state=released&amp;all=1">Show all 3</a>' in released
    every = text(nurse.get("/bags/?state=released&all=1"))
    assert all(serial in every for serial in made) and "Showing the latest" not in every


def test_an_expired_bag_shows_as_expired(signed_in, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.advance(hours=9)
    page = text(signed_in("tech").get(f"/bags/{bag.serial}"))
    assert "EXPIRED" in page and "Print label" not in page


def test_a_released_bag_is_stored_in_the_fridge(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    tech.get(f"/bags/{bag.serial}")
    response = tech.post(f"/bags/{bag.serial}/store", {"location": factories.FRIDGE})
    assert response.status_code == 302
    assert bags.get_bag(pharmacy, bag.serial).state == "stored"
    assert factories.FRIDGE in text(tech.get(f"/bags/{bag.serial}"))


def test_disposal_needs_a_reason_from_the_list(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    nurse = signed_in("nurse")
    nurse.get(f"/bags/{bag.serial}")
    refused = nurse.post(f"/bags/{bag.serial}/dispose", {"reason": "bad", "confirm": "on"})
    assert refused.status_code == 422 and "Choose why the bag is destroyed from the list" in text(refused)
    # the bag is released and in date: a pharmacist signs its destruction (issue 12 point 8)
    assert nurse.post(f"/bags/{bag.serial}/dispose", {"reason": "contaminated", "note": "Dropped on the floor",
                                                      "confirm": "on", "signer": "pharm",
                                                      "password": factories.PASSWORDS["pharm"]}).status_code == 302
    assert bags.get_bag(pharmacy, bag.serial).state == "destroyed"


def test_an_unknown_bag_is_not_found(signed_in):
    response = signed_in("nurse").get("/bags/NOPE")
    assert response.status_code == 404
    assert "No bag with serial “NOPE”." in text(response)


def _rows(page: str, section: str) -> list[str]:
    """The rows of a section's table as text, cells joined by " | "."""
    part = page.split(f'aria-labelledby="{section}"')[1].split("</section>")[0]
    body = part.split("<tbody>")[1].split("</tbody>")[0]
    return [" | ".join(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_stock_screen_counts_each_lot_by_state_and_lists_the_latest_vials_with_every_one_a_click_away(
        signed_in, pharmacy):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])  # one vial of lot K123A used
    serials = [f"RB7{n:06d}" for n in range(52)]  # a lot of an earlier expiry: listed first
    for serial in serials:
        stock.receive(pharmacy, "tech", factories.vial_scan(serial, "RB7", "270331"))
    tech = signed_in("tech")
    page = text(tech.get("/stock/"))
    lots = _rows(page, "lots-title")
    assert lots[0] == f"vial | lemtrada | {VIAL_GTIN} | RB7 | 2027-03-31 | received ×52"
    assert f"vial | lemtrada | {VIAL_GTIN} | K123A | 2028-06-30 | received ×5 · used ×1" in lots
    assert len(lots) == 2 + 3  # the two vial lots and the three diluent lots: a row a lot, however many packs
    vials = _rows(page, "vials-title")
    assert len(vials) == 50 and serials[-1] in vials[0] and not any(serials[0] in row for row in vials)
    assert "Showing the latest 50 of 58 vials." in page and "Show all 58" in page
    every = _rows(text(tech.get("/stock/?all=1")), "vials-title")
    assert len(every) == 58 and serials[0] in every[-7] and pharmacy.vial_serials[0] in every[-1]
    assert "Showing the latest" not in text(tech.get("/stock/?all=1"))
