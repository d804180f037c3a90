"""Exports an auditor opens elsewhere: CSV for spreadsheets and PDF reports (ReportLab).

CSV: UTF-8 with a byte-order mark (so spreadsheets detect the encoding), ISO 8601 times with their
UTC offset in the pharmacy's zone, and no formula injection: a cell that starts with ``=``, ``+``,
``-``, ``@`` (or a tab/carriage return) is prefixed with an apostrophe so it is shown, not run.
PDF: a title, the query, when and by whom it was generated, page numbers "n of m", and the table
header repeated on every page. ``report_pdf`` returns bytes and works outside a web request.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from pharmacy.printing import fonts

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def cell(value, zone: ZoneInfo) -> str:
    """One value as text: times in the pharmacy's zone with offset, dates ISO, None empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(_DANGEROUS) else text


def csv_chunks(rows: Iterable[dict], columns: list[str], zone: ZoneInfo, every: int = 1000) -> Iterator[bytes]:
    """The CSV as UTF-8 pieces of ``every`` rows (BOM first), for a download streamed as it is read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(columns)
    for number, row in enumerate(rows, start=1):
        writer.writerow([neutralise(cell(row.get(c), zone)) for c in columns])
        if number % every == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def to_csv(rows: list[dict], columns: list[str], zone: ZoneInfo) -> bytes:
    return b"".join(csv_chunks(rows, columns, zone))


def to_json(rows: list[dict], zone: ZoneInfo) -> str:
    return json.dumps([{k: (cell(v, zone) if isinstance(v, (datetime, date)) else v) for k, v in r.items()} for r in rows],
                      ensure_ascii=False, indent=2, default=str)


def report_pdf(title: str, query: str, columns: list[str], rows: list[dict], *, generated_by: str,
               generated_at: datetime, zone: ZoneInfo, notes: Iterable[str] = (),
               shares: list[float] | None = None) -> bytes:
    """``notes``: lines under the row count (a total, what a column means); ``shares``: each column's
    part of the page width (equal when not given)."""
    regular, bold = fonts.face(False), fonts.face(True)
    small = ParagraphStyle("cell", fontName=regular, fontSize=7, leading=8.5)
    head = ParagraphStyle("head", parent=small, fontName=bold)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=14 * mm, bottomMargin=14 * mm, title=title, author=generated_by)
    stamp = f"Generated {cell(generated_at, zone)} ({zone.key}) by {generated_by}"
    story = [
        Paragraph(escape(title), ParagraphStyle("title", fontName=bold, fontSize=14, leading=17)),
        Paragraph(escape(f"Query: {query}"), ParagraphStyle("q", fontName=regular, fontSize=9, leading=11)),
        Paragraph(escape(stamp), ParagraphStyle("g", fontName=regular, fontSize=9, leading=11)),
        Paragraph(escape(f"{len(rows)} row(s)"), ParagraphStyle("n", fontName=regular, fontSize=9, leading=11)),
        *[Paragraph(escape(note), ParagraphStyle("note", fontName=regular, fontSize=9, leading=11)) for note in notes],
        Spacer(1, 4 * mm),
    ]
    data = [[Paragraph(escape(c), head) for c in columns]]
    data += [[Paragraph(escape(cell(r.get(c), zone)), small) for c in columns] for r in rows]
    parts = shares or [1.0] * len(columns)
    table = Table(data, repeatRows=1, colWidths=[doc.width * part / sum(parts) for part in parts])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(regular, 8)
        canvas.drawString(doc.leftMargin, 7 * mm, f"{title} — {stamp}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer,
              canvasmaker=_numbered_canvas(regular, doc.leftMargin + doc.width, 7 * mm))
    return buffer.getvalue()


def _numbered_canvas(font: str, right: float, y: float):
    """A canvas that holds its pages back until the end, so each can say "Page n of m"."""
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._held = []

        def showPage(self):  # noqa: N802 - ReportLab's name
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.setFont(font, 8)
                self.drawRightString(right, y, f"Page {number} of {total}")
                Canvas.showPage(self)
            Canvas.save(self)

    return NumberedCanvas
