"""Edges of reading GS1 scans (SPEC appendix): wristbands, GLN/SSCC check digits, GS substitutes, the century."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from pharmacy.domain.errors import CheckDigitError
from pharmacy.domain.gs1 import GS, parse_scan, with_check_digit

VIAL = "09506000134369"
GSRN = "123456789012345675"
SSCC = with_check_digit("0" "9506000134" "000001")  # extension, GS1 example company prefix, serial: 18 digits
GLN = with_check_digit("950600013440")  # 13 digits


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# --- a patient's wristband: a GSRN (8018) alone, with no product code (01) ---------------------------------
@pytest.mark.parametrize("prefix", ["", "]C1", "]d2"])
def test_a_wristband_scan_of_a_gsrn_alone_is_read_without_a_product_code(prefix):
    scan = parse_scan(f"{prefix}8018{GSRN}")
    assert scan.gsrn == GSRN
    assert scan.elements == {"8018": GSRN}
    assert (scan.gtin, scan.serial, scan.lot, scan.expiry, scan.use_by_local) == (None, None, None, None, None)
    assert scan.symbology == (prefix or None)


def test_a_wristband_gsrn_is_not_mistaken_for_a_plain_ean():
    assert parse_scan(f"8018{GSRN}\r\n").gsrn == GSRN


# --- check digits of the other GS1 keys biip checks: SSCC (00) and GLN (414) ---------------------------------
def test_a_valid_sscc_and_a_valid_gln_are_read():
    assert len(SSCC) == 18 and len(GLN) == 13
    assert parse_scan(f"00{SSCC}").elements == {"00": SSCC}
    assert parse_scan(f"414{GLN}").elements == {"414": GLN}


def test_an_sscc_with_a_wrong_check_digit_is_refused():
    bad = wrong_check_digit(SSCC)
    with pytest.raises(CheckDigitError) as caught:
        parse_scan(f"00{bad}")
    assert str(caught.value) == (f"The scanned (00) {bad} has a wrong check digit: the code is damaged or cut short? "
                                 "Scan it again; if its number is refused again, the pack may not be genuine: set it "
                                 "aside and tell the pharmacist.")  # issue 15: what to do


def test_a_gln_with_a_wrong_check_digit_is_refused():
    bad = wrong_check_digit(GLN)
    with pytest.raises(CheckDigitError, match=rf"The scanned \(414\) {bad} has a wrong check digit"):
        parse_scan(f"414{bad}")


def test_a_gtin_with_a_wrong_check_digit_in_a_scan_is_refused_as_not_genuine():
    with pytest.raises(CheckDigitError, match=r"\(01\) 09506000134360 has a wrong check digit: the code is damaged"):
        parse_scan("0109506000134360" "21LEM1")


# --- GS substitutes: the longest is replaced first ---------------------------------------------------------
def test_the_longest_gs_substitute_is_replaced_first_whatever_order_they_are_configured_in():
    """With "GS" and "<GS>" configured, "<GS>" is one separator, not "<", a separator and ">"."""
    raw = f"01{VIAL}21LEM1<GS>10K1<GS>17280630"
    for substitutes in [("GS", "<GS>"), ("<GS>", "GS")]:
        scan = parse_scan(raw, gs_substitutes=substitutes)
        assert (scan.serial, scan.lot, scan.expiry) == ("LEM1", "K1", date(2028, 6, 30)), substitutes
    assert parse_scan(f"01{VIAL}21LEM1GS10K1", gs_substitutes=("GS", "<GS>")).lot == "K1"


def test_an_empty_gs_substitute_is_ignored():
    scan = parse_scan(f"01{VIAL}21LEM1{GS}10K1", gs_substitutes=("", "{GS}"))
    assert (scan.serial, scan.lot) == ("LEM1", "K1")


def test_without_substitutes_the_text_of_one_stays_in_the_data():
    assert parse_scan(f"01{VIAL}21LEM1<GS>10K1").serial == "LEM1<GS>10K1"


# --- the century of an expiry date (GS1 GenSpecs 7.12) follows the `today` given, not the wall clock -------
@pytest.mark.parametrize(
    "today, yymmdd, expiry",
    [
        (date(2070, 1, 1), "150630", date(2115, 6, 30)),  # 55 years back: the next century
        (date(2070, 1, 1), "210630", date(2021, 6, 30)),  # 49 years back: this century
        (date(2026, 5, 1), "760101", date(2076, 1, 1)),  # 50 years ahead: this century
        (date(2026, 5, 1), "770101", date(1977, 1, 1)),  # 51 years ahead: the previous century
        (date(1999, 6, 1), "260101", date(2026, 1, 1)),
    ],
)
def test_the_expiry_century_of_a_scan_is_decided_by_the_today_passed_in(today, yymmdd, expiry):
    assert parse_scan(f"01{VIAL}17{yymmdd}", today=today).expiry == expiry


@time_machine.travel(date(1999, 6, 1), tick=False)
def test_the_wall_clock_does_not_move_the_century_when_today_is_given():
    assert parse_scan(f"01{VIAL}17760101", today=date(2026, 5, 1)).expiry == date(2076, 1, 1)
    assert parse_scan(f"01{VIAL}17760101").expiry == date(1976, 1, 1)  # without `today`: the clock's year


def test_a_scan_keeps_the_printed_expiry_digits_next_to_the_date():
    scan = parse_scan(f"01{VIAL}17150600", today=date(2070, 1, 1))
    assert (scan.expiry_yymmdd, scan.expiry) == ("150600", date(2115, 6, 30))
