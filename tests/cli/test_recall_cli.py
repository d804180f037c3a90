"""`pharmacy recall` (clinical-safety issue, item 2): a lot found whatever its case and spaces, a lot
never received said plainly with exit status 1, and a quarantine from the command line that makes the
lot a standing recall whose later delivery is refused."""

from __future__ import annotations

import json

import pytest

from tests.factories import vial_scan


@pytest.mark.hazard("H14")
def test_recall_ra_finds_lot_RA_whatever_its_case_and_spaces(demo_cli):
    demo_cli.ok("stock", "receive", vial_scan("RA00000001", "RA", "280630"), "--user", "tech")
    found = demo_cli.ok("recall", " ra ", "--format", "json")
    assert json.loads(found.stdout) == []  # received, nothing made from it yet: an empty list, exit 0
    demo = json.loads(demo_cli.ok("recall", "k123a", "--format", "json").stdout)
    assert [(r["bag_serial"], r["vial_lot"]) for r in demo] == [("BAG0000001", "K123A"), ("BAG0000002", "K123A")]
    assert {r["prepared_by"] for r in demo} == {"Tessa Technician"}


@pytest.mark.hazard("H14")
def test_a_lot_never_received_says_so_and_exits_1(demo_cli):
    missing = demo_cli.run("recall", "RA")
    assert missing.exit_code == 1
    assert "Refused: No vial lot “RA” was ever received." in missing.stderr
    assert demo_cli.run("recall", "K123A", "--serial", "NOPE").stderr.strip().endswith(
        "Refused: No vial serial “NOPE” of vial lot “K123A” was ever received.")


@pytest.mark.hazard("H9")
def test_a_lot_quarantined_from_the_command_line_stays_recalled_and_its_next_delivery_is_refused(demo_cli):
    done = demo_cli.ok("recall", "k123a", "--quarantine", "Manufacturer recall notice 2026/17", "--user", "pharm")
    assert "quarantined 2 bag(s) and 10 stock item(s)" in done.stderr
    refused = demo_cli.run("stock", "receive", vial_scan("DEMO000000099", "K123A", "280630"), "--user", "tech")
    assert refused.exit_code == 1
    assert "Refused: RECALLED: vial lot K123A was recalled on" in refused.stderr
    assert "Manufacturer recall notice 2026/17" in refused.stderr
