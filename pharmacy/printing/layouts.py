"""Where each part of the label goes, for each layout a stock names (``layout`` in its TOML).

Every part is placed inside the stock's margins and sized from what is left, so nothing is drawn
outside the label: text through ``textflow`` (shrinks, wraps or is refused), barcodes sized by GS1
table 6 (``symbol_sizes``) in whole dots of the target printer (``stock.dpi`` once ``LabelStock.on_printer``
has set it), every module edge on its dot grid (``barcodes.DotGrid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from reportlab.lib.units import mm

from pharmacy.domain.gs1 import element_string, human_readable
from pharmacy.i18n import _, lazy

from . import barcodes, fonts, textflow
from .content import LabelData, label_pairs, linear_pairs, texts
from .stocks import LabelStock
from .symbol_sizes import GS1_128, GS1_DATAMATRIX, ResolutionUnsupported, SymbolSize
from .textflow import Text

GAP = 1.2 * mm


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def draw_label(canvas, data: LabelData, stock: LabelStock) -> None:
    box = Box(*(value * mm for value in stock.content_mm))
    _LAYOUTS[stock.layout](canvas, data, stock, box)


def _header(canvas, t: dict[str, str], box: Box, size: float, badge_size: float) -> float:
    """Pharmacy name at the top left, a framed REPRINT n at the top right; returns the y below.
    With no ``canvas`` it only measures."""
    right, used = box.x1, fonts.LEADING * size
    if t["reprint"]:
        badge = textflow.place(Text(t["reprint"], badge_size, bold=True, framed=True), box.width / 2)
        badge_width = fonts.width(t["reprint"], True, badge.size) + 2 * (badge.padding + textflow.FRAME) + 1  # +1 pt: rounding
        if canvas is not None:
            textflow.draw(canvas, [badge], box.x1 - badge_width, box.y1, badge_width)
        right, used = box.x1 - badge_width - GAP, max(used, badge.height)
    name = textflow.fit([Text(t["pharmacy"], size, bold=True)], right - box.x0, max(used, 2.4 * size),
                        where=lazy("pharmacy name"))
    if canvas is not None:
        textflow.draw(canvas, name, box.x0, box.y1, right - box.x0)
    return box.y1 - max(used, textflow.height(name)) - GAP


def grid(stock: LabelStock) -> barcodes.DotGrid:
    return barcodes.DotGrid(stock.dpi, stock.pagesize[1])


def module_dots(size: SymbolSize, stock: LabelStock, room: float, modules: int) -> int | None:
    """The module in whole dots for ``modules`` (quiet zones included) in ``room`` points, one dot kept
    spare for moving the symbol onto the dot grid; None when no size of the table fits."""
    if not size.whole_dot_modules(stock.dpi):
        size.module_dots(stock.dpi)  # raises ResolutionUnsupported, naming the table
    fits = math.floor((room - grid(stock).dot) / modules / grid(stock).dot)
    try:
        return size.module_dots(stock.dpi, fits=fits)
    except ResolutionUnsupported:
        return None


def _linear(canvas, data: LabelData, stock: LabelStock, box: Box, bar_height: float, size: float) -> float:
    """The GS1-128 across the bottom of ``box``, its text beneath; returns the y above its bars."""
    pairs = linear_pairs(data, stock)
    bars = barcodes.gs1_128(element_string(pairs))
    dots = module_dots(GS1_128, stock, box.width, len(bars) + 2 * barcodes.GS1_128_QUIET)
    if dots is None:
        raise barcodes.BarcodeTooLong(_("The GS1-128 is wider than the {title} label.", title=stock.title))
    dot_grid = grid(stock)
    module = dots * dot_grid.dot
    text = textflow.fit([Text(human_readable(pairs), size, align="centre", shrink=0.7)], box.width,
                        3 * size, where=lazy("text under the GS1-128"))
    textflow.draw(canvas, text, box.x0, box.y0 + textflow.height(text), box.width)
    bottom = dot_grid.row(box.y0 + textflow.height(text) + 0.4 * mm, up=True)
    height = GS1_128.height_dots(stock.dpi, bar_height / mm) * dot_grid.dot
    x = dot_grid.column(box.x0 + (box.width - len(bars) * module) / 2 - dot_grid.dot / 2)  # the nearest dot
    barcodes.place_linear(canvas, bars, barcodes.gs1_128_codes(element_string(pairs)), x, bottom, module, height)
    return bottom + height


def _matrix_module(stock: LabelStock, modules: int, room: float) -> float:
    """The whole-dot module nearest the table's target with which the symbol and its quiet zone fit."""
    dots = module_dots(GS1_DATAMATRIX, stock, room, modules + 2 * barcodes.DATAMATRIX_QUIET)
    if dots is None:
        raise textflow.LabelOverflow(_("The GS1 DataMatrix does not fit the {title} label.", title=stock.title))
    return dots * grid(stock).dot


@dataclass(frozen=True)
class _Matrix:
    """A GS1 DataMatrix with its human-readable lines beneath, sized for a column."""

    matrix: tuple
    data: str  # its element string
    module: float
    text: list

    @property
    def side(self) -> float:
        return (len(self.matrix) + 2 * barcodes.DATAMATRIX_QUIET) * self.module

    @property
    def height(self) -> float:
        return self.side + textflow.height(self.text)


def _matrix(data: LabelData, stock: LabelStock, width: float, height: float, size: float) -> _Matrix:
    pairs = label_pairs(data)
    text = textflow.fit([Text(line, size, shrink=0.7) for line in human_readable(pairs, "\n").splitlines()], width, height / 2,
                        where=lazy("text under the DataMatrix"))
    matrix = barcodes.datamatrix(element_string(pairs))
    room = min(height - textflow.height(text), width)
    return _Matrix(matrix, element_string(pairs), _matrix_module(stock, len(matrix), room), text)


def _draw_matrix(canvas, symbol: _Matrix, x: float, top: float, width: float, dot_grid: barcodes.DotGrid) -> None:
    """The symbol's quiet zone from (x, top) moved right and down onto the dot grid, its text beneath."""
    top, left = dot_grid.row(top, up=False), dot_grid.column(x, right=True)
    quiet = barcodes.DATAMATRIX_QUIET * symbol.module
    barcodes.place_datamatrix(canvas, symbol.data, left + quiet, top - symbol.side + quiet, symbol.module)
    textflow.draw(canvas, symbol.text, x, top - symbol.side, width)


def _band(t: dict[str, str], size: float, space_before: float = 0.0, lines: int = 1) -> Text:
    """START BY above USE BY, boxed together and the largest text on the label: the latest start the
    bedside accepts and the end of the in-use window. With ``lines=2`` each caption stands above its time."""
    start, end = t["start_by"], t["use_by"]
    if lines == 2:  # the caption (in the label's language) is what stands before the time's last space
        start, end = "\n".join(start.rsplit(" ", 1)), "\n".join(end.rsplit(" ", 1))
    return Text(f"{start}\n{end}", size, bold=True, framed=True, align="centre", shrink=0.7,
                space_before=space_before)


def _landscape(canvas, data: LabelData, stock: LabelStock, box: Box) -> None:
    """100 × 70 mm: text left and DataMatrix right; the start-by/use-by band and the GS1-128 across the bottom."""
    t = texts(data)
    # the GS1-128 at table 6's 12.7 mm takes 4.7 mm more than it did: the parts stand closer together
    gap = 0.8 * mm
    bottom = _linear(canvas, data, stock, box, 0.0, 6.5) + gap
    # the DataMatrix column is as wide as its text lines (the symbol at table 6's X is narrower)
    widest = max(fonts.width(line, False, 6) for line in human_readable(label_pairs(data), "\n").splitlines())
    column = min(widest + 1, 31 * mm)
    items = [
        Text(t["patient"], 10, bold=True, hyphenate=True), Text(t["patient_ids"], 7),
        Text(t["product"], 8.5, bold=True, space_before=2), Text(t["diluent"], 7), Text(t["volume"], 7),
        Text(t["route"], 7),
        Text(t["prepared"], 6.5, space_before=2), Text(t["storage"], 6.5, bold=True), Text(t["lots"], 6.5),
        Text(t["batch"], 6.5), Text(t["people"], 6.5),
    ]
    # the band of two lines is as large as the rest allows: 15 pt, down to 9 pt for the longest entries
    # (still the largest text: the rest is then at its smallest, 7 pt and under)
    for size in _LANDSCAPE_BAND_SIZES:
        # the band stays clearly the largest text: the rest, the REPRINT mark too, at most 0.8 of it
        cap = min(1.0, 0.8 * size / max(item.size for item in items))
        top = _header(None, t, box, 7, 10 * cap)
        band = textflow.fit([_band(t, size)], box.width, top - bottom, where=lazy("start-by and use-by lines"))
        middle = Box(box.x0, bottom + textflow.height(band) + gap, box.x1, top)
        text = Box(box.x0, middle.y0, box.x1 - column - GAP, middle.y1)
        try:
            symbol = _matrix(data, stock, column, middle.height, 6)
            placed = textflow.spread(textflow.fit([replace(item, size=item.size * cap) for item in items],
                                                  text.width, text.height), text.height)
            break
        except textflow.LabelOverflow:
            if size == _LANDSCAPE_BAND_SIZES[-1]:
                raise
    _header(canvas, t, box, 7, 10 * cap)
    textflow.draw(canvas, band, box.x0, bottom + textflow.height(band), box.width)
    _draw_matrix(canvas, symbol, box.x1 - column, middle.y1, column, grid(stock))
    textflow.draw(canvas, placed, text.x0, text.y1, text.width)


_LANDSCAPE_BAND_SIZES = (15, 14, 13, 12, 11, 10, 9)


def _portrait(canvas, data: LabelData, stock: LabelStock, box: Box) -> None:
    """4 × 6 in: patient, product and the start-by/use-by band from the top; at the foot the DataMatrix with
    the preparation details beside it, and the GS1-128."""
    t = texts(data)
    top = _header(canvas, t, box, 9, 16)
    bottom = _linear(canvas, data, stock, Box(box.x0, box.y0, box.x1, top), 15 * mm, 9) + 2 * GAP

    widest = max(fonts.width(line, False, 7) for line in human_readable(label_pairs(data), "\n").splitlines())
    column = min(max(widest + 1, 25 * mm), box.width / 2)
    symbol = _matrix(data, stock, column, (top - bottom) / 2, 7)
    details = Box(box.x0 + column + 2 * GAP, bottom, box.x1, top)
    items = [Text(t["prepared"], 8.5, shrink=1), Text(t["lots"], 8.5, shrink=1, space_before=3),
             Text(t["batch"], 8.5, shrink=1), Text(t["people"], 8.5, shrink=1, space_before=3)]
    placed = textflow.fit(items, details.width, (top - bottom) / 2, where=lazy("preparation details"))
    row_top = bottom + max(symbol.height, textflow.height(placed))
    _draw_matrix(canvas, symbol, box.x0, row_top, column, grid(stock))
    textflow.draw(canvas, placed, details.x0, row_top, details.width)

    text = Box(box.x0, row_top + 2 * GAP, box.x1, top)
    items = [
        Text(t["patient"], 16, bold=True, hyphenate=True), Text(t["patient_ids"], 10),
        Text(t["product"], 13, bold=True, space_before=6), Text(t["diluent"], 10), Text(t["volume"], 10),
        Text(t["route"], 10),
        _band(t, 22, space_before=8, lines=2), Text(t["storage"], 10, bold=True, space_before=4),
    ]
    placed = textflow.spread(textflow.fit(items, text.width, text.height), text.height)
    textflow.draw(canvas, placed, text.x0, text.y1, text.width)


_LAYOUTS = {"landscape": _landscape, "portrait": _portrait}
