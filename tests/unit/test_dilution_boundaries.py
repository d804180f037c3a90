"""Edges of the preparation checks of SmPC 6.6 and of the display rounding (dilution module docstring)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pharmacy.domain.dilution import check_diluent, check_withdrawn_volume, display_mass, display_volume
from pharmacy.domain.errors import VolumeOutOfTolerance, WrongDiluent
from pharmacy.domain.units import Q_


# --- the bag size (SmPC 6.6: dilute in 100 mL) is compared exactly, not as it is displayed ----------------
@pytest.mark.parametrize("ml", [100.9, 99.1, 100.5, 101.0, 100.04, 100.0005])
def test_a_bag_sold_as_100_ml_that_holds_another_volume_is_the_wrong_bag_size_smpc_6_6(catalog, lemtrada, ml):
    bag = replace(catalog.diluents["sodium-chloride-0.9-100ml"], volume=Q_(ml, "mL"))
    with pytest.raises(WrongDiluent, match=r"is the wrong bag size: 100 mL is required \(SmPC 6\.6\)"):
        check_diluent(lemtrada, bag)


def test_the_wrong_bag_size_message_shows_the_bag_s_own_volume_smpc_6_6(catalog, lemtrada):
    bag = replace(catalog.diluents["glucose-5-100ml"], volume=Q_(100.9, "mL"))
    with pytest.raises(WrongDiluent) as caught:
        check_diluent(lemtrada, bag)
    assert str(caught.value) == "Glucose 5% 100.9 mL is the wrong bag size: 100 mL is required (SmPC 6.6)."
    assert caught.value.code == "wrong_diluent"


@pytest.mark.parametrize("volume", [Q_(100, "mL"), Q_(0.1, "L"), Q_(100_000, "uL"), Q_(100 + 1e-12, "mL")])
def test_exactly_100_ml_in_any_unit_or_with_float_noise_is_the_right_bag_size_smpc_6_6(catalog, lemtrada, volume):
    bag = replace(catalog.diluents["sodium-chloride-0.9-100ml"], volume=volume)
    assert check_diluent(lemtrada, bag) is None


def test_the_permitted_diluents_are_checked_by_id_not_by_name_smpc_6_6(catalog, lemtrada):
    """A water bag renamed to look like saline is still water."""
    disguised = replace(catalog.diluents["water-for-injections-100ml"], name="Sodium chloride 0.9%")
    with pytest.raises(WrongDiluent, match="is not permitted"):
        check_diluent(lemtrada, disguised)


# --- the dose on screens and labels: 0.01 mg, half-up on the decimal value ----------------------------------
@pytest.mark.parametrize(
    "mg, shown",
    [
        (12.125, "12.13 mg"),  # exactly representable in binary: half-even would give 12.12
        (12.135, "12.14 mg"),
        (12.115, "12.12 mg"),
        (12.005, "12.01 mg"),
        (12.1249, "12.12 mg"),
        (12.0, "12 mg"),
        (12.1, "12.1 mg"),
        (120, "120 mg"),
    ],
)
def test_the_dose_is_shown_to_a_hundredth_of_a_mg_rounding_half_up(mg, shown):
    assert display_mass(Q_(mg, "mg")) == shown


def test_a_dose_in_grams_or_micrograms_is_shown_in_mg():
    assert display_mass(Q_(12_125, "ug")) == "12.13 mg"
    assert display_mass(Q_(0.012, "g")) == "12 mg"


# --- the withdrawn volume (SmPC 6.6: withdraw 1.2 mL) --------------------------------------------------------
def test_a_refused_volume_is_shown_to_a_hundredth_of_a_ml_and_kept_exactly_in_the_details_smpc_6_6(lemtrada):
    measured = Q_(1.137, "mL")
    with pytest.raises(VolumeOutOfTolerance) as caught:
        check_withdrawn_volume(measured, lemtrada.withdraw, lemtrada.withdraw_tolerance)
    assert str(caught.value).startswith("1.14 mL withdrawn, but 1.2 mL ± 0.05 mL is required.")
    assert caught.value.details == {"measured": str(measured), "expected": str(lemtrada.withdraw)}
    assert "1.137" in caught.value.details["measured"]


# --- whole numbers keep their zeros --------------------------------------------------------------------------
@pytest.mark.parametrize("ml, shown", [(100, "100 mL"), (99.5, "100 mL"), (250.4, "250 mL"), (10, "10 mL")])
def test_a_volume_shown_to_the_whole_ml_keeps_the_zeros_of_the_number(ml, shown):
    assert display_volume(Q_(ml, "mL"), places=0) == shown
