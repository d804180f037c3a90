"""The in-process label (issue 14 point 1): stuck on the bag when the diluent bag is scanned, so the bag
has an identity from its filling to its release.

It says IN PREPARATION — NOT FOR ADMINISTRATION in the largest type, carries the bag serial in a plain
Code 128 symbol (``IP-BAG…``: no GS1 element string, no use-by, no START BY — nothing a bedside could
take for a released bag's label), and names the patient and the dose so the checker can tell two bags
apart. Drawn as vectors on the pharmacy's label stock, like the final label.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from barcode.codex import Code128
from reportlab.lib.units import mm

from pharmacy.domain.bagid import in_process_code

from . import barcodes, fonts
from .label import new_canvas
from .stocks import LabelStock

QUIET = 10  # modules of clear space either side, as for the GS1-128 of the final label
MIN_MODULE_MM = 0.25


@dataclass(frozen=True)
class InProcessLabel:
    serial: str
    patient_name: str
    patient_identifier: str
    product: str  # e.g. "LEMTRADA (alemtuzumab) 12 mg"
    preparation_id: int


def _fit(canvas, text: str, font: str, size: float, width: float) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``width``."""
    return min(size, size * width / max(canvas.stringWidth(text, font, size), 1e-6))


def render_in_process_label(data: InProcessLabel, stock: LabelStock) -> bytes:
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, stock)
    canvas.setTitle(f"IN PREPARATION {data.serial}")
    canvas.setCreator("pharmacy")
    width, height = stock.pagesize
    top, right, bottom, left = (m * mm for m in stock.margins_mm)
    room = width - left - right
    y = height - top
    for text, share in (("IN PREPARATION", 0.16), ("NOT FOR ADMINISTRATION", 0.1)):
        size = _fit(canvas, text, fonts.BOLD, height * share, room)
        y -= size
        canvas.setFont(fonts.BOLD, size)
        canvas.drawString(left, y, text)
        y -= size * 0.25
    for text, bold in ((data.patient_name, True), (f"Patient {data.patient_identifier} · {data.product}", False),
                       (f"Bag {data.serial} · preparation {data.preparation_id} · no use-by until released", False)):
        font = fonts.BOLD if bold else fonts.REGULAR
        size = _fit(canvas, text, font, 10 if bold else 8, room)
        y -= size * 1.2
        canvas.setFont(font, size)
        canvas.drawString(left, y, text)
    code = in_process_code(data.serial)
    bars = Code128(code).build()[0]
    module = barcodes.module_mm(MIN_MODULE_MM, 25.4 / stock.dpi) * mm
    while (len(bars) + 2 * QUIET) * module > room and module > 25.4 / stock.dpi * mm:
        module -= 25.4 / stock.dpi * mm
    text_size = 8
    bar_height = max(min(y - bottom - text_size * 1.6, 18 * mm), 6 * mm)
    barcodes.draw_bars(canvas, bars, left + QUIET * module, bottom + text_size * 1.4, module, bar_height)
    canvas.setFont(fonts.REGULAR, text_size)
    canvas.drawString(left + QUIET * module, bottom + text_size * 0.2, code)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
