"""The two GS1 symbols of the bag label, drawn as vector rectangles on a ReportLab canvas.

Encoding is the libraries' (DESIGN habit 8): pystrich builds the GS1 DataMatrix (FNC1 first, FNC1
as separator) and python-barcode the GS1-128 bar pattern; we only draw their modules, so nothing is
rasterised and a printer of any resolution prints clean edges. Both take the element string as
built by ``pharmacy.domain.gs1.element_string`` (GS, ASCII 29, between fields).

Sizes come from ``symbol_sizes`` (GS1 table 6) and every module edge lies on the target printer's dot
grid (``DotGrid``): a module drawn between two dots prints one dot wider on one side and narrower on the
other. A canvas that writes another printer language (``zpl.ZplCanvas``) takes the symbols whole
through its ``gs1_datamatrix``/``linear`` methods instead of their rectangles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from barcode.codex import Code128, Gs1_128
from pystrich.datamatrix import FNC1, DataMatrixCodeword, DataMatrixData, DataMatrixEncoder

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.gs1 import GS
from pharmacy.i18n import _

from .symbol_sizes import GS1_128, GS1_DATAMATRIX

GS1_128_MAX_CHARS = 48  # GS1 GenSpecs 5.4.1: data characters per GS1-128 symbol, separators included
GS1_128_QUIET = GS1_128.quiet_zone_x  # quiet zone either side, in modules
GS1_128_MIN_MODULE_MM = GS1_128.x_min_mm
DATAMATRIX_QUIET = GS1_DATAMATRIX.quiet_zone_x  # clear space around the symbol, in modules
DATAMATRIX_MIN_MODULE_MM = GS1_DATAMATRIX.x_min_mm


class BarcodeTooLong(PharmacyError):
    """The data does not fit the barcode (GS1-128 holds at most 48 data characters)."""

    code = "barcode_too_long"


def module_mm(minimum_mm: float, dot_mm: float, dots: int = 0) -> float:
    """A module width of whole printer dots: ``dots`` of them, or the fewest that reach the minimum."""
    needed = math.ceil(minimum_mm / dot_mm - 1e-9)
    return max(needed, dots) * dot_mm


@lru_cache(maxsize=512)
def datamatrix(element_string: str) -> tuple[tuple[bool, ...], ...]:
    """Module matrix (rows from the top, True = dark) of the GS1 DataMatrix, without quiet zone."""
    segments: list[str | DataMatrixCodeword] = [FNC1]
    for index, field in enumerate(element_string.split(GS)):
        segments += [FNC1, field] if index else [field]
    encoder = DataMatrixEncoder(DataMatrixData(*segments, encoding="ascii"), quiet_zone=0)
    return tuple(tuple(bool(cell) for cell in row) for row in encoder.init_renderer().matrix)


@lru_cache(maxsize=512)
def gs1_128(element_string: str) -> str:
    """Bar pattern of the GS1-128 symbol, one character per module ("1" = bar), without quiet zones.

    FNC1 follows the start character (python-barcode's Gs1_128) and replaces every GS; the
    parentheses of the human-readable text are never encoded.
    """
    if len(element_string) > GS1_128_MAX_CHARS:
        raise BarcodeTooLong(
            _("A GS1-128 barcode holds at most {most} data characters; this one would need {needed}.",
              most=GS1_128_MAX_CHARS, needed=len(element_string)),
            data=element_string,
        )
    return Gs1_128(element_string.replace(GS, Gs1_128.FNC1_CHAR)).build()[0]


def gs1_128_width_mm(element_string: str, module: float) -> float:
    """Width of the symbol including both quiet zones."""
    return (len(gs1_128(element_string)) + 2 * GS1_128_QUIET) * module


@dataclass(frozen=True)
class DotGrid:
    """The target printer's dots on the page, in PDF points: columns counted from the page's left
    edge and rows from its top edge, where a label printer (and a rasteriser) starts."""

    dpi: int
    page_height: float

    @property
    def dot(self) -> float:
        return 72 / self.dpi

    def dots(self, length: float) -> int:
        """A length in points that is a whole number of dots, as that number."""
        return round(length / self.dot)

    def column(self, x: float, right: bool = True) -> float:
        """``x`` moved onto the nearest dot edge to its right (or left)."""
        steps = x / self.dot
        return (math.ceil(steps - 1e-6) if right else math.floor(steps + 1e-6)) * self.dot

    def row(self, y: float, up: bool = True) -> float:
        """``y`` moved onto the nearest dot edge above (or below) it."""
        steps = (self.page_height - y) / self.dot
        return self.page_height - (math.floor(steps + 1e-6) if up else math.ceil(steps - 1e-6)) * self.dot


def place_datamatrix(canvas, element_string: str, x: float, y: float, module: float) -> None:
    """The GS1 DataMatrix of ``element_string``, lower left corner of its modules at (x, y) in points."""
    hook = getattr(canvas, "gs1_datamatrix", None)
    if hook is not None:
        hook(element_string, x, y, module)
    else:
        draw_datamatrix(canvas, datamatrix(element_string), x, y, module)


def place_linear(canvas, bars: str, codes: list[int], x: float, y: float, module: float, height: float) -> None:
    """A Code 128 symbol (``bars`` as from ``gs1_128``/``code128``, ``codes`` its symbol characters)."""
    hook = getattr(canvas, "linear", None)
    if hook is not None:
        hook(codes, x, y, module, height)
    else:
        draw_bars(canvas, bars, x, y, module, height)


def gs1_128_codes(element_string: str) -> list[int]:
    """The symbol characters (start, data, code set changes; no check character) of ``gs1_128``."""
    gs1_128(element_string)  # the same length check
    return Gs1_128(element_string.replace(GS, Gs1_128.FNC1_CHAR)).encoded


def code128(text: str) -> tuple[str, list[int]]:
    """Bar pattern and symbol characters of a plain Code 128 symbol (no FNC1: not GS1 data)."""
    return Code128(text).build()[0], Code128(text).encoded


def draw_datamatrix(canvas, matrix, x: float, y: float, module: float) -> None:
    """Draw ``matrix`` with its lower left corner (inside the quiet zone) at (x, y), sizes in points.

    Dark modules of a row are merged into runs: fewer rectangles, the same marks.
    """
    rows = len(matrix)
    for r, row in enumerate(matrix):
        top = y + (rows - 1 - r) * module
        start = None
        for c, dark in enumerate((*row, False)):
            if dark and start is None:
                start = c
            elif not dark and start is not None:
                canvas.rect(x + start * module, top, (c - start) * module, module, stroke=0, fill=1)
                start = None


def draw_bars(canvas, bars: str, x: float, y: float, module: float, height: float) -> None:
    """Draw a linear bar pattern starting at x (after the quiet zone), bottom at y, in points."""
    start = None
    for i, bar in enumerate(bars + "0"):
        if bar == "1" and start is None:
            start = i
        elif bar != "1" and start is not None:
            canvas.rect(x + start * module, y, (i - start) * module, height, stroke=0, fill=1)
            start = None

