"""``printing/label.check_printable``: the one answer to "can this label be printed?", asked of the layout
code itself (issue 15, point 1; SAFETY.md H30): field, stock and what fits named in the refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pharmacy.printing.content import MAX_REPRINT
from pharmacy.printing.label import LabelCannotPrint, check_printable, render_label
from pharmacy.printing.stocks import load_stock
from pharmacy.printing.textflow import LabelOverflow

from .label_helpers import GSRN, make_label

pytestmark = pytest.mark.hazard("H30")

NAME_137 = ("Maria-Magdalena Alexandra Konstantinopoulou-Wiśniewska de la Santísima Trinidad "
            "Papadopoulou-Vandenbroucke Nepomucena Dvořáková Ferreiras")
WIDEST = make_label(vial_lot="LOT-ABCDEFGHIJ-12345", diluent_lot="DIL-ABCDEFGHIJ-12345", reprint=MAX_REPRINT,
                    prepared_by="Jean-Baptiste Vandenbroucke", checked_by="Marie-Christine Delacroix")


@pytest.mark.parametrize("stock_name", ["bag-100x70", "thermal-4x6"])
def test_a_label_that_fits_passes_and_renders(stock_name):
    stock = load_stock(stock_name)
    check_printable(WIDEST, [stock])
    assert render_label(WIDEST, stock).startswith(b"%PDF")


def test_a_137_character_name_is_refused_with_the_stock_and_the_length_that_fits():
    stock_name = "bag-100x70"
    stock = load_stock(stock_name)
    label = replace(WIDEST, patient_name=NAME_137)
    with pytest.raises(LabelOverflow):  # what the renderer does with it: refused only at print time
        render_label(label, stock)
    with pytest.raises(LabelCannotPrint) as caught:
        check_printable(label, [stock])
    error = caught.value
    fits = error.details["fits"]
    assert (error.details["field"], error.details["stock"]) == ("patient name", stock_name)
    assert f"does not fit the {stock.title} ({stock_name}, at {stock.dpi} dpi) with the REPRINT 999 mark" in error.message
    assert f"up to {fits} characters of it fit there" in error.message and 0 < fits < 137
    render_label(replace(label, patient_name=NAME_137[:fits].rstrip()), stock)  # the claim is the renderer's
    with pytest.raises(LabelOverflow):
        render_label(replace(label, patient_name=NAME_137[:fits + 1]), stock)


@pytest.mark.hazard("H7")
def test_an_internal_ai_value_outside_character_set_82_is_refused_naming_the_characters():
    label = replace(WIDEST, patient_id="MRN 2026/0042", patient_ai="91", patient_ai_value="MRN 2026/0042")
    with pytest.raises(LabelCannotPrint) as caught:
        check_printable(label, [load_stock("bag-100x70")])
    assert "patient identifier “MRN 2026/0042” cannot go in the label's barcode under AI (91)" in caught.value.message
    assert "(a space)" in caught.value.message


def test_a_valid_gsrn_under_8018_passes():
    check_printable(replace(WIDEST, patient_ai="8018", patient_ai_value=GSRN), [load_stock("thermal-4x6")])


def test_the_refusal_names_a_field_asked_first_when_it_changed():
    """A long name and a long ward: both would have to be shorter; the one just changed is named."""
    stock = load_stock("bag-100x70")
    with pytest.raises(LabelCannotPrint) as caught:
        check_printable(replace(WIDEST, patient_name=NAME_137[:60], ward="W" * 100), [stock], changed=["ward"])
    assert caught.value.details["field"] == "ward"


def test_no_label_has_a_reprint_number_above_the_one_checked():
    with pytest.raises(ValueError, match="up to 999"):
        make_label(reprint=MAX_REPRINT + 1)
