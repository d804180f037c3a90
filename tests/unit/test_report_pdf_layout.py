"""The recall PDF (and every PDF report) looks finished (issue 16, point 5): human headings, local times
on one line, columns as wide as their content needs so no word is broken; read back with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pypdf

from pharmacy.printing import exports
from pharmacy.services.trace import RECALL_COLUMNS

ZONE = ZoneInfo("Europe/Brussels")
AT = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def _rows() -> list[dict]:
    base = {"bag_serial": "BAG0000001", "batch": "P261120-1", "state": "administered", "use_by": AT,
            "patient_id": "P-0012345678", "patient_name": "Zofia Kowalczyk-Łęcka", "ward": "Neurology ward 5",
            "vial_lot": "K123A", "vial_serial": "TK123A000000000001", "diluent_lot": "N9931", "label_prints": 2,
            "administration_started": AT, "administration_ended": None, "preparation": 1,
            "prepared_by": "Tessa Technician"}
    return [dict(base, bag_serial=f"BAG{n:07d}") for n in range(1, 6)]


def _lines(pdf: bytes) -> list[str]:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\xa0", " ").split("\n")


def test_headings_are_words_a_person_reads():
    assert exports.header("patient_name") == "Patient" and exports.header("patient_id") == "Patient ID"
    assert exports.header("label_prints") == "Label prints" and exports.header("use_by") == "Use by"
    assert exports.header("administration_started") == "Infusion started"


def test_the_recall_pdf_has_human_headings_local_times_on_one_line_and_no_broken_word():
    rows = _rows()
    pdf = exports.report_pdf("Recall: vial lot K123A", "vial lot K123A", RECALL_COLUMNS, rows, generated_by="pharm",
                             generated_at=AT, zone=ZONE)
    lines = _lines(pdf)
    page = "\n".join(lines)
    assert "_" not in page  # no snake_case heading
    assert "2026-11-20T" not in page and "+01:00" not in page  # no ISO timestamps
    assert "Generated 20 Nov 2026 17:00 by pharm · times in Europe/Brussels" in page
    assert sum("20 Nov 2026 17:00" in line for line in lines) >= 2 * len(rows)  # use-by and start, each whole
    words = {w for c in RECALL_COLUMNS for w in exports.header(c).split()}
    words |= {w for row in rows for c in RECALL_COLUMNS if not isinstance(row[c], datetime)
              for w in exports.printed(row[c], ZONE).split()}
    broken = [w for w in words if not any(w in line for line in lines)]
    assert not broken, f"words broken across lines: {broken}"


def test_column_widths_fit_the_longest_word_and_fill_the_page():
    texts = [["Vial serial", "State"], ["TK123A000000000001", "administered"]]
    widths = exports.column_widths(texts, "Helvetica", 7, "Helvetica-Bold", 300)
    assert widths is not None and abs(sum(widths) - 300) < 0.01 and widths[0] > widths[1]
    assert exports.column_widths(texts, "Helvetica", 7, "Helvetica-Bold", 40) is None  # the words cannot fit


def test_too_many_columns_print_smaller_rather_than_break_words():
    columns = [f"column_{n}" for n in range(30)]
    rows = [{c: f"VALUE{n:010d}" for n, c in enumerate(columns)}]
    lines = _lines(exports.report_pdf("Wide", "all", columns, rows, generated_by="auditor", generated_at=AT, zone=ZONE))
    assert all(any(f"VALUE{n:010d}" in line for line in lines) for n in range(30))
