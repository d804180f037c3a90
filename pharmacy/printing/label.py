"""The bag label as a PDF (SPEC section 4): one page per label, sized to the label stock.

Works outside any web request — the web, the CLI and the tests call the same function and get bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.pdfgen.canvas import Canvas

from . import fonts
from .content import LabelData, label_pairs, linear_pairs
from .layouts import draw_label
from .stocks import LabelStock

__all__ = ["LabelData", "label_pairs", "linear_pairs", "render_label", "render_labels"]


def render_labels(items: Sequence[LabelData], stock: LabelStock) -> bytes:
    """One PDF with a page per label, for printing a batch of bags in one job."""
    items = list(items)
    if not items:
        raise ValueError("render_labels needs at least one label.")
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, stock)
    canvas.setTitle("Bag labels " + ", ".join(item.bag_serial for item in items[:5]))
    canvas.setCreator("pharmacy")
    for data in items:
        draw_label(canvas, data, stock)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_label(data: LabelData, stock: LabelStock) -> bytes:
    return render_labels([data], stock)


def new_canvas(buffer, stock: LabelStock) -> Canvas:
    """A canvas for label pages. ``invariant``: the same label gives the same bytes. No page
    compression: a label is small and goes to a local printer, and compressing would cost more
    time than the whole text layout."""
    fonts.register()
    return Canvas(buffer, pagesize=stock.pagesize, invariant=True, pageCompression=0,
                  initialFontName=fonts.REGULAR)
