"""The bag label as a PDF (SPEC section 4): one page per label, sized to the label stock.

Works outside any web request — the web, the CLI and the tests call the same function and get bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace

from reportlab.pdfgen.canvas import Canvas

from pharmacy import i18n
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.gs1 import check_element
from pharmacy.i18n import _, lazy, ngettext

from . import fonts
from .content import LabelData, label_pairs, linear_pairs, texts
from .layouts import draw_label
from .stocks import LabelStock

__all__ = ["LabelData", "LabelCannotPrint", "check_printable", "label_pairs", "linear_pairs", "render_label",
           "render_labels"]


def render_labels(items: Sequence[LabelData], stock: LabelStock, dpi: int | None = None) -> bytes:
    """One PDF with a page per label, for printing a batch of bags in one job, its barcodes on the dots of
    a ``dpi`` printer (None: the stock's ``dpi``)."""
    stock = stock.on_printer(dpi)
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


def render_label(data: LabelData, stock: LabelStock, dpi: int | None = None) -> bytes:
    return render_labels([data], stock, dpi)


def new_canvas(buffer, stock: LabelStock) -> Canvas:
    """A canvas for label pages. ``invariant``: the same label gives the same bytes. No page
    compression: a label is small and goes to a local printer, and compressing would cost more
    time than the whole text layout."""
    fonts.register()
    return Canvas(buffer, pagesize=stock.pagesize, invariant=True, pageCompression=0,
                  initialFontName=fonts.REGULAR)


# --- can this label be printed? (asked at order entry, patient change and print: H30, H31) ----------------

# The label fields that come from the patient's record, as the refusal names them.
PATIENT_FIELDS = {"patient_name": lazy("patient name"), "ward": lazy("ward"), "patient_id": lazy("patient identifier")}


class LabelCannotPrint(PharmacyError):
    """A label that cannot be printed: a text too long for a stock, a character no label font has, or a
    patient identifier a GS1 barcode cannot carry. ``field`` and ``stock`` say where."""

    code = "label_cannot_print"


def _fits(data: LabelData, stock: LabelStock) -> PharmacyError | None:
    """Lay the label out exactly as ``render_labels`` does (the same ``draw_label``) on a canvas that is
    never saved; the layout's refusal, or None when it fits."""
    canvas = new_canvas(io.BytesIO(), stock)
    try:
        draw_label(canvas, data, stock)
    except PharmacyError as error:
        return error
    return None


def _with(data: LabelData, field: str, value: str) -> LabelData:
    """``data`` with one patient field changed; the identifier also where the barcode carries it (AI 91–99)."""
    if field == "patient_id" and data.patient_ai not in (None, "8018"):
        return replace(data, patient_id=value, patient_ai_value=value)
    return replace(data, **{field: value})  # type: ignore[arg-type]  # field is one of PATIENT_FIELDS (text)


def _longest_prefix(data: LabelData, field: str, stock: LabelStock) -> int:
    """How many characters of ``field``'s value fit (the layout only gets fuller as a text grows)."""
    value = getattr(data, field)
    low, high = 0, len(value) - 1  # the whole value does not fit
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(_with(data, field, value[:middle].rstrip()), stock) is None:
            low = middle
        else:
            high = middle - 1
    return low


def _glyphs(data: LabelData) -> None:
    fields = {label: getattr(data, field) for field, label in PATIENT_FIELDS.items()}
    for label, value in [*fields.items(), *((_("label text ({role})", role=role), text) for role, text in texts(data).items())]:
        lacking = fonts.missing([value])
        if lacking:
            chars = ", ".join(fonts.describe(c) for c in lacking)
            raise LabelCannotPrint(
                ngettext("The {label} “{value}” has a character no label font can print: {chars}. It would print as an "
                         "empty box. Check the spelling (a pasted symbol?), or configure a font that has it "
                         "(PHARMACY_LABEL_FONTS). Nothing was recorded.",
                         "The {label} “{value}” has characters no label font can print: {chars}. It would print as an "
                         "empty box. Check the spelling (a pasted symbol?), or configure a font that has it "
                         "(PHARMACY_LABEL_FONTS). Nothing was recorded.", len(lacking),
                         label=i18n.now(label), value=value, chars=chars), field=label)


def _patient_ai(data: LabelData) -> None:
    if data.patient_ai is None or data.patient_ai_value is None:
        return
    try:
        check_element(data.patient_ai, data.patient_ai_value)
    except PharmacyError as error:
        what = lazy("wristband number (GSRN)") if data.patient_ai == "8018" else lazy("patient identifier")
        raise LabelCannotPrint(
            _("The {what} “{value}” cannot go in the label's barcode under AI ({ai}) (PHARMACY_PATIENT_AI): {error} "
              "Nothing was recorded.", what=what.now(), value=data.patient_ai_value, ai=data.patient_ai,
              error=error.message), field=what) from None


def check_printable(data: LabelData, stocks: Sequence[LabelStock], changed: Sequence[str] = ()) -> None:
    """Refuse (``LabelCannotPrint``) a label that cannot be printed on every one of ``stocks``: a character
    without a glyph, a patient identifier the barcode cannot carry, or a layout that does not fit — asked of
    the layout code itself, so the answer is the label's. On a layout refusal the message names the
    patient field to blame (the one whose shortening makes the label fit), the stock, and how many of its
    characters fit; the fields named in ``changed`` (a ward just changed) are asked first. Pass ``data``
    with the widest reprint mark (``MAX_REPRINT``) to cover reprints."""
    _glyphs(data)
    _patient_ai(data)
    for stock in stocks:
        refusal = _fits(data, stock)
        if refusal is None:
            continue
        if data.reprint:
            where = _("the {title} ({name}, at {dpi} dpi) with the REPRINT {reprint} mark", title=stock.title,
                      name=stock.name, dpi=stock.dpi, reprint=data.reprint)
        else:
            where = _("the {title} ({name}, at {dpi} dpi)", title=stock.title, name=stock.name, dpi=stock.dpi)
        for field in sorted(PATIENT_FIELDS, key=lambda f: f not in changed):
            label, value = PATIENT_FIELDS[field], getattr(data, field)
            if len(value) > 1 and _fits(_with(data, field, value[:1]), stock) is None:
                fit = _longest_prefix(data, field, stock)
                raise LabelCannotPrint(
                    _("The {label} “{value}” ({length} characters) does not fit {where}, even in small print: up to "
                      "{fit} characters of it fit there. Enter the {label} as the wristband shows it (shortened where "
                      "the hospital shortens it), or print on a larger stock. Nothing was recorded.", label=i18n.now(label),
                      value=value, length=len(value), where=where, fit=fit),
                    field=label, stock=stock.name, fits=fit)
        raise LabelCannotPrint(
            _("This label does not fit {where}: {refusal} Ask the pharmacy's administrator to check the label stock and "
              "the pharmacy name. Nothing was recorded.", where=where, refusal=refusal.message),
            stock=stock.name)
