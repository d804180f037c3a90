"""The pump settings (issue 16 point 6): one computation from the monograph and the bag's record, rounded
only for display (0.1 mL, 0.1 mL/h, 0.1 h: ``domain/dilution``'s rules)."""

from __future__ import annotations

import pytest

from pharmacy.domain.dilution import plan, pump_settings
from pharmacy.domain.units import Q_


def test_without_a_record_the_pump_settings_are_the_monographs_plan(lemtrada):
    pump, planned = pump_settings(lemtrada), plan(lemtrada)
    assert (pump.rate_text, pump.volume_text, pump.duration_text) == ("25.3 mL/h", "approx. 101.2 mL", "approx. 4 h")
    assert pump.volume.to("mL").magnitude == pytest.approx(planned.final_volume.to("mL").magnitude)
    assert pump.rate.to("mL/h").magnitude == pytest.approx(planned.rate.to("mL/h").magnitude)
    assert pump.infusion_text == "over approx. 4 h at 25.3 mL/h"


def test_the_bags_record_sets_the_volume_and_the_rate(lemtrada):
    pump = pump_settings(lemtrada, Q_(1.25, "mL"), Q_(100, "mL"))
    assert pump.volume.to("mL").magnitude == pytest.approx(101.25)
    assert pump.volume_text == "approx. 101.3 mL"  # half up on the decimal value
    assert pump.rate.to("mL/h").magnitude == pytest.approx(25.3125)  # from the unrounded volume
    assert pump.rate_text == "25.3 mL/h"


def test_a_typed_volume_in_microlitres_is_the_same_bag(lemtrada):
    assert pump_settings(lemtrada, Q_(1200, "uL")).volume_text == "approx. 101.2 mL"
