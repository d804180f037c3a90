"""`pharmacy temps import` and printing straight to a CUPS queue (`lp -d`)."""

from __future__ import annotations

import os
import stat

from pharmacy.services import bags, coldchain
from tests import factories


def test_temps_import_reports_bad_rows_by_line_and_keeps_the_good_ones(demo_cli, tmp_path):
    csv_file = tmp_path / "fridge.csv"
    csv_file.write_text("location,time,celsius\n"
                        "Pharmacy fridge 1,2026-11-20T08:00:00+01:00,4.5\n"
                        "Pharmacy fridge 1,2026-11-20T08:10:00,4.6\n"
                        "Pharmacy fridge 1,2026-11-20T08:20:00+01:00,4.4\n", encoding="utf-8")
    result = demo_cli.run("temps", "import", str(csv_file), "--user", "tech")
    assert result.exit_code == 2
    assert "2 reading(s) imported, 0 already present, 1 refused" in result.stdout
    assert "line 3:" in result.stderr and "no UTC offset" in result.stderr
    again = demo_cli.run("temps", "import", str(csv_file), "--user", "tech")
    assert "0 reading(s) imported, 2 already present" in again.stdout


def test_a_label_sent_to_a_printer_goes_through_lp_and_the_job_is_returned(pharmacy, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "lp"
    fake.parent.mkdir()
    spool = tmp_path / "spooled.pdf"
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = \"-d\" ] || exit 3\ncat > {spool}\necho \"request id is $2-42 (1 file(s))\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    # a CUPS queue is a printer of printers.toml (issue 15.5); what lp answers is kept on the job
    pharmacy.settings.instance.mkdir(parents=True, exist_ok=True)
    (pharmacy.settings.instance / "printers.toml").write_text(
        '[[printer]]\nname = "Ward 5"\nkind = "cups"\naddress = "ward5"\ndpi = 300\nstock = "bag-100x70"\n')
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    printed = bags.print_labels(pharmacy, "tech", [bag.serial], printer="Ward 5")
    assert printed.job == "request id is ward5-42 (1 file(s))"
    assert spool.read_bytes().startswith(b"%PDF") and bag.serial.encode() in spool.read_bytes()
    assert [(job.state, job.reply) for job in printed.jobs] == [("sent", "request id is ward5-42 (1 file(s))")]


def test_a_quarantined_bag_is_discarded_by_a_pharmacist_only(pharmacy, clock):
    import pytest

    from pharmacy.domain.coldchain import reading
    from pharmacy.domain.errors import NotAllowed

    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    coldchain.record(pharmacy, "tech", [(1, reading(factories.FRIDGE, clock.advance(minutes=5), 9.1))], "form")
    with pytest.raises(NotAllowed):
        bags.dispose_bag(pharmacy, "tech", bag.serial, "quarantine_reviewed", "Fridge excursion 9.1 °C", confirmed=True)
    assert bags.dispose_bag(pharmacy, "pharm", bag.serial, "quarantine_reviewed", "Fridge excursion 9.1 °C",
                            confirmed=True).state == "destroyed"
