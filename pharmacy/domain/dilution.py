"""Dose maths and the preparation checks of SmPC 6.6, with pint quantities from input to label.

Display rounding (one rule per kind of figure, used on screens and labels alike):
- volumes to 0.1 mL (101.2 mL; a whole number prints without decimals: 100 mL);
- concentrations to 2 significant figures (0.1186 mg/mL → 0.12 mg/mL);
- rates to 0.1 mL/h (25.30 → 25.3 mL/h);
- durations in hours to 0.1 h.
Rounding is half-up on the decimal value, never on a binary float's artefacts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pharmacy import i18n
from pharmacy.domain.errors import VolumeOutOfTolerance, WrongDiluent
from pharmacy.domain.monograph import Diluent, Monograph
from pharmacy.domain.units import Quantity
from pharmacy.i18n import _


def withdraw_volume(dose: Quantity, concentration: Quantity) -> Quantity:
    """Volume of concentrate that holds the dose (12 mg at 10 mg/mL → 1.2 mL)."""
    volume: Quantity = (dose / concentration).to("mL")  # pint's operators are untyped
    return volume


def final_volume(withdrawn: Quantity, diluent_volume: Quantity) -> Quantity:
    """Nominal: the bag's overfill makes the true volume a little larger (hence "approx.")."""
    volume: Quantity = (withdrawn + diluent_volume).to("mL")
    return volume


def final_concentration(dose: Quantity, volume: Quantity) -> Quantity:
    concentration: Quantity = (dose / volume).to("mg/mL")
    return concentration


def infusion_rate(volume: Quantity, duration: Quantity) -> Quantity:
    rate: Quantity = (volume / duration).to("mL/h")
    return rate


def volume_from_mass(mass: Quantity, density: Quantity) -> Quantity:
    """A weighed net mass as a volume, through the solution's density (g/mL)."""
    volume: Quantity = (mass / density).to("mL")
    return volume


def check_withdrawn_volume(measured: Quantity, expected: Quantity, tolerance: Quantity) -> None:
    """SmPC 6.6: withdraw the monograph's volume. A measured volume outside expected ± tolerance is refused."""
    difference = abs((measured - expected).to("mL"))
    if difference > tolerance.to("mL") * (1 + 1e-9):
        raise VolumeOutOfTolerance(
            _("{measured} withdrawn, but {expected} ± {tolerance} is required. Do not continue with this syringe: "
              "correct the volume and enter it again.", measured=display_volume(measured, places=2),
              expected=display_volume(expected), tolerance=display_volume(tolerance, places=2)),
            measured=str(measured), expected=str(expected),
        )


def check_diluent(monograph: Monograph, diluent: Diluent | None, *, scanned: str = "") -> None:
    """SmPC 6.2 and 6.6: only the permitted diluents, in the permitted volume."""
    if diluent is None:
        raise WrongDiluent(
            _("The scanned bag {scanned} is not a known diluent. {brand} may only be diluted in {permitted}.",
              scanned=scanned, brand=monograph.brand, permitted=permitted_names(monograph))
        )
    if diluent.id not in {d.id for d in monograph.permitted_diluents}:
        raise WrongDiluent(
            _("{diluent} is not permitted: {brand} must not be diluted with other solvents (SmPC 6.6). "
              "Use {permitted}.", diluent=diluent.name, brand=monograph.brand, permitted=permitted_names(monograph)),
            diluent=diluent.id,
        )
    if abs((diluent.volume - monograph.diluent_volume).to("mL").magnitude) > 1e-9:
        raise WrongDiluent(
            _("{diluent} {volume} is the wrong bag size: {required} is required (SmPC 6.6).", diluent=diluent.name,
              volume=display_volume(diluent.volume), required=display_volume(monograph.diluent_volume))
        )


def permitted_names(monograph: Monograph) -> str:
    names = [f"{d.name} {display_volume(d.volume)}" for d in monograph.permitted_diluents]
    text = names[0] if names else ""
    for name in names[1:]:
        text = _("{either} or {other}", either=text, other=name)
    return text


@dataclass(frozen=True)
class DilutionPlan:
    """What the preparation screen and the label show, computed once from the monograph."""

    dose: Quantity
    withdraw: Quantity
    diluent_volume: Quantity
    final_volume: Quantity
    concentration: Quantity
    duration: Quantity
    rate: Quantity


def plan(monograph: Monograph) -> DilutionPlan:
    withdraw = withdraw_volume(monograph.dose, monograph.concentration)
    total = final_volume(withdraw, monograph.diluent_volume)
    return DilutionPlan(
        dose=monograph.dose.to("mg"), withdraw=withdraw, diluent_volume=monograph.diluent_volume.to("mL"),
        final_volume=total, concentration=final_concentration(monograph.dose, total),
        duration=monograph.infusion_duration.to("h"), rate=infusion_rate(total, monograph.infusion_duration),
    )


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _trim(number: Decimal) -> str:
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_SHOWN: dict[tuple[object, ...], str] = {}
_SHOWN_KEPT = 4096


def _shown_once(display: Callable[..., str]) -> Callable[..., str]:
    """A display function remembered per quantity (magnitude and units), arguments and language: the screens show
    the same few quantities (a monograph's dose, strength, volumes) many times a page, and each conversion by pint
    costs about 0.15 ms (issue 18). Bounded: past 4,096 entries it starts again."""

    @functools.wraps(display)
    def shown(quantity: Quantity, *args: object, **options: object) -> str:
        key = (display.__name__, quantity.magnitude, tuple(quantity.unit_items()), args, tuple(sorted(options.items())),
               i18n.current())
        text = _SHOWN.get(key)
        if text is None:
            if len(_SHOWN) >= _SHOWN_KEPT:
                _SHOWN.clear()
            text = _SHOWN[key] = display(quantity, *args, **options)
        return text

    return shown


@_shown_once
def display_volume(volume: Quantity, places: int = 1) -> str:
    value = _decimal(volume.to("mL").magnitude).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return i18n.decimal(f"{_trim(value)} mL")


@_shown_once
def display_concentration(concentration: Quantity) -> str:
    value = _decimal(concentration.to("mg/mL").magnitude)
    if value == 0:
        return "0 mg/mL"
    exponent = value.adjusted() - 1  # two significant figures
    rounded = value.quantize(Decimal(1).scaleb(exponent), ROUND_HALF_UP)
    if rounded.adjusted() > value.adjusted():  # carried into the next decade: 9.96 → 10, not 10.0
        rounded = rounded.quantize(Decimal(1).scaleb(exponent + 1), ROUND_HALF_UP)
    return i18n.decimal(f"{rounded:f} mg/mL")


@_shown_once
def display_rate(rate: Quantity) -> str:
    value = _decimal(rate.to("mL/h").magnitude).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return i18n.decimal(f"{value:f} mL/h")


@_shown_once
def display_duration(duration: Quantity) -> str:
    value = _decimal(duration.to("h").magnitude).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return i18n.decimal(f"{_trim(value)} h")


@_shown_once
def display_mass(mass: Quantity) -> str:
    value = _decimal(mass.to("mg").magnitude).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return i18n.decimal(f"{_trim(value)} mg")



@dataclass(frozen=True)
class PumpSettings:
    """What the nurse sets on the pump, and what the label, the bedside and the bag's page print: the
    bag's volume (approx.: the diluent bag's overfill), the monograph's infusion duration and the rate
    between them. One computation (``pump_settings``), so every place shows the same figures."""

    volume: Quantity
    duration: Quantity
    rate: Quantity

    @property
    def volume_text(self) -> str:
        return _("approx. {volume}", volume=display_volume(self.volume))

    @property
    def duration_text(self) -> str:
        return _("approx. {duration}", duration=display_duration(self.duration))

    @property
    def rate_text(self) -> str:
        return display_rate(self.rate)

    @property
    def infusion_text(self) -> str:
        """As the label's infusion line says it: “over approx. 4 h at 25.3 mL/h”."""
        return _("over {duration} at {rate}", duration=self.duration_text, rate=self.rate_text)


def pump_settings(monograph: Monograph, withdrawn: Quantity | None = None,
                  diluent_volume: Quantity | None = None) -> PumpSettings:
    """The pump settings of a bag of this product: its volume is the volume withdrawn plus the diluent
    bag's, from the bag's record once it is made (``withdrawn``, ``diluent_volume``), else the
    monograph's; the duration is the monograph's; the rate is volume ÷ duration, rounded only for display."""
    plan_ = plan(monograph)
    total = final_volume(plan_.withdraw if withdrawn is None else withdrawn,
                         plan_.diluent_volume if diluent_volume is None else diluent_volume)
    return PumpSettings(volume=total, duration=plan_.duration, rate=infusion_rate(total, plan_.duration))
