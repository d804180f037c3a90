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

from reportlab.lib.units import mm

from pharmacy import i18n
from pharmacy.domain.bagid import in_process_code
from pharmacy.i18n import _

from . import barcodes, fonts, layouts
from .label import new_canvas
from .stocks import LabelStock
from .symbol_sizes import CODE_128

QUIET = CODE_128.quiet_zone_x  # modules of clear space either side, as for the GS1-128 of the final label


@dataclass(frozen=True)
class InProcessLabel:
    serial: str
    patient_name: str
    patient_identifier: str
    product: str  # e.g. "LEMTRADA (alemtuzumab) 12 mg"
    preparation_id: int
    language: str = "en"  # of the label's fixed words (PHARMACY_LABEL_LANGUAGE)


def _fit(canvas, text: str, font: str, size: float, width: float) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``width``."""
    return min(size, size * width / max(canvas.stringWidth(text, font, size), 1e-6))


def render_in_process_label(data: InProcessLabel, stock: LabelStock, dpi: int | None = None) -> bytes:
    """The label as a PDF page, its barcode on the dots of a ``dpi`` printer (None: the stock's ``dpi``)."""
    stock = stock.on_printer(dpi)
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, stock)
    canvas.setTitle(f"IN PREPARATION {data.serial}")
    canvas.setCreator("pharmacy")
    draw_in_process_label(canvas, data, stock)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def draw_in_process_label(canvas, data: InProcessLabel, stock: LabelStock) -> None:
    """The label on ``canvas`` (a PDF page or a ``zpl.ZplCanvas``), for a printer of ``stock.dpi``."""
    width, height = stock.pagesize
    top, right, bottom, left = (m * mm for m in stock.margins_mm)
    room = width - left - right
    y = height - top
    with i18n.using(data.language):
        warning = ((_("IN PREPARATION"), 0.16), (_("NOT FOR ADMINISTRATION"), 0.1))
        lines = ((data.patient_name, True),
                 (_("Patient {identifier} · {product}", identifier=data.patient_identifier, product=data.product), False),
                 (_("Bag {serial} · preparation {preparation_id} · no use-by until released", serial=data.serial,
                    preparation_id=data.preparation_id), False))
    for text, share in warning:
        size = _fit(canvas, text, fonts.BOLD, height * share, room)
        y -= size
        canvas.setFont(fonts.BOLD, size)
        canvas.drawString(left, y, text)
        y -= size * 0.25
    for text, bold in lines:
        nominal = 10 if bold else 8  # the name in its own script: fonts.draw picks a font per run (H31)
        size = min(nominal, nominal * room / max(fonts.width(text, bold, nominal), 1e-6))
        y -= size * 1.2
        fonts.draw(canvas, left, y, text, bold, size)
    code = in_process_code(data.serial)
    bars, codes = barcodes.code128(code)
    # the same scanners read it as the final label's GS1-128: modules of whole dots inside that row of table 6
    dots = layouts.module_dots(CODE_128, stock, room, len(bars) + 2 * QUIET)
    if dots is None:
        raise barcodes.BarcodeTooLong(_("The in-process barcode {code} is wider than the {title} label.", code=code,
                                        title=stock.title))
    grid = layouts.grid(stock)
    module = dots * grid.dot
    text_size = 8
    base = grid.row(bottom + text_size * 1.4, up=True)
    bar_height = grid.dots(max(min(y - base - text_size * 0.2, 18 * mm), 6 * mm) - grid.dot / 2) * grid.dot
    x = grid.column(left + QUIET * module)
    barcodes.place_linear(canvas, bars, codes, x, base, module, bar_height)
    canvas.setFont(fonts.REGULAR, text_size)
    canvas.drawString(x, bottom + text_size * 0.2, code)
