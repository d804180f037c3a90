"""The identity rules (SAFETY.md H7, H16): one spelling of a patient identifier, names compared as a
person reads them, scanned or typed decided fail-safe."""

from __future__ import annotations

import pytest

from pharmacy.domain import identity
from pharmacy.domain.identity import TypedWithoutReason, entry, name_key, normalise_identifier


@pytest.mark.hazard("H16")
@pytest.mark.parametrize("typed", ["H6-A", "h6-a", " H6-A ", "h6 -a", "Ｈ６-ａ", "h6\t-A\n"])
def test_every_spelling_of_h6_a_is_the_one_identifier(typed):
    assert normalise_identifier(typed) == "H6-A"


@pytest.mark.hazard("H16")
def test_punctuation_is_kept_so_h6a_and_h6_a_stay_two_identifiers():
    assert normalise_identifier("H6A") != normalise_identifier("H6-A")


@pytest.mark.hazard("H16")
def test_names_compare_without_case_and_extra_spaces():
    assert name_key("  ewa   NOWAK ") == name_key("Ewa Nowak") and name_key("Ewa Nowak") != name_key("Eva Nowak")


@pytest.mark.hazard("H7")
@pytest.mark.parametrize(("raw", "said", "method"), [
    ("]C18018123456789012345675", None, "scanned"), ("]d2010950", "typed", "scanned"), ("P-1", "scanned", "scanned"),
    ("P-1", None, "typed"), ("P-1", "", "typed"), ("P-1", "Scanned", "typed"), ("]X1P-1", None, "typed")])
def test_scanned_only_with_a_symbology_identifier_or_the_pages_timing_else_typed(raw, said, method):
    assert identity.entry_method(raw, said) == method


@pytest.mark.hazard("H7")
def test_a_typed_identifier_needs_a_reason_from_the_short_list():
    with pytest.raises(TypedWithoutReason, match="Scan the wristband, or say why"):
        entry("P-1", None)
    with pytest.raises(TypedWithoutReason, match="not a reason"):
        entry("P-1", None, "hurry")
    with pytest.raises(TypedWithoutReason, match="in a few words"):
        entry("P-1", None, "other", "   ")
    assert entry("P-1", None, "scanner_broken") == identity.Entry("typed", "Scanner broken")
    assert entry("P-1", None, "other", "band  behind glass").reason == "Other: band behind glass"
    assert entry("P-1", None, require_reason=False) == identity.Entry("typed")
