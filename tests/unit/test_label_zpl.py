"""The label as ZPL II (issue 15 point 6), rendered offline by zplkit (a ZPL renderer from PyPI: no printer,
no network) at the printer's resolution and read back: the same element strings as the PDF, the same
bars and modules, on whole dots, inside GS1 table 6; the text in the printer's font or as bitmaps."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from pharmacy.domain.bagid import in_process_code
from pharmacy.domain.gs1 import GS, element_string
from pharmacy.printing import barcodes, symbol_sizes, zpl
from pharmacy.printing.in_process import InProcessLabel
from pharmacy.printing.label import label_pairs, linear_pairs
from pharmacy.printing.stocks import load_stock
from pharmacy.printing.symbol_sizes import GS1_128, GS1_DATAMATRIX
from pharmacy.printing.textflow import LabelOverflow

from .label_helpers import make_label
from .test_label_pdf import BAGS, LONG
from .test_label_printer_dots import CASES, IDS, PATIENT_AI, STOCKS, found_symbols, measure_datamatrix, measure_linear, second_readers

zplkit = pytest.importorskip("zplkit")
from zplkit.rendering import Limits  # noqa: E402 - after the importorskip

# zplkit's default keeps a ^GF under 25 kB; a 4 × 6 in label at 600 dpi carries a name of 100 kB and more,
# which a printer's graphic memory (megabytes) takes
LIMITS = Limits(graphic_bytes=4_000_000)


def render(data: bytes, stock, dpi: int) -> list[Image.Image]:
    width, height = (round(v / 25.4 * dpi) for v in (stock.width_mm, stock.height_mm))
    document = zplkit.render(data, zplkit.Options(profile="specification", width=width, height=height, dpi=dpi),
                             limits=LIMITS)
    return [Image.open(io.BytesIO(page.png())).convert("L") for page in document.labels]


@pytest.fixture(scope="module")
def printed():
    cache: dict = {}

    def get(stock_name, dpi, ai):
        key = (stock_name, dpi, ai)
        if key not in cache:
            stock = load_stock(stock_name)
            bag = make_label(**PATIENT_AI[ai])
            data = zpl.label(bag, stock, dpi)
            [image] = render(data, stock, dpi)
            cache[key] = bag, stock, data, image
        return cache[key]

    return get


@pytest.mark.hazard("H12")
@pytest.mark.parametrize("stock_name, dpi, ai", CASES, ids=IDS)
def test_the_zpl_label_scans_to_the_same_element_strings_as_the_pdf(printed, stock_name, dpi, ai):
    bag, stock, _, image = printed(stock_name, dpi, ai)
    found = found_symbols(image)
    assert found["]d2"].bytes == element_string(label_pairs(bag)).encode("ascii")
    assert found["]C1"].bytes == element_string(linear_pairs(bag, stock)).encode("ascii")


@pytest.mark.hazard("H33")
@pytest.mark.parametrize("stock_name, dpi, ai", CASES, ids=IDS)
def test_the_zpl_symbols_are_the_pdf_symbols_on_whole_dots_inside_table_6(printed, stock_name, dpi, ai):
    """Module for module: the DataMatrix the printer builds from ^BX is pystrich's, the bars it builds
    from ^BC are python-barcode's, at the module sizes and heights the layout chose."""
    bag, stock, _, image = printed(stock_name, dpi, ai)
    found = found_symbols(image)
    matrix = barcodes.datamatrix(element_string(label_pairs(bag)))
    _, dots, exact = measure_datamatrix(image, found["]d2"], matrix)
    assert exact
    assert dots == GS1_DATAMATRIX.module_dots(dpi)
    bars = barcodes.gs1_128(element_string(linear_pairs(bag, stock)))
    start, end, dots, first, last = measure_linear(image, found["]C1"], bars)
    assert dots * 25.4 / dpi >= GS1_128.x_min_mm - 1e-9
    assert (last - first) * 25.4 / dpi >= GS1_128.height_min_mm - 1e-9
    quiet = GS1_128.quiet_zone_x * dots
    pixels = image.load()
    assert all(pixels[x, y] > 127 for y in range(first, last) for x in [*range(start - quiet, start),
                                                                         *range(end, end + quiet)])


@pytest.mark.hazard("H12")
@pytest.mark.parametrize("stock_name", STOCKS)
def test_a_second_reader_agrees_on_the_zpl_label(printed, stock_name):
    pylibdmtx, pyzbar = second_readers()
    import warnings

    bag, stock, _, image = printed(stock_name, 300, "8018")
    linear = element_string(linear_pairs(bag, stock)).encode("ascii")
    assert [d.data for d in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.CODE128])] == [linear]
    box, _, _ = measure_datamatrix(image, found_symbols(image)["]d2"],
                                   barcodes.datamatrix(element_string(label_pairs(bag))))
    crop = image.crop((box[0] - 24, box[1] - 24, box[2] + 24, box[3] + 24))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        read = pylibdmtx.decode(crop, max_count=1, timeout=5000)
    assert [d.data for d in read] == [element_string(label_pairs(bag)).encode("ascii").replace(GS.encode(), b"")]


@pytest.mark.parametrize("dpi", symbol_sizes.PRINTER_DPIS)
def test_the_zpl_is_in_the_printers_dots_utf8_with_fnc1_in_both_symbols(printed, dpi):
    bag, stock, data, _ = printed("bag-100x70", dpi, "8018")
    text = data.decode("utf-8")
    assert text.startswith("^XA^CI28") and text.rstrip().endswith("^XZ") and text.count("^XA") == 1
    assert f"^PW{round(100 / 25.4 * dpi)}^LL{round(70 / 25.4 * dpi)}" in text
    matrix = re.search(r"\^BXN,(\d+),200,(\d+),(\d+),6,`,1\^FD([^^]*)\^FS", text)
    assert matrix and int(matrix[1]) == GS1_DATAMATRIX.module_dots(dpi)
    assert matrix[4] == "`1" + element_string(label_pairs(bag)).replace(GS, "`1")  # FNC1 first and between
    linear = re.search(r"\^BY(\d+)\^BCN,(\d+),N,N,N\^FD([^^]*)\^FS", text)
    assert linear and linear[3].startswith(">;>8")  # code set C, FNC1: a GS1-128
    assert int(linear[2]) * 25.4 / dpi >= GS1_128.height_min_mm
    assert "^FDAnna Janssens^FS" in text  # a Latin name in the printer's font


def test_names_the_printer_font_lacks_are_bitmaps_and_never_sent_as_text():
    stock = load_stock("thermal-4x6")
    for bag in (BAGS[1], BAGS[2], BAGS[3]):  # Greek, Polish, Czech
        text = zpl.label(bag, stock, 203).decode("utf-8")
        assert bag.patient_name not in text
        assert "^GFA," in text
        found = found_symbols(render(text.encode("utf-8"), stock, 203)[0])
        assert found["]d2"].bytes == element_string(label_pairs(bag)).encode("ascii")


def test_the_name_bitmap_is_the_label_font_drawn_dot_for_dot():
    image, (dx, dy) = zpl.text_bitmap("Αικατερίνη", "DejaVuSans-Bold", 40)
    assert image.mode == "1" and dy < 0 < image.height  # above the baseline, with a descender or not
    ink = image.histogram()[255]
    assert 0 < ink < image.width * image.height and image.histogram()[0] + ink == image.width * image.height


def test_a_batch_is_one_format_per_bag_and_the_longest_entries_print():
    stock = load_stock("bag-100x70")
    data = zpl.labels([*BAGS, LONG], stock, 300)
    assert data.count(b"^XA") == len(BAGS) + 1
    pages = render(data, stock, 300)
    assert len(pages) == len(BAGS) + 1
    assert found_symbols(pages[-1])["]d2"].bytes == element_string(label_pairs(LONG)).encode("ascii")
    with pytest.raises(ValueError):
        zpl.labels([], stock, 300)


def test_what_does_not_fit_is_refused_in_zpl_as_in_the_pdf():
    bag = make_label(patient_name="Konstantinopoulou " * 20)
    with pytest.raises(LabelOverflow):
        zpl.label(bag, load_stock("bag-100x70"), 203)


def test_a_greater_than_sign_in_code_set_b_is_escaped_for_the_printer():
    codes = barcodes.gs1_128_codes(element_string([("01", "05400000000010"), ("21", "A>B")]))
    field = zpl.code128_field(codes)
    assert "A><B" in field and field.startswith(">;>8")


@pytest.mark.hazard("H27")
@pytest.mark.parametrize("dpi", symbol_sizes.PRINTER_DPIS)
def test_the_in_process_label_in_zpl_carries_only_its_plain_code_128(dpi):
    stock = load_stock("bag-100x70")
    data = zpl.in_process_label(InProcessLabel("B00012345", "Αικατερίνη Παπαδοπούλου", "P0012345",
                                               "LEMTRADA (alemtuzumab) 12 mg", 7), stock, dpi)
    text = data.decode("utf-8")
    assert "^BX" not in text and ">8" not in text  # no GS1 symbol, no FNC1
    assert "IN PREPARATION" in text and "NOT FOR ADMINISTRATION" in text
    [image] = render(data, stock, dpi)
    found = zxingcpp.read_barcodes(image)
    assert [(r.symbology_identifier, r.bytes) for r in found] == [("]C0", in_process_code("B00012345").encode())]


@pytest.mark.hazard("H12")
def test_text_can_never_become_zpl_commands():
    """^ and ~ start ZPL commands: a line holding them is sent as a bitmap, never as field data."""
    bag = make_label(patient_name="Anna ^XZ^XA^FO0,0^GB800,800,800^FS", ward="ICU ~JA ~PS")
    stock = load_stock("bag-100x70")
    text = zpl.label(bag, stock, 300).decode("utf-8")
    assert text.count("^XA") == 1 and text.count("^XZ") == 1 and "~" not in text
    assert "^GB800,800,800" not in text
    found = found_symbols(render(text.encode("utf-8"), stock, 300)[0])
    assert found["]d2"].bytes == element_string(label_pairs(bag)).encode("ascii")
