"""Factories and readers for the label tests: label data, decoding, text and drawing records."""

from __future__ import annotations

import io

import pypdf
import pypdfium2
import zxingcpp
from reportlab.pdfgen.canvas import Canvas

from pharmacy.printing.label import LabelData
from tests.label_samples import SAMPLE_GSRN, SAMPLE_GTIN, sample_label

GTIN, GSRN = SAMPLE_GTIN, SAMPLE_GSRN
MM = 72 / 25.4


def make_label(**changes) -> LabelData:
    """A released LEMTRADA bag: diluted 2026-03-10 09:15 CET, use-by 8 h later."""
    return sample_label(**changes)


def rasterise(pdf: bytes, page: int = 0, dpi: int = 300, grow_mm: float = 0.0):
    """The page as a greyscale PIL image; ``grow_mm`` widens the media box on every side first, so
    that anything drawn outside the page becomes visible."""
    if grow_mm:
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        writer = pypdf.PdfWriter()
        target = reader.pages[page]
        box = target.mediabox
        grow = grow_mm * MM
        target.mediabox = pypdf.generic.RectangleObject(
            [box.left - grow, box.bottom - grow, box.right + grow, box.top + grow]
        )
        writer.add_page(target)
        out = io.BytesIO()
        writer.write(out)
        pdf, page = out.getvalue(), 0
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[page].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        document.close()


def decode(pdf: bytes, page: int = 0):
    """Every barcode zxing-cpp finds on the page rendered at 300 dpi, keyed by symbology identifier."""
    image = rasterise(pdf, page)
    found = zxingcpp.read_barcodes(image, formats=(zxingcpp.BarcodeFormat.DataMatrix, zxingcpp.BarcodeFormat.Code128))
    return {result.symbology_identifier: result for result in found}


def pdf_text(pdf: bytes, page: int = 0) -> str:
    """The page's text as pypdf extracts it, with runs of white space made single spaces."""
    return " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[page].extract_text().split())


def text_sizes(pdf: bytes, page: int = 0) -> list[tuple[float, str]]:
    """(rendered font size in points, text) of every text run on the page, read back from the PDF."""
    runs: list[tuple[float, str]] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            runs.append((round(size * abs(tm[3]) * abs(cm[3]), 2), text.strip()))

    pypdf.PdfReader(io.BytesIO(pdf)).pages[page].extract_text(visitor_text=visit)
    return runs


# DejaVu Sans: tallest accented capital and deepest descender, in em (from the font's glyph boxes).
ASCENT, DESCENT = 0.93, 0.24


class RecordingCanvas(Canvas):
    """A real canvas that also notes the bounding box of everything drawn, in points."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.marks: list[dict] = []

    def _text(self, kind, x, y, text):
        width = self.stringWidth(text, self._fontname, self._fontsize)
        x0 = {"left": x, "right": x - width, "centre": x - width / 2}[kind]
        size = self._fontsize
        self.marks.append({
            "kind": "text", "text": text, "size": size, "font": self._fontname,
            "box": (x0, y - DESCENT * size, x0 + width, y + ASCENT * size),
        })

    def drawString(self, x, y, text, *args, **kwargs):  # noqa: N802 - ReportLab's name
        self._text("left", x, y, text)
        return super().drawString(x, y, text, *args, **kwargs)

    def drawRightString(self, x, y, text, *args, **kwargs):  # noqa: N802
        self._text("right", x, y, text)
        return super().drawRightString(x, y, text, *args, **kwargs)

    def drawCentredString(self, x, y, text, *args, **kwargs):  # noqa: N802
        self._text("centre", x, y, text)
        return super().drawCentredString(x, y, text, *args, **kwargs)

    def rect(self, x, y, width, height, stroke=1, fill=0):
        grow = self._lineWidth / 2 if stroke else 0.0
        self.marks.append({
            "kind": "fill" if fill else "frame",
            "box": (min(x, x + width) - grow, min(y, y + height) - grow,
                    max(x, x + width) + grow, max(y, y + height) + grow),
        })
        return super().rect(x, y, width, height, stroke=stroke, fill=fill)


def overlap(a, b, tolerance: float = 0.01) -> bool:
    return a[0] < b[2] - tolerance and b[0] < a[2] - tolerance and a[1] < b[3] - tolerance and b[1] < a[3] - tolerance


def union(boxes):
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
