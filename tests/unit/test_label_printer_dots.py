"""The label's barcodes as the printer prints them (issue 15 points 3 and 4): every stock, on a 203, 300
and 600 dpi printer, with each patient AI setting, rasterised at the printer's resolution WITHOUT
anti-aliasing (a thermal head has no grey), then measured and held to GS1 table 6
(``symbol_sizes``) and read by two independent decoders, zxing-cpp and libdmtx / zbar."""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from pharmacy.domain.bagid import in_process_code
from pharmacy.domain.gs1 import GS, element_string
from pharmacy.printing import barcodes, symbol_sizes
from pharmacy.printing.in_process import InProcessLabel, render_in_process_label
from pharmacy.printing.label import label_pairs, linear_pairs, render_label
from pharmacy.printing.layouts import draw_label
from pharmacy.printing.stocks import load_stock
from pharmacy.printing.symbol_sizes import GS1_128, GS1_DATAMATRIX

from .label_helpers import GSRN, RecordingCanvas, make_label

STOCKS = ["bag-100x70", "thermal-4x6"]
PATIENT_AI = {"none": {}, "8018": {"patient_ai": "8018", "patient_ai_value": GSRN},
              "91": {"patient_ai": "91", "patient_ai_value": "P0012345"}}
CASES = [(s, d, a) for s in STOCKS for d in symbol_sizes.PRINTER_DPIS for a in PATIENT_AI]
IDS = [f"{s}-{d}dpi-ai-{a}" for s, d, a in CASES]


def second_readers():
    """pylibdmtx and pyzbar need Debian's libdmtx0b and libzbar0: a skip here, a failure in CI."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from pylibdmtx import pylibdmtx
            from pyzbar import pyzbar
    except (ImportError, OSError) as error:
        message = f"second barcode readers unavailable ({error}); apt-get install libdmtx0b libzbar0"
        if os.environ.get("CI"):
            pytest.fail(message + ": in CI a missing reader is a failure, not a skip")
        pytest.skip(message)
    return pylibdmtx, pyzbar


def printer_raster(pdf: bytes, dpi: int):
    """The page as the printer's dots: one pixel a dot, black or white, no smoothing of text or vectors,
    by poppler (pdftoppm), the rasteriser of CUPS's PDF filters. (pdfium without anti-aliasing paints
    every pixel an edge touches, so a module whose edge lies exactly on a dot boundary gains a dot
    there; poppler, like a printer, paints the dots the module covers.)"""
    if shutil.which("pdftoppm") is None:
        message = "pdftoppm (Debian poppler-utils) is needed to rasterise labels as a printer does"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "label.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-aa", "no", "-aaVector", "no", "-gray", "-png",
                        "-singlefile", str(source), str(Path(folder) / "page")], check=True, timeout=60)
        image = Image.open(Path(folder) / "page.png").convert("L")
        image.load()
    assert set(image.histogram()[1:255]) == {0}, "grey pixels: the raster is anti-aliased"
    return image


def dark(pixels, x: int, y: int) -> bool:
    return pixels[x, y] < 128


def white(pixels, box) -> bool:
    x0, y0, x1, y1 = box
    return all(not dark(pixels, x, y) for y in range(y0, y1) for x in range(x0, x1))


def measure_datamatrix(image, found, matrix):
    """The symbol's box in dots, its module in dots and whether every dot of every module is the
    module's colour (edges on the dot grid)."""
    pixels = image.load()
    corners = [(p.x, p.y) for p in (found.position.top_left, found.position.top_right,
                                    found.position.bottom_right, found.position.bottom_left)]
    rough = (min(c[0] for c in corners), min(c[1] for c in corners), max(c[0] for c in corners),
             max(c[1] for c in corners))
    n = len(matrix)
    slack = max(1, (rough[2] - rough[0]) // n // 2)  # half a module: inside the quiet zone
    xs, ys = [], []
    for y in range(rough[1] - slack, rough[3] + slack + 1):
        for x in range(rough[0] - slack, rough[2] + slack + 1):
            if dark(pixels, x, y):
                xs.append(x)
                ys.append(y)
    box = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
    width, height = box[2] - box[0], box[3] - box[1]
    assert width == height and width % n == 0, (width, height, n)
    dots = width // n
    exact = all(
        dark(pixels, box[0] + c * dots + i, box[1] + r * dots + j) == matrix[r][c]
        for r in range(n) for c in range(n) for j in range(dots) for i in range(dots)
    )
    return box, dots, exact


def measure_linear(image, found, bars: str):
    """Where the bars start, the module in dots, the rows on which the row is exactly the pattern."""
    pixels = image.load()
    top = min(found.position.top_left.y, found.position.top_right.y)
    bottom = max(found.position.bottom_left.y, found.position.bottom_right.y)
    middle = (top + bottom) // 2
    row = [dark(pixels, x, middle) for x in range(image.width)]
    start = next(x for x in range(max(0, found.position.top_left.x - 40), image.width) if row[x])
    end = max(x for x in range(start, min(image.width, found.position.top_right.x + 40)) if row[x]) + 1
    assert (end - start) % len(bars) == 0, (end - start, len(bars))
    dots = (end - start) // len(bars)
    expected = [bar == "1" for bar in bars for _ in range(dots)]

    def matches(y):
        return [dark(pixels, x, y) for x in range(start, end)] == expected

    assert matches(middle), "the bars are not whole dots: a module prints wider or narrower than the others"
    first = middle
    while first > 0 and matches(first - 1):
        first -= 1
    last = middle
    while last + 1 < image.height and matches(last + 1):
        last += 1
    return start, end, dots, first, last + 1


@pytest.fixture(scope="module")
def rendered():
    cache: dict = {}

    def get(stock_name, dpi, ai):
        key = (stock_name, dpi, ai)
        if key not in cache:
            stock = load_stock(stock_name)
            bag = make_label(**PATIENT_AI[ai])
            pdf = render_label(bag, stock, dpi=dpi)
            cache[key] = bag, stock, printer_raster(pdf, dpi)
        return cache[key]

    return get


def found_symbols(image):
    results = zxingcpp.read_barcodes(image, formats=(zxingcpp.BarcodeFormat.DataMatrix,
                                                      zxingcpp.BarcodeFormat.Code128))
    return {r.symbology_identifier: r for r in results}


@pytest.mark.hazard("H33")
@pytest.mark.parametrize("stock_name, dpi, ai", CASES, ids=IDS)
def test_the_datamatrix_is_inside_table_6_on_whole_printer_dots(rendered, stock_name, dpi, ai):
    bag, stock, image = rendered(stock_name, dpi, ai)
    matrix = barcodes.datamatrix(element_string(label_pairs(bag)))
    box, dots, exact = measure_datamatrix(image, found_symbols(image)["]d2"], matrix)
    assert exact, "a module's edge is off the printer's dots"
    x_mm = dots * 25.4 / dpi
    assert GS1_DATAMATRIX.x_min_mm - 1e-9 <= x_mm <= GS1_DATAMATRIX.x_max_mm + 1e-9, x_mm
    assert abs(x_mm - GS1_DATAMATRIX.x_target_mm) < 0.045  # the whole-dot size nearest the 0.38 mm target
    quiet = GS1_DATAMATRIX.quiet_zone_x * dots
    x0, y0, x1, y1 = box
    pixels = image.load()
    for ring in ((x0 - quiet, y0 - quiet, x1 + quiet, y0), (x0 - quiet, y1, x1 + quiet, y1 + quiet),
                 (x0 - quiet, y0, x0, y1), (x1, y0, x1 + quiet, y1)):
        assert all(not dark(pixels, x, y) for y in range(ring[1], ring[3]) for x in range(ring[0], ring[2]))


@pytest.mark.hazard("H33")
@pytest.mark.parametrize("stock_name, dpi, ai", CASES, ids=IDS)
def test_the_gs1_128_is_inside_table_6_on_whole_printer_dots(rendered, stock_name, dpi, ai):
    bag, stock, image = rendered(stock_name, dpi, ai)
    bars = barcodes.gs1_128(element_string(linear_pairs(bag, stock)))
    start, end, dots, first, last = measure_linear(image, found_symbols(image)["]C1"], bars)
    assert dots * 25.4 / dpi >= GS1_128.x_min_mm - 1e-9
    assert (last - first) * 25.4 / dpi >= GS1_128.height_min_mm - 1e-9, (last - first) * 25.4 / dpi
    quiet = GS1_128.quiet_zone_x * dots
    pixels = image.load()
    assert start - quiet >= 0 and end + quiet <= image.width
    for x0, x1 in ((start - quiet, start), (end, end + quiet)):
        assert all(not dark(pixels, x, y) for y in range(first, last) for x in range(x0, x1))


@pytest.mark.hazard("H12")
@pytest.mark.parametrize("stock_name, dpi, ai", CASES, ids=IDS)
def test_two_independent_readers_scan_the_printer_raster_to_the_record(rendered, stock_name, dpi, ai):
    pylibdmtx, pyzbar = second_readers()
    bag, stock, image = rendered(stock_name, dpi, ai)
    matrix_data = element_string(label_pairs(bag)).encode("ascii")
    linear_data = element_string(linear_pairs(bag, stock)).encode("ascii")
    found = found_symbols(image)
    assert found["]d2"].bytes == matrix_data
    assert found["]C1"].bytes == linear_data
    # libdmtx, on the symbol with its surroundings; it reports FNC1 separators as nothing, so its text
    # is the element string without GS
    box, _, _ = measure_datamatrix(image, found["]d2"], barcodes.datamatrix(matrix_data.decode()))
    margin = math.ceil(2 * dpi / 25.4)
    crop = image.crop((box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin))
    with warnings.catch_warnings():  # pylibdmtx 0.1.10 compares versions with distutils
        warnings.simplefilter("ignore", DeprecationWarning)
        libdmtx = pylibdmtx.decode(crop, max_count=1, timeout=5000)
    assert [d.data for d in libdmtx] == [matrix_data.replace(GS.encode(), b"")]
    zbar = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.CODE128])
    assert [d.data for d in zbar] == [linear_data]


@pytest.mark.hazard("H33")
@pytest.mark.parametrize("dpi", symbol_sizes.PRINTER_DPIS)
@pytest.mark.parametrize("stock_name", STOCKS)
def test_every_barcode_rectangle_drawn_has_its_edges_on_the_printer_dot_grid(stock_name, dpi):
    """Read from the drawing calls themselves, not the raster: a symbol drawn a fraction of a dot off
    would still rasterise evenly here but not on a printer whose grid starts elsewhere."""
    stock = load_stock(stock_name).on_printer(dpi)
    canvas = RecordingCanvas(io.BytesIO(), pagesize=stock.pagesize)
    draw_label(canvas, make_label(**PATIENT_AI["8018"]), stock)
    fills = [m["box"] for m in canvas.marks if m["kind"] == "fill"]
    assert len(fills) > 20
    dot, page_height = 72 / dpi, stock.pagesize[1]
    for x0, y0, x1, y1 in fills:
        for steps in (x0 / dot, x1 / dot, (page_height - y0) / dot, (page_height - y1) / dot):
            assert steps == pytest.approx(round(steps), abs=1e-6)


def test_the_size_table_gives_whole_dot_modules_inside_it_at_every_printer_resolution():
    expected = {203: 3, 300: 4, 600: 9}  # 0.375, 0.339 and 0.381 mm: the nearest the 0.38 mm target
    for dpi, dots in expected.items():
        assert GS1_DATAMATRIX.module_dots(dpi) == dots
        assert GS1_128.whole_dot_modules(dpi)[0] * 25.4 / dpi >= GS1_128.x_min_mm
    assert "table 6" in GS1_DATAMATRIX.source and "healthcare" in GS1_DATAMATRIX.source


def test_a_printer_resolution_with_no_whole_dot_module_in_the_table_is_refused():
    with pytest.raises(symbol_sizes.ResolutionUnsupported, match="dpi"):
        load_stock("bag-100x70").on_printer(99)
    with pytest.raises(symbol_sizes.ResolutionUnsupported, match="table 6"):
        GS1_DATAMATRIX.module_dots(1200, fits=2)


@pytest.mark.hazard("H33")
@pytest.mark.parametrize("dpi", symbol_sizes.PRINTER_DPIS)
@pytest.mark.parametrize("stock_name", STOCKS)
def test_the_in_process_barcode_is_on_whole_printer_dots_and_scans(stock_name, dpi):
    stock = load_stock(stock_name)
    label = InProcessLabel("B00012345", "Anna Janssens", "P0012345", "LEMTRADA (alemtuzumab) 12 mg", 7)
    image = printer_raster(render_in_process_label(label, stock, dpi=dpi), dpi)
    [found] = zxingcpp.read_barcodes(image)
    assert (found.symbology_identifier, found.bytes) == ("]C0", in_process_code("B00012345").encode())
    bars, _ = barcodes.code128(in_process_code("B00012345"))
    start, end, dots, first, last = measure_linear(image, found, bars)
    assert dots * 25.4 / dpi >= GS1_128.x_min_mm - 1e-9
    pixels = image.load()
    quiet = GS1_128.quiet_zone_x * dots
    assert all(not dark(pixels, x, y) for y in range(first, last)
               for x in [*range(start - quiet, start), *range(end, end + quiet)])


def test_over_600_dpi_the_pdf_keeps_the_smallest_whole_dot_size_and_zpl_refuses():
    from pharmacy.printing import zpl

    assert GS1_DATAMATRIX.module_dots(1200) == 12  # 0.254 mm
    pdf = render_label(make_label(), load_stock("bag-100x70"), dpi=1200)
    assert pdf.startswith(b"%PDF")
    with pytest.raises(symbol_sizes.ResolutionUnsupported, match="ZPL"):
        zpl.label(make_label(), load_stock("bag-100x70"), 1200)
