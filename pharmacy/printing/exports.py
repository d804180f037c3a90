"""Exports an auditor opens elsewhere: CSV for spreadsheets and PDF reports (ReportLab).

CSV: UTF-8 with a byte-order mark (so spreadsheets detect the encoding), ISO 8601 times with their
UTC offset in the pharmacy's zone, and no formula injection: a cell that starts with ``=``, ``+``,
``-``, ``@`` (or a tab/carriage return) is prefixed with an apostrophe so it is shown, not run.
PDF: a title, the query, when and by whom it was generated, page numbers "n of m", and the table
header repeated on every page; headings a person reads, local times on one line, columns as wide as
their content needs (issue 16). ``report_pdf`` returns bytes and works outside a web request.
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


# Column names as a person reads them on a printed report (the CSV keeps the machine names); a column
# not listed is read from its name ("label_prints" → "Label prints").
HEADERS = {"bag_serial": "Bag", "patient_id": "Patient ID", "patient_name": "Patient", "vial_lot": "Vial lot",
           "vial_serial": "Vial serial", "diluent_lot": "Diluent lot", "administration_started": "Infusion started",
           "administration_ended": "Infusion ended", "use_by": "Use by", "prepared_by": "Prepared by",
           "username": "User", "object_type": "Object", "object_id": "Object ID", "id": "ID", "at": "Time"}
_PADDING = 3.0  # points each side of a cell's text
LOCAL_TIME = "%d %b %Y %H:%M"


def header(column: str) -> str:
    """A column's heading on a printed report: "patient_id" → "Patient ID", "use_by" → "Use by"."""
    if column in HEADERS:
        return HEADERS[column]
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def printed(value, zone: ZoneInfo) -> str:
    """One value as a printed report shows it: a time local to the pharmacy's zone in one line (the zone
    is named once, in the report's heading), a date as ISO, anything else as in the CSV."""
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime(LOCAL_TIME).replace(" ", "\u00a0")  # never wrapped
    return cell(value, zone)


def column_widths(texts: list[list[str]], font: str, size: float, bold: str, width: float) -> list[float] | None:
    """Widths that fit the content: each column at least as wide as its longest word (no word is ever
    broken), the rest of the page shared in proportion to how much longer its text runs. ``texts[0]`` is
    the header row (set in ``bold``). ``None`` when even the longest words do not fit side by side."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def measure(text: str, face: str) -> tuple[float, float]:  # (longest word, whole text), padding included
        words = text.replace("\u00a0", "\u2060").split() or [""]
        longest = max(stringWidth(w.replace("\u2060", " "), face, size) for w in words)
        return longest + 2 * _PADDING, stringWidth(text, face, size) + 2 * _PADDING

    columns = len(texts[0])
    least, natural = [0.0] * columns, [0.0] * columns
    for number, row in enumerate(texts):
        for index, text in enumerate(row):
            word, whole = measure(text, bold if number == 0 else font)
            least[index] = max(least[index], word)
            natural[index] = max(natural[index], whole if number else word)
    if sum(least) > width:
        return None
    if sum(natural) <= width:
        return [w * width / sum(natural) for w in natural]
    spare, extra = width - sum(least), [n - m for n, m in zip(natural, least, strict=True)]
    return [m + spare * e / (sum(extra) or 1) for m, e in zip(least, extra, strict=True)]


def report_pdf(title: str, query: str, columns: list[str], rows: list[dict], *, generated_by: str,
               generated_at: datetime, zone: ZoneInfo, notes: Iterable[str] = (),
               shares: list[float] | None = None) -> bytes:
    """``notes``: lines under the row count (a total, what a column means); ``shares``: each column's part
    of the page width, when the caller knows better than the content (else measured). Headings are human
    (``header``), times local and on one line (``printed``), and the columns as wide as their content
    needs (``column_widths``; a smaller print when the longest words would not fit otherwise)."""
    regular, bold = fonts.face(False), fonts.face(True)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=14 * mm, bottomMargin=14 * mm, title=title, author=generated_by)
    stamp = f"Generated {printed(generated_at, zone)} by {generated_by} · times in {zone.key}"
    texts = [[header(c) for c in columns]] + [[printed(r.get(c), zone) for c in columns] for r in rows]
    size, widths = 7.0, [doc.width * part / sum(shares) for part in shares] if shares else None
    while widths is None and size >= 4.5:
        widths = column_widths(texts, regular, size, bold, doc.width)
        size = size if widths is not None else size - 0.5
    small = ParagraphStyle("cell", fontName=regular, fontSize=size, leading=size * 1.22, splitLongWords=0)
    head = ParagraphStyle("head", parent=small, fontName=bold)
    story = [
        Paragraph(escape(title), ParagraphStyle("title", fontName=bold, fontSize=14, leading=17)),
        Paragraph(escape(f"Query: {query}"), ParagraphStyle("q", fontName=regular, fontSize=9, leading=11)),
        Paragraph(escape(stamp), ParagraphStyle("g", fontName=regular, fontSize=9, leading=11)),
        Paragraph(escape(f"{len(rows)} row(s)"), ParagraphStyle("n", fontName=regular, fontSize=9, leading=11)),
        *[Paragraph(escape(note), ParagraphStyle("note", fontName=regular, fontSize=9, leading=11)) for note in notes],
        Spacer(1, 4 * mm),
    ]
    data = [[Paragraph(escape(text), head if number == 0 else small) for text in row] for number, row in enumerate(texts)]
    table = Table(data, repeatRows=1, colWidths=widths or [doc.width / len(columns)] * len(columns))
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), _PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), _PADDING),
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
