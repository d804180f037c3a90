"""What the bag label's barcodes carry (SPEC section 4 and the GS1 appendix)."""

from __future__ import annotations

import datetime as dt

import pytest

from pharmacy.domain.errors import CheckDigitError
from pharmacy.domain.gs1 import element_string
from pharmacy.printing import barcodes
from pharmacy.printing.label import label_pairs, linear_pairs
from pharmacy.printing.stocks import load_stock

from .label_helpers import GSRN, GTIN, make_label

pytestmark = pytest.mark.hazard("H12")


def test_the_datamatrix_carries_gtin_batch_local_use_by_and_serial_in_that_order():
    # use-by 16:15 UTC is 17:15 in Brussels in March (CET): AI 7003 is local time
    assert label_pairs(make_label()) == [
        ("01", GTIN), ("10", "P2603100001"), ("7003", "2603101715"), ("21", "B00012345"),
    ]


@pytest.mark.parametrize("ai, value", [("8018", GSRN), ("91", "P0012345"), ("99", "12345")])
def test_the_patient_identifier_follows_under_the_configured_ai(ai, value):
    pairs = label_pairs(make_label(patient_ai=ai, patient_ai_value=value))
    assert pairs[-1] == (ai, value)
    assert [a for a, _ in pairs[:-1]] == ["01", "10", "7003", "21"]


def test_a_gsrn_with_a_wrong_check_digit_is_refused():
    wrong = GSRN[:-1] + str((int(GSRN[-1]) + 1) % 10)
    with pytest.raises(CheckDigitError):
        element_string(label_pairs(make_label(patient_ai="8018", patient_ai_value=wrong)))


def test_a_preparation_gtin_with_a_wrong_check_digit_is_refused():
    wrong = GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)
    with pytest.raises(CheckDigitError):
        element_string(label_pairs(make_label(preparation_gtin=wrong)))


def test_without_a_stock_the_gs1_128_carries_gtin_and_serial_only():
    assert linear_pairs(make_label()) == [("01", GTIN), ("21", "B00012345")]


@pytest.mark.parametrize("stock_name", ["bag-100x70", "thermal-4x6"])
def test_on_a_stock_the_gs1_128_adds_what_fits_in_48_characters_and_the_label_width(stock_name):
    stock = load_stock(stock_name)
    pairs = linear_pairs(make_label(), stock)
    data = element_string(pairs)
    assert pairs[0] == ("01", GTIN) and pairs[-1] == ("21", "B00012345")
    assert ("7003", "2603101715") in pairs  # short serials leave room for the use-by
    assert len(data) <= barcodes.GS1_128_MAX_CHARS
    x0, _, x1, _ = stock.content_mm
    module = barcodes.module_mm(barcodes.GS1_128_MIN_MODULE_MM, stock.dot_mm)
    assert barcodes.gs1_128_width_mm(data, module) <= x1 - x0


def test_long_serial_and_batch_leave_the_gs1_128_with_gtin_and_serial():
    data = make_label(bag_serial="S" * 20, batch="B" * 20)
    assert linear_pairs(data, load_stock("bag-100x70")) == [("01", GTIN), ("21", "S" * 20)]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"use_by": dt.datetime(2026, 3, 10, 17, 15)}, "use_by"),
        ({"prepared_at": dt.datetime(2026, 3, 10, 9, 15)}, "prepared_at"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"reprint": -1}, "reprint"),
        ({"patient_ai": "90", "patient_ai_value": "1"}, "patient_ai"),
        ({"patient_ai": "8018"}, "patient_ai"),
    ],
)
def test_label_data_that_cannot_make_a_correct_label_is_refused(change, words):
    with pytest.raises(ValueError, match=words):
        make_label(**change)
