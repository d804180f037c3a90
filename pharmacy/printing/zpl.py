"""The labels as ZPL II for Zebra printers (issue 15 point 6): the same layout as the PDF, in the printer's
dots, sent raw (TCP 9100 or a raw CUPS queue) so the printer draws the barcodes itself.

The layouts draw on a ``ZplCanvas``: a ReportLab canvas (the text is measured and fitted exactly as for
the PDF) that writes a ZPL field for each mark instead of PDF operators. The symbols arrive whole
(``barcodes.place_datamatrix``/``place_linear``): the GS1 DataMatrix as ``^BX`` quality 200 with FNC1
first and as separator (the escape character ````` is given, so ``\\`1`` is FNC1 and no GS1 character
can be taken for an escape), its rows and columns fixed to those of the PDF's symbol; the GS1-128 as
``^BC`` with the very code sets and FNC1 (``>;``, ``>8``) that python-barcode chose for the PDF, so
both print the same bars. Module sizes, positions and bar heights are the layout's, already whole
dots on the printer's grid. Text is UTF-8 (``^CI28``) in the printer's font 0 where each of its
characters is one every Zebra resident font has (printable ASCII and "·"), otherwise, and for any
name in another script, a ``^GF`` bitmap drawn from the label's own TrueType fonts, dot for dot.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import as_file, files

from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from pharmacy.domain.gs1 import GS
from pharmacy.i18n import _

from . import barcodes, fonts
from .content import LabelData
from .in_process import InProcessLabel, draw_in_process_label
from .layouts import draw_label
from .stocks import LabelStock
from .symbol_sizes import MAX_MODULE_DOTS, ResolutionUnsupported
from .textflow import NBSP

__all__ = ["ZplCanvas", "in_process_label", "label", "labels"]

ESCAPE = "`"  # ^BX escape character: not in GS1 AI character set 82, nor a ZPL command prefix
PRINTER_FONT = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"^", "~"} | {"·", NBSP}
# font 0 (CG Triumvirate Bold Condensed): its capitals stand 0.82 of the cell height above the baseline,
# DejaVu's 0.73 em; the cell is sized so both have the same capital height
FONT0_CAP, DEJAVU_CAP = 0.82, 0.73
_START = {103: ("A", ">9"), 104: ("B", ">:"), 105: ("C", ">;")}
_INVOKE = {99: ">5", 100: ">6", 101: ">7", 102: ">8"}  # ^BC invocation codes: code C, B, A and FNC1


def label(data: LabelData, stock: LabelStock, dpi: int) -> bytes:
    """One bag label as a ZPL II format (``^XA`` … ``^XZ``) for a ``dpi`` printer loaded with ``stock``."""
    return labels([data], stock, dpi)


def labels(items: Sequence[LabelData], stock: LabelStock, dpi: int) -> bytes:
    """A batch of bag labels, one format each, in one job."""
    items = list(items)
    if not items:
        raise ValueError("zpl.labels needs at least one label.")
    stock = stock.on_printer(dpi)
    formats = []
    for data in items:
        canvas = ZplCanvas(stock)
        draw_label(canvas, data, stock)
        formats.append(canvas.format())
    return b"".join(formats)


def in_process_label(data: InProcessLabel, stock: LabelStock, dpi: int) -> bytes:
    """The IN PREPARATION label (``printing.in_process``) as ZPL II."""
    stock = stock.on_printer(dpi)
    canvas = ZplCanvas(stock)
    draw_in_process_label(canvas, data, stock)
    return canvas.format()


def code128_field(codes: list[int]) -> str:
    """Symbol characters of Code 128 (start, data, code set changes, FNC1; no check character) as
    ``^BC`` field data in its "no mode" form, where the printer follows the code sets it is given."""
    code_set, text = _START[codes[0]]
    parts = [text]
    for value in codes[1:]:
        if value in _INVOKE:  # code set changes and FNC1 (in set B, 100 would be FNC4: never built here)
            parts.append(_INVOKE[value])
            code_set = {99: "C", 100: "B", 101: "A"}.get(value, code_set)
        elif code_set == "C":
            parts.append(f"{value:02d}")
        elif code_set == "B" and value < 95 or code_set == "A" and value < 64:
            char = chr(value + 32)
            parts.append("><" if char == ">" else char)
        else:
            raise ValueError(f"Code 128 value {value} in code set {code_set} has no ZPL form here.")
    return "".join(parts)


class ZplCanvas(Canvas):
    """Takes what the layouts draw and keeps it as ZPL fields, in the printer's dots."""

    def __init__(self, stock: LabelStock) -> None:
        fonts.register()
        super().__init__(io.BytesIO(), pagesize=stock.pagesize, initialFontName=fonts.REGULAR)
        self.stock, self.dpi = stock, stock.dpi
        self.fields: list[str] = []

    # -- coordinates: PDF points from the bottom left to dots from the top left ----------------------
    def dots(self, length: float) -> int:
        return round(length * self.dpi / 72)

    def row(self, y: float) -> int:
        return self.dots(self.stock.pagesize[1] - y)

    def format(self) -> bytes:
        width, height = (self.dots(v) for v in self.stock.pagesize)
        head = f"^XA^CI28^PW{width}^LL{height}^LH0,0^PON^FWN"
        return (head + "".join(self.fields) + "^XZ\n").encode("utf-8")

    # -- barcodes, whole ---------------------------------------------------------------------------
    def gs1_datamatrix(self, element_string: str, x: float, y: float, module: float) -> None:
        size = len(barcodes.datamatrix(element_string))
        data = ESCAPE + "1" + element_string.replace(GS, ESCAPE + "1")
        self.fields.append(f"^FO{self.dots(x)},{self.row(y + size * module)}"
                           f"^BXN,{self.dots(module)},200,{size},{size},6,{ESCAPE},1^FD{data}^FS")

    def linear(self, codes: list[int], x: float, y: float, module: float, height: float) -> None:
        if not 1 <= self.dots(module) <= MAX_MODULE_DOTS:
            raise ResolutionUnsupported(_("A {dpi} dpi printer needs bars of {dots} dots; ZPL draws 1 to {most}. Print "
                                          "this label as a PDF.", dpi=self.dpi, dots=self.dots(module), most=MAX_MODULE_DOTS),
                                        dpi=self.dpi)
        self.fields.append(f"^FO{self.dots(x)},{self.row(y + height)}^BY{self.dots(module)}"
                           f"^BCN,{self.dots(height)},N,N,N^FD{code128_field(codes)}^FS")

    # -- boxes ---------------------------------------------------------------------------------------
    def rect(self, x, y, width, height, stroke=1, fill=0):
        if fill:
            left, top = self.dots(x), self.row(y + height)
            w, h = self.dots(x + width) - left, self.row(y) - top
            if w > 0 and h > 0:
                self.fields.append(f"^FO{left},{top}^GB{w},{h},{min(w, h)},B,0^FS")
        elif stroke:
            half = self._lineWidth / 2
            left, top = self.dots(x - half), self.row(y + height + half)
            w, h = self.dots(x + width + half) - left, self.row(y - half) - top
            self.fields.append(f"^FO{left},{top}^GB{w},{h},{max(1, self.dots(self._lineWidth))},B,0^FS")

    # -- text ------------------------------------------------------------------------------------------
    def text_line(self, x: float, y: float, text: str, bold: bool, size: float, align: str) -> None:
        """One line of the label (``fonts.draw``): in the printer's font when it has every character,
        else as a bitmap of the label's fonts, each run in the font ``fonts.runs`` picks."""
        total = fonts.width(text, bold, size)
        start = {"left": x, "centre": x - total / 2, "right": x - total}[align]
        if set(text) <= PRINTER_FONT:
            self._printer_text(start, y, text, size, total, align)
            return
        for name, part in fonts.runs(text, bold):
            self._bitmap_text(start, y, part, name, size)
            start += pdfmetrics.stringWidth(part, name, size)

    def drawString(self, x, y, text, *args, **kwargs):  # noqa: N802 - ReportLab's name
        if set(text) <= PRINTER_FONT:
            self._printer_text(x, y, text, self._fontsize, self.stringWidth(text), "left")
        else:
            self._bitmap_text(x, y, text, self._fontname, self._fontsize)

    def _printer_text(self, left: float, baseline: float, text: str, size: float, width: float, align: str) -> None:
        """Font 0, as tall in capitals as DejaVu and narrower: a one-line field block as wide as the
        DejaVu text, justified as the layout asked, so it never reaches past what the layout measured."""
        cell = max(10, round(size * self.dpi / 72 * DEJAVU_CAP / FONT0_CAP))
        top = self.row(baseline) - round(cell * FONT0_CAP)
        justify = {"left": "L", "centre": "C", "right": "R"}[align]
        data = text.replace(NBSP, " ")
        self.fields.append(f"^FO{self.dots(left)},{top}^A0N,{cell},{cell}"
                           f"^FB{max(1, self.dots(width)) + 1},1,0,{justify},0^FD{data}^FS")

    def _bitmap_text(self, left: float, baseline: float, text: str, font_name: str, size: float) -> None:
        image, (dx, dy) = text_bitmap(text, font_name, self.dots(size) or 1)
        if image is None:
            return
        row_bytes = math.ceil(image.width / 8)
        data = image.tobytes()
        self.fields.append(f"^FO{self.dots(left) + dx},{self.row(baseline) + dy}"
                           f"^GFA,{len(data)},{len(data)},{row_bytes},{data.hex().upper()}^FS")


@lru_cache(maxsize=1024)
def text_bitmap(text: str, font_name: str, pixels: int):
    """``text`` as a 1-bit image (1 = ink) in ``font_name`` at ``pixels`` per em, not smoothed, and where
    its top left lies from the start of the baseline, in dots."""
    font = _truetype(font_name, pixels)
    x0, y0, x1, y1 = (math.floor(v) if i < 2 else math.ceil(v) for i, v in enumerate(font.getbbox(text, anchor="ls")))
    if x1 <= x0 or y1 <= y0:
        return None, (0, 0)
    image = Image.new("1", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    draw.text((-x0, -y0), text, font=font, fill=255, anchor="ls")
    return image, (x0, y0)


@lru_cache(maxsize=64)
def _truetype(font_name: str, pixels: int) -> ImageFont.FreeTypeFont:
    for fallback in fonts.fallbacks():
        if fallback.name == font_name:
            return ImageFont.truetype(fallback.path, pixels, index=fallback.index)
    name = font_name if font_name in (fonts.REGULAR, fonts.BOLD) else fonts.REGULAR
    with as_file(files("pharmacy.fonts") / f"{name}.ttf") as path:
        return ImageFont.truetype(str(path), pixels)
