"""The label screen's printer choice, the Print jobs screen (failed jobs kept, retried, cancelled) and the
read-only Printers screen (issue 15 point 5): permissions, bad input, CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import LabelPrint, PrintJob
from pharmacy.web.printjobs import COOKIE
from tests import factories
from tests.web.conftest import text
from tests.zpl_printer import ZplPrinter, closed_port


def configure(pharmacy, *printers: tuple[str, str, str]) -> None:
    """printers.toml with a PDF download first, then (name, kind, address) printers of bag-100x70 at 300 dpi."""
    lines = ['[[printer]]\nname = "PDF download"\nkind = "pdf"\ndpi = 300\nstock = "bag-100x70"\n']
    for name, kind, address in printers:
        lines.append(f'[[printer]]\nname = "{name}"\nkind = "{kind}"\naddress = "{address}"\ndpi = 300\n'
                     'stock = "bag-100x70"\nlanguage = "pdf"\ntimeout = 1\n')
    pharmacy.settings.instance.mkdir(parents=True, exist_ok=True)
    (pharmacy.settings.instance / "printers.toml").write_text("\n".join(lines), encoding="utf-8")


def job_count(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(PrintJob)).scalar_one()


def label_count(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(LabelPrint)).scalar_one()


def test_with_no_printers_file_the_bag_page_offers_the_pdf_download_as_before(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    page = text(tech.get(f"/bags/{bag.serial}"))
    assert "Print label (PDF)" in page and "Print label on printer" not in page
    response = tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "PDF download"})
    assert response.mimetype == "application/pdf" and f"{bag.serial}-label-1.pdf" in response.headers["Content-Disposition"]
    assert "sent" in text(tech.get("/print-jobs"))


@pytest.mark.hazard("H34")
def test_a_label_sent_to_a_printer_that_is_off_is_shown_not_printed_and_is_retried_from_print_jobs(signed_in, pharmacy):
    port = closed_port()
    configure(pharmacy, ("Ward 6 Zebra", "zpl", "127.0.0.1:9"), ("Ward 5 Zebra", "zpl", f"127.0.0.1:{port}"))
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    page = text(tech.get(f"/bags/{bag.serial}"))
    assert "Print label on printer" in page and "Ward 5 Zebra (bag-100x70, 300 dpi)" in page
    assert 'value="Ward 6 Zebra" selected' in page  # the first, until this workstation chooses

    shown = tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "Ward 5 Zebra"})
    assert tech.last_post_status == 303
    page = text(shown)
    assert f"The label of bag {bag.serial}, print 1 did NOT print on Ward 5 Zebra" in page
    assert "cannot be reached (connection refused" in page and "Retry or cancel it on Print jobs" in page
    assert label_count(pharmacy) == 0
    assert "Ward 5 Zebra" in tech.client.get_cookie(COOKIE).value
    owed = text(tech.get(f"/bags/{bag.serial}"))
    assert "Print job 1 of this bag's label did not print" in owed
    assert "Print label" not in owed, "no second label is offered while one is owed"

    jobs = text(tech.get("/print-jobs"))
    assert "1 label job not printed." in jobs and "FAILED" in jobs and "first label" in jobs
    printer = ZplPrinter(port=port)
    try:
        done = text(tech.post("/print-jobs/1/retry"))
    finally:
        printer.stop()
    assert f"The label of bag {bag.serial}, print 1 was sent to Ward 5 Zebra." in done
    assert "SENT" in done and "retried 1×" in done and len(printer.jobs) == 1
    assert label_count(pharmacy) == 1
    # the workstation's choice is remembered for the next label (a reprint now)
    assert 'value="Ward 5 Zebra" selected' in text(tech.get(f"/bags/{bag.serial}"))


@pytest.mark.hazard("H35")
def test_a_second_print_while_a_job_is_owed_is_refused_and_a_cancel_needs_a_reason(signed_in, pharmacy):
    configure(pharmacy, ("Ward 5 Zebra", "zpl", f"127.0.0.1:{closed_port()}"))
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    tech.get(f"/bags/{bag.serial}")
    tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "Ward 5 Zebra"})
    again = tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "PDF download"})
    assert again.status_code == 409 and "Retry that job or cancel it" in text(again)
    assert job_count(pharmacy) == 1

    tech.get("/print-jobs")
    refused = tech.post("/print-jobs/1/cancel", {"reason": ""})
    assert refused.status_code == 422 and "Say why the job is cancelled" in text(refused)
    cancelled = text(tech.post("/print-jobs/1/cancel", {"reason": "Zebra broken, printed as PDF"}))
    assert "Print job 1 cancelled." in cancelled and "Cancelled: Zebra broken, printed as PDF" in cancelled
    tech.get(f"/bags/{bag.serial}")
    pdf = tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "PDF download"})
    assert f"{bag.serial}-label-1.pdf" in pdf.headers["Content-Disposition"], "the label that never came out is not counted"


def test_bad_input_is_refused_with_a_reason_and_records_nothing(signed_in, pharmacy):
    configure(pharmacy, ("Ward 5 Zebra", "zpl", "127.0.0.1:9"))
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    tech.get(f"/bags/{bag.serial}")
    unknown = tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "Ward 9"})
    assert unknown.status_code == 422 and "There is no printer “Ward 9”" in text(unknown)
    tech.get("/print-jobs")
    assert tech.post("/print-jobs/999999/retry").status_code == 404
    assert tech.post("/print-jobs/99999999999999999999999/retry").status_code == 404
    assert tech.get("/print-jobs?state=nonsense").status_code == 200
    assert job_count(pharmacy) == 0 and label_count(pharmacy) == 0


def test_a_post_without_the_csrf_token_is_refused(signed_in, pharmacy):
    configure(pharmacy, ("Ward 5 Zebra", "zpl", f"127.0.0.1:{closed_port()}"))
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    tech.get(f"/bags/{bag.serial}")
    tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "Ward 5 Zebra"})
    assert tech.post("/print-jobs/1/retry", csrf=False).status_code == 400
    assert tech.post("/print-jobs/1/cancel", {"reason": "no token"}, csrf=False).status_code == 400
    assert tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "Ward 5 Zebra"}, csrf=False).status_code == 400
    assert job_count(pharmacy) == 1


def test_who_sees_and_acts_on_print_jobs_and_printers(signed_in, pharmacy):
    configure(pharmacy, ("Ward 5 Zebra", "zpl", f"127.0.0.1:{closed_port()}"))
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    tech = signed_in("tech")
    tech.get(f"/bags/{bag.serial}")
    tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "Ward 5 Zebra"})
    nurse = signed_in("nurse")
    page = text(nurse.get("/print-jobs"))
    assert "FAILED" in page and ">Retry<" not in page
    assert nurse.post("/print-jobs/1/retry").status_code == 403
    assert nurse.get("/printers").status_code == 403
    admin = signed_in("admin")
    printers = text(admin.get("/printers"))
    assert "Ward 5 Zebra" in printers and "ZPL printer, raw TCP" in printers and "printers.toml" in printers
    assert "Printers" in text(admin.get("/print-jobs"))


def test_a_wrong_printers_file_is_shown_on_the_printers_screen_and_stops_printing(signed_in, pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    pharmacy.settings.instance.mkdir(parents=True, exist_ok=True)
    (pharmacy.settings.instance / "printers.toml").write_text(
        '[[printer]]\nname = "Ward 5"\nkind = "zebra"\naddress = "10.0.0.5"\ndpi = 203\nstock = "thermal-4x6"\n')
    page = text(signed_in("admin").get("/printers"))
    assert "The printers file is wrong" in page and "field “kind”: “zebra” is not a kind of printer" in page
    tech = signed_in("tech")
    assert "“zebra” is not a kind of printer" in text(tech.get(f"/bags/{bag.serial}"))
    refused = tech.post(f"/bags/{bag.serial}/label.pdf", {"printer": "PDF download"})
    assert refused.status_code == 422 and "printer 1 (“Ward 5”), field “kind”" in text(refused)
    assert job_count(pharmacy) == 0 and label_count(pharmacy) == 0


@pytest.mark.hazard("H34")
def test_the_in_process_label_goes_to_the_chosen_printer_and_a_failure_is_said_on_the_step(signed_in, pharmacy):
    printer = ZplPrinter()
    dead = closed_port()
    try:
        configure(pharmacy, ("Bench Zebra", "zpl", printer.address), ("Old Zebra", "zpl", f"127.0.0.1:{dead}"))
        prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
        tech = signed_in("tech")
        page = text(tech.get(f"/prep/{prep.id}"))
        assert "Print the in-process label on the printer" in page and 'value="Bench Zebra" selected' in page
        sent = text(tech.post(f"/prep/{prep.id}/in-process-label.pdf", {"printer": "Bench Zebra"}))
        assert tech.last_post_status == 303 and "(in-process label) was sent to Bench Zebra" in sent
        failed = text(tech.post(f"/prep/{prep.id}/in-process-label.pdf", {"printer": "Old Zebra"}))
        assert "(in-process label) did NOT print on Old Zebra" in failed
    finally:
        printer.stop()
    assert len(printer.jobs) == 1 and printer.jobs[0].startswith(b"%PDF")
    assert "in-process label" in text(tech.get("/print-jobs"))
    assert label_count(pharmacy) == 0, "an in-process label is never a bag label"
