"""Product facts come from the product's monograph only (issue 11, part 3): a made-up second product,
added as a TOML file in the instance catalogue, goes through order, preparation, check, release, label
and bedside, and no screen or label shows a word of LEMTRADA's; the same check run on a LEMTRADA bag
finds them (so the check can fail)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pharmacy.domain.gs1 import GS
from pharmacy.services import orders, preparation, release, stock
from tests import factories
from tests.unit.label_helpers import pdf_text, rasterise
from tests.web.conftest import text, version_on

VIAL_GTIN, DILUENT_GTIN, PREPARATION_GTIN = "09506000134512", "09506000134529", "09506000134536"

FICTARA = f"""
# A made-up product for the tests: nothing here is LEMTRADA's.
[product]
id = "fictumab"
brand = "FICTARA"
inn = "fictumab"
form = "concentrate for solution for infusion"
strength = "100 mg"
vial_volume = "4 mL"
concentration = "25 mg/mL"
vial_gtins = ["{VIAL_GTIN}"]
serialised = true
smpc = "2"

[inspection]
appearance = "Opalescent, pale brown liquid."
reject_if = "Clumps seen or the vial cracked: set it aside."
smpc = "6.6"

[vial_storage]
min_celsius = 15
max_celsius = 25
protect_from_light = false
do_not_shake = false
text = "Store the vial at 15–25 °C in its box."
smpc = "6.4"

[dose]
amount = "100 mg"
smpc = "4.2"

[courses]
days_per_course = [1]
months_between_courses = 0
max_doses_per_day = 1
smpc = "4.2"

[preparation]
withdraw = "4 mL"
withdraw_tolerance = "0.1 mL"
diluent_volume = "250 mL"
permitted_diluents = ["ringer-lactate-250ml"]
mixing = "Swirl the bag slowly for 30 seconds."
smpc = "6.6"

[in_use]
limit = "24 h"
min_celsius = 15
max_celsius = 25
protect_from_light = false
text = "Keep the bag at 15–25 °C."
carton_text = "Give within 24 hours of mixing."
smpc = "6.3"

[infusion]
route = "IV"
route_text = "intravenous infusion"
duration = "90 min"
observation = "30 min"
smpc = "4.2"

[[premedication]]
what = "Paracetamol 1 g by mouth half an hour before the infusion"
course_days = [1]
required = true
smpc = "4.2"

[label]
preparation_gtin = "{PREPARATION_GTIN}"
"""
RINGER = f"""
[[diluent]]
id = "ringer-lactate-250ml"
name = "Ringer lactate"
long_name = "Ringer lactate solution for infusion"
volume = "250 mL"
gtins = ["{DILUENT_GTIN}"]
"""

# LEMTRADA's facts as they appear on its screens and label; a regular expression each, so that
# the made-up product's "24 h" or "1.5 h" is not mistaken for LEMTRADA's "4 h" or "8 h"
LEMTRADA_WORDS = {
    name: re.compile(pattern, re.IGNORECASE) for name, pattern in {
        "brand": r"LEMTRADA", "inn": r"alemtuzumab",
        "2–8 °C": r"(?<![\d.])2\s*[–-]\s*8\s*°C", "8 hours": r"(?<![\d.])8 h(ours)?\b", "4 h": r"(?<![\d.])4 h\b",
        "2 h": r"(?<![\d.])2 h\b", "light": r"protect(ed)? from light", "shake": r"shake|shaken", "invert": r"invert",
        "corticosteroid": r"corticosteroid", "methylprednisolone": r"methylprednisolone", "aciclovir": r"aciclovir",
        "12 mg": r"(?<![\d.])12 mg", "1.2 mL": r"(?<![\d.])1\.2 mL", "101.2 mL": r"101\.2 mL", "0.12 mg/mL": r"0\.12 mg/mL",
        "25.3 mL/h": r"25\.3 mL/h", "appearance": r"colourless to slightly yellow|particulate",
        "GTINs": r"09506000134406|09506000134369",
    }.items()
}
# pages that show no product at all (for LEMTRADA neither): the first bedside screen, the infusion lists
GENERIC_PAGES = {"ward: scan the bag", "ward: infusion under way", "ward: infusion ended"}


def lemtrada_words(page: str) -> set[str]:
    return {name for name, pattern in LEMTRADA_WORDS.items() if pattern.search(page)}


@dataclass(frozen=True)
class Product:
    id: str
    vial: str
    diluent: str
    volume: str


@pytest.fixture
def settings(settings):
    """The test settings, with the made-up product and its diluent in the instance catalogue."""
    folder = settings.instance / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fictumab.toml").write_text(FICTARA, encoding="utf-8")
    (folder / "diluents.toml").write_text(RINGER, encoding="utf-8")
    return settings


@pytest.fixture
def fictara(pharmacy) -> Product:
    vial = f"]d201{VIAL_GTIN}21FX0001{GS}10FX-LOT7{GS}17280630"
    diluent = f"]C101{DILUENT_GTIN}17280131" + "10RL2024"
    stock.receive(pharmacy, "tech", vial)
    stock.receive(pharmacy, "tech", diluent)
    return Product("fictumab", vial, diluent, "4 mL")


def journey(pharmacy, signed_in, clock, product: Product, picture: Path | None = None) -> dict[str, str]:
    """One bag of ``product`` from order to the end of its infusion; every screen on the way (and the
    label's text), by name."""
    tech, pharm, nurse = signed_in("tech"), signed_in("pharm"), signed_in("nurse")
    pages: dict[str, str] = {}

    def page(browser, url: str) -> str:
        response = browser.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return text(response)

    order = orders.create_order(pharmacy, "tech", factories.patient(), product.id, 1, 1, factories.today(pharmacy))
    orders.verify_order(pharmacy, "pharm", order.id, premedication_confirmed=True)
    pages["order"] = page(pharm, f"/orders/{order.id}")

    def photographed(p, kind: str):  # the photos this product's monograph requires (issue 14 point 4)
        return factories.photograph(pharmacy, p, kind) if kind in pharmacy.product(product.id).photos else p

    prep = preparation.start(pharmacy, "tech", order.id)
    for step, act in [
        ("vial", lambda p: preparation.scan_vial(pharmacy, "tech", p.id, p.version, product.vial)),
        ("inspection", lambda p: preparation.inspect_vial(pharmacy, "tech", p.id, p.version, True)),
        ("diluent", lambda p: preparation.scan_diluent(pharmacy, "tech", p.id, p.version, product.diluent)),
        ("volume", lambda p: photographed(preparation.record_volume(pharmacy, "tech", p.id, p.version, product.volume),
                                          "syringe")),
        ("mixing", lambda p: photographed(preparation.confirm_mixing(pharmacy, "tech", p.id, p.version), "bag")),
    ]:
        pages[f"prep: {step}"] = page(tech, f"/prep/{prep.id}")
        prep = act(prep)
    sign = tech.get(f"/prep/{prep.id}")
    pages["prep: sign"] = text(sign)
    done = tech.post(f"/prep/{prep.id}/sign", {"version": version_on(sign), "password": factories.PASSWORDS["tech"]},
                     follow_redirects=True)
    assert done.status_code == 200
    pages["prep: done (signed)"] = text(done)
    pages["check"] = page(pharm, f"/check/{prep.id}")

    prep = preparation.get(pharmacy, prep.id)
    bag = release.decide(pharmacy, "pharm", prep.id, prep.version, factories.PASSWORDS["pharm"], "released",
                         bag_scan=factories.in_process_scan(prep.id))
    pages["prep: done (released)"] = page(tech, f"/prep/{prep.id}")
    pages["bag"] = page(tech, f"/bags/{bag.serial}")
    label = tech.post(f"/bags/{bag.serial}/label.pdf")
    assert label.status_code == 200 and label.mimetype == "application/pdf"
    pages["label"] = pdf_text(label.data)
    if picture:
        rasterise(label.data, dpi=200).save(picture)
    confirmed = tech.post(f"/bags/{bag.serial}/confirm-label", {"scan": factories.label_scan(pharmacy, bag.serial)},
                          follow_redirects=True)  # the printed label scanned back on its bag (H27): else no bedside
    assert confirmed.status_code == 200 and f"Label and bag {bag.serial} match." in text(confirmed)

    pages["ward: scan the bag"] = page(nurse, "/ward/")
    for name, url, fields in [
        ("ward: wristband", "/ward/bag", {"bag": factories.label_scan(pharmacy, bag.serial)}),
        ("ward: verdict", "/ward/check", {"bag": bag.serial, "wristband": "P-1"}),
        ("ward: infusion under way", "/ward/start", {"bag": bag.serial, "wristband": "P-1", "entry": "scanned",
                                                     **factories.premedication_form(pharmacy, 1, product=product.id)}),
    ]:
        response = nurse.post(url, fields, follow_redirects=True)
        assert response.status_code == 200, name
        pages[name] = text(response)
    clock.advance(minutes=95)  # past the screens' sign-out after inactivity: sign in again
    nurse = signed_in("nurse")
    page(nurse, "/ward/infusions")
    ended = nurse.post(f"/ward/infusions/{bag.serial}/end", follow_redirects=True)
    if ended.status_code == 422:  # before 90 % of the product's infusion time an end says why (H8)
        ended = nurse.post(f"/ward/infusions/{bag.serial}/interrupt", {"reason": "other", "detail": "stopped by the patient"},
                           follow_redirects=True)
    assert ended.status_code == 200
    pages["ward: infusion ended"] = text(ended)
    return pages


def test_no_screen_or_label_of_another_product_shows_lemtrada_facts(pharmacy, signed_in, clock, fictara, artifacts):
    pages = journey(pharmacy, signed_in, clock, fictara, artifacts / "product-facts-fictara-label.png")
    found = {name: lemtrada_words(page) for name, page in pages.items()}
    assert {name: words for name, words in found.items() if words} == {}

    # ... and each shows the product's own facts, from its monograph
    own = {
        "order": ["FICTARA (fictumab) 100 mg", "Paracetamol 1 g by mouth half an hour before the infusion"],
        "prep: vial": ["Take one <strong>FICTARA</strong> vial", "100 mg in 4 mL (25 mg/mL)", "Store the vial at 15–25 °C in its box."],
        "prep: inspection": ["Opalescent, pale brown liquid.", "Clumps seen or the vial cracked: set it aside."],
        "prep: diluent": ["Ringer lactate solution for infusion, 250 mL", "Ringer lactate 250 mL only"],
        "prep: volume": ["4 mL (± 0.1 mL)", 'placeholder="e.g. 4 mL"', "4000 uL"],
        "prep: mixing": ["Swirl the bag slowly for 30 seconds.", "at most 24 h after dilution, at 15–25 °C."],
        "prep: sign": ["IV over approx. 1.5 h at 169.3 mL/h", "0.5 h after the infusion", "approx. 254 mL, 0.39 mg/mL"],
        "prep: done (signed)": ["keep it at 15–25 °C.", "Store the bag at 15–25 °C, until a pharmacist"],
        "check": ["FICTARA (fictumab)", "Swirl the bag slowly", "at most 24 h after dilution, at 15–25 °C"],
        "bag": ["Keep the bag at 15–25 °C. Give within 24 hours of mixing.", "Storage location (15–25 °C)"],
        "label": ["FICTARA (fictumab) 100 mg", "Ringer lactate 250 mL", "approx. 254 mL", "0.39 mg/mL",
                  "IV (intravenous infusion)", "1.5 h at 169.3 mL/h", "Keep the bag at 15–25 °C.", PREPARATION_GTIN],
        "ward: wristband": ["FICTARA (fictumab) 100 mg"],
        "ward: verdict": ["Give this bag to Anna Example", "FICTARA (fictumab) 100 mg"],
        "ward: infusion ended": ["Observe the patient until 20 Nov 2026 11:05 CET."],  # ended 10:35, +30 min
    }
    missing = {name: [t for t in texts if t not in pages[name]] for name, texts in own.items()}
    assert {name: texts for name, texts in missing.items() if texts} == {}


def test_the_same_check_finds_lemtrada_facts_on_a_lemtrada_bag(pharmacy, signed_in, clock):
    lemtrada = Product("lemtrada", factories.vial_scan(pharmacy.vial_serials[0]), factories.NACL_SCAN, "1.2 mL")
    pages = journey(pharmacy, signed_in, clock, lemtrada)
    found = {name: lemtrada_words(page) for name, page in pages.items()}
    assert {name for name, words in found.items() if not words} == GENERIC_PAGES
    assert set().union(*found.values()) == set(LEMTRADA_WORDS)
    assert {"brand", "inn", "2–8 °C", "light", "shake", "4 h", "12 mg"} <= found["label"]
    assert {"2–8 °C", "8 hours", "light", "shake"} <= found["bag"]
    assert {"corticosteroid", "methylprednisolone"} <= found["order"]
