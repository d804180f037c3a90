"""The one pint UnitRegistry of the package, and the parsing of quantities people type.

Nothing is silently converted across dimensions: ``1.2 mg`` where a volume is wanted, or a bare
``12`` with no unit, is refused with a message that says why (SPEC section 3).
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeAlias

import pint
from pint.util import UnitsContainer

from pharmacy.domain.errors import QuantityError

# A quantity of any magnitude type: monographs give ints or floats ("100 mL", "1.2 mL"), and pint's
# Quantity is invariant in its magnitude type.
Quantity: TypeAlias = pint.Quantity[Any]

ureg: pint.UnitRegistry[Any] = pint.UnitRegistry(cache_folder=None)
ureg.formatter.default_format = "~"
Q_ = ureg.Quantity

VOLUME = ureg.Unit("milliliter").dimensionality
MASS = ureg.Unit("milligram").dimensionality
TIME = ureg.hour.dimensionality
CONCENTRATION = (ureg.Unit("milligram") / ureg.Unit("milliliter")).dimensionality

_DIMENSION_WORDS = {VOLUME: "a volume", MASS: "a mass", TIME: "a duration", CONCENTRATION: "a concentration"}

# Only the units a pharmacy writes; anything else is refused rather than guessed at.
_UNIT_ALIASES = {
    "l": "liter", "dl": "deciliter", "cl": "centiliter", "ml": "milliliter", "µl": "microliter",
    "ul": "microliter", "μl": "microliter", "mcl": "microliter",
    "g": "gram", "mg": "milligram", "mcg": "microgram", "µg": "microgram", "ug": "microgram",
    "μg": "microgram", "kg": "kilogram",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour", "min": "minute",
    "mins": "minute", "minute": "minute", "minutes": "minute", "s": "second", "sec": "second",
}
_NUMBER = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
# "1,200" reads as 1.2 in Brussels and 1200 in Boston: refused rather than guessed.
_AMBIGUOUS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")
_INPUT = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[^\s\d].*?)?\s*$")


def describe(dimensionality: UnitsContainer) -> str:
    return _DIMENSION_WORDS.get(dimensionality, str(dimensionality))


def _unit(text: str, raw: str) -> pint.Unit:
    parts = re.split(r"\s*/\s*", text.strip())
    units = []
    for part in parts:
        name = _UNIT_ALIASES.get(part.lower())
        if name is None:
            raise QuantityError(f"“{raw}”: “{part}” is not a unit this system knows (use mL, mg, h …).")
        units.append(ureg.Unit(name))
    unit = units[0]
    for divisor in units[1:]:
        unit = unit / divisor
    return unit


def parse_quantity(text: str, expected: UnitsContainer | pint.Unit | str, *, maximum: Quantity | None = None,
                   allow_zero: bool = False) -> Quantity:
    """Read what a person typed (``1.2 mL``, ``1,2 ml``, ``1200 uL``) as a quantity of ``expected``
    dimension; refuse anything else with a message for that person.

    ``expected`` is a dimensionality (``VOLUME``) or a unit; ``maximum`` a quantity that no sane
    entry reaches (catches a slip of the finger such as ``1200 mL`` for ``1.2 mL``).
    """
    if isinstance(expected, (pint.Unit, str)):
        expected = ureg.Unit(expected).dimensionality
    wanted = describe(expected)
    raw = "" if text is None else str(text)
    if not raw.strip():
        raise QuantityError(f"Enter {wanted} with its unit, for example 1.2 mL.")
    match = _INPUT.match(raw)
    if not match:
        raise QuantityError(f"“{raw}” is not {wanted}: write a number and a unit, for example 1.2 mL.")
    if not match["unit"]:
        raise QuantityError(f"“{raw}” has no unit: write {wanted} with its unit, for example {raw.strip()} mL.")
    digits = match["number"]
    if _AMBIGUOUS_COMMA.match(digits):
        raise QuantityError(
            f"“{raw}” is ambiguous: a comma may be a decimal or a thousands separator. "
            f"Write {digits.replace(',', '.')} or {digits.replace(',', '')} without the comma."
        )
    number = float(digits.replace(",", "."))
    if not math.isfinite(number):
        raise QuantityError(f"“{raw}” is not a number.")
    quantity = Q_(number, _unit(match["unit"], raw))
    if quantity.dimensionality != expected:
        raise QuantityError(
            f"“{raw}” is {describe(quantity.dimensionality)}, but {wanted} is needed here; "
            "nothing is converted between the two."
        )
    if number < 0:
        raise QuantityError(f"“{raw}”: {wanted} cannot be negative.")
    if number == 0 and not allow_zero:
        raise QuantityError(f"“{raw}”: {wanted} of zero is not possible here.")
    if maximum is not None and quantity > maximum:
        raise QuantityError(
            f"“{raw}” is implausibly large for this step (more than {maximum.to(quantity.units):~P})."
        )
    return quantity

