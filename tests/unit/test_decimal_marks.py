"""SAFETY.md H40, a number read in the wrong locale, at the parser of typed quantities (``units.parse_quantity``):
a decimal comma is read only where the person's language writes one (French, Dutch, German), a point is a decimal
point in every language, and a number that may hold a thousands separator is refused in every language, never
read as a thousand. The same through the preparation screen: tests/web/test_decimal_marks.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pharmacy.domain.errors import QuantityError
from pharmacy.domain.units import MASS, VOLUME, parse_number, parse_quantity


def refusal(text, expected=VOLUME, **options) -> str:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text, expected, **options)
    return str(caught.value)


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("text", ["1,2 mL", "0,200 mL", "1,25 ml", "12,5 mg"])
def test_where_the_language_writes_a_decimal_point_a_comma_is_refused_with_the_way_to_write_it(text):
    expected = MASS if "mg" in text else VOLUME
    message = refusal(text, expected)
    assert f"“{text}”: write the decimal mark as a point ({text.replace(',', '.')}): a comma is not read as a " \
           "decimal mark in this language." == message
    assert parse_quantity(text, expected, decimal_comma=True).magnitude == pytest.approx(float(text.split()[0].replace(",", ".")))


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("decimal_comma", [False, True])
@pytest.mark.parametrize("text, mark", [("1.200 mL", "point"), ("1,200 mL", "comma"), ("-1.200 mL", "point"), ("999.000 mL", "point")])
def test_a_number_that_may_hold_a_thousands_separator_is_refused_in_every_language(text, mark, decimal_comma):
    message = refusal(text, decimal_comma=decimal_comma)
    assert f"“{text}” is ambiguous: a {mark} may be a decimal" in message and "thousands separator" in message


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("decimal_comma", [False, True])
@pytest.mark.parametrize("text", ["1.200,5 mL", "1,200.5 mL", "1.200.000 uL", "1,200,000 uL"])
def test_a_grouped_number_is_never_read_as_a_thousand(text, decimal_comma):
    assert refusal(text, decimal_comma=decimal_comma) == \
        f"“{text}”: write the number without a thousands separator (1200, not 1.200 or 1,200)."


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("text", ["1.2 mL", "0.200 mL", "1.2000 mL", "1200 uL"])
def test_a_decimal_point_is_read_as_one_in_every_language(text):
    assert parse_quantity(text, VOLUME, decimal_comma=True) == parse_quantity(text, VOLUME)


@pytest.mark.hazard("H40")
@given(whole=st.integers(min_value=1, max_value=999), group=st.integers(min_value=0, max_value=999),
       mark=st.sampled_from([".", ","]), decimal_comma=st.booleans())
def test_no_number_written_with_a_thousands_group_is_ever_read_as_a_thousand(whole, group, mark, decimal_comma):
    text = f"{whole}{mark}{group:03d} mL"
    with pytest.raises(QuantityError, match="thousands separator"):
        parse_quantity(text, VOLUME, decimal_comma=decimal_comma)


@pytest.mark.hazard("H40")
@given(st.decimals(min_value=-100, max_value=100, places=2, allow_nan=False, allow_infinity=False))
def test_a_plain_number_reads_as_its_language_writes_it_with_the_same_rules(value):
    """``parse_number`` (a fridge's limits) by the quantity's rules: the same figure, typed with either mark where
    the language allows it, is the same number; a comma in English is refused."""
    typed = f"{value:.1f}"
    assert parse_number(typed, "The limit") == pytest.approx(float(typed))
    assert parse_number(typed.replace(".", ","), "The limit", decimal_comma=True) == pytest.approx(float(typed))
    with pytest.raises(QuantityError, match="write the decimal mark as a point"):
        parse_number(typed.replace(".", ","), "The limit")


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("typed", ["1,000", "1.000", "-2.500", "1.000,5", ""])
def test_a_plain_number_that_may_hold_a_thousands_separator_or_none_is_refused(typed):
    for comma in (False, True):
        with pytest.raises(QuantityError):
            parse_number(typed, "The limit", decimal_comma=comma)
