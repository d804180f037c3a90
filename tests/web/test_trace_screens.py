"""Recall, bag and patient histories and the audit log through the screens, on the seeded pharmacy of
tests/integration/test_reports.py: every row on screen, in the CSV read back with the csv module and
in the PDF read back with pypdf; and who may see and do what."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import datetime
from html.parser import HTMLParser

import pypdf
import pytest

from pharmacy.printing import exports
from pharmacy.services import bags, reports, trace
from tests import factories
from tests.integration.records import audit_entries
from tests.integration.test_reports import D2, RECALL_REASON, seed
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible


@pytest.fixture
def seeded(pharmacy, clock):
    return seed(pharmacy, clock)


# --- reading pages, CSV and PDF back ------------------------------------------------------------
class Tables(HTMLParser):
    """Every table of a page: its class and its rows as cell texts (whitespace collapsed, <br> a space)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            attrs = dict(attrs)
            self.tables.append({"class": attrs.get("class") or "", "label": attrs.get("aria-labelledby") or
                                attrs.get("aria-label") or "", "rows": []})
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


class Words(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.feed(html)

    def handle_data(self, data):
        self.parts.append(data)


def visible(response) -> str:
    """The words of the page as a person reads them: no tags, whitespace collapsed."""
    return " ".join(" ".join(Words(response.get_data(as_text=True)).parts).split())


def labelled_tables(response) -> dict[str, list[list[str]]]:
    """Body rows of each table, by the id of its heading (``aria-labelledby``) or its ``aria-label``."""
    return {t["label"]: t["rows"][1:] for t in Tables(response.get_data(as_text=True)).tables if t["label"]}


def table_rows(response, css_class: str) -> list[list[str]]:
    """The body rows of the first table whose class names ``css_class`` (its header row left out)."""
    table = next(t for t in Tables(response.get_data(as_text=True)).tables if css_class in t["class"].split())
    return table["rows"][1:]


def csv_rows(response) -> list[dict]:
    data = response.get_data()
    assert data.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark"
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def pdf_text(response) -> str:
    assert response.mimetype == "application/pdf" and response.get_data().startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.get_data())).pages)


def pdf_table(pdf: bytes, columns: list[str]) -> list[list[str]]:
    """The report table of a PDF, row by row, cell by cell, rebuilt from where pypdf finds each piece
    of text: the pieces of one cell share its origin; cells whose first line is level make a row;
    the header row (on every page) gives each column's position. Whitespace is dropped, since a
    cell wraps its text (long words too) over several lines."""
    rows = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        cells: dict[tuple[float, float], list[tuple[float, str]]] = {}

        def visit(piece, cm, tm, _font, _size, cells=cells):
            if piece.strip() and (cm[4], cm[5]) != (0, 0):  # (0, 0): the footer, drawn on the bare page
                cells.setdefault((round(cm[4], 1), round(cm[5], 1)), []).append((cm[5] + tm[5], piece))

        page.extract_text(visitor_text=visit)
        found = [(x, max(y for y, _ in lines), "".join("".join(p for _, p in sorted(lines, reverse=True)).split()))
                 for (x, _), lines in cells.items()]
        header_top = next(top for _, top, content in found if content == "".join(columns[0].split()))
        xs = sorted(x for x, top, _ in found if abs(top - header_top) < 0.5)
        assert len(xs) == len(columns), "one header cell per column"
        tops = sorted({round(top, 1) for x, top, _ in found if x == xs[0] and top < header_top - 0.5}, reverse=True)
        for row_top in tops:
            row = [""] * len(columns)
            for x, top, content in found:
                if abs(top - row_top) < 0.5 and x in xs:
                    row[xs.index(x)] = content
            rows.append(row)
    return rows


def squeezed(values: list, zone) -> list[str]:
    """What a PDF row must say: each value as the printed report writes it (times local, in one line),
    whitespace dropped."""
    return ["".join(exports.printed(value, zone).split()) for value in values]


# --- recall -------------------------------------------------------------------------------------
RECALL_SCREEN = [
    ["BAG0000001 P261120-1", "administered", "20 Nov 2026 17:00 CET", "Anna Example P-1 · Neurology 5",
     "K123A TK123A000001", "N9931", "1", "started 20 Nov 2026 11:00 CET ended 20 Nov 2026 15:00 CET"],
    ["BAG0000002 P261120-2", "destroyed", "20 Nov 2026 17:30 CET", "Béla Kovács P-2 · +3 Neurology",
     "K123A TK123A000002", "G5520", "2 (1 reprint)", "not given"],
    ["BAG0000004 P261121-4", "destroyed", "21 Nov 2026 17:30 CET", "Anna Example P-1 · Neurology 5",
     "K123A TK123A000003", "N9931", "none", "not given"],
    ["BAG0000005 P261123-5", "quarantined", "23 Nov 2026 17:00 CET", "Anna Example P-1 · Neurology 5",
     "K123A TK123A000004", "N9931", "1", "not given"],
    ["BAG0000006 P261123-6", "quarantined", "23 Nov 2026 18:00 CET", "Béla Kovács P-2 · +3 Neurology",
     "K123A TK123A000005", "G5520", "none", "not given"],
]

RECALL_CSV = [  # the 15 columns of trace.RECALL_COLUMNS (preparation and preparer last), as a spreadsheet reads them
    ["BAG0000001", "P261120-1", "administered", "2026-11-20T17:00:00+01:00", "P-1", "Anna Example", "Neurology 5",
     "K123A", "TK123A000001", "N9931", "1", "2026-11-20T11:00:00+01:00", "2026-11-20T15:00:00+01:00",
     "1", "Tessa Technician"],
    ["BAG0000002", "P261120-2", "destroyed", "2026-11-20T17:30:00+01:00", "P-2", "Béla Kovács", "'+3 Neurology",
     "K123A", "TK123A000002", "G5520", "2", "", "", "2", "Tom Technician"],
    ["BAG0000004", "P261121-4", "destroyed", "2026-11-21T17:30:00+01:00", "P-1", "Anna Example", "Neurology 5",
     "K123A", "TK123A000003", "N9931", "0", "", "", "4", "Tessa Technician"],
    ["BAG0000005", "P261123-5", "quarantined", "2026-11-23T17:00:00+01:00", "P-1", "Anna Example", "Neurology 5",
     "K123A", "TK123A000004", "N9931", "1", "", "", "5", "Tom Technician"],
    ["BAG0000006", "P261123-6", "quarantined", "2026-11-23T18:00:00+01:00", "P-2", "Béla Kovács", "'+3 Neurology",
     "K123A", "TK123A000005", "G5520", "0", "", "", "6", "Tessa Technician"],
]


@pytest.mark.parametrize("username", ["pharm", "auditor"])
def test_the_recall_screen_lists_every_bag_of_the_lot(signed_in, seeded, username):
    page = signed_in(username).get("/trace/recall?kind=vial&lot=K123A")
    assert page.status_code == 200
    accessible(page)
    assert table_rows(page, "recall") == RECALL_SCREEN
    words = visible(page)
    assert "5 bag(s) for 2 patient(s) 1 administered 2 destroyed 2 quarantined Given to: Anna Example (P-1)" in words


def test_the_recall_csv_holds_the_same_rows_with_iso_times_and_no_formula(signed_in, seeded):
    response = signed_in("auditor").get("/trace/recall.csv?kind=vial&lot=K123A")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="recall-vial-K123A.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = csv_rows(response)
    assert list(rows[0]) == trace.RECALL_COLUMNS
    assert [list(r.values()) for r in rows] == RECALL_CSV


def test_the_recall_pdf_holds_the_same_rows_with_title_query_author_and_page_numbers(signed_in, seeded, pharmacy):
    response = signed_in("pharm").get("/trace/recall.pdf?kind=vial&lot=K123A")
    assert response.headers["Content-Disposition"] == 'attachment; filename="recall-vial-K123A.pdf"'
    content = pdf_text(response).replace("\xa0", " ")
    for line in ("Recall: vial lot K123A", "Query: vial lot K123A", "5 row(s)", "Page 1 of 1",
                 "Generated 24 Nov 2026 10:00 by Petra Pharmacist (pharm) · times in Europe/Brussels"):
        assert line in content
    headers = [exports.header(c) for c in trace.RECALL_COLUMNS]
    assert headers[:7] == ["Bag", "Batch", "State", "Use by", "Patient ID", "Patient", "Ward"]
    assert not any("_" in h for h in headers) and "_" not in content  # no snake_case anywhere on the page
    rows = trace.recall(pharmacy, "K123A")
    expected = [["".join(exports.printed(r[c], pharmacy.zone).split()) for c in trace.RECALL_COLUMNS] for r in rows]
    assert pdf_table(response.get_data(), headers) == expected
    assert expected[0][:4] == ["BAG0000001", "P261120-1", "administered", "20Nov202617:00"]
    lines = content.split("\n")
    for row in rows:  # every word of every cell on one line of its cell, never broken; each time on one line
        for column in trace.RECALL_COLUMNS:
            text = exports.printed(row[column], pharmacy.zone).replace("\xa0", " ")
            pieces = [text] if isinstance(row[column], datetime) else text.split()
            for piece in pieces:
                assert any(piece in line for line in lines), (column, piece)
    for heading in headers:
        for word in heading.split():
            assert any(word in line for line in lines), word


@pytest.mark.hazard("H14")
def test_a_recall_by_one_vial_serial_or_a_diluent_lot(signed_in, seeded):
    auditor = signed_in("auditor")
    one = auditor.get("/trace/recall?kind=vial&lot=K123A&serial=TK123A000004")
    assert [row[0] for row in table_rows(one, "recall")] == ["BAG0000005 P261123-5"]
    assert "Recall: vial lot K123A, vial serial TK123A000004" in text(one)
    diluent = auditor.get("/trace/recall?kind=diluent&lot=G5520&serial=ignored")
    assert [row[0] for row in table_rows(diluent, "recall")] == ["BAG0000002 P261120-2", "BAG0000006 P261123-6"]
    csv_diluent = csv_rows(auditor.get("/trace/recall.csv?kind=diluent&lot=G5520"))
    assert [r["bag_serial"] for r in csv_diluent] == ["BAG0000002", "BAG0000006"]


def test_a_lot_nothing_was_made_from_says_so_and_a_wrong_kind_is_refused(signed_in, seeded):
    auditor = signed_in("auditor")
    never = auditor.get("/trace/recall?lot=NOPE")  # a lot never received is not an empty table (H14)
    assert never.status_code == 404 and "No vial lot “NOPE” was ever received." in text(never)
    refused = auditor.get("/trace/recall?lot=K123A&kind=carton")
    assert refused.status_code == 422 and "Recall a vial lot or a diluent lot." in text(refused)
    blank = auditor.get("/trace/recall")
    assert blank.status_code == 200 and 'class="data recall"' not in blank.get_data(as_text=True)


# --- the confirmed quarantine --------------------------------------------------------------------
@pytest.fixture
def one_bag(pharmacy):
    """Lot K123A: one released bag not yet given and five vials in stock."""
    return factories.released_bag(pharmacy, pharmacy.vial_serials[0])


@pytest.mark.hazard("H14")
def test_a_pharmacist_quarantines_a_lot_after_a_confirmation_that_shows_the_count(signed_in, pharmacy, one_bag):
    pharm = signed_in("pharm")
    page = pharm.get("/trace/recall?kind=vial&lot=K123A")
    assert "This quarantines 1 bag(s) not yet given (BAG0000001) and 5 stock item(s)" in visible(page)
    before = len(audit_entries(pharmacy))
    confirm = pharm.post("/trace/recall/quarantine", {"lot": "K123A", "kind": "vial", "reason": RECALL_REASON})
    assert confirm.status_code == 200
    accessible(confirm)
    assert "Quarantine 1 bag(s) and 5 stock item(s)" in text(confirm) and RECALL_REASON in text(confirm)
    assert len(audit_entries(pharmacy)) == before and bags.get_bag(pharmacy, one_bag.serial).state == "released"
    done = pharm.post("/trace/recall/quarantine", {"lot": "K123A", "kind": "vial", "reason": RECALL_REASON,
                                                   "confirm": "yes", "expected_bags": "1", "expected_stock": "5"})
    assert done.status_code == 302 and done.headers["Location"] == "/trace/recall?lot=K123A&kind=vial"
    assert bags.get_bag(pharmacy, one_bag.serial).state == "quarantined"
    after = pharm.get(done.headers["Location"])
    assert "Quarantined 1 bag(s) (BAG0000001) and 5 stock item(s) of vial lot K123A." in text(after)
    assert "Nothing left to quarantine" in text(after)
    recorded = [(e.username, e.action, e.reason) for e in audit_entries(pharmacy)[before:]]
    assert recorded[0] == ("pharm", "recall.create", RECALL_REASON)  # the lot stays recalled (H9)
    assert recorded[1] == ("pharm", "bag.quarantine", f"recall of vial lot K123A: {RECALL_REASON}")
    assert len(recorded) == 7


def test_a_quarantine_without_a_real_reason_is_refused_before_the_confirmation(signed_in, pharmacy, one_bag):
    response = signed_in("pharm").post("/trace/recall/quarantine", {"lot": "K123A", "kind": "vial", "reason": "recall"})
    assert response.status_code == 422
    assert "Give the recall reason (at least 10 characters)" in text(response)
    assert bags.get_bag(pharmacy, one_bag.serial).state == "released"


def test_a_confirmation_for_a_count_that_changed_meanwhile_is_shown_again_and_changes_nothing(signed_in, pharmacy,
                                                                                              one_bag):
    pharm = signed_in("pharm")
    pharm.get("/trace/recall?kind=vial&lot=K123A")
    stale = pharm.post("/trace/recall/quarantine", {"lot": "K123A", "kind": "vial", "reason": RECALL_REASON,
                                                    "confirm": "yes", "expected_bags": "0", "expected_stock": "5"})
    assert stale.status_code == 409
    assert "changed since you confirmed: it now has 1 bag(s)" in text(stale)
    assert "Quarantine 1 bag(s) and 5 stock item(s)" in text(stale)  # the fresh count, to confirm again
    assert bags.get_bag(pharmacy, one_bag.serial).state == "released"


def test_an_auditor_reads_the_recall_but_cannot_quarantine(signed_in, pharmacy, one_bag):
    auditor = signed_in("auditor")
    page = text(auditor.get("/trace/recall?kind=vial&lot=K123A"))
    assert "Only a pharmacist can quarantine a recalled lot." in page and "Quarantine…" not in page
    refused = auditor.post("/trace/recall/quarantine", {"lot": "K123A", "kind": "vial", "reason": RECALL_REASON,
                                                        "confirm": "yes", "expected_bags": "1", "expected_stock": "5"})
    assert refused.status_code == 403 and "may not quarantine a recalled lot" in text(refused)
    assert bags.get_bag(pharmacy, one_bag.serial).state == "released"


@pytest.mark.parametrize(("username", "url"), [
    ("nurse", "/trace/recall?lot=K123A"), ("nurse", "/trace/"), ("nurse", "/trace/recall.csv?lot=K123A"),
    ("tech", "/trace/recall?lot=K123A"), ("tech", "/trace/bags/BAG0000001"), ("tech", "/trace/patients/P-1"),
    ("nurse", "/trace/bags/BAG0000001"), ("admin", "/trace/recall.pdf?lot=K123A"),
    ("tech", "/audit/"), ("tech", "/audit/export.csv"), ("nurse", "/audit/"), ("admin", "/audit/"),
])
def test_recall_histories_and_the_audit_log_are_refused_to_other_roles(signed_in, username, url):
    response = signed_in(username).get(url)
    assert response.status_code == 403 and "may not" in text(response)


@pytest.mark.parametrize("username", ["tech", "nurse", "admin"])
def test_verifying_the_chain_is_refused_to_other_roles(signed_in, pharmacy, username):
    browser = signed_in(username)
    assert browser.post("/audit/verify").status_code == 403
    assert reports.last_verification(pharmacy) is None


@pytest.mark.parametrize("url", ["/trace/", "/trace/recall?lot=K123A", "/trace/bags/BAG0000001", "/audit/",
                                 "/audit/export.csv", "/reports/work.csv"])
def test_an_anonymous_visitor_is_sent_to_sign_in(browser, url):
    response = browser.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_the_menu_shows_recall_audit_and_reports_to_pharmacists_and_auditors_only(signed_in):
    for username, shown in [("pharm", True), ("auditor", True), ("tech", False), ("nurse", False), ("admin", False)]:
        page = text(signed_in(username).get("/", follow_redirects=True))
        for label in ("Recall & trace", "Audit log", "Reports"):
            assert (f">{label}</a>" in page) is shown, (username, label)


# --- lookups and histories ------------------------------------------------------------------------
def test_the_trace_page_looks_up_a_lot_a_bag_or_a_patient(signed_in, seeded):
    auditor = signed_in("auditor")
    accessible(auditor.get("/trace/"))
    assert auditor.get("/trace/bag?serial=+BAG0000002+").headers["Location"] == "/trace/bags/BAG0000002"
    assert auditor.get("/trace/patient?identifier=P-2").headers["Location"] == "/trace/patients/P-2"
    assert auditor.get("/trace/bag?serial=").headers["Location"] == "/trace/"


def test_the_bag_history_screen_follows_a_bag_from_vial_to_vein(signed_in, seeded):
    auditor = signed_in("auditor")
    page = auditor.get("/trace/bags/BAG0000001")
    accessible(page)
    for fact in ("History of bag BAG0000001 ADMINISTERED", "Anna Example · P-1", "course 1, day 1",
                 "Started 20 Nov 2026 11:00:00 CET Ended 20 Nov 2026 15:00:00 CET Nurse Nora Nurse"):
        assert fact in visible(page)
    tables = labelled_tables(page)
    assert tables["ingredients"] == [["vial", "09506000134369", "K123A", "TK123A000001", "30 Jun 2028"],
                                     ["diluent", "09506000134376", "N9931", "—", tables["ingredients"][1][4]]]
    assert [(r[0], r[1], r[3]) for r in tables["steps"]] == [
        ("20 Nov 2026 09:00:00 CET", s, "Tessa Technician")
        for s in ("Start", "Vial", "Inspection", "Diluent", "Volume", "Photo", "Mixing", "Photo", "Sign")] + [  # syringe, bag
        ("20 Nov 2026 09:10:00 CET", "Check", "Petra Pharmacist")]
    assert tables["signatures"] == [["20 Nov 2026 09:00:00 CET", "Prepared", "Tessa Technician", ""],
                                    ["20 Nov 2026 09:10:00 CET", "Released", "Petra Pharmacist", ""]]
    assert tables["labels"] == [["20 Nov 2026 09:15:00 CET", "first print", "Tessa Technician", "bag-100x70", "download"]]
    assert tables["storage"] == [["20 Nov 2026 09:20:00 CET", factories.FRIDGE, "Tessa Technician"]]
    readings = tables["Temperature readings while the bag was stored"]
    assert readings == [["20 Nov 2026 10:30 CET", factories.FRIDGE, "4.8 °C"]]  # not 12:00: it was being given
    assert "refusals" not in tables and "disposal" not in tables and "quarantine" not in tables


def test_the_bag_history_shows_near_misses_reprints_disposal_and_the_recall(signed_in, seeded):
    auditor = signed_in("auditor")
    b = labelled_tables(auditor.get("/trace/bags/BAG0000002"))
    assert [r[:3] for r in b["refusals"]] == [["20 Nov 2026 09:30:00 CET", "tech2", "prep.diluent"],
                                              ["20 Nov 2026 09:30:00 CET", "tech2", "prep.volume"]]
    assert [r[1] for r in b["labels"]] == ["first print", "REPRINT 1"]
    assert b["Temperature readings while the bag was stored"] == [["20 Nov 2026 10:30 CET", factories.FRIDGE, "4.8 °C"],
                                                               ["20 Nov 2026 12:00 CET", factories.FRIDGE, "5.1 °C"],
                                                               ["21 Nov 2026 08:00 CET", factories.FRIDGE, "4.9 °C"]]
    assert b["disposal"] == [["21 Nov 2026 10:00:00 CET", "Petra Pharmacist", "-expired: patient did not come"]]
    e = auditor.get("/trace/bags/BAG0000005")
    assert labelled_tables(e)["quarantine"] == [["24 Nov 2026 10:00:00 CET", "pharm",
                                                 f"recall of vial lot K123A: {RECALL_REASON}"]]
    assert "No temperature reading was recorded" in text(e)
    d = labelled_tables(auditor.get("/trace/bags/BAG0000004"))
    assert d["signatures"][1] == ["21 Nov 2026 09:40:00 CET", "Rejected", "Paul Pharmacist", "bag leaking at the port"]


def test_an_unknown_bag_or_patient_is_not_found(signed_in, seeded):
    auditor = signed_in("auditor")
    assert auditor.get("/trace/bags/NOPE").status_code == 404
    missing = auditor.get("/trace/patients/P-404")
    assert missing.status_code == 404 and "No patient with identifier “P-404”." in text(missing)


def test_the_patient_history_screen_lists_orders_preparations_administrations_and_the_override(signed_in, seeded):
    page = signed_in("pharm").get("/trace/patients/P-1")
    accessible(page)
    rows = table_rows(page, "patient-history")
    assert [r[:2] + [r[4]] for r in rows] == [
        ["20 Nov 2026", "course 1, day 1", "BAG0000001 administered"],
        ["21 Nov 2026", "course 1, day 2", "BAG0000004 destroyed"],
        ["23 Nov 2026", "course 1, day 3", "BAG0000005 quarantined"],
    ]
    assert rows[0][5] == "started 20 Nov 2026 11:00 CET ended 20 Nov 2026 15:00 CET by Nora Nurse"
    assert rows[1][3].startswith("4 (rejected) prepared by Tessa Technician, signed 21 Nov 2026 09:30 CET "
                                 "checked by Paul Pharmacist, 21 Nov 2026 09:40 CET")
    assert ("Course-rule override by Petra Pharmacist: Course history kept in another hospital's records "
            "Day 3 of course 1 is ordered but day 2 of that course is not (SmPC 4.2).") in rows[2][2]


def test_a_recall_row_links_to_the_bag_and_patient_histories_and_the_bag_screen_to_its_history(signed_in, seeded):
    pharm = signed_in("pharm")
    page = pharm.get("/trace/recall?lot=K123A").get_data(as_text=True)
    assert 'href="/trace/bags/BAG0000002"' in page and 'href="/trace/patients/P-2"' in page
    assert 'href="/trace/bags/BAG0000002"' in pharm.get("/bags/BAG0000002").get_data(as_text=True)
    assert 'href="/trace/bags/' not in signed_in("nurse").get("/bags/BAG0000002").get_data(as_text=True)


# --- the audit log ---------------------------------------------------------------------------------
def test_the_audit_log_filters_by_user_and_shows_the_entries(signed_in, seeded):
    page = signed_in("auditor").get("/audit/?user=nurse")
    accessible(page)
    rows = table_rows(page, "audit")
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("20 Nov 2026 15:00:00 CET", "nurse", "administration.end", "bag 1"),
        ("20 Nov 2026 11:00:00 CET", "nurse", "administration.start", "bag 1"),
    ]
    # the start records how the wristband came in and the pre-medication the nurse confirmed (H7, H17)
    assert rows[1][5].startswith('{"state": "stored"} → {"patient": "P-1", "patient_entry": "scanned", '
                                 '"patient_entry_reason": null, "premedication": [{"given_at": "2026-11-20T09:30:00+00:00"')
    assert rows[1][5].endswith('"state": "in_administration"}')
    assert "2 entries match." in visible(page)


def test_the_audit_log_filters_by_local_days_action_and_object(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    day2 = [e for e in audit_entries(pharmacy) if e.at.astimezone(pharmacy.zone).date() == D2]
    page = auditor.get("/audit/?from=2026-11-21&to=2026-11-21")
    assert f"{len(day2)} entries match." in visible(page)
    assert [int(r[0]) for r in table_rows(page, "audit")] == sorted((e.id for e in day2), reverse=True)[:50]
    objects = table_rows(auditor.get("/audit/?object_type=bag&object_id=2&action=label"), "audit")
    assert [r[3] for r in objects] == ["label.reprint", "label.print"]


def test_the_audit_log_is_paged_newest_first(signed_in, seeded, pharmacy):
    everything = audit_entries(pharmacy)
    auditor = signed_in("auditor")
    first = auditor.get("/audit/")
    pages = -(-len(everything) // 50)
    assert f"page 1 of {pages}, newest first" in visible(first)
    assert int(table_rows(first, "audit")[0][0]) == everything[-1].id
    last = auditor.get(f"/audit/?page={pages}")
    assert int(table_rows(last, "audit")[-1][0]) == everything[0].id
    assert 'rel="prev"' in last.get_data(as_text=True) and 'rel="next"' not in last.get_data(as_text=True)


def test_a_wrong_day_in_the_audit_filter_is_refused_with_a_message(signed_in, seeded):
    response = signed_in("auditor").get("/audit/?from=21/11/2026")
    assert response.status_code == 400 and "The first day must be a date (YYYY-MM-DD), not “21/11/2026”." in text(response)
    backwards = signed_in("auditor").get("/audit/?from=2026-11-22&to=2026-11-21")
    assert backwards.status_code == 400 and "is before the first" in text(backwards)


def test_the_audit_csv_holds_every_matching_entry_of_every_page(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    everything = audit_entries(pharmacy)
    assert len(everything) > 50  # more than one page on screen
    rows = csv_rows(auditor.get("/audit/export.csv"))
    assert list(rows[0]) == reports.AUDIT_COLUMNS
    assert [int(r["id"]) for r in rows] == [e.id for e in everything]
    assert [r["hash"] for r in rows] == [e.hash for e in everything]
    assert all(r["at"].endswith("+01:00") and r["at"][10] == "T" for r in rows)
    disposal = next(r for r in rows if r["action"] == "bag.dispose" and r["object_id"] == "2")
    assert disposal["reason"] == "'-expired: patient did not come"  # neutralised for a spreadsheet
    nurse = csv_rows(auditor.get("/audit/export.csv?user=nurse&from=2026-11-20&to=2026-11-20"))
    assert [r["action"] for r in nurse] == ["administration.start", "administration.end"]
    assert [r["at"] for r in nurse] == ["2026-11-20T11:00:00+01:00", "2026-11-20T15:00:00+01:00"]


def test_verify_now_shows_the_intact_chain_with_its_time_and_records_nothing(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    assert "has not been verified from this screen yet" in text(auditor.get("/audit/"))
    before = len(audit_entries(pharmacy))
    response = auditor.post("/audit/verify", {"user": "nurse"})
    assert response.status_code == 302 and response.headers["Location"] == "/audit/?user=nurse"
    assert len(audit_entries(pharmacy)) == before
    shown = auditor.get(response.headers["Location"])
    page = text(shown)
    assert f"The audit chain is intact: {before} entries verified." in page
    assert f"INTACT Every one of {before} entries chains onto the one before" in visible(shown)
    assert "Verified 24 Nov 2026 10:00:00 CET by auditor" in page
    assert "Verified 24 Nov 2026 10:00:00 CET by auditor" in text(signed_in("pharm").get("/audit/"))


@pytest.mark.hazard("H15")
def test_verify_now_names_the_first_broken_entry(signed_in, seeded, pharmacy):
    if not pharmacy.db.is_sqlite:
        pytest.skip("changes the SQLite file behind the application's back")
    target = next(e for e in audit_entries(pharmacy) if e.action == "bag.dispose")
    path = pharmacy.db.url.split("///", 1)[1]
    with sqlite3.connect(path) as outside:
        outside.execute("DROP TRIGGER audit_entries_no_update")
        outside.execute(f"UPDATE audit_entries SET reason = 'nothing to see' WHERE id = {target.id}")
    outside.close()
    auditor = signed_in("auditor")
    page = text(auditor.get(auditor.post("/audit/verify").headers["Location"]))
    assert f"The audit chain is BROKEN: entry {target.id} was changed after it was written." in page
    assert f"(first bad entry: {target.id}; {target.id - 1} entries checked before it)" in page
