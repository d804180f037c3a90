"""The two GS1 symbols of the bag label, drawn as vector rectangles on a ReportLab canvas.

Encoding is the libraries' (DESIGN habit 8): pystrich builds the GS1 DataMatrix (FNC1 first, FNC1
as separator) and python-barcode the GS1-128 bar pattern; we only draw their modules, so nothing is
rasterised and a printer of any resolution prints clean edges. Both take the element string as
built by ``pharmacy.domain.gs1.element_string`` (GS, ASCII 29, between fields).
"""

from __future__ import annotations

import math
from functools import lru_cache

from barcode.codex import Gs1_128
from pystrich.datamatrix import FNC1, DataMatrixCodeword, DataMatrixData, DataMatrixEncoder

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.gs1 import GS

GS1_128_MAX_CHARS = 48  # GS1 GenSpecs 5.4.1: data characters per GS1-128 symbol, separators included
GS1_128_QUIET = 10  # quiet zone either side, in modules
GS1_128_MIN_MODULE_MM = 0.25
DATAMATRIX_QUIET = 1  # GS1 DataMatrix needs one module of clear space around the symbol
DATAMATRIX_MIN_MODULE_MM = 0.254  # GS1 GenSpecs symbol specification table for healthcare


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
            f"A GS1-128 barcode holds at most {GS1_128_MAX_CHARS} data characters; "
            f"this one would need {len(element_string)}.",
            data=element_string,
        )
    return Gs1_128(element_string.replace(GS, Gs1_128.FNC1_CHAR)).build()[0]


def gs1_128_width_mm(element_string: str, module: float) -> float:
    """Width of the symbol including both quiet zones."""
    return (len(gs1_128(element_string)) + 2 * GS1_128_QUIET) * module


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

