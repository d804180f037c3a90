"""Dose maths and the preparation checks of SmPC 6.6, with the display rounding of the module docstring."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pharmacy.domain.dilution import (
    check_diluent,
    check_withdrawn_volume,
    display_concentration,
    display_duration,
    display_mass,
    display_rate,
    display_volume,
    final_concentration,
    final_volume,
    infusion_rate,
    permitted_names,
    plan,
    withdraw_volume,
)
from pharmacy.domain.errors import VolumeOutOfTolerance, WrongDiluent
from pharmacy.domain.units import Q_, VOLUME, parse_quantity, ureg


# --- the LEMTRADA plan ------------------------------------------------------------------------------------
def test_12_mg_at_10_mg_per_ml_is_withdrawn_as_1_2_ml_smpc_6_6(lemtrada):
    assert plan(lemtrada).withdraw.to("mL").magnitude == pytest.approx(1.2)
    assert display_volume(plan(lemtrada).withdraw) == "1.2 mL"


def test_the_bag_holds_101_2_ml_nominal_smpc_6_6(lemtrada):
    dose = plan(lemtrada)
    assert dose.diluent_volume == Q_(100, "mL")
    assert dose.final_volume.to("mL").magnitude == pytest.approx(101.2)
    assert display_volume(dose.final_volume) == "101.2 mL"


def test_the_final_concentration_is_about_0_1186_and_shown_as_0_12_mg_per_ml_smpc_6_6(lemtrada):
    dose = plan(lemtrada)
    assert dose.concentration.to("mg/mL").magnitude == pytest.approx(0.11858, abs=1e-5)
    assert display_concentration(dose.concentration) == "0.12 mg/mL"


def test_the_rate_is_25_3_ml_per_hour_over_4_hours_smpc_4_2(lemtrada):
    dose = plan(lemtrada)
    assert dose.duration == Q_(4, "h")
    assert dose.rate.to("mL/h").magnitude == pytest.approx(25.3)
    assert display_rate(dose.rate) == "25.3 mL/h"
    assert display_duration(dose.duration) == "4 h"
    assert display_mass(dose.dose) == "12 mg"


def test_the_dose_maths_keep_their_dimensions():
    withdrawn = withdraw_volume(Q_(12, "mg"), Q_(10, "mg/mL"))
    total = final_volume(withdrawn, Q_(0.1, "L"))
    assert withdrawn.units == ureg.milliliter and total.units == ureg.milliliter
    assert final_concentration(Q_(12, "mg"), total).dimensionality == Q_(1, "mg/mL").dimensionality
    assert infusion_rate(total, Q_(240, "min")).units == ureg.milliliter / ureg.hour
    assert infusion_rate(total, Q_(240, "min")).magnitude == pytest.approx(25.3)


# --- display rounding (module docstring: half-up on the decimal value) ------------------------------------
@pytest.mark.parametrize(
    "mg_per_ml, shown",
    [
        (0.11857707509881422, "0.12 mg/mL"),
        (0.125, "0.13 mg/mL"),
        (0.115, "0.12 mg/mL"),
        (0.145, "0.15 mg/mL"),
        (0.1, "0.10 mg/mL"),
        (0.0125, "0.013 mg/mL"),
        (10, "10 mg/mL"),
        (2.675, "2.7 mg/mL"),
        (9.96, "10 mg/mL"),
        (99.5, "100 mg/mL"),
        (0.0995, "0.10 mg/mL"),
        (0, "0 mg/mL"),
    ],
)
def test_concentrations_are_shown_to_two_significant_figures(mg_per_ml, shown):
    assert display_concentration(Q_(mg_per_ml, "mg/mL")) == shown


@pytest.mark.parametrize("ml_per_h, shown", [(25.25, "25.3 mL/h"), (25.3, "25.3 mL/h"), (25.0, "25.0 mL/h"),
                                             (1.45, "1.5 mL/h"), (0.15, "0.2 mL/h"), (130, "130.0 mL/h")])
def test_rates_are_shown_to_a_tenth_of_a_ml_per_hour_rounding_half_up(ml_per_h, shown):
    assert display_rate(Q_(ml_per_h, "mL/h")) == shown


@pytest.mark.parametrize("ml, shown", [(100.0, "100 mL"), (101.2, "101.2 mL"), (101.25, "101.3 mL"),
                                       (1.15, "1.2 mL"), (0.95, "1 mL"), (100.04, "100 mL"), (1.05, "1.1 mL")])
def test_volumes_are_shown_to_a_tenth_of_a_ml_and_whole_numbers_without_decimals(ml, shown):
    assert display_volume(Q_(ml, "mL")) == shown


def test_half_up_works_on_the_decimal_value_not_on_the_binary_float():
    # 2.675 is 2.67499999… as a binary float; written as a pharmacist reads it, it rounds up.
    assert display_volume(Q_(2.675, "mL"), places=2) == "2.68 mL"


def test_values_in_other_units_are_shown_in_the_unit_of_the_rule():
    assert display_volume(Q_(1200, "uL")) == "1.2 mL"
    assert display_volume(Q_(0.1012, "L")) == "101.2 mL"
    assert display_concentration(Q_(0.1186, "g/L")) == "0.12 mg/mL"
    assert display_rate(Q_(25.25 / 60, "mL/min")) == "25.3 mL/h"
    assert display_duration(Q_(240, "min")) == "4 h"
    assert display_mass(Q_(0.0125, "g")) == "12.5 mg"


@pytest.mark.parametrize("hours, shown", [(4, "4 h"), (4.25, "4.3 h"), (0.5, "0.5 h"), (3.96, "4 h")])
def test_durations_are_shown_to_a_tenth_of_an_hour(hours, shown):
    assert display_duration(Q_(hours, "h")) == shown


# --- the withdrawn volume (SmPC 6.6: withdraw 1.2 mL) -----------------------------------------------------
@pytest.mark.parametrize("entered", ["1.2 mL", "1.15 mL", "1.25 mL", "1,25 ml", "1200 uL", "1150 µL"])
def test_a_withdrawn_volume_within_the_tolerance_is_accepted_smpc_6_6(lemtrada, entered):
    measured = parse_quantity(entered, VOLUME, decimal_comma="," in entered)  # 1,25: where a decimal comma is written
    assert check_withdrawn_volume(measured, lemtrada.withdraw, lemtrada.withdraw_tolerance) is None


# The measured volume is shown to 0.01 mL, the precision of the tolerance, so the message says why.
@pytest.mark.parametrize("entered, shown", [("1.14 mL", "1.14 mL"), ("1.26 mL", "1.26 mL"), ("1.0 mL", "1 mL"),
                                            ("12 mL", "12 mL"), ("120 uL", "0.12 mL")])
@pytest.mark.hazard("H2")
def test_a_withdrawn_volume_outside_the_tolerance_is_refused_smpc_6_6(lemtrada, entered, shown):
    measured = parse_quantity(entered, VOLUME)
    with pytest.raises(VolumeOutOfTolerance) as caught:
        check_withdrawn_volume(measured, lemtrada.withdraw, lemtrada.withdraw_tolerance)
    message = str(caught.value)
    assert message.startswith(f"{shown} withdrawn, but 1.2 mL ± 0.05 mL is required.")
    assert "Do not continue with this syringe" in message
    assert caught.value.code == "volume_out_of_tolerance"


# --- the diluent (SmPC 6.2 and 6.6) ---------------------------------------------------------------------
@pytest.mark.hazard("H1")
@pytest.mark.parametrize("diluent_id", ["sodium-chloride-0.9-100ml", "glucose-5-100ml"])
def test_sodium_chloride_0_9_and_glucose_5_in_100_ml_are_accepted_smpc_6_6(catalog, lemtrada, diluent_id):
    assert check_diluent(lemtrada, catalog.diluents[diluent_id]) is None


def test_the_permitted_diluents_are_named_for_the_user(lemtrada):
    assert permitted_names(lemtrada) == "Sodium chloride 0.9% 100 mL or Glucose 5% 100 mL"


@pytest.mark.hazard("H1")
def test_water_for_injections_is_refused_and_the_permitted_diluents_named_smpc_6_6(catalog, lemtrada):
    with pytest.raises(WrongDiluent) as caught:
        check_diluent(lemtrada, catalog.diluents["water-for-injections-100ml"])
    message = str(caught.value)
    assert message.startswith("Water for injections is not permitted")
    assert "must not be diluted with other solvents (SmPC 6.6)" in message
    assert "Use Sodium chloride 0.9% 100 mL or Glucose 5% 100 mL." in message
    assert caught.value.details["diluent"] == "water-for-injections-100ml"


@pytest.mark.hazard("H1")
def test_an_unknown_bag_is_refused_and_the_permitted_diluents_named_smpc_6_6(lemtrada):
    with pytest.raises(WrongDiluent) as caught:
        check_diluent(lemtrada, None, scanned="09506000134444")
    message = str(caught.value)
    assert "The scanned bag 09506000134444 is not a known diluent" in message
    assert "LEMTRADA may only be diluted in Sodium chloride 0.9% 100 mL or Glucose 5% 100 mL." in message


@pytest.mark.hazard("H1")
def test_a_250_ml_sodium_chloride_bag_is_refused_smpc_6_6(catalog, lemtrada):
    sodium_chloride = catalog.diluents["sodium-chloride-0.9-100ml"]
    big_bag = replace(sodium_chloride, id="sodium-chloride-0.9-250ml", volume=Q_(250, "mL"), gtins=("09506000134444",))
    with pytest.raises(WrongDiluent, match="Use Sodium chloride 0.9% 100 mL or Glucose 5% 100 mL"):
        check_diluent(lemtrada, big_bag)


def test_a_permitted_diluent_redefined_with_the_wrong_volume_is_refused_as_the_wrong_bag_size_smpc_6_6(
    catalog, lemtrada
):
    redefined = replace(catalog.diluents["sodium-chloride-0.9-100ml"], volume=Q_(250, "mL"))
    with pytest.raises(WrongDiluent) as caught:
        check_diluent(lemtrada, redefined)
    assert str(caught.value) == "Sodium chloride 0.9% 250 mL is the wrong bag size: 100 mL is required (SmPC 6.6)."


def test_the_same_bag_size_in_litres_is_accepted(catalog, lemtrada):
    litre_spelling = replace(catalog.diluents["glucose-5-100ml"], volume=Q_(0.1, "L"))
    assert check_diluent(lemtrada, litre_spelling) is None
