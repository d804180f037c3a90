"""Every report on screen, as CSV (read back with the csv module) and as PDF (read back with pypdf),
row by row, on the seeded pharmacy of tests/integration/test_reports.py with a vial cost set."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pharmacy.printing import exports
from pharmacy.services import reports
from tests.integration.test_reports import BRUSSELS, EXPIRED_ROWS, REFUSAL_SUMMARY, VIAL_COST, WEEK, WORK_ROWS, seed
from tests.web.conftest import text
from tests.web.test_accessibility import check as accessible
from tests.web.test_trace_screens import csv_rows, pdf_table, pdf_text, squeezed, table_rows, visible

PERIOD = "from=2026-11-20&to=2026-11-24"


@pytest.fixture
def seeded(pharmacy, clock, monkeypatch):
    done = seed(pharmacy, clock)
    monkeypatch.setattr(pharmacy, "settings", replace(pharmacy.settings, vial_cost=VIAL_COST))
    return done


def local(moment) -> str:
    """As the screens show a November time in Brussels."""
    return moment.astimezone(BRUSSELS).strftime("%d %b %Y %H:%M CET") if moment else ""


def _downloads(browser, name: str, columns: list[str], rows: list[dict], zone) -> tuple[list[dict], bytes]:
    """The CSV and PDF of a report, checked against the service's rows; the CSV rows are returned."""
    csv_response = browser.get(f"/reports/{name}.csv?{PERIOD}")
    assert csv_response.headers["Content-Disposition"] == f'attachment; filename="{name}-2026-11-20-2026-11-24.csv"'
    table = csv_rows(csv_response)
    assert [list(r) for r in table[:1]] in ([columns], [])
    pdf = browser.get(f"/reports/{name}.pdf?{PERIOD}")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="{name}-2026-11-20-2026-11-24.pdf"'
    headers = [exports.header(c) for c in columns]  # the printed report's headings, read as a person reads them
    assert pdf_table(pdf.get_data(), headers) == [squeezed([r[c] for c in columns], zone) for r in rows]
    content = pdf_text(pdf)
    assert "local days 2026-11-20 to 2026-11-24 (Europe/Brussels)" in content.replace("\n", " ")
    assert "by Alex Auditor (auditor)" in content and f"{len(rows)} row(s)" in content and "Page 1 of 1" in content
    return table, pdf.get_data()


def test_the_work_report_per_day_and_user(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    page = auditor.get(f"/reports/work?{PERIOD}")
    accessible(page)
    counts = reports.WORK_COLUMNS[3:]
    assert table_rows(page, "report-work") == [
        [r["day"].strftime("%a %d %b %Y"), r["username"], r["name"], *(str(r[c]) for c in counts)] for r in WORK_ROWS]
    assert table_rows(page, "report-work")[3] == ["Fri 20 Nov 2026", "tech", "Tessa Technician", "1", "0", "0", "0",
                                                  "2", "1", "0"]
    table, _ = _downloads(auditor, "work", reports.WORK_COLUMNS, WORK_ROWS, pharmacy.zone)
    assert table == [{**{k: str(v) for k, v in r.items()}, "day": r["day"].isoformat()} for r in WORK_ROWS]


def test_the_refusals_report_counts_by_kind_and_lists_every_refusal(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    page = auditor.get(f"/reports/refusals?{PERIOD}")
    accessible(page)
    assert table_rows(page, "report-refusal-codes") == [[r["code"], r["what"], str(r["count"])] for r in REFUSAL_SUMMARY]
    rows = reports.refusals(pharmacy, WEEK)
    screen = table_rows(page, "report-refusals")
    assert [r[:6] for r in screen] == [  # the kind ("what") is said by the counts above, not repeated
        ["20 Nov 2026 09:30 CET", "wrong_diluent", "tech2", "prep.diluent", "preparation", "2"],
        ["23 Nov 2026 10:00 CET", "wrong_diluent", "tech", "prep.diluent", "preparation", "6"],
        ["23 Nov 2026 09:30 CET", "administration_refused", "nurse", "administration.start", "bag", "BAG0000005"],
        ["20 Nov 2026 09:00 CET", "expired", "tech", "stock.receive", "", ""],
        ["21 Nov 2026 09:10 CET", "separation_of_duties", "pharm", "bag.released", "preparation", "3"],
        ["20 Nov 2026 09:30 CET", "volume_out_of_tolerance", "tech2", "prep.volume", "preparation", "2"],
    ]
    assert [r[6] for r in screen] == [" ".join(r["message"].split()) for r in rows]
    codes, _ = _downloads(auditor, "refusal-codes", reports.REFUSAL_SUMMARY_COLUMNS, REFUSAL_SUMMARY, pharmacy.zone)
    assert codes == [{k: str(v) for k, v in r.items()} for r in REFUSAL_SUMMARY]
    table, _ = _downloads(auditor, "refusals", reports.REFUSAL_COLUMNS, rows, pharmacy.zone)
    assert [(r["at"], r["code"], r["object_id"]) for r in table] == [
        ("2026-11-20T09:30:00+01:00", "wrong_diluent", "2"), ("2026-11-23T10:00:00+01:00", "wrong_diluent", "6"),
        ("2026-11-23T09:30:00+01:00", "administration_refused", "BAG0000005"), ("2026-11-20T09:00:00+01:00", "expired", ""),
        ("2026-11-21T09:10:00+01:00", "separation_of_duties", "3"),
        ("2026-11-20T09:30:00+01:00", "volume_out_of_tolerance", "2")]
    assert [r["message"] for r in table] == [r["message"] for r in rows]


WASTE_SCREEN = [
    ["21 Nov 2026 09:00 CET", "vial rejected at inspection", "", "L200B0002", "L200B", "", "particles seen in the vial",
     "pharm", "8500.00"],
    ["21 Nov 2026 09:45 CET", "bag destroyed", "BAG0000004", "TK123A000003", "K123A", "P-1", "rejected at check: leaking",
     "tech", "8500.00"],
    ["21 Nov 2026 10:00 CET", "bag destroyed", "BAG0000002", "TK123A000002", "K123A", "P-2",
     "-expired: patient did not come", "pharm", "8500.00"],
]


def test_the_waste_report_with_reasons_and_cost(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    page = auditor.get(f"/reports/waste?{PERIOD}")
    accessible(page)
    assert table_rows(page, "report-waste") == WASTE_SCREEN
    assert "3 vial(s) wasted, cost 25500.00 (8500.00 a vial)" in visible(page)
    rows = reports.waste(pharmacy, WEEK)
    table, pdf = _downloads(auditor, "waste", reports.WASTE_COLUMNS, rows, pharmacy.zone)
    assert [list(r.values()) for r in table] == [
        ["2026-11-21T09:00:00+01:00", "vial rejected at inspection", "", "L200B0002", "L200B", "",
         "particles seen in the vial", "pharm", "8500.00"],
        ["2026-11-21T09:45:00+01:00", "bag destroyed", "BAG0000004", "TK123A000003", "K123A", "P-1",
         "rejected at check: leaking", "tech", "8500.00"],
        ["2026-11-21T10:00:00+01:00", "bag destroyed", "BAG0000002", "TK123A000002", "K123A", "P-2",
         "'-expired: patient did not come", "pharm", "8500.00"],  # neutralised: a spreadsheet would compute it
    ]
    assert "3 vial(s) wasted, cost 25500.00 (8500.00 a vial)" in pdf_text(auditor.get(f"/reports/waste.pdf?{PERIOD}"))


def test_the_report_of_bags_whose_use_by_passed_unused(signed_in, seeded, pharmacy):
    auditor = signed_in("auditor")
    page = auditor.get(f"/reports/expired-unused?{PERIOD}")
    accessible(page)
    screen = table_rows(page, "report-expired-unused")
    assert [[r[0], r[1], r[3], r[4], r[9], r[10]] for r in screen] == [
        [local(use_by), serial, state, patient, local(released), local(destroyed)]
        for use_by, serial, state, patient, released, destroyed in EXPIRED_ROWS]
    assert screen[1] == ["21 Nov 2026 17:00 CET", "BAG0000003", "P261121-3", "expired", "P-3", "Chloé Ξένη",
                         "Neurology 5", "L200B", "L200B0001", "21 Nov 2026 09:15 CET", ""]
    rows = reports.expired_unused(pharmacy, WEEK)
    table, _ = _downloads(auditor, "expired-unused", reports.EXPIRED_COLUMNS, rows, pharmacy.zone)
    assert [(r["use_by"], r["bag_serial"], r["state"], r["released_at"], r["destroyed_at"]) for r in table] == [
        ("2026-11-20T17:30:00+01:00", "BAG0000002", "destroyed", "2026-11-20T09:45:00+01:00", "2026-11-21T10:00:00+01:00"),
        ("2026-11-21T17:00:00+01:00", "BAG0000003", "expired", "2026-11-21T09:15:00+01:00", ""),
        ("2026-11-23T17:00:00+01:00", "BAG0000005", "quarantined", "2026-11-23T09:10:00+01:00", ""),
        ("2026-11-23T18:00:00+01:00", "BAG0000006", "quarantined", "", ""),
    ]
    assert table[1]["patient_name"] == "Chloé Ξένη"  # UTF-8 read back as written


def test_the_reports_page_defaults_to_the_last_seven_days_and_links_every_download(signed_in, seeded):
    page = signed_in("pharm").get("/reports/")
    accessible(page)
    body = page.get_data(as_text=True)
    assert 'value="2026-11-18"' in body and 'value="2026-11-24"' in body
    for name in ("work", "refusal-codes", "refusals", "waste", "expired-unused"):
        assert f"/reports/{name}.csv?from=2026-11-18&amp;to=2026-11-24" in body
        assert f"/reports/{name}.pdf?from=2026-11-18&amp;to=2026-11-24" in body


def test_one_day_is_a_period_too(signed_in, seeded):
    page = signed_in("auditor").get("/reports/work?from=2026-11-21&to=2026-11-21")
    assert [r[:2] for r in table_rows(page, "report-work")] == [["Sat 21 Nov 2026", "pharm"],
                                                               ["Sat 21 Nov 2026", "pharm2"],
                                                               ["Sat 21 Nov 2026", "tech"]]
    empty = signed_in("auditor").get("/reports/waste?from=2026-11-24&to=2026-11-24")
    assert "Nothing in this period." in text(empty) and "0 vial(s) wasted, cost 0.00" in text(empty)


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/reports/work?from=2026-11-24&to=2026-11-20", 422, "The period ends (2026-11-20) before it starts (2026-11-24)."),
    ("/reports/work?from=yesterday", 400, "The first day must be a date (YYYY-MM-DD), not “yesterday”."),
    ("/reports/work.csv?from=2020-01-01&to=2026-11-24", 422, "Choose a period of at most 366 days."),
    ("/reports/?to=2026-13-01", 400, "The last day must be a date (YYYY-MM-DD), not “2026-13-01”."),
])
def test_a_wrong_period_is_refused_with_a_message(signed_in, seeded, url, status, message):
    response = signed_in("auditor").get(url)
    assert response.status_code == status and message in text(response)


def test_an_unknown_report_is_not_found(signed_in):
    auditor = signed_in("auditor")
    assert auditor.get("/reports/salaries").status_code == 404
    assert auditor.get("/reports/salaries.csv").status_code == 404
    assert auditor.get("/reports/work.xlsx").status_code == 404


@pytest.mark.parametrize("username", ["tech", "nurse", "admin"])
@pytest.mark.parametrize("url", ["/reports/", "/reports/waste", "/reports/work.csv", "/reports/refusals.pdf"])
def test_reports_are_for_pharmacists_and_auditors(signed_in, username, url):
    assert signed_in(username).get(url).status_code == 403
