"""Reading what a scanner sends (SPEC appendix): what is trimmed, what is refused, and what the refusal says."""

from __future__ import annotations

import pytest

from pharmacy.domain.errors import ScanError
from pharmacy.domain.gs1 import GS, element_string, parse_scan, separator_needed

VIAL = "09506000134369"


def refusal(raw: str) -> ScanError:
    with pytest.raises(ScanError) as caught:
        parse_scan(raw)
    return caught.value


# --- what is trimmed -------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [f"01{VIAL}21LEM1X", f" 01{VIAL}21LEM1X\t", f"\r\n01{VIAL}21LEM1X\r\n"])
def test_only_the_scanner_s_spaces_tabs_and_line_ends_are_trimmed_the_data_is_kept_whole(raw):
    assert parse_scan(raw).serial == "LEM1X"


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x1c"])
def test_other_control_characters_at_either_end_are_refused_not_trimmed(control):
    for raw in (f"{control}01{VIAL}21LEM1", f"01{VIAL}21LEM1{control}"):
        assert "characters no GS1 barcode carries" in refusal(raw).message


def test_a_space_between_the_symbology_identifier_and_the_data_is_refused():
    assert refusal(f"]d2 01{VIAL}21LEM1").message == "The scan is not a GS1 element string."


def test_a_gs_sent_for_the_opening_fnc1_after_the_symbology_identifier_is_ignored():
    assert parse_scan(f"]d2{GS}01{VIAL}21LEM1").serial == "LEM1"


# --- short element strings -------------------------------------------------------------------------------
def test_a_four_character_element_string_is_read():
    assert parse_scan("91AB").elements == {"91": "AB"}


def test_a_four_character_batch_alone_is_refused_for_lacking_the_product_code():
    assert refusal("10K1").message == "The scan has no product code (01): scan the GS1 code of the pack."


@pytest.mark.parametrize("raw", ["10K", "01", "1"])
def test_fewer_than_four_characters_are_not_an_element_string(raw):
    assert refusal(raw).message == "The scan is not a GS1 element string."


# --- what biip cannot read --------------------------------------------------------------------------------
def test_a_field_this_system_has_no_name_for_is_called_a_field():
    error = refusal(f"01{VIAL}11999999")  # (11) production date, month 99
    assert error.message == (
        "The scan could not be read as GS1 data: its (11) field is not valid (damaged or cut short?). Scan it again."
    )


def test_a_scan_whose_ai_cannot_be_told_says_only_that_it_cannot_be_read():
    error = refusal("2300000")
    assert error.message == "The scan could not be read as GS1 data (damaged or cut short?). Scan it again."


def test_the_parser_s_own_explanation_is_kept_for_the_safety_review():
    error = refusal(f"01{VIAL}17281301")
    assert "its (17) expiry date is not valid" in error.message
    assert "GS1 AI (17)" in error.details["detail"]


# --- the separator rule for the AIs whose first two digits fix their length (GenSpecs 7.8.5) ---------------
@pytest.mark.parametrize("ai", ["00", "01", "17", "3103", "414", "4101"])
def test_no_separator_follows_an_ai_whose_first_two_digits_have_a_predefined_length(ai):
    assert separator_needed(ai) is False


@pytest.mark.parametrize("ai", ["10", "21", "7003", "8018", "710", "91", "4300"])
def test_a_separator_follows_every_other_ai_unless_it_is_last(ai):
    assert separator_needed(ai) is True


def test_a_serial_after_the_batch_is_separated_and_read_back():
    raw = element_string([("01", VIAL), ("10", "K1"), ("21", "S1")])
    assert raw == f"01{VIAL}10K1{GS}21S1"
    assert parse_scan(raw).elements == {"01": VIAL, "10": "K1", "21": "S1"}
