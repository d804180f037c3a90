"""The patient at the bedside (SAFETY.md H7, H16): empty values, look-alike names, and a wristband scanned or typed."""

from __future__ import annotations

import pytest

from pharmacy.domain.identity import (
    SCANNED,
    TYPED,
    Entry,
    TypedWithoutReason,
    entry,
    has_symbology_identifier,
    name_key,
    normalise_identifier,
    typed_reason,
)


def test_nothing_typed_is_the_empty_identifier_and_the_empty_name():
    assert normalise_identifier(None) == normalise_identifier("") == ""
    assert name_key(None) == name_key("  ") == ""


def test_a_name_keeps_one_space_between_its_words():
    assert name_key("  Anna \t Maria  PAPADOPOULOU ") == "anna maria papadopoulou"


@pytest.mark.parametrize("raw", ["]d28018123456789012345675", " ]C18018123456789012345675", "\r\n]Q3abc"])
def test_a_value_that_begins_with_a_symbology_identifier_after_line_ends_or_spaces_was_scanned(raw):
    assert has_symbology_identifier(raw) is True


@pytest.mark.parametrize("raw", [None, "", "H6-A", "X]d2801812", "\x0b]d2801812", "]E0123"])
def test_anything_else_was_not_sent_by_a_gs1_scanner(raw):
    assert has_symbology_identifier(raw) is False


def test_a_wristband_with_a_symbology_identifier_was_scanned_whatever_the_screen_said():
    assert entry("]d28018123456789012345675", None) == Entry(SCANNED)
    assert entry("]d28018123456789012345675", TYPED) == Entry(SCANNED)


def test_a_wristband_the_screen_timed_as_a_scan_was_scanned():
    assert entry("H6-A", SCANNED) == Entry(SCANNED)
    assert entry("H6-A", SCANNED).typed is False


def test_a_typed_wristband_needs_a_reason_unless_the_caller_asks_only_how_it_came_in():
    assert entry("H6-A", None, require_reason=False) == Entry(TYPED)
    assert entry("H6-A", "typed", "scanner_broken") == Entry(TYPED, "Scanner broken")
    with pytest.raises(TypedWithoutReason):
        entry("H6-A", "typed")


def test_an_unknown_reason_is_refused_listing_the_reasons():
    with pytest.raises(TypedWithoutReason) as caught:
        typed_reason("lazy")
    assert str(caught.value) == (
        "“lazy” is not a reason for a typed wristband: choose one of wristband_unreadable, scanner_broken, other."
    )


@pytest.mark.parametrize("other", [None, "", "  ", "band", "a   b"])
def test_other_needs_five_characters_of_words(other):
    with pytest.raises(TypedWithoutReason, match="at least 5 characters"):
        typed_reason("other", other)


def test_other_with_five_characters_of_words_is_recorded_with_them():
    assert typed_reason("other", "  wet   band ") == "Other: wet band"
    assert typed_reason("other", "faded") == "Other: faded"
