"""The bag label PDF read back the way a ward would: rasterised at 300 dpi and scanned with an
independent decoder (zxing-cpp), parsed with a GS1 parser (biip), and its text extracted (pypdf).
SPEC section 4: every field, the use-by most prominent, names escaped and in their own script."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pypdf
import pytest

from pharmacy.domain.gs1 import element_string, parse_scan
from pharmacy.printing.label import label_pairs, linear_pairs, render_label, render_labels
from pharmacy.printing.stocks import load_stock
from pharmacy.printing.textflow import LabelOverflow

from .label_helpers import GSRN, make_label, pdf_text, rasterise, text_sizes
from .label_helpers import decode as decode_page

STOCKS = ["bag-100x70", "thermal-4x6"]
BAGS = [
    make_label(),
    make_label(patient_name="Αικατερίνη Παπαδοπούλου", diluent="Glucose 5%", bag_serial="B00012346",
               batch="P2603100002", patient_ai="8018", patient_ai_value=GSRN),
    make_label(patient_name="Zażółć Gęślą Jaźń Łódź", diluent="Glucose 5%", bag_serial="B00012347",
               patient_ai="91", patient_ai_value="P0012345"),
    make_label(patient_name="Řehoř Žluťoučký", bag_serial="B00012348", reprint=2),
    make_label(patient_name="<b>Anna</b> & Co", ward="<i>ICU</i>", bag_serial="B00012349"),
]
PAGES = [(stock, index) for stock in STOCKS for index in range(len(BAGS))]


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    """All bags of the day in one print job per stock: a page each."""
    return {name: render_labels(BAGS, load_stock(name)) for name in STOCKS}


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(ZoneInfo("Europe/Brussels")).replace(tzinfo=None)


def test_a_batch_prints_one_page_per_bag_at_the_stock_size(pdfs):
    for name, pdf in pdfs.items():
        stock = load_stock(name)
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == len(BAGS)
        for page in reader.pages:
            assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(stock.pagesize)


def test_printing_nothing_is_refused():
    with pytest.raises(ValueError):
        render_labels([], load_stock("bag-100x70"))


@pytest.mark.hazard("H12")
@pytest.mark.parametrize("stock_name, index", PAGES)
def test_both_barcodes_scan_to_exactly_the_element_string_meant(pdfs, stock_name, index):
    bag, stock = BAGS[index], load_stock(stock_name)
    found = decode_page(pdfs[stock_name], index)
    assert set(found) == {"]d2", "]C1"}  # GS1 DataMatrix and GS1-128, both FNC1-first
    assert found["]d2"].bytes == element_string(label_pairs(bag)).encode("ascii")
    assert found["]C1"].bytes == element_string(linear_pairs(bag, stock)).encode("ascii")

    matrix = parse_scan("]d2" + found["]d2"].bytes.decode("ascii"))
    assert (matrix.gtin, matrix.lot, matrix.serial) == (bag.preparation_gtin, bag.batch, bag.bag_serial)
    assert matrix.use_by_local == local(bag.use_by).replace(second=0, microsecond=0)
    if bag.patient_ai:
        assert matrix.elements[bag.patient_ai] == bag.patient_ai_value
    linear = parse_scan("]C1" + found["]C1"].bytes.decode("ascii"))
    assert (linear.gtin, linear.serial) == (bag.preparation_gtin, bag.bag_serial)


@pytest.mark.parametrize("stock_name, index", PAGES)
def test_every_field_of_the_label_is_printed(pdfs, stock_name, index):
    bag = BAGS[index]
    text = pdf_text(pdfs[stock_name], index)
    expected = [
        bag.pharmacy_name, bag.patient_name, bag.patient_id, "1984-02-29", bag.ward,
        bag.product_brand, bag.product_inn, bag.dose, bag.diluent, bag.diluent_volume,
        bag.total_volume, bag.concentration, bag.route, bag.infusion,
        "Prepared 2026-03-10 09:15 CET", "USE BY 2026-03-10 17:15 CET", "Europe/Brussels",
        bag.storage, bag.vial_lot, "2027-03-31", bag.diluent_lot, bag.batch, bag.bag_serial,
        bag.prepared_by, bag.checked_by,
        # human-readable interpretation under the symbols: AIs in parentheses
        f"(01){bag.preparation_gtin}", f"(21){bag.bag_serial}", "(7003)2603101715",
    ]
    missing = [value for value in expected if value not in text]
    assert not missing, f"not on the label: {missing}\n{text}"
    assert ("REPRINT 2" in text) == (bag.reprint == 2)
    assert "REPRINT" in text or not bag.reprint


def test_user_text_prints_literally_never_as_markup(pdfs):
    for pdf in pdfs.values():
        text = pdf_text(pdf, 4)
        assert "<b>Anna</b> & Co" in text
        assert "Ward <i>ICU</i>" in text


def test_the_fonts_are_embedded_dejavu_and_nothing_else(pdfs):
    for pdf in pdfs.values():
        for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
            fonts = page["/Resources"]["/Font"]
            assert fonts
            for ref in fonts.values():
                font = ref.get_object()
                assert "DejaVuSans" in font["/BaseFont"]
                assert "/FontFile2" in font["/FontDescriptor"]  # the TrueType program is in the PDF


@pytest.mark.parametrize("stock_name, index", PAGES)
def test_start_by_and_use_by_are_the_largest_text_on_the_label(pdfs, stock_name, index):
    runs = text_sizes(pdfs[stock_name], index)
    largest = max(size for size, _ in runs)
    at_largest = " ".join(text for size, text in runs if size == largest)
    assert "USE BY" in at_largest and "2026-03-10 17:15 CET" in at_largest
    assert "START BY" in at_largest and "2026-03-10 13:15 CET" in at_largest
    rest = at_largest
    for printed in ("START BY", "2026-03-10 13:15 CET", "USE BY", "2026-03-10 17:15 CET"):
        rest = rest.replace(printed, "")
    assert rest.strip() == ""
    others = [size for size, text in runs if size < largest]
    assert max(others) <= largest * 0.8  # clearly larger, not by a hair


@pytest.mark.parametrize(
    "diluted, use_by, printed, ai_7003",
    [
        # autumn: 8 real hours across 03:00 CEST -> 02:00 CET
        (dt.datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo("Europe/Brussels")), "2026-10-25 07:30 CET",
         "Prepared 2026-10-25 00:30 CEST", "2610250730"),
        # spring: 8 real hours across 02:00 CET -> 03:00 CEST
        (dt.datetime(2026, 3, 29, 0, 30, tzinfo=ZoneInfo("Europe/Brussels")), "2026-03-29 09:30 CEST",
         "Prepared 2026-03-29 00:30 CET", "2603290930"),
    ],
)
@pytest.mark.hazard("H5")
def test_use_by_across_a_daylight_saving_change_is_local_time_in_text_and_barcode(
    diluted, use_by, printed, ai_7003
):
    prepared = diluted.astimezone(dt.UTC)
    bag = make_label(prepared_at=prepared, use_by=prepared + dt.timedelta(hours=8))
    for name in STOCKS:
        pdf = render_label(bag, load_stock(name))
        assert f"USE BY {use_by}" in pdf_text(pdf)
        assert printed in pdf_text(pdf)
        found = decode_page(pdf)
        assert parse_scan("]d2" + found["]d2"].bytes.decode("ascii")).elements["7003"] == ai_7003


# The longest entries a real label meets: every field near its GS1 maximum or a long real name.
LONG = make_label(
    patient_name="Maria-Magdalena Konstantinopoulou-Wiśniewska",
    pharmacy_name="Centre Hospitalier Universitaire Saint-Pierre — Pharmacie",
    ward="Neurologie 4B, chambre 412",
    vial_lot="LOT-ABCDEFGHIJ-12345", diluent_lot="DIL-ABCDEFGHIJ-12345", batch="P2603100001-ABCDEFGH",
    bag_serial="B0001234567890123456", prepared_by="Jean-Baptiste Vandenbroucke",
    checked_by="Marie-Christine Delacroix", reprint=12, patient_ai="8018", patient_ai_value=GSRN,
)


@pytest.mark.parametrize("stock_name", STOCKS)
@pytest.mark.parametrize("bag", [BAGS[1], LONG], ids=["greek", "long"])
def test_nothing_is_drawn_in_the_margins_or_off_the_page(stock_name, bag):
    """Rasterised with the media box grown by 5 mm: every pixel outside the printable box is white."""
    stock = load_stock(stock_name)
    grow, dpi = 5.0, 200
    px = dpi / 25.4
    image = rasterise(render_label(bag, stock), dpi=dpi, grow_mm=grow)
    top, right, bottom, left = stock.margins_mm
    tolerance = 0.3  # antialiasing of edges that touch the printable box
    inner = (
        round((grow + left - tolerance) * px), round((grow + top - tolerance) * px),
        round((grow + stock.width_mm - right + tolerance) * px),
        round((grow + stock.height_mm - bottom + tolerance) * px),
    )
    assert image.getextrema()[0] == 0  # something was printed
    outside = image.copy()
    outside.paste(255, inner)
    assert outside.getextrema() == (255, 255), f"ink outside the printable box of {stock_name}"


def test_the_longest_entries_still_scan_and_read_in_full():
    for name in STOCKS:
        pdf = render_label(LONG, load_stock(name))
        text = pdf_text(pdf)
        for value in (LONG.patient_name, LONG.ward, LONG.vial_lot, LONG.diluent_lot, LONG.bag_serial,
                      LONG.prepared_by, LONG.checked_by, "REPRINT 12"):
            assert value in text
        assert decode_page(pdf)["]d2"].bytes == element_string(label_pairs(LONG)).encode("ascii")


def test_text_that_cannot_fit_is_refused_rather_than_cut_off():
    with pytest.raises(LabelOverflow, match="does not fit"):
        render_label(make_label(patient_name="Konstantinopoulou " * 40), load_stock("bag-100x70"))
