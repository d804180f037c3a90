"""The two GS1 symbols, read back by an independent decoder (zxing-cpp) and a GS1 parser (biip)."""

from __future__ import annotations

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pharmacy.domain.gs1 import GS, element_string, parse_scan
from pharmacy.printing import barcodes
from pharmacy.printing.barcodes import BarcodeTooLong

from .label_helpers import GSRN, GTIN

# GS1 AI encodable character set 82 (GenSpecs figure 7.11-1)
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def matrix_image(matrix, px: int = 4, quiet: int = 2) -> Image.Image:
    size = (len(matrix) + 2 * quiet) * px
    image = Image.new("L", (size, size), 255)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                image.paste(0, ((c + quiet) * px, (r + quiet) * px, (c + quiet + 1) * px, (r + quiet + 1) * px))
    return image


def bars_image(bars: str, px: int = 2, height: int = 60) -> Image.Image:
    quiet = barcodes.GS1_128_QUIET
    image = Image.new("L", ((len(bars) + 2 * quiet) * px, height), 255)
    for i, bar in enumerate(bars):
        if bar == "1":
            image.paste(0, ((i + quiet) * px, 0, (i + quiet + 1) * px, height))
    return image


def read_one(image):
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1, results
    return results[0]


BAG = [("01", GTIN), ("10", "P2603100001"), ("7003", "2603101715"), ("21", "B00012345"), ("8018", GSRN)]


def test_the_datamatrix_is_gs1_with_fnc1_first_and_gs_between_variable_fields():
    data = element_string(BAG)
    result = read_one(matrix_image(barcodes.datamatrix(data)))
    assert result.symbology_identifier == "]d2"
    assert result.bytes == data.encode("ascii")
    assert result.bytes.count(GS.encode()) == 3  # after (10), (7003) and (21), not after (01) nor at the end


def test_the_gs1_128_is_gs1_and_never_encodes_the_parentheses():
    data = element_string([("01", GTIN), ("7003", "2603101715"), ("21", "B00012345")])
    result = read_one(bars_image(barcodes.gs1_128(data)))
    assert result.symbology_identifier == "]C1"
    assert result.bytes == data.encode("ascii")
    assert b"(" not in result.bytes
    scan = parse_scan(result.symbology_identifier + result.bytes.decode("ascii"))
    assert (scan.gtin, scan.serial, scan.use_by_local.strftime("%y%m%d%H%M")) == (GTIN, "B00012345", "2603101715")


gs1_text = st.text(alphabet=CSET82, min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(lot=gs1_text, serial=gs1_text)
def test_any_lot_and_serial_survive_both_symbols_exactly(lot, serial):
    data = element_string([("01", GTIN), ("10", lot), ("21", serial)])
    matrix = read_one(matrix_image(barcodes.datamatrix(data)))
    linear = read_one(bars_image(barcodes.gs1_128(data)))
    assert (matrix.symbology_identifier, linear.symbology_identifier) == ("]d2", "]C1")
    assert matrix.bytes == linear.bytes == data.encode("ascii")
    scan = parse_scan("]C1" + linear.bytes.decode("ascii"))
    assert (scan.lot, scan.serial) == (lot, serial)


def test_a_gs1_128_of_more_than_48_data_characters_is_refused():
    longest = element_string([("01", GTIN), ("10", "L" * 14), ("21", "S" * 13)])
    assert len(longest) == 48
    assert barcodes.gs1_128(longest)
    too_long = element_string([("01", GTIN), ("10", "L" * 14), ("21", "S" * 14)])
    with pytest.raises(BarcodeTooLong, match="48"):
        barcodes.gs1_128(too_long)


@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_modules_are_whole_printer_dots_and_never_below_the_gs1_minimum(dpi):
    dot = 25.4 / dpi
    width = barcodes.module_mm(barcodes.GS1_128_MIN_MODULE_MM, dot)
    assert width >= barcodes.GS1_128_MIN_MODULE_MM
    assert width / dot == pytest.approx(round(width / dot))
    assert width - dot < barcodes.GS1_128_MIN_MODULE_MM  # the fewest dots that reach the minimum
