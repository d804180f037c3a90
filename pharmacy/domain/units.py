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
from pharmacy.i18n import _, lazy, now

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

_DIMENSION_WORDS = {VOLUME: lazy("a volume"), MASS: lazy("a mass"), TIME: lazy("a duration"),
                    CONCENTRATION: lazy("a concentration")}

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
# "1,200" reads as 1.2 in Brussels and 1200 in Boston, "1.200" as 1200 in Berlin and 1.2 in Boston: both refused
# in every language rather than guessed, never read as a thousand (SAFETY.md H40), and so is any grouped number.
_AMBIGUOUS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")
_AMBIGUOUS_POINT = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")
_GROUPED = re.compile(r"^\s*[+-]?\d+(?:[.,]\d+){2,}")
_INPUT = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[^\s\d].*?)?\s*$")


def describe(dimensionality: UnitsContainer) -> str:
    """The dimension in words ("a volume"), in the current language."""
    return now(_DIMENSION_WORDS.get(dimensionality, str(dimensionality)))


def _unit(text: str, raw: str) -> pint.Unit:
    parts = re.split(r"\s*/\s*", text.strip())
    units = []
    for part in parts:
        name = _UNIT_ALIASES.get(part.lower())
        if name is None:
            raise QuantityError(_("“{raw}”: “{part}” is not a unit this system knows (use mL, mg, h …).", raw=raw,
                                  part=part))
        units.append(ureg.Unit(name))
    unit = units[0]
    for divisor in units[1:]:
        unit = unit / divisor
    return unit


def _unambiguous(digits: str, decimal_comma: bool) -> str:
    """``1,200`` or ``1.200`` as a decimal no one reads as a thousand: ``1.2`` (``1,2`` where a comma is the
    decimal mark); ``1.125`` keeps its three decimals with a fourth (``1.1250``)."""
    whole, fraction = re.split(r"[.,]", digits, maxsplit=1)
    kept = fraction.rstrip("0")
    if kept == fraction:
        kept += "0"
    mark = "," if decimal_comma else "."
    return f"{whole}{mark}{kept}" if kept else whole


def _decimal(raw: str, digits: str, decimal_comma: bool) -> float:
    """The number ``digits`` of what was typed (``raw``), by the rules of ``parse_quantity`` (SAFETY.md H40)."""
    if _AMBIGUOUS_COMMA.match(digits):
        raise QuantityError(
            _("“{raw}” is ambiguous: a comma may be a decimal or a thousands separator. Write {decimal} or {whole} "
              "without the comma.", raw=raw, decimal=_unambiguous(digits, decimal_comma), whole=digits.replace(",", ""))
        )
    if _AMBIGUOUS_POINT.match(digits):
        raise QuantityError(
            _("“{raw}” is ambiguous: a point may be a decimal point or a thousands separator. Write {decimal} or "
              "{whole} without the point.", raw=raw, decimal=_unambiguous(digits, decimal_comma),
              whole=digits.replace(".", ""))
        )
    if "," in digits and not decimal_comma:
        raise QuantityError(_("“{raw}”: write the decimal mark as a point ({example}): a comma is not read as a "
                              "decimal mark in this language.", raw=raw, example=raw.strip().replace(",", ".", 1)))
    number = float(digits.replace(",", "."))
    if not math.isfinite(number):
        raise QuantityError(_("“{raw}” is not a number.", raw=raw))
    return number


def parse_number(text: str, what: str, *, decimal_comma: bool = False) -> float:
    """A plain typed number (a fridge's limit in °C: ``2``, ``-20``, ``2.5``, ``2,5`` where a decimal comma is
    written), by the same rules as a quantity's number: a comma only where the language writes one, never a
    number that may hold a thousands separator (SAFETY.md H40); ``what`` names the field in the refusals that
    cannot quote a number."""
    raw = "" if text is None else str(text)
    if _GROUPED.match(raw):
        raise QuantityError(_("{what}: “{raw}” — write the number without a thousands separator (1200, not 1.200 or "
                              "1,200).", what=what, raw=raw))
    if not re.fullmatch(rf"\s*{_NUMBER}\s*", raw):
        raise QuantityError(_("{what} must be a number, not “{value}”.", what=what, value=raw))
    return _decimal(raw, raw.strip(), decimal_comma)


def parse_quantity(text: str, expected: UnitsContainer | pint.Unit | str, *, maximum: Quantity | None = None,
                   allow_zero: bool = False, decimal_comma: bool = False) -> Quantity:
    """Read what a person typed (``1.2 mL``, ``1,2 ml`` where a decimal comma is written, ``1200 uL``) as a
    quantity of ``expected`` dimension; refuse anything else with a message for that person.

    ``expected`` is a dimensionality (``VOLUME``) or a unit; ``maximum`` a quantity that no sane
    entry reaches (catches a slip of the finger such as ``1200 mL`` for ``1.2 mL``). ``decimal_comma``: the
    person's language writes a decimal comma (French, Dutch, German: ``pharmacy.i18n.decimal_comma``), so
    ``1,2`` is 1.2; elsewhere (English, the JSON API, files) a comma is refused. A point is a decimal point in
    every language; a number that may hold a thousands separator (``1,200``, ``1.200``) is refused in every
    language (SAFETY.md H40).
    """
    if isinstance(expected, (pint.Unit, str)):
        expected = ureg.Unit(expected).dimensionality
    wanted = describe(expected)
    raw = "" if text is None else str(text)
    if not raw.strip():
        raise QuantityError(_("Enter {wanted} with its unit, for example 1.2 mL.", wanted=wanted))
    if _GROUPED.match(raw):
        raise QuantityError(_("“{raw}”: write the number without a thousands separator (1200, not 1.200 or 1,200).",
                              raw=raw))
    match = _INPUT.match(raw)
    if not match:
        raise QuantityError(_("“{raw}” is not {wanted}: write a number and a unit, for example 1.2 mL.", raw=raw,
                              wanted=wanted))
    if not match["unit"]:
        raise QuantityError(_("“{raw}” has no unit: write {wanted} with its unit, for example {number} mL.", raw=raw,
                              wanted=wanted, number=raw.strip()))
    number = _decimal(raw, match["number"], decimal_comma)
    quantity = Q_(number, _unit(match["unit"], raw))
    if quantity.dimensionality != expected:
        raise QuantityError(
            _("“{raw}” is {found}, but {wanted} is needed here; nothing is converted between the two.", raw=raw,
              found=describe(quantity.dimensionality), wanted=wanted)
        )
    if number < 0:
        raise QuantityError(_("“{raw}”: {wanted} cannot be negative.", raw=raw, wanted=wanted))
    if number == 0 and not allow_zero:
        raise QuantityError(_("“{raw}”: {wanted} of zero is not possible here.", raw=raw, wanted=wanted))
    if maximum is not None and quantity > maximum:
        raise QuantityError(
            _("“{raw}” is implausibly large for this step (more than {maximum}).", raw=raw,
              maximum=format(maximum.to(quantity.units), "~P"))
        )
    return quantity

