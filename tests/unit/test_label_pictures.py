"""Pictures of the labels for people to look at (test-artifacts/labels/*.png), as the printer sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pharmacy.printing.label import render_labels
from pharmacy.printing.stocks import load_stock

from .label_helpers import rasterise
from .test_label_pdf import BAGS, LONG

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "labels"
NAMES = ["latin", "greek-glucose", "polish-glucose", "czech-reprint", "markup", "longest"]


@pytest.mark.parametrize("stock_name", ["bag-100x70", "thermal-4x6"])
def test_pictures_of_every_label_are_written_at_printer_resolution(stock_name):
    stock = load_stock(stock_name)
    pdf = render_labels([*BAGS, LONG], stock)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page, name in enumerate(NAMES):
        image = rasterise(pdf, page, dpi=stock.dpi)
        path = ARTIFACTS / f"{stock_name}-{name}.png"
        image.save(path)
        expected = (stock.width_mm / 25.4 * stock.dpi, stock.height_mm / 25.4 * stock.dpi)
        assert image.size == pytest.approx(expected, abs=1)
        assert image.getextrema() == (0, 255)
        assert path.stat().st_size > 10_000
