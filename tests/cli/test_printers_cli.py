"""`pharmacy printers list`, `pharmacy label --printer`, `pharmacy print-jobs` (list, retry, cancel):
issue 15 point 5 from the command line."""

from __future__ import annotations

import json

import pytest

from tests.zpl_printer import ZplPrinter, closed_port


def released_serial(cli) -> str:
    return next(row["serial"] for row in json.loads(cli.ok("bags", "--format", "json").stdout)
                if row["state"] in ("released", "stored"))


def test_printers_list_shows_the_pdf_download_without_a_file_and_refuses_a_wrong_file(demo_cli):
    [row] = json.loads(demo_cli.ok("printers", "list", "--format", "json").stdout)
    assert (row["name"], row["kind"], row["stock"]) == ("PDF download", "pdf", "bag-100x70")
    (demo_cli.instance / "printers.toml").write_text('[[printer]]\nname = "Ward 5"\nkind = "zpl"\naddress = "ward 5"\n'
                                                     'dpi = 203\nstock = "thermal-4x6"\n')
    result = demo_cli.run("printers", "list")
    assert result.exit_code == 1 and "field “address”: “ward 5” is not a host name or IP address" in result.stderr


@pytest.mark.hazard("H34")
def test_a_label_for_a_printer_that_is_off_exits_non_zero_and_the_job_is_retried_later(demo_cli, tmp_path):
    port = closed_port()
    (demo_cli.instance / "printers.toml").write_text(
        f'[[printer]]\nname = "Ward 5 Zebra"\nkind = "zpl"\naddress = "127.0.0.1:{port}"\ndpi = 300\n'
        'stock = "bag-100x70"\ntimeout = 1\n')
    serial = released_serial(demo_cli)
    refused = demo_cli.run("label", serial, "--user", "tech", "-o", str(tmp_path / "x.pdf"))
    assert refused.exit_code != 0 and "is a printer: the label goes there, not also to a file" in refused.output
    result = demo_cli.run("label", serial, "--user", "tech")
    assert result.exit_code == 1
    assert f"{serial}: print 2 (reprint) → Ward 5 Zebra (job 2: failed)" in result.stdout
    assert "NOT printed on Ward 5 Zebra" in result.stderr and "pharmacy print-jobs retry 2 --user USER" in result.stderr
    [failed] = json.loads(demo_cli.ok("print-jobs", "--state", "failed", "--format", "json").stdout)
    assert (failed["id"], failed["bag"], failed["number"], failed["state"]) == (2, serial, 2, "failed")
    assert "cannot be reached" in failed["error"]

    assert demo_cli.run("print-jobs", "retry", "2", "--user", "nurse").exit_code == 1  # not a nurse's to print
    printer = ZplPrinter(port=port)
    try:
        done = demo_cli.ok("print-jobs", "retry", "2", "--user", "tech")
    finally:
        printer.stop()
    assert f"job 2: bag {serial} print 2 sent to Ward 5 Zebra" in done.stdout
    assert len(printer.jobs) == 1 and printer.jobs[0].startswith(b"^XA")
    again = demo_cli.run("print-jobs", "cancel", "2", "--user", "tech", "--reason", "sent already")
    assert again.exit_code == 1 and "only a failed job can be retried or cancelled" in again.stderr


def test_a_failed_job_is_cancelled_from_the_command_line_with_a_reason(demo_cli):
    (demo_cli.instance / "printers.toml").write_text(
        f'[[printer]]\nname = "Ward 5 Zebra"\nkind = "zpl"\naddress = "127.0.0.1:{closed_port()}"\ndpi = 300\n'
        'stock = "bag-100x70"\ntimeout = 1\n')
    serial = released_serial(demo_cli)
    demo_cli.run("label", serial, "--user", "tech")
    assert demo_cli.ok("print-jobs", "cancel", "2", "--user", "tech", "--reason", "printed by hand").stdout.strip() \
        == "job 2: cancelled"
    table = demo_cli.ok("print-jobs").stdout
    assert "cancelled" in table and serial in table
