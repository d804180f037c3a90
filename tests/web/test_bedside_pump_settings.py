"""Issue 16 point 6: the bedside verdict shows, in large type, the pump settings (rate, volume, duration),
START BY, USE BY and the observation after the infusion, with the clock under control. The pump settings
come from one computation (``services/bags.pump_settings_of`` over ``domain/dilution.pump_settings``), from
the monograph and the bag's record, and the label prints the very same figures."""

from __future__ import annotations

import re

import pytest

from pharmacy.services import bags, preparation, release
from tests import factories
from tests.unit.label_helpers import pdf_text
from tests.web.conftest import text
from tests.web.test_ward_screens import bedside, plain


def bag_with_volume(pharmacy, volume: str):
    """A released bag, labelled and confirmed on the bag, in the fridge, whose recorded withdrawn volume is ``volume``."""
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    prep = preparation.record_volume(pharmacy, "tech", prep.id, prep.version, volume)
    prep = factories.photograph(pharmacy, prep, "syringe")
    prep = preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
    prep = factories.photograph(pharmacy, prep, "bag")
    preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    prep = preparation.get(pharmacy, prep.id)
    bag = release.decide(pharmacy, "pharm", prep.id, prep.version, factories.PASSWORDS["pharm"], "released",
                         bag_scan=factories.in_process_scan(prep.id))
    factories.confirm_label(pharmacy, bag.serial)
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)  # kept cold: only its times stand against it
    return bag


def shown(html: str, name: str) -> str:
    """The text of the verdict's element marked ``data-<name>``."""
    match = re.search(rf"<dd data-{name}>([^<]*)</dd>", html)
    assert match, name
    return match[1]


@pytest.mark.hazard("H4")
def test_the_verdict_shows_the_pump_settings_times_and_observation_in_large_type(signed_in, pharmacy, clock):
    bag = bag_with_volume(pharmacy, "1.2 mL")  # diluted at 09:00 (the clock fixture): use by 17:00
    clock.advance(minutes=20)
    page = bedside(signed_in("nurse"), bag.serial, "P-1")
    html = text(page)
    assert page.status_code == 200 and "Give this bag to Anna Example" in html
    big = html.split('<dl class="bedside-big"', 1)[1].split("</dl>", 1)[0]
    assert shown(big, "pump-rate") == "25.3 mL/h"
    assert shown(big, "pump-volume") == "approx. 101.2 mL"
    assert shown(big, "pump-duration") == "approx. 4 h"
    assert shown(big, "start-by") == "20 Nov 2026 13:00 CET"  # use-by less the 4 h infusion (policy "end")
    assert shown(big, "use-by-time") == "20 Nov 2026 17:00 CET"
    assert shown(big, "observation") == "2 h after the infusion"
    # started now (09:20), the 4 h infusion ends at 13:20 and the observation at 15:20
    assert "until about 15:20 CET if started now" in plain(page)


def test_the_observation_end_follows_the_clock(signed_in, pharmacy, clock):
    bag = bag_with_volume(pharmacy, "1.2 mL")
    clock.advance(hours=2, minutes=5)
    assert "until about 17:05 CET if started now" in plain(bedside(signed_in("nurse"), bag.serial, "P-1"))


def test_the_pump_settings_come_from_the_bags_record_and_the_label_prints_the_same(signed_in, pharmacy, clock):
    bag = bag_with_volume(pharmacy, "1.25 mL")  # within ± 0.05 mL; the bag holds 101.25 mL
    clock.advance(minutes=10)
    html = text(bedside(signed_in("nurse"), bag.serial, "P-1"))
    assert shown(html, "pump-volume") == "approx. 101.3 mL"  # the record's volume, not the monograph's 101.2
    assert shown(html, "pump-rate") == "25.3 mL/h"  # 101.25 mL over 4 h = 25.31 mL/h
    with pharmacy.uow(readonly=True) as uow:
        pump = bags.pump_settings_of(pharmacy, bags.find_bag(uow.session, bag.serial))
    assert (pump.rate_text, pump.volume_text, pump.duration_text) == ("25.3 mL/h", "approx. 101.3 mL", "approx. 4 h")
    label = pdf_text(bags.print_labels(pharmacy, "tech", [bag.serial]).pdf)
    assert "approx. 101.3 mL" in label and "over approx. 4 h at 25.3 mL/h" in label
