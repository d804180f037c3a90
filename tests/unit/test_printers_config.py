"""``<instance>/printers.toml`` (issue 15 point 5): validated at load, every mistake named with its file,
printer and field; no file means the one "PDF download" printer of before."""

from __future__ import annotations

import pytest

from pharmacy.printing.printers import PrinterConfigError, UnknownPrinter, find_printer, load_printers
from pharmacy.printing.transport import host_status_problems
from tests.zpl_printer import host_status

GOOD = '''
[[printer]]
name = "Ward 5 Zebra"
kind = "zpl"
address = "10.0.5.31"
dpi = 203
stock = "thermal-4x6"

[[printer]]
name = "Pharmacy CUPS"
kind = "cups"
address = "pharmacy-labels"
dpi = 300
stock = "bag-100x70"
language = "zpl"
timeout = 2.5

[[printer]]
name = "IPv6 Zebra"
kind = "zpl"
address = "[fe80::1]:6101"
dpi = 600
stock = "bag-100x70"
'''


def write(tmp_path, text: str):
    (tmp_path / "printers.toml").write_text(text, encoding="utf-8")
    return tmp_path


def one(**fields) -> str:
    base = {"name": "Ward 5", "kind": "zpl", "address": "10.0.5.31:9100", "dpi": 203, "stock": "thermal-4x6"}
    base.update(fields)
    body = "\n".join(f"{key} = {value!r}" if isinstance(value, str) else f"{key} = {value}"
                     for key, value in base.items() if value is not None)
    return "[[printer]]\n" + body.replace("'", '"') + "\n"


def test_no_file_is_one_pdf_download_printer_of_the_default_stock(tmp_path):
    [printer] = load_printers(tmp_path, "bag-100x70")
    assert (printer.name, printer.kind, printer.stock, printer.dpi, printer.language, printer.destination) == (
        "PDF download", "pdf", "bag-100x70", 300, "pdf", "download")


def test_a_good_file_gives_each_printer_with_its_address_normalised(tmp_path):
    zebra, cups, v6 = load_printers(write(tmp_path, GOOD), "bag-100x70")
    assert (zebra.address, zebra.host_port, zebra.language, zebra.timeout) == ("10.0.5.31:9100", ("10.0.5.31", 9100), "zpl", 5.0)
    assert (cups.destination, cups.language, cups.timeout) == ("cups:pharmacy-labels", "zpl", 2.5)
    assert (v6.address, v6.host_port) == ("[fe80::1]:6101", ("fe80::1", 6101))
    assert find_printer([zebra, cups], None) is zebra and find_printer([zebra, cups], "Pharmacy CUPS") is cups
    with pytest.raises(UnknownPrinter, match="no printer “Ward 9” .configured: Ward 5 Zebra, Pharmacy CUPS."):
        find_printer([zebra, cups], "Ward 9")


@pytest.mark.parametrize(("text", "words"), [
    (one(kind="zebra"), "printer 1 (“Ward 5”), field “kind”: “zebra” is not a kind of printer; use one of pdf, cups, zpl"),
    (one(address="10.0.5.31:99999"), "field “address”: “10.0.5.31:99999”: the port must be a number from 1 to 65535"),
    (one(address="ward printer"), "field “address”: “ward printer” is not a host name or IP address"),
    (one(address="10.0.5.31:abc"), "field “address”: “10.0.5.31:abc”: the port must be"),
    (one(address="999.1.1.1"), "“999.1.1.1” is not a host name or IP address"),
    (one(address=None), "field “address”: missing; write a host and port such as"),
    (one(kind="cups", address="ward 5/x"), "“ward 5/x” is not a CUPS queue name"),
    (one(kind="pdf", address="10.0.0.1", language="pdf"), "a PDF download has no address; leave it out."),
    (one(kind="pdf", address=None, language="zpl"), "a PDF download is a PDF"),
    (one(stock="bag-50x30"), "field “stock”: there is no label stock “bag-50x30” (known: bag-100x70, thermal-4x6)"),
    (one(dpi=50), "field “dpi”: 50 is not a resolution the label renderer supports"),
    (one(dpi=None), "field “dpi”: None is not a resolution"),
    (one(dpi=203).replace("dpi = 203", 'dpi = "203"'), "field “dpi”: '203' is not a resolution"),
    (one(dpi=203).replace("dpi = 203", "dpi = true"), "field “dpi”: True is not a resolution"),
    (one(language="epl"), "field “language”: “epl” is not a label language; use pdf or zpl."),
    (one(timeout=0), "field “timeout”: 0 must be a number of seconds from 0.1 to 20."),
    (one(colour="red"), "field “colour”: unknown field"),
    (one(name=""), "field “name”: missing or empty"),
    (one() + one(name="ward 5"), "printer 2: the name “ward 5” is used twice"),
    ("[[printer]\nname = 1", "cannot be read"),
    ("", "no printer; write one [[printer]] table per printer"),
    ("printers = 1\n", "unknown table or key printers"),
])
def test_a_wrong_file_is_refused_naming_the_file_the_printer_and_the_field(tmp_path, text, words):
    with pytest.raises(PrinterConfigError) as refused:
        load_printers(write(tmp_path, text), "bag-100x70")
    assert words in refused.value.message
    assert str(tmp_path / "printers.toml") in refused.value.message


def test_the_zpl_host_status_flags_that_stop_a_print_are_read():
    assert host_status_problems(host_status()) == []
    assert host_status_problems(host_status(paper_out=True)) == ["out of labels (paper out)"]
    assert host_status_problems(host_status(paused=True, head_open=True)) == ["paused", "print head open"]
    assert host_status_problems(b"garbage") == ["a status answer that cannot be read"]


def test_the_longest_send_ends_before_a_queued_job_is_seen_as_stale():
    """A job still being sent must not be seen as stopped (and retried or cancelled under it): connect
    attempts, the status query and the send, each at the longest timeout, end before STALE_AFTER."""
    from pharmacy.domain.printjobs import STALE_AFTER
    from pharmacy.printing import transport
    from pharmacy.printing.printers import MAX_TIMEOUT

    longest = (transport.CONNECT_ATTEMPTS + 2) * MAX_TIMEOUT + (transport.CONNECT_ATTEMPTS - 1) * transport.CONNECT_PAUSE
    assert longest < STALE_AFTER.total_seconds()


def test_an_edit_counts_at_the_next_load_even_of_the_same_length_and_a_broken_edit_is_refused(tmp_path):
    """The file's printers are kept between pages (issue 18) but never over an edit: a new address of the
    same length, made within the same instant, is what the next load gives; a file broken after a good one
    is refused, not served from what it said before; the caller's list is its own."""
    first = load_printers(write(tmp_path, one(address="10.0.5.31:9100")), "bag-100x70")
    first.clear()
    [again] = load_printers(tmp_path, "bag-100x70")
    [edited] = load_printers(write(tmp_path, one(address="10.0.5.32:9100")), "bag-100x70")
    assert (again.address, edited.address) == ("10.0.5.31:9100", "10.0.5.32:9100")
    with pytest.raises(PrinterConfigError, match="cannot be read"):
        load_printers(write(tmp_path, one(address="10.0.5.32:9100") + "[[printer"), "bag-100x70")
    [mended] = load_printers(write(tmp_path, one(address="10.0.5.32:9100")), "bag-100x70")
    assert mended.address == "10.0.5.32:9100"
