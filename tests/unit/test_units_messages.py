"""What a refused quantity says (SPEC section 3): the text as typed, the unit it did not know, the dimension wanted."""

from __future__ import annotations

import pytest

from pharmacy.domain.errors import QuantityError
from pharmacy.domain.units import CONCENTRATION, MASS, TIME, VOLUME, describe, parse_quantity, ureg

FLOW = (ureg.Unit("milliliter") / ureg.Unit("hour")).dimensionality


def refusal(text, expected=VOLUME) -> str:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text, expected)
    return str(caught.value)


@pytest.mark.parametrize("dimension, words", [(VOLUME, "a volume"), (MASS, "a mass"), (TIME, "a duration"),
                                              (CONCENTRATION, "a concentration")])
def test_the_dimensions_a_pharmacist_types_have_names(dimension, words):
    assert describe(dimension) == words


def test_any_other_dimension_is_described_as_pint_writes_it():
    assert describe(FLOW) == "[length] ** 3 / [time]"


def test_a_volume_where_a_flow_rate_is_wanted_names_both_dimensions():
    assert refusal("5 mL", FLOW) == (
        "“5 mL” is a volume, but [length] ** 3 / [time] is needed here; nothing is converted between the two."
    )


def test_an_unknown_unit_is_refused_quoting_what_was_typed():
    assert refusal(" 1.2 cups") == "“ 1.2 cups”: “cups” is not a unit this system knows (use mL, mg, h …)."
