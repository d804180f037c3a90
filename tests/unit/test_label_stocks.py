"""Label stocks are data (labels/*.toml), validated on load with errors that name file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pharmacy.domain.errors import LabelStockError
from pharmacy.printing.stocks import available_stocks, labels_dir, load_stock, read_stock

GOOD = {
    "name": "roll-60x40",
    "title": "Small roll 60 × 40 mm",
    "width": "6 cm",
    "height": "40 mm",
    "margins": "2 mm",
    "dpi": 203,
    "layout": "landscape",
}


def write_stock(folder: Path, fields: dict, name: str = "roll-60x40") -> Path:
    lines = []
    tables = []
    for key, value in fields.items():
        if isinstance(value, dict):
            tables.append(f"[{key}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in value.items()))
        else:
            lines.append(f"{key} = {json.dumps(value)}\n")
    path = folder / f"{name}.toml"
    path.write_text("".join(lines) + "".join(tables), encoding="utf-8")
    return path


def test_the_shipped_stocks_are_found_and_have_their_sizes():
    assert {"bag-100x70", "thermal-4x6"} <= set(available_stocks())
    bag = load_stock("bag-100x70")
    assert (bag.width_mm, bag.height_mm, bag.dpi, bag.layout) == (100, 70, 300, "landscape")
    assert bag.margins_mm == (3, 3, 3, 3)
    thermal = load_stock("thermal-4x6")
    assert (thermal.width_mm, thermal.height_mm) == pytest.approx((101.6, 152.4))
    assert thermal.pagesize == pytest.approx((288, 432))  # 4 × 6 in in points
    assert (thermal.dpi, thermal.layout) == (203, "portrait")


def test_in_a_source_checkout_the_stocks_come_from_the_top_level_labels_folder():
    assert labels_dir() == Path(__file__).resolve().parents[2] / "labels"


def test_a_good_file_reads_every_unit_and_margin_form(tmp_path):
    stock = read_stock(write_stock(tmp_path, {**GOOD, "margins": {
        "top": "1 mm", "right": "0.1 in", "bottom": "0.3 cm", "left": "4 mm"}}))
    assert stock.width_mm == pytest.approx(60)
    assert stock.margins_mm == pytest.approx((1, 2.54, 3, 4))
    assert stock.content_mm == pytest.approx((4, 3, 57.46, 39))


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("width", None, "width"),
        ("height", "70 furlongs", "height"),
        ("height", 70, "height"),
        ("width", "1000 mm", "width"),
        ("dpi", "300", "dpi"),
        ("dpi", 20, "dpi"),
        ("layout", "diagonal", "layout"),
        ("layout", None, "layout"),
        ("name", "another-name", "name"),
        ("title", "", "title"),
        ("margins", None, "margins"),
        ("margins", {"top": "1 mm", "right": "1 mm", "bottom": "1 mm"}, "margins.left"),
        ("margins", "25 mm", "margins"),
    ],
)
def test_a_wrong_stock_file_is_refused_naming_the_file_and_the_field(tmp_path, field, value, words):
    fields = {key: val for key, val in GOOD.items() if key != field}
    if value is not None:
        fields[field] = value
    path = write_stock(tmp_path, fields)
    with pytest.raises(LabelStockError) as refused:
        read_stock(path)
    assert "roll-60x40.toml" in refused.value.message
    assert f"“{words}”" in refused.value.message


def test_a_file_that_is_not_toml_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\nwidth = 100 mm\n', encoding="utf-8")
    with pytest.raises(LabelStockError, match=r"broken\.toml"):
        read_stock(path)


def test_an_unknown_stock_is_refused_and_the_known_ones_are_named():
    with pytest.raises(LabelStockError, match="bag-100x70") as refused:
        load_stock("../pyproject")
    assert "../pyproject" in refused.value.message


def test_an_edited_stock_file_is_read_anew_and_a_broken_edit_is_refused(tmp_path):
    """A stock is kept between labels (issue 18) but never over an edit: the same file with another height of
    the same length is what the next read gives; broken after a good read, it is refused."""
    path = write_stock(tmp_path, GOOD)
    assert read_stock(path).height_mm == pytest.approx(40)
    assert read_stock(write_stock(tmp_path, {**GOOD, "height": "50 mm"})).height_mm == pytest.approx(50)
    path.write_text(path.read_text(encoding="utf-8") + "width = \n", encoding="utf-8")
    with pytest.raises(LabelStockError, match=r"roll-60x40\.toml"):
        read_stock(path)
