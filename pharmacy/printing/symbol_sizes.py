"""How large the label's barcodes must be for the ward's scanners: the one table the layouts, the ZPL
writer and the tests read (issue 15 points 3 and 4).

The limits are GS1's for regulated healthcare non-retail items (GS1 General Specifications, section
5.12.3, GS1 symbol specification table 6), the table a bag label printed in the pharmacy falls under.
The printer's resolution decides which of the allowed sizes can be printed: a module is a whole number
of the printer's dots, so at 203 dpi a DataMatrix module can only be 3 dots (0.375 mm), 2 being under the
minimum and 4 over the maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _

SOURCE = ("GS1 General Specifications, section 5.12.3, GS1 symbol specification table 6 "
          "(regulated healthcare, non-retail)")
PRINTER_DPIS = (203, 300, 600)  # the resolutions label printers are sold in; the tests cover each
MAX_MODULE_DOTS = 10  # ZPL's ^BY takes 1–10 dots; the PDF keeps to it too, so both print the same symbol
_EPSILON = 1e-9


@dataclass(frozen=True)
class SymbolSize:
    """One symbology's row of the table. ``x_max_mm`` None: the table sets no maximum we rely on;
    ``preferred_max_mm`` is then our own cap (a wider symbol would not fit the label)."""

    symbology: str
    x_min_mm: float
    x_target_mm: float
    x_max_mm: float | None
    quiet_zone_x: int  # clear space on each side, in modules
    height_min_mm: float | None  # linear symbols: the bars' height
    preferred_max_mm: float
    source: str = SOURCE

    def allowed(self, module_mm: float) -> bool:
        high = self.x_max_mm if self.x_max_mm is not None else math.inf
        return self.x_min_mm - _EPSILON <= module_mm <= high + _EPSILON

    def whole_dot_modules(self, dpi: int) -> tuple[int, ...]:
        """Module sizes in whole dots of a ``dpi`` printer that the table allows (and our cap keeps
        under ``preferred_max_mm``), smallest first."""
        dot = dot_mm(dpi)
        high = min(self.x_max_mm or math.inf, max(self.preferred_max_mm, self.x_min_mm))
        first = math.ceil(self.x_min_mm / dot - _EPSILON)
        last = min(math.floor(high / dot + _EPSILON), max(MAX_MODULE_DOTS, first))  # over 600 dpi: PDF only
        # the cap is ours: when no whole dot falls under it, the smallest allowed size still prints
        if last < first and self.allowed(first * dot):
            last = first
        return tuple(range(first, last + 1))

    def module_dots(self, dpi: int, fits: int | None = None) -> int:
        """The module, in dots, nearest the table's target among those allowed at ``dpi`` and no larger
        than ``fits`` dots (what the room allows); the larger on a tie. Refused when none is."""
        choices = [n for n in self.whole_dot_modules(dpi) if fits is None or n <= fits]
        if not choices:
            raise ResolutionUnsupported(
                _("No {symbology} module of whole {dpi} dpi printer dots is inside {low:g}–{high:g} mm ({source}).",
                  symbology=self.symbology, dpi=dpi, low=self.x_min_mm, high=self.x_max_mm or self.preferred_max_mm,
                  source=self.source),
                dpi=dpi, symbology=self.symbology)
        dot = dot_mm(dpi)
        return min(choices, key=lambda n: (abs(n * dot - self.x_target_mm), -n))

    def height_dots(self, dpi: int, wanted_mm: float = 0.0) -> int:
        """Bar height in whole dots: at least the table's minimum and at least ``wanted_mm``."""
        return math.ceil(max(self.height_min_mm or 0.0, wanted_mm) / dot_mm(dpi) - _EPSILON)


class ResolutionUnsupported(PharmacyError):
    """At this printer resolution no whole-dot module is inside the healthcare size table."""

    code = "printer_resolution"


def dot_mm(dpi: int) -> float:
    return 25.4 / dpi


# GS1-128: the table's minimum X and height and its 10X quiet zones; the 0.5 mm target is ours (as wide as
# the label allows up to it: a wider bar is read from further away and forgives a worn print head)
GS1_128 = SymbolSize("GS1-128", x_min_mm=0.250, x_target_mm=0.500, x_max_mm=None, quiet_zone_x=10,
                     height_min_mm=12.70, preferred_max_mm=0.500)
GS1_DATAMATRIX = SymbolSize("GS1 DataMatrix", x_min_mm=0.254, x_target_mm=0.380, x_max_mm=0.495,
                            quiet_zone_x=1, height_min_mm=None, preferred_max_mm=0.495)
# the in-process label's plain Code 128 (no GS1 data) is read by the same scanners: held to the GS1-128 row
CODE_128 = GS1_128

TABLE = {size.symbology: size for size in (GS1_128, GS1_DATAMATRIX)}


def check_resolution(dpi: int) -> int:
    """``dpi`` if every symbol of the label can be printed in whole dots inside the table, else refused."""
    if not isinstance(dpi, int) or isinstance(dpi, bool) or not 100 <= dpi <= 1200:
        raise ResolutionUnsupported(_("{dpi} is not a printer resolution (a whole number of dpi, 100–1200).", dpi=repr(dpi)),
                                    dpi=dpi)
    for size in TABLE.values():
        size.module_dots(dpi)
    return dpi


def narrowest_gs1_128_mm() -> float:
    """The smallest GS1-128 module any supported printer prints: what the label's content is sized for,
    so the GS1-128 says the same on every printer."""
    return max(GS1_128.whole_dot_modules(dpi)[0] * dot_mm(dpi) for dpi in PRINTER_DPIS)
