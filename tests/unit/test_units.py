"""Quantities people type (SPEC section 3): the right dimension with its unit, or a message that says why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pharmacy.domain.errors import QuantityError
from pharmacy.domain.units import CONCENTRATION, MASS, Q_, TIME, VOLUME, parse_quantity, ureg

ONE_POINT_TWO_ML = Q_(1.2, "mL")


def refusal(text, expected=VOLUME, **options) -> str:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text, expected, **options)
    return str(caught.value)


# --- accepted ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["1.2 mL", "1.2 ml", "1200 uL", "1200 µL", "1,2 mL", "1.2mL", " 1.2 mL\n", "0.0012 L"])
def test_the_ways_a_pharmacist_writes_the_withdraw_volume_all_mean_1_2_ml_smpc_6_6(text):
    # a decimal comma where the person's language writes one (fr, nl, de; web/forms.decimal_comma)
    quantity = parse_quantity(text, VOLUME, decimal_comma="," in text)
    assert quantity.dimensionality == VOLUME
    assert quantity.to("mL").magnitude == pytest.approx(1.2, rel=1e-12)


def test_the_expected_dimension_may_be_given_as_a_unit():
    assert parse_quantity("1.2 mL", "mL") == ONE_POINT_TWO_ML


def test_mass_concentration_and_duration_are_read_in_their_own_dimension():
    assert parse_quantity("12 mg", MASS) == Q_(12, "mg")
    assert parse_quantity("10 mg/mL", CONCENTRATION) == Q_(10, "mg/mL")
    assert parse_quantity("4 h", TIME) == Q_(4, "hour")


def test_the_unit_is_kept_as_typed_so_the_record_shows_what_was_entered():
    assert parse_quantity("1200 uL", VOLUME).units == ureg.microliter


def test_zero_is_accepted_only_where_the_caller_allows_it():
    assert parse_quantity("0 mL", VOLUME, allow_zero=True) == Q_(0, "mL")
    assert "zero is not possible" in refusal("0 mL")


def test_a_value_at_the_maximum_is_accepted():
    assert parse_quantity("2 mL", VOLUME, maximum=Q_(2, "mL")) == Q_(2, "mL")


# --- refused, each with a message that says why ----------------------------------------------------------
def test_a_mass_where_a_volume_is_needed_is_refused_and_nothing_is_converted():
    message = refusal("1.2 mg")
    assert "“1.2 mg” is a mass, but a volume is needed here" in message
    assert "nothing is converted" in message


def test_a_concentration_where_a_volume_is_needed_is_refused():
    assert "is a concentration, but a volume is needed" in refusal("10 mg/mL")


def test_a_bare_number_is_refused_because_it_has_no_unit():
    message = refusal("12")
    assert "“12” has no unit" in message
    assert "for example 12 mL" in message


def test_a_negative_volume_is_refused():
    assert "a volume cannot be negative" in refusal("-1.2 mL")


@pytest.mark.parametrize("text", ["nan mL", "inf mL", "-inf mL", "NaN mL", "infinity mL"])
def test_nan_and_infinity_are_not_numbers(text):
    assert "write a number and a unit" in refusal(text)


def test_a_number_too_large_for_a_float_is_refused_as_not_a_number():
    assert "is not a number" in refusal("1e400 mL")


def test_an_implausibly_large_volume_is_refused_when_a_maximum_is_given():
    message = refusal("1200 mL", maximum=Q_(2, "mL"))
    assert "“1200 mL” is implausibly large" in message
    assert "(more than 2 ml)" in message.lower()


def test_the_maximum_applies_across_units_of_the_same_dimension():
    assert "implausibly large" in refusal("1 L", maximum=Q_(2, "mL"))


@pytest.mark.parametrize("text", ["", "   ", None])
def test_an_empty_entry_asks_for_a_quantity_with_its_unit(text):
    assert refusal(text) == "Enter a volume with its unit, for example 1.2 mL."


@pytest.mark.parametrize("text, unit", [("1.2 cups", "cups"), ("1.2 parsec", "parsec"), ("1.2 mL/", "")])
def test_an_unknown_unit_is_refused_and_named(text, unit):
    assert f"“{unit}” is not a unit this system knows" in refusal(text)


def test_text_that_is_not_a_quantity_is_refused():
    assert "is not a volume: write a number and a unit" in refusal("one point two mL")


@pytest.mark.parametrize("text", ["1,200 mL", "12,000 mL", "-1,200 mL"])
def test_a_comma_that_may_be_a_thousands_separator_is_refused_as_ambiguous(text):
    message = refusal(text)
    assert "is ambiguous: a comma may be a decimal or a thousands separator" in message


def test_the_ambiguity_message_offers_both_readings_neither_of_them_ambiguous():
    assert "Write 1.2 or 1200 without the comma" in refusal("1,200 mL")
    assert "Write 1,2 or 1200 without the comma" in refusal("1,200 mL", decimal_comma=True)
    assert "Write 1.1250 or 1125 without the point" in refusal("1.125 mL")


@pytest.mark.parametrize("text, millilitres", [("1,2000 mL", 1.2), ("0,200 mL", 0.2), ("1,20 mL", 1.2)])
def test_a_comma_that_can_only_be_a_decimal_comma_is_read_as_one_where_the_language_writes_one(text, millilitres):
    assert parse_quantity(text, VOLUME, decimal_comma=True).to("mL").magnitude == pytest.approx(millilitres)


# --- properties -----------------------------------------------------------------------------------------
MILLILITRES_PER = {"mL": Decimal(1), "ml": Decimal(1), "uL": Decimal("0.001"), "µL": Decimal("0.001"), "L": Decimal(1000)}


@given(
    value=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999.999"), places=3),
    decimal_mark=st.sampled_from([".", ","]),
    unit=st.sampled_from(sorted(MILLILITRES_PER)),
    space=st.sampled_from(["", " "]),
)
def test_any_positive_decimal_with_a_point_or_a_comma_and_a_volume_unit_is_the_same_quantity(
    value, decimal_mark, unit, space
):
    assume(value > 0)
    written = format(value, "f").replace(".", decimal_mark)
    integer, _, fraction = written.partition(decimal_mark)
    assume(not (len(fraction) == 3 and not integer.startswith("0") and len(integer) <= 3))  # 1.200: refused (H40)
    quantity = parse_quantity(f"{written}{space}{unit}", VOLUME, decimal_comma=decimal_mark == ",")
    expected = float(value * MILLILITRES_PER[unit])
    assert quantity.to("mL").magnitude == pytest.approx(expected, rel=1e-12)


@given(st.text())
def test_random_text_is_either_a_volume_or_a_quantity_error(text):
    try:
        quantity = parse_quantity(text, VOLUME, maximum=Q_(1, "L"))
    except QuantityError as error:
        assert str(error)
    else:
        assert quantity.dimensionality == VOLUME
        assert 0 < quantity.to("mL").magnitude <= 1000


@given(st.from_regex(r"\A\s*[+-]?\d{0,5}[.,]?\d{0,4}(e[+-]?\d{1,3})?\s*(mL|uL|L|mg|mg/mL|h|mL/h|/|%|x)?\s*\Z"))
def test_number_like_text_is_either_a_volume_or_a_quantity_error(text):
    try:
        quantity = parse_quantity(text, VOLUME)
    except QuantityError as error:
        assert str(error)
    else:
        assert quantity.dimensionality == VOLUME
        assert quantity.magnitude > 0
