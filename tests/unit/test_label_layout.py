"""Geometry of the label, from a canvas that records every mark drawn: all of it inside the
printable box, no text over other text, over a barcode or in a barcode's quiet zone."""

from __future__ import annotations

import io
import itertools

import pytest

from pharmacy.printing import barcodes
from pharmacy.printing.layouts import draw_label
from pharmacy.printing.stocks import load_stock

from .label_helpers import MM, RecordingCanvas, overlap, union
from .test_label_pdf import BAGS, LONG

STOCKS = ["bag-100x70", "thermal-4x6"]
CASES = [(stock, bag) for stock in STOCKS for bag in [*BAGS, LONG]]
IDS = [f"{stock}-{bag.bag_serial}" for stock, bag in CASES]


def record(bag, stock):
    canvas = RecordingCanvas(io.BytesIO(), pagesize=stock.pagesize)
    draw_label(canvas, bag, stock)
    return canvas.marks


def symbols(marks, stock):
    """The two barcodes as the marks they are made of, each with its quiet zone around it."""
    fills = [m["box"] for m in marks if m["kind"] == "fill"]
    bars = [b for b in fills if b[3] - b[1] >= 5 * MM]  # GS1-128 bars are at least 5 mm tall
    modules = [b for b in fills if b[3] - b[1] < 2 * MM]  # DataMatrix rows of modules
    assert bars and modules and len(bars) + len(modules) == len(fills)
    narrowest = min(b[2] - b[0] for b in bars)
    module = min(b[3] - b[1] for b in modules)
    linear, matrix = union(bars), union(modules)
    quiet_linear = barcodes.GS1_128_QUIET * narrowest
    quiet_matrix = barcodes.DATAMATRIX_QUIET * module
    return {
        "GS1-128": (linear[0] - quiet_linear, linear[1], linear[2] + quiet_linear, linear[3]),
        "DataMatrix": (matrix[0] - quiet_matrix, matrix[1] - quiet_matrix,
                       matrix[2] + quiet_matrix, matrix[3] + quiet_matrix),
    }, narrowest / MM, module / MM


@pytest.mark.parametrize("stock_name, bag", CASES, ids=IDS)
def test_every_mark_lies_inside_the_printable_box(stock_name, bag):
    stock = load_stock(stock_name)
    x0, y0, x1, y1 = (v * MM for v in stock.content_mm)
    marks = record(bag, stock)
    outside = [m for m in marks if not (x0 - 0.01 <= m["box"][0] and m["box"][2] <= x1 + 0.01
                                        and y0 - 0.01 <= m["box"][1] and m["box"][3] <= y1 + 0.01)]
    assert not outside
    zones, _, _ = symbols(marks, stock)
    for name, zone in zones.items():  # quiet zones included
        assert x0 - 0.01 <= zone[0] and zone[2] <= x1 + 0.01, name


@pytest.mark.parametrize("stock_name, bag", CASES, ids=IDS)
def test_no_text_overlaps_other_text_a_barcode_or_its_quiet_zone(stock_name, bag):
    stock = load_stock(stock_name)
    marks = record(bag, stock)
    texts = [m for m in marks if m["kind"] == "text"]
    for a, b in itertools.combinations(texts, 2):
        assert not overlap(a["box"], b["box"]), (a["text"], b["text"])
    zones, _, _ = symbols(marks, stock)
    for text in texts:
        for name, zone in zones.items():
            assert not overlap(text["box"], zone), (text["text"], name)
    linear, matrix = zones["GS1-128"], zones["DataMatrix"]
    assert not overlap(linear, matrix)


@pytest.mark.parametrize("stock_name", STOCKS)
def test_barcode_modules_are_at_least_the_gs1_minimum_in_whole_printer_dots(stock_name):
    stock = load_stock(stock_name)
    _, bar, module = symbols(record(BAGS[1], stock), stock)
    assert bar >= barcodes.GS1_128_MIN_MODULE_MM - 1e-9
    assert module >= barcodes.DATAMATRIX_MIN_MODULE_MM - 1e-9
    for size in (bar, module):
        assert size / stock.dot_mm == pytest.approx(round(size / stock.dot_mm), abs=1e-6)


@pytest.mark.parametrize("stock_name", STOCKS)
def test_the_reprint_mark_is_framed_and_as_large_as_the_patient_name(stock_name):
    stock = load_stock(stock_name)
    marks = record(BAGS[3], stock)
    reprint = next(m for m in marks if m["kind"] == "text" and m["text"] == "REPRINT 2")
    name = next(m for m in marks if m["kind"] == "text" and m["text"] == BAGS[3].patient_name)
    assert reprint["size"] >= name["size"]
    frames = [m["box"] for m in marks if m["kind"] == "frame"]
    assert any(f[0] <= reprint["box"][0] and reprint["box"][2] <= f[2] and f[1] <= reprint["box"][1]
               and reprint["box"][3] <= f[3] for f in frames)
    assert not any(m["kind"] == "text" and "REPRINT" in m["text"] for m in record(BAGS[0], stock))
