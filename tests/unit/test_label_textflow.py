"""Label text never runs past its box: lines shrink, break at field separators, then words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pharmacy.printing import fonts, textflow
from pharmacy.printing.textflow import LabelOverflow, Text

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzÅŁŻŘΑΩ0123456789-()<>&\u00a0", min_size=1, max_size=30)
fields = st.lists(st.lists(words, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(parts=fields, width=st.floats(min_value=15, max_value=300), bold=st.booleans(),
       size=st.floats(min_value=5, max_value=20))
def test_every_wrapped_line_fits_and_nothing_is_lost(parts, width, bold, size):
    text = textflow.SEPARATOR.join(parts)
    lines = textflow.wrap(text, bold, size, width)
    for line in lines:
        assert fonts.width(line, bold, size) <= width + 1e-6 or len(line) == 1
    squeeze = "".join(text.replace("·", "").split())
    assert "".join(" ".join(lines).replace("·", "").split()) == squeeze


def test_a_long_line_breaks_at_its_field_separators_first():
    text = "Vial lot LOT-ABCDEFGHIJ-12345 exp 2027-03-31 · Diluent lot DIL-ABCDEFGHIJ-12345"
    width = fonts.width("Vial lot LOT-ABCDEFGHIJ-12345 exp 2027-03-31 ·", False, 8) + 1
    assert textflow.wrap(text, False, 8, width) == [
        "Vial lot LOT-ABCDEFGHIJ-12345 exp 2027-03-31 ·", "Diluent lot DIL-ABCDEFGHIJ-12345",
    ]


def test_a_date_and_its_time_stay_together_unless_they_cannot():
    stamp = "Prepared\u00a02026-03-10\u00a009:15\u00a0CET"
    roomy = fonts.width(stamp + " ·", False, 9) + 1
    assert textflow.wrap(f"{stamp} · times in Europe/Brussels", False, 9, roomy) == [
        f"{stamp} ·", "times in Europe/Brussels"]
    assert textflow.wrap(stamp, False, 9, roomy * 0.7) == ["Prepared 2026-03-10", "09:15 CET"]


def test_a_slightly_long_line_shrinks_instead_of_wrapping():
    text = "Prepared by J. Peeters · Checked by M. Dubois"
    natural = fonts.width(text, False, 10)
    placed = textflow.place(Text(text, 10, shrink=0.8), natural * 0.9)
    assert placed.lines == (text,)
    assert placed.size == pytest.approx(9, abs=0.02)


def test_a_block_scales_down_as_a_whole_to_fit_and_refuses_below_the_smallest_size():
    items = [Text("USE BY 2026-03-10 17:15 CET", 20, bold=True), Text("Anna Janssens", 12)]
    natural = sum(p.height for p in textflow.fit(items, 500, 1000))
    smaller = textflow.fit(items, 500, natural * 0.8)
    assert sum(p.height for p in smaller) <= natural * 0.8
    assert smaller[0].size / smaller[1].size == pytest.approx(20 / 12)
    with pytest.raises(LabelOverflow):
        textflow.fit(items, 500, natural * 0.5)
