"""Printers as data and the print queue (issue 15 point 5): every label is a job with a state, a failed
job is kept with its error and retried, and REPRINT n counts only labels that came out or may have."""

from __future__ import annotations

import io
import os
import stat

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from pharmacy.db.models import AuditEntry, LabelPrint
from pharmacy.domain.errors import PharmacyError, StateConflict
from pharmacy.domain.printjobs import STALE_AFTER, PrintJobRefused
from pharmacy.printing.printers import UnknownPrinter
from pharmacy.services import bags, preparation, printjobs, recalls
from tests import factories
from tests.zpl_printer import ZplPrinter, closed_port


def write_printers(pharmacy, text: str) -> None:
    folder = pharmacy.settings.instance
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "printers.toml").write_text(text, encoding="utf-8")


def raw_printer(pharmacy, name: str, address: str, language: str = "pdf", timeout: float = 1) -> None:
    write_printers(pharmacy, f'[[printer]]\nname = "{name}"\nkind = "zpl"\naddress = "{address}"\ndpi = 300\n'
                             f'stock = "bag-100x70"\nlanguage = "{language}"\ntimeout = {timeout}\n')


def label_text(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def counted(pharmacy, serial: str) -> list[int]:
    bag = bags.get_bag(pharmacy, serial)
    with pharmacy.uow(readonly=True) as uow:
        return list(uow.session.execute(select(LabelPrint.number).where(LabelPrint.bag_id == bag.id)
                                        .order_by(LabelPrint.number)).scalars())


def actions(pharmacy, *prefixes: str) -> list[str]:
    with pharmacy.uow(readonly=True) as uow:
        return [a for a in uow.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars()
                if a.startswith(prefixes)]


@pytest.fixture
def fake_lp(tmp_path, monkeypatch):
    """A fake ``lp`` on PATH: it keeps what it is given and its arguments; ``LP_MODE`` makes it refuse or hang."""
    folder = tmp_path / "bin"
    folder.mkdir()
    spool = tmp_path / "spool"
    spool.mkdir()
    script = folder / "lp"
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(ls {spool} | grep -c "^args-")\n'
        f'echo "$@" > {spool}/args-$n\n'
        'case "$LP_MODE" in\n'
        '  refuse) echo "lp: The printer or class does not exist." >&2; exit 1;;\n'
        '  hang) exec sleep 30;;\n'
        'esac\n'
        f'cat > {spool}/job-$n\n'
        'echo "request id is $2-$n (1 file(s))"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return spool


def test_with_no_printers_file_the_one_printer_is_the_pdf_download_as_before(pharmacy):
    assert [(p.name, p.kind, p.stock) for p in printjobs.configured(pharmacy)] == [("PDF download", "pdf", "bag-100x70")]
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    printed = bags.print_labels(pharmacy, "tech", [bag.serial])
    assert printed.pdf.startswith(b"%PDF") and printed.prints == [(bag.serial, 1)] and not printed.failed
    [job] = printjobs.jobs(pharmacy)
    assert (job.state, job.number, job.destination, job.attempts) == ("sent", 1, "download", 1)
    assert counted(pharmacy, bag.serial) == [1]
    assert actions(pharmacy, "label.", "print_job.") == ["label.print"]


@pytest.mark.hazard("H34")
@pytest.mark.hazard("H35")
def test_a_printer_that_is_off_fails_the_job_which_is_kept_and_printed_unmarked_once_it_is_back(pharmacy):
    port = closed_port()
    raw_printer(pharmacy, "Ward 5", f"127.0.0.1:{port}")
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])

    printed = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5")
    [failure] = printed.failed
    assert failure.state == "failed" and f"127.0.0.1:{port} cannot be reached" in failure.error
    assert "connection refused" in failure.error and "switched on" in failure.error
    assert counted(pharmacy, bag.serial) == [], "a label that never came out is not counted"
    assert bags.labels_printed(pharmacy, bag.serial) == 0
    with pytest.raises(StateConflict, match="no printed label yet"):  # nothing to scan back (H27)
        bags.confirm_label(pharmacy, "tech", bag.serial, factories.label_scan(pharmacy, bag.serial))
    # a second print while the first is owed is refused, naming the job: both could print unmarked
    with pytest.raises(PrintJobRefused, match=f"job {failure.id} on Ward 5"):
        bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5")

    printer = ZplPrinter(port=port)  # switched on
    try:
        again = printjobs.retry(pharmacy, "tech", failure.id)
    finally:
        printer.stop()
    assert (again.id, again.state, again.number) == (failure.id, "sent", 1)
    [received] = printer.jobs
    assert received.startswith(b"%PDF") and "REPRINT" not in label_text(received)
    assert counted(pharmacy, bag.serial) == [1]
    [row] = printjobs.jobs(pharmacy)
    assert (row.state, row.attempts, row.error) == ("sent", 2, None)
    assert actions(pharmacy, "label.", "print_job.") == ["print_job.queue", "print_job.fail", "print_job.retry",
                                                        "label.print"]


@pytest.mark.hazard("H35")
def test_a_label_that_may_have_come_out_moves_the_counter_so_its_retry_says_reprint(pharmacy, fake_lp, monkeypatch):
    write_printers(pharmacy, '[[printer]]\nname = "Ward 6"\nkind = "cups"\naddress = "ward6"\ndpi = 300\n'
                             'stock = "bag-100x70"\ntimeout = 0.5\n')
    monkeypatch.setattr(printjobs, "_send", _lp_with_short_timeout)
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    monkeypatch.setenv("LP_MODE", "hang")
    [failure] = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 6").failed
    assert "lp did not finish" in failure.error and "may have taken the job" in failure.error
    assert counted(pharmacy, bag.serial) == [1], "it may have printed: its number is spent"
    monkeypatch.setenv("LP_MODE", "")
    again = printjobs.retry(pharmacy, "tech", failure.id)
    assert (again.state, again.number) == ("sent", 2)
    jobs = sorted(fake_lp.glob("job-*"))
    assert "REPRINT 1" in label_text(jobs[-1].read_bytes())
    assert counted(pharmacy, bag.serial) == [1, 2]


def _lp_with_short_timeout(printer, payload):
    from pharmacy.printing.transport import send_lp

    return send_lp(printer.address, payload, raw=printer.language == "zpl", timeout=printer.timeout).reply


@pytest.mark.hazard("H34")
def test_cups_refusing_the_job_fails_it_with_lps_words_and_a_sent_job_keeps_the_request_id(pharmacy, fake_lp, monkeypatch):
    write_printers(pharmacy, '[[printer]]\nname = "PDF download"\nkind = "pdf"\ndpi = 300\nstock = "bag-100x70"\n\n'
                             '[[printer]]\nname = "Ward 7 Zebra"\nkind = "cups"\naddress = "ward7"\ndpi = 300\n'
                             'stock = "bag-100x70"\nlanguage = "pdf"\n')
    one, two = (factories.released_bag(pharmacy, serial) for serial in pharmacy.vial_serials[:2])
    monkeypatch.setenv("LP_MODE", "refuse")
    printed = bags.print_labels(pharmacy, "tech", [one.serial, two.serial], printer="Ward 7 Zebra")
    assert printed.pdf == b"" and len(printed.failed) == 2
    assert all("CUPS refused the job: lp: The printer or class does not exist." in job.error for job in printed.failed)
    first, second = printed.failed
    assert second.error.startswith(f"not sent: Ward 7 Zebra did not take job {first.id} just before"), \
        "a batch does not wait on a printer that just failed"
    assert len(list(fake_lp.glob("args-*"))) == 1
    assert counted(pharmacy, one.serial) == [] and counted(pharmacy, two.serial) == []
    monkeypatch.setenv("LP_MODE", "")
    for job in printed.failed:
        assert printjobs.retry(pharmacy, "pharm", job.id).state == "sent"
    assert [row.reply for row in printjobs.jobs(pharmacy)] == [f"request id is ward7-{n} (1 file(s))" for n in (2, 1)]
    assert (fake_lp / "args-1").read_text().split() == ["-d", "ward7"], "a PDF goes through the queue's driver"
    assert counted(pharmacy, one.serial) == [1] and counted(pharmacy, two.serial) == [1]


@pytest.mark.hazard("H13")
@pytest.mark.hazard("H9")
def test_a_retry_checks_the_bag_again_a_recalled_bag_gets_no_label(pharmacy):
    port = closed_port()
    raw_printer(pharmacy, "Ward 5", f"127.0.0.1:{port}")
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    [failure] = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5").failed
    vial_lot = bags.get_bag(pharmacy, bag.serial).preparation.vial.lot
    recalls.recall(pharmacy, "pharm", "vial_lot", vial_lot, "Supplier recall, lot withdrawn")
    printer = ZplPrinter(port=port)
    try:
        with pytest.raises(PharmacyError):
            printjobs.retry(pharmacy, "tech", failure.id)
    finally:
        printer.stop()
    assert printer.jobs == [] and counted(pharmacy, bag.serial) == []
    assert printjobs.jobs(pharmacy)[0].state == "failed"


@pytest.mark.hazard("H34")
def test_a_failed_job_is_cancelled_with_a_reason_and_the_bag_printed_elsewhere_is_not_a_reprint(pharmacy):
    raw_printer(pharmacy, "Ward 5", f"127.0.0.1:{closed_port()}")
    write_printers(pharmacy, (pharmacy.settings.instance / "printers.toml").read_text()
                   + '\n[[printer]]\nname = "PDF download"\nkind = "pdf"\ndpi = 300\nstock = "bag-100x70"\n')
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    [failure] = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5").failed
    with pytest.raises(PharmacyError, match="Say why"):
        printjobs.cancel(pharmacy, "tech", failure.id, " ")
    printjobs.cancel(pharmacy, "tech", failure.id, "Printer broken; printed at the bench")
    with pytest.raises(PrintJobRefused, match="only a failed job"):
        printjobs.retry(pharmacy, "tech", failure.id)
    printed = bags.print_labels(pharmacy, "tech", [bag.serial], printer="PDF download")
    assert printed.prints == [(bag.serial, 1)] and "REPRINT" not in label_text(printed.pdf)
    states = {row.id: (row.state, row.cancel_reason) for row in printjobs.jobs(pharmacy)}
    assert states[failure.id] == ("cancelled", "Printer broken; printed at the bench")
    assert "print_job.cancel" in actions(pharmacy, "print_job.")


@pytest.mark.hazard("H35")
def test_a_job_left_queued_by_a_stopped_process_is_seen_failed_and_counted_as_maybe_printed(pharmacy, clock, monkeypatch):
    raw_printer(pharmacy, "Ward 5", f"127.0.0.1:{closed_port()}")
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    monkeypatch.setattr(printjobs, "dispatch", lambda *args: [])  # the process dies before sending
    bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5")
    monkeypatch.undo()
    [row] = printjobs.jobs(pharmacy)
    assert row.state == "queued"
    with pytest.raises(PrintJobRefused, match="being sent"):
        printjobs.retry(pharmacy, "tech", row.id)
    clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
    [row] = printjobs.jobs(pharmacy)
    assert row.state == "failed" and row.maybe_printed and "may have printed" in row.error
    printjobs.cancel(pharmacy, "tech", row.id, "Reprinted by hand")
    assert counted(pharmacy, bag.serial) == [1]
    assert bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5").prints == [(bag.serial, 2)]


def test_an_unknown_printer_or_a_stock_the_printer_does_not_hold_is_refused_and_nothing_recorded(pharmacy):
    raw_printer(pharmacy, "Ward 5", "127.0.0.1:9")
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    with pytest.raises(UnknownPrinter, match="no printer “Ward 9” .configured: Ward 5."):
        bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 9")
    with pytest.raises(PharmacyError, match="holds bag-100x70 labels, not thermal-4x6"):
        bags.print_labels(pharmacy, "tech", [bag.serial], stock="thermal-4x6", printer="Ward 5")
    assert printjobs.jobs(pharmacy) == [] and counted(pharmacy, bag.serial) == []


def test_an_in_process_label_goes_to_a_printer_as_a_job_and_a_failed_one_is_retried(pharmacy):
    port = closed_port()
    raw_printer(pharmacy, "Bench", f"127.0.0.1:{port}")
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    serial, pdf, outcome = preparation.in_process_label_to(pharmacy, "tech", prep.id, "Bench")
    assert outcome.state == "failed" and outcome.number is None and outcome.bag_serial == serial
    printer = ZplPrinter(port=port)
    try:
        assert printjobs.retry(pharmacy, "tech", outcome.id).state == "sent"
    finally:
        printer.stop()
    assert "IN PREPARATION" in label_text(printer.jobs[0])


@pytest.mark.hazard("H34")
def test_a_zpl_printer_out_of_labels_says_so_and_gets_the_label_once_it_is_loaded(pharmacy):
    printer = ZplPrinter()
    try:
        raw_printer(pharmacy, "Ward 5 Zebra", printer.address, language="zpl")
        bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
        printer.mode = "paper_out"
        [failure] = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5 Zebra").failed
        assert "reports out of labels (paper out); nothing was sent" in failure.error
        assert printer.jobs == [] and counted(pharmacy, bag.serial) == []
        printer.mode = "ok"  # labels loaded
        assert printjobs.retry(pharmacy, "tech", failure.id).state == "sent"
    finally:
        printer.stop()
    [job] = printer.jobs
    assert job.startswith(b"^XA") and job.rstrip().endswith(b"^XZ") and b"^BX" in job and b"REPRINT" not in job
    assert printer.queries == 2 and counted(pharmacy, bag.serial) == [1]


@pytest.mark.hazard("H34")
@pytest.mark.parametrize(("mode", "words"), [
    ("hang", "did not answer its status query (~HS) in time; nothing was sent"),
    ("close", "closed the connection without answering its status query (~HS); nothing was sent"),
])
def test_a_zpl_printer_that_hangs_or_hangs_up_fails_the_job_within_its_timeout(pharmacy, mode, words):
    import time

    printer = ZplPrinter()
    printer.mode = mode
    try:
        raw_printer(pharmacy, "Ward 5 Zebra", printer.address, language="zpl", timeout=0.5)
        bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
        started = time.monotonic()
        [failure] = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5 Zebra").failed
        assert time.monotonic() - started < 5
    finally:
        printer.stop()
    assert words in failure.error and not printjobs.jobs(pharmacy)[0].maybe_printed
    assert counted(pharmacy, bag.serial) == []


@pytest.mark.hazard("H35")
def test_a_send_that_ends_after_its_job_was_settled_as_stale_changes_nothing_but_is_audited(pharmacy, clock, monkeypatch):
    raw_printer(pharmacy, "Ward 5", f"127.0.0.1:{closed_port()}")
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])

    def slow_send(printer, payload):  # a colleague sees the job stuck and cancels it while it is still being sent
        clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
        printjobs.cancel(pharmacy, "pharm", 1, "Looked stuck; printed by hand")
        return "ready"

    monkeypatch.setattr(printjobs, "_send", slow_send)
    [outcome] = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5").jobs
    assert outcome.state == "cancelled" and counted(pharmacy, bag.serial) == [1]
    assert actions(pharmacy, "print_job.")[-2:] == ["print_job.cancel", "print_job.late_outcome"]
