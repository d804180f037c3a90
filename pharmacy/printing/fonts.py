"""The label fonts: DejaVu Sans, shipped with the package and embedded in every PDF.

DejaVu has the Latin, Greek and Cyrillic glyphs that patients' names need (SPEC section 4);
the PDF base fonts do not. Fonts are registered once per process: parsing a TTF is the most
expensive step of rendering a label.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib.resources import as_file, files

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
# Vertical extent of DejaVu's tallest accented capitals and deepest descenders, in em. ReportLab's own
# ascent (0.76 em) is the typographic one, which an "Ř" or "Ż" exceeds.
ASCENT = 0.93
DESCENT = 0.24
LEADING = 1.2  # line pitch in em; more than ASCENT + DESCENT, so lines never touch


@cache
def register() -> None:
    for name in (REGULAR, BOLD):
        with as_file(files("pharmacy.fonts") / f"{name}.ttf") as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))


def face(bold: bool) -> str:
    register()
    return BOLD if bold else REGULAR


def width(text: str, bold: bool, size: float) -> float:
    """Advance width of ``text`` in points (proportional to the size, so measured once per text)."""
    return _em_width(text, bold) * size


@lru_cache(maxsize=4096)
def _em_width(text: str, bold: bool) -> float:
    return pdfmetrics.stringWidth(text, face(bold), 1.0)
