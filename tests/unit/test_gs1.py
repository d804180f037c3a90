"""GS1 element strings (SPEC appendix): check digits, the separator rule, and reading what scanners send."""

from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pharmacy.domain.errors import CheckDigitError, ScanError
from pharmacy.domain.gs1 import (
    GS,
    element_string,
    expiry_from_yymmdd,
    format_7003,
    human_readable,
    mod10_check_digit,
    normalize_gtin,
    parse_scan,
    separator_needed,
    validate_gsrn,
    validate_mod10,
    with_check_digit,
)

TODAY = date(2026, 5, 1)
VIAL = "09506000134369"  # the demo LEMTRADA carton (GS1 example range 950…)
BAG = "09506000134406"  # the compounded preparation
GSRN = "123456789012345675"  # check digit worked by hand: weighted sum 155 → (10 − 5) mod 10 = 5
SCANS = Path(__file__).resolve().parent.parent / "fixtures" / "scans.tsv"


# --- mod-10 check digits --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "number",
    [
        "09506000134352",  # GS1's own example GTIN-14
        "4006381333931",  # GTIN-13
        "5012345678900",  # GTIN-13, GS1 UK's example
        "036000291452",  # UPC-A (GTIN-12)
        "73513537",  # EAN-8 (GTIN-8)
        VIAL,
        BAG,
    ],
)
def test_known_gtins_have_a_valid_check_digit_and_are_carried_as_14_digits(number):
    assert normalize_gtin(number) == number.zfill(14)
    assert with_check_digit(number[:-1]) == number


def test_the_check_digit_weights_3_1_3_from_the_right():
    assert mod10_check_digit("0950600013435") == 2
    assert mod10_check_digit("12345678901234567") == 5


def test_a_known_gsrn_is_valid():
    assert validate_gsrn(GSRN) == GSRN


def test_a_gtin_with_a_wrong_check_digit_is_refused_with_the_right_digit_named():
    with pytest.raises(CheckDigitError) as caught:
        normalize_gtin("09506000134360")
    assert "GTIN “09506000134360” has a wrong check digit (the last digit should be 9)" in str(caught.value)


def test_a_gsrn_with_a_wrong_check_digit_is_refused():
    with pytest.raises(CheckDigitError, match="GSRN .* wrong check digit .* should be 5"):
        validate_gsrn("123456789012345670")


@pytest.mark.parametrize("number", ["09506000134", "095060001343690", "", "0950600013436X", "0950 600013436"])
def test_a_gtin_of_the_wrong_length_or_not_digits_is_refused(number):
    with pytest.raises(CheckDigitError, match="must be 8 or 12 or 13 or 14 digits"):
        normalize_gtin(number)


@pytest.mark.parametrize("number", ["٠٩٥٠٦٠٠٠١٣٤٣٦٩", "0950600013436²", "０９５０６０００１３４３６９"])
def test_digits_of_other_scripts_are_not_gs1_digits(number):
    with pytest.raises(CheckDigitError):
        normalize_gtin(number)


def test_a_payload_that_is_not_digits_has_no_check_digit():
    with pytest.raises(CheckDigitError, match="must be digits only"):
        mod10_check_digit("12A")


digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


@given(digits)
def test_a_number_with_its_check_digit_appended_validates(payload):
    number = with_check_digit(payload)
    assert validate_mod10(number, "number", (len(number),)) == number


@given(digits, st.data())
def test_changing_any_one_digit_breaks_the_check_digit(payload, data):
    number = with_check_digit(payload)
    position = data.draw(st.integers(0, len(number) - 1), label="position")
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]), label="digit")
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(CheckDigitError, match="wrong check digit"):
        validate_mod10(changed, "number", (len(changed),))


# --- building element strings for our labels ------------------------------------------------------------
def test_no_separator_follows_the_predefined_length_ais_01_and_17():
    assert element_string([("01", VIAL), ("17", "280630"), ("10", "K123A")]) == f"01{VIAL}17280630" "10K123A"


@pytest.mark.parametrize("ai, value", [("10", "K123A"), ("21", "S1"), ("7003", "2806301230"), ("8018", GSRN)])
def test_a_separator_follows_a_variable_or_not_predefined_length_ai_unless_it_is_last(ai, value):
    pairs = [("01", BAG), (ai, value), ("17", "280630")]
    assert element_string(pairs) == f"01{BAG}{ai}{value}{GS}17280630"
    assert element_string([("01", BAG), ("17", "280630"), (ai, value)]) == f"01{BAG}17280630{ai}{value}"


def test_7003_is_fixed_length_but_not_predefined_so_it_needs_a_separator():
    assert separator_needed("7003") and separator_needed("8018") and separator_needed("710")
    assert not separator_needed("01") and not separator_needed("17")


def test_the_full_bag_element_string_in_order():
    pairs = [("01", BAG), ("10", "P260501-1"), ("7003", "2605011630"), ("21", "B000123"), ("8018", GSRN)]
    assert element_string(pairs) == (
        f"01{BAG}10P260501-1{GS}70032605011630{GS}21B000123{GS}8018{GSRN}"
    )


def test_a_mapping_is_accepted_in_its_insertion_order():
    assert element_string({"01": BAG, "21": "B1"}) == f"01{BAG}21B1"


def test_parentheses_are_only_in_the_human_readable_text_never_in_the_data():
    pairs = [("01", VIAL), ("17", "280630"), ("10", "K123A"), ("21", "LEM1")]
    assert "(" not in element_string(pairs) and ")" not in element_string(pairs)
    assert human_readable(pairs) == f"(01){VIAL}(17)280630(10)K123A(21)LEM1"


@pytest.mark.parametrize("ai, value", [("10", "K1"), ("21", "S1"), ("7003", "2806301230"), ("17", "280630")])
def test_ais_that_qualify_a_product_are_refused_without_01(ai, value):
    with pytest.raises(ScanError, match=r"only together with \(01\)"):
        element_string([(ai, value)])


def test_a_patient_gsrn_may_stand_alone():
    assert element_string([("8018", GSRN)]) == f"8018{GSRN}"


@pytest.mark.parametrize("lot", ["K 1", "Kä1", "K#1", "K\x1d1", "K~1"])
def test_a_lot_outside_gs1_character_set_82_is_refused(lot):
    with pytest.raises(ScanError, match="GS1 character set 82"):
        element_string([("01", VIAL), ("10", lot)])


def test_a_lot_longer_than_20_characters_is_refused():
    with pytest.raises(ScanError, match=r"\(10\) must have 1 to 20 characters, not 21"):
        element_string([("01", VIAL), ("10", "A" * 21)])


def test_an_empty_serial_is_refused():
    with pytest.raises(ScanError, match=r"\(21\) must have 1 to 20 characters, not 0"):
        element_string([("01", VIAL), ("21", "")])


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([("01", "0950600013436")], r"\(01\) must have 14 characters, not 13"),
        ([("01", VIAL), ("17", "2806300")], r"\(17\) must have 6 characters, not 7"),
        ([("01", VIAL), ("7003", "28063012")], r"\(7003\) must have 10 characters, not 8"),
        ([("01", VIAL), ("17", "28O630")], r"\(17\) must be digits only"),
        ([("01", VIAL), ("17", "281301")], "month 13, which does not exist"),
        ([("01", VIAL), ("7003", "2806302400")], r"\(7003\) “2806302400” is not a date and time"),
        ([("01", "09506000134360")], "wrong check digit"),
        ([("8018", "123456789012345670")], "wrong check digit"),
        ([("01", VIAL), ("10", "A"), ("10", "B")], "only once"),
        ([("01", VIAL), ("240", "X")], r"AI \(240\) is not one this system writes"),
    ],
)
def test_a_wrong_element_is_refused_with_a_message_naming_it(pairs, message):
    with pytest.raises(ScanError, match=message):
        element_string(pairs)


def test_7003_is_written_as_local_wall_time_yymmddhhmm():
    assert format_7003(datetime(2026, 10, 25, 2, 30)) == "2610250230"


# --- expiry dates (AI 17) --------------------------------------------------------------------------------
def test_day_00_means_the_last_day_of_the_month():
    assert expiry_from_yymmdd("280600", today=TODAY) == date(2028, 6, 30)
    assert expiry_from_yymmdd("271200", today=TODAY) == date(2027, 12, 31)


def test_day_00_of_february_is_the_29th_in_a_leap_year_and_the_28th_otherwise():
    assert expiry_from_yymmdd("280200", today=TODAY) == date(2028, 2, 29)
    assert expiry_from_yymmdd("270200", today=TODAY) == date(2027, 2, 28)


def test_february_29_exists_only_in_a_leap_year():
    assert expiry_from_yymmdd("280229", today=TODAY) == date(2028, 2, 29)
    with pytest.raises(ScanError, match="day 29, which month 02 of 2027 does not have"):
        expiry_from_yymmdd("270229", today=TODAY)


def test_2100_is_not_a_leap_year():
    in_2080 = date(2080, 1, 1)
    assert expiry_from_yymmdd("000200", today=in_2080) == date(2100, 2, 28)
    with pytest.raises(ScanError, match="of 2100 does not have"):
        expiry_from_yymmdd("000229", today=in_2080)


@pytest.mark.parametrize(
    "yymmdd, year",
    [("260101", 2026), ("000101", 2000), ("760101", 2076), ("770101", 1977), ("990101", 1999), ("770228", 1977)],
)
def test_the_century_lies_from_49_years_before_to_50_years_after_today(yymmdd, year):
    assert expiry_from_yymmdd(yymmdd, today=TODAY).year == year


def test_the_century_window_moves_with_today():
    assert expiry_from_yymmdd("100101", today=date(2060, 6, 1)).year == 2110
    assert expiry_from_yymmdd("110101", today=date(2060, 6, 1)).year == 2011


@pytest.mark.parametrize("yymmdd, message", [("281301", "month 13"), ("280001", "month 00"), ("280631", "day 31")])
def test_an_impossible_date_is_refused_and_the_message_says_which_part(yymmdd, message):
    with pytest.raises(ScanError, match=message):
        expiry_from_yymmdd(yymmdd, today=TODAY)


@pytest.mark.parametrize("yymmdd", ["28063", "2806300", "28-6-3", "", "٢٨٠٦٣٠"])
def test_an_expiry_that_is_not_six_digits_is_refused(yymmdd):
    with pytest.raises(ScanError, match="must be six digits YYMMDD"):
        expiry_from_yymmdd(yymmdd, today=TODAY)


# --- the scanner fixtures -----------------------------------------------------------------------------
def fixture_rows() -> list[tuple[str, str]]:
    rows = []
    for line in SCANS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("description\t"):
            continue
        description, escaped = line.split("\t")
        rows.append((description, codecs.decode(escaped, "unicode_escape")))
    return rows


ROWS = dict(fixture_rows())
# description → (GTIN, serial, lot, expiry, national number 710, symbology)
PARSED = {
    "valid FMD pack, symbology id, GS separators": (VIAL, "LEM0000000001", "K123A", date(2028, 6, 30), None, "]d2"),
    "valid FMD pack, no symbology id": (VIAL, "LEM0000000002", "K123A", date(2028, 6, 30), None, None),
    "valid FMD pack, expiry day 00 (end of month)": (VIAL, "LEM0000000003", "K123B", date(2028, 6, 30), None, "]d2"),
    "valid FMD pack with national number 710": (
        VIAL, "LEM0000000004", "K123A", date(2028, 6, 30), "DE12345678", "]d2",
    ),
    "valid diluent bag NaCl 0.9% 100 mL, GS1-128": ("09506000134376", None, "N9931", date(2027, 11, 30), None, "]C1"),
    "valid diluent bag glucose 5% 100 mL, GS1-128": ("09506000134383", None, "G5520", date(2027, 5, 31), None, "]C1"),
    # Parsing is not the place to refuse these: check_diluent, the in-use rules and the stock service do.
    "NOT a permitted diluent: water for injections 100 mL": (
        "09506000134390", None, "W0042", date(2027, 12, 31), None, "]C1",
    ),
    "expired pack (2024)": (VIAL, "LEM0000000006", "K100Z", date(2024, 1, 31), None, "]d2"),
    "missing serial": (VIAL, None, "K123A", date(2028, 6, 30), None, "]d2"),
    # issue 15: a French national number, and GS1 Digital Link URIs read like any scan
    "valid FMD pack with national number 711 (France, CIP)": (
        VIAL, "LEM0000000017", "K123A", date(2028, 6, 30), "3400930000017", "]d2",
    ),
    "GS1 Digital Link URI in a QR Code (]Q1)": (VIAL, "LEM0000000013", "K123A", date(2028, 6, 30), None, "]Q1"),
    "GS1 Digital Link URI without symbology id": (VIAL, "LEM0000000014", "K123A", date(2028, 6, 30), None, None),
}
REFUSED = {
    "bad GTIN check digit": (CheckDigitError, "(01) 09506000134360 has a wrong check digit"),
    "malformed expiry month 13": (ScanError, "its (17) expiry date is not valid"),
    "truncated scan": (ScanError, "its (01) product code is not valid"),
    "not GS1: plain EAN-13": (ScanError, "plain product barcode (EAN/UPC), not a GS1 code"),
    # issue 15, point 7: the refusal says which field and what to do
    "lot over 20 characters (separator lost)": (
        ScanError, "The scan's (10) batch has 22 characters, more than the 20 GS1 allows"),
    "serial over 20 characters": (ScanError, "The scan's (21) serial number has 24 characters, more than the 20"),
    "space in the lot": (ScanError, "The scan's (10) batch “K123 A” has a space"),
    "national number over 20 characters": (
        ScanError, "The scan's (710) national product number has 21 characters"),
    "Caps Lock on: ]D2 and the letters inverted": (ScanError, "begins with “]D2”, not “]d2”: its letters came in "
                                                              "the wrong case, so Caps Lock is on"),
    "Caps Lock on, GS1-128: ]c1": (ScanError, "begins with “]c1”, not “]C1”"),
    "scanner set to a German keyboard: +d2": (ScanError, "German, Italian or Spanish layouts turn “]” into “+”"),
    "scanner set to a Swiss or Nordic keyboard: diaeresis for ]": (ScanError, "Swiss or Nordic layouts turn “]” into “¨”"),
    "scanner set to a French AZERTY keyboard: digits as accented letters": (
        ScanError, "French or Belgian (AZERTY) layouts turn “]” into “$”"),
    "web address that is not a GS1 Digital Link": (ScanError, "The scan is a web address, not a GS1 Digital Link"),
    "GS1 Digital Link URI with a bad GTIN check digit": (
        CheckDigitError, "(01) 09506000134360 has a wrong check digit: the code is damaged or cut short?"),
}
# what each of these says besides: damaged or cut short, or check the scanner's settings
DAMAGED = {"bad GTIN check digit", "lot over 20 characters (separator lost)", "serial over 20 characters",
           "space in the lot", "national number over 20 characters", "GS1 Digital Link URI with a bad GTIN check digit"}
SCANNER_SETTINGS = {d for d in REFUSED if d.startswith(("Caps Lock", "scanner set to"))}


def test_every_fixture_row_has_an_expected_outcome():
    assert set(ROWS) == set(PARSED) | set(REFUSED)


@pytest.mark.parametrize("description", sorted(PARSED))
def test_each_valid_fixture_scan_parses_to_its_expected_values(description):
    gtin, serial, lot, expiry, national, symbology = PARSED[description]
    scan = parse_scan(ROWS[description], today=TODAY)
    assert (scan.gtin, scan.serial, scan.lot, scan.expiry, scan.national_number) == (
        gtin, serial, lot, expiry, national,
    )
    assert scan.symbology == symbology
    assert scan.raw == ROWS[description]


@pytest.mark.parametrize("description", sorted(REFUSED))
def test_each_bad_fixture_scan_is_refused_with_a_clear_message(description):
    error, message = REFUSED[description]
    with pytest.raises(error) as caught:
        parse_scan(ROWS[description], today=TODAY)
    assert message in str(caught.value)
    assert "pattern" not in str(caught.value) and "^" not in str(caught.value)
    assert str(caught.value).endswith(".")


@pytest.mark.hazard("H32")
@pytest.mark.parametrize("description", sorted(DAMAGED))
def test_a_damaged_or_cut_short_scan_says_so_and_names_the_field(description):
    with pytest.raises(ScanError) as caught:
        parse_scan(ROWS[description], today=TODAY)
    assert "damaged or cut short?" in caught.value.message
    assert caught.value.details["field"] in caught.value.message  # which field: (01), (10), (21), (710)


@pytest.mark.hazard("H32")
@pytest.mark.parametrize("description", sorted(SCANNER_SETTINGS))
def test_a_scanner_set_wrong_gets_a_hint_to_check_its_settings(description):
    with pytest.raises(ScanError) as caught:
        parse_scan(ROWS[description], today=TODAY)
    assert "Check the scanner's settings" in caught.value.message
    assert caught.value.details["hint"] in ("caps_lock", "keyboard_layout")


@pytest.mark.hazard("H32")
def test_an_azerty_scan_without_symbology_identifier_still_gets_the_keyboard_hint():
    typed = ROWS["scanner set to a French AZERTY keyboard: digits as accented letters"][3:]
    with pytest.raises(ScanError, match="French or Belgian \\(AZERTY\\) keyboard, without Shift for the digits"):
        parse_scan(typed, today=TODAY)


@pytest.mark.hazard("H32")
@pytest.mark.parametrize("description", sorted(set(ROWS)))
def test_with_the_symbology_identifier_required_only_scans_that_carry_one_are_read(description):
    """PHARMACY_REQUIRE_SYMBOLOGY_ID=1: a scan without ]d2, ]C1, ]Q3 (or ]Q1 before a Digital Link) is refused
    with its own message; every other row reads or is refused exactly as without the setting."""
    raw = ROWS[description]

    def outcome(required: bool):
        try:
            return parse_scan(raw, today=TODAY, require_symbology=required).elements
        except ScanError as error:
            return error.message

    if raw[:1] in "]+$\xa8":  # carries a symbology identifier (or the keyboard's version of one)
        assert outcome(True) == outcome(False)
    else:
        assert outcome(True).startswith("The scan has no symbology identifier (]d2, ]C1 or ]Q3) at its start, so it "
                                        "was typed, garbled, or the scanner does not send one")


def test_the_national_number_says_which_ai_carried_it():
    assert parse_scan(ROWS["valid FMD pack with national number 710"], today=TODAY).national_number_ai == "710"
    french = parse_scan(ROWS["valid FMD pack with national number 711 (France, CIP)"], today=TODAY)
    assert (french.national_number, french.national_number_ai) == ("3400930000017", "711")


def test_a_digital_link_is_marked_as_one():
    assert parse_scan(ROWS["GS1 Digital Link URI in a QR Code (]Q1)"], today=TODAY).digital_link is True
    assert parse_scan(ROWS["valid FMD pack, symbology id, GS separators"], today=TODAY).digital_link is False


def test_the_day_00_fixture_keeps_the_printed_date_and_gives_the_last_day_of_june():
    scan = parse_scan(ROWS["valid FMD pack, expiry day 00 (end of month)"], today=TODAY)
    assert scan.expiry_yymmdd == "280600"
    assert scan.expiry == date(2028, 6, 30)


def test_a_scan_keeps_every_ai_in_the_order_scanned():
    scan = parse_scan(ROWS["valid FMD pack with national number 710"], today=TODAY)
    assert list(scan.elements) == ["01", "21", "10", "17", "710"]


# --- reading scans -------------------------------------------------------------------------------------
def test_a_scanned_bag_gives_the_use_by_as_printed_local_time_and_the_patient():
    raw = "]d2" + element_string([("01", BAG), ("10", "P1"), ("7003", "2605011630"), ("21", "B1"), ("8018", GSRN)])
    scan = parse_scan(raw, today=TODAY)
    assert scan.use_by_local == datetime(2026, 5, 1, 16, 30)
    assert scan.gsrn == GSRN
    assert scan.expiry is None


@pytest.mark.parametrize("substitute", ["<GS>", "{GS}", "^]"])
def test_a_keyboard_wedge_substitute_for_gs_is_read_as_gs(substitute):
    raw = f"]d201{VIAL}21LEM1{substitute}10K1{substitute}17280630"
    scan = parse_scan(raw, gs_substitutes=("<GS>", "{GS}", "^]"), today=TODAY)
    assert (scan.serial, scan.lot) == ("LEM1", "K1")


def test_a_leading_gs_sent_for_the_opening_fnc1_is_ignored():
    assert parse_scan(f"{GS}01{VIAL}21LEM1", today=TODAY).serial == "LEM1"


def test_a_trailing_carriage_return_from_the_scanner_is_ignored():
    assert parse_scan(f"]d201{VIAL}21LEM1\r\n", today=TODAY).serial == "LEM1"


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_an_empty_scan_is_refused(raw):
    with pytest.raises(ScanError, match="Nothing was scanned"):
        parse_scan(raw)


def test_a_symbology_that_is_not_gs1_is_refused():
    with pytest.raises(ScanError, match=r"\(\]E0\) is not a GS1 barcode"):
        parse_scan("]E05012345678900")


@pytest.mark.parametrize("raw", ["5012345678900", "73513537", "036000291452"])
def test_a_plain_ean_or_upc_is_refused_with_a_hint_to_scan_the_datamatrix(raw):
    with pytest.raises(ScanError, match="scan the pack's 2D DataMatrix"):
        parse_scan(raw)


def test_control_characters_other_than_gs_are_refused():
    with pytest.raises(ScanError, match="characters no GS1 barcode carries"):
        parse_scan(f"01{VIAL}21LEM\x001")


def test_text_that_is_not_an_element_string_is_refused():
    with pytest.raises(ScanError, match="not a GS1 element string"):
        parse_scan("hello")


def test_an_ai_that_needs_a_gtin_is_refused_in_a_scan_without_one():
    with pytest.raises(ScanError, match=r"no product code \(01\)"):
        parse_scan("10K123A")


def test_a_scan_holding_an_ai_twice_is_refused():
    with pytest.raises(ScanError, match=r"holds \(10\) twice"):
        parse_scan(f"01{VIAL}10K1{GS}10K2")


def test_a_scanned_patient_gsrn_with_a_wrong_check_digit_is_refused():
    with pytest.raises(CheckDigitError, match="GSRN"):
        parse_scan("8018123456789012345670")


def test_a_scan_with_february_30_is_refused():
    with pytest.raises(ScanError, match=r"\(17\) expiry date is not valid"):
        parse_scan(f"01{VIAL}17280230")


# --- round trip ------------------------------------------------------------------------------------------
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
gtins = st.text(alphabet="0123456789", min_size=13, max_size=13).map(with_check_digit)
gsrns = st.text(alphabet="0123456789", min_size=17, max_size=17).map(with_check_digit)
texts = st.text(alphabet=CSET82, min_size=1, max_size=20)
expiries = st.dates(date(1980, 1, 1), date(2075, 12, 31)).map(lambda d: d.strftime("%y%m%d"))
use_bys = st.datetimes(datetime(2000, 1, 1), datetime(2068, 12, 31)).map(format_7003)


@given(
    gtin=gtins, lot=texts, serial=texts, expiry=expiries, use_by=use_bys, patient=st.none() | gsrns,
    order=st.permutations(["10", "21", "17", "7003"]),
    prefix=st.sampled_from(["", "]d2", "]C1"]),
    separator=st.sampled_from([GS, "<GS>", "{GS}", "^]"]),
)
def test_an_element_string_we_build_is_read_back_to_exactly_the_same_values(
    gtin, lot, serial, expiry, use_by, patient, order, prefix, separator
):
    assume(separator not in lot and separator not in serial)
    values = {"10": lot, "21": serial, "17": expiry, "7003": use_by}
    pairs = [("01", gtin), *((ai, values[ai]) for ai in order)]
    if patient:
        pairs.append(("8018", patient))
    raw = prefix + element_string(pairs).replace(GS, separator)
    scan = parse_scan(raw, gs_substitutes=(separator,), today=TODAY)
    assert scan.elements == dict(pairs)
    assert (scan.gtin, scan.lot, scan.serial, scan.expiry_yymmdd, scan.gsrn) == (gtin, lot, serial, expiry, patient)
    assert scan.use_by_local == datetime.strptime(use_by, "%y%m%d%H%M")
    assert scan.symbology == (prefix or None)
