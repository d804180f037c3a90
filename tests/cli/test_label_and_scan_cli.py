"""The command line side of issue 15: a batch of labels prints the bags it can and names the one refused
(H30); scans refused with what to do (H32); the national number and the AI it came from in ``stock list``."""

from __future__ import annotations

import json
from pathlib import Path

import pypdf
import pytest

from tests.integration.records import scan
from tests.unit.test_gs1 import ROWS


def _rows(cli) -> list[dict]:
    return json.loads(cli.ok("stock", "list", "--format", "json").stdout)


def test_stock_list_json_shows_the_national_number_and_the_ai_it_came_from(demo_cli):
    demo_cli.ok("stock", "receive", scan("valid FMD pack with national number 710"), "--user", "tech")
    demo_cli.ok("stock", "receive", scan("valid FMD pack with national number 711"), "--user", "tech")
    by_serial = {row["serial"]: row for row in _rows(demo_cli)}
    german, french = by_serial["LEM0000000004"], by_serial["LEM0000000017"]
    assert (german["national_number"], german["national_number_ai"]) == ("DE12345678", "710")
    assert german["national_number_country"] == "Germany (PZN)"
    assert (french["national_number"], french["national_number_ai"]) == ("3400930000017", "711")
    assert french["national_number_country"] == "France (CIP)"
    plain = by_serial["DEMO000000003"]
    assert (plain["national_number"], plain["national_number_ai"], plain["national_number_country"]) == (None, None, None)


@pytest.mark.hazard("H32")
@pytest.mark.parametrize("description, words", [
    ("Caps Lock on: ]D2 and the letters inverted", "Turn Caps Lock off. Check the scanner's settings"),
    ("scanner set to a German keyboard: +d2", "German, Italian or Spanish layouts turn “]” into “+”"),
    ("lot over 20 characters (separator lost)", "The scan's (10) batch has 22 characters"),
])
def test_a_refused_scan_says_what_to_do_and_receives_nothing(demo_cli, description, words):
    before = _rows(demo_cli)
    result = demo_cli.run("stock", "receive", ROWS[description], "--user", "tech")
    assert result.exit_code == 1 and words in result.stderr
    assert _rows(demo_cli) == before


@pytest.mark.hazard("H32")
def test_with_the_symbology_identifier_required_a_typed_code_is_refused(demo_cli):
    demo_cli.runner.env["PHARMACY_REQUIRE_SYMBOLOGY_ID"] = "1"
    typed = demo_cli.run("stock", "receive", scan("valid FMD pack, no symbology id"), "--user", "tech")
    assert typed.exit_code == 1
    assert "Refused: The scan has no symbology identifier (]d2, ]C1 or ]Q3) at its start" in typed.stderr
    assert "PHARMACY_REQUIRE_SYMBOLOGY_ID" in typed.stderr
    demo_cli.ok("stock", "receive", scan("valid FMD pack, symbology id"), "--user", "tech")
    demo_cli.ok("stock", "receive", scan("GS1 Digital Link URI in a QR Code"), "--user", "tech")
    serials = {row["serial"] for row in _rows(demo_cli)}
    assert {"LEM0000000001", "LEM0000000013"} <= serials and "LEM0000000002" not in serials


def test_a_bad_setting_of_the_symbology_requirement_is_refused(cli):
    cli.runner.env["PHARMACY_REQUIRE_SYMBOLOGY_ID"] = "yes"
    result = cli.run("stock", "list")
    assert result.exit_code != 0
    assert "PHARMACY_REQUIRE_SYMBOLOGY_ID must be 1 (on) or 0 (off), not “yes”" in result.output + str(result.exception)


@pytest.mark.hazard("H30")
def test_a_batch_of_labels_prints_the_good_bags_and_names_the_one_refused(demo_cli, tmp_path: Path):
    released = [row["serial"] for row in json.loads(demo_cli.ok("bags", "--format", "json").stdout)
                if row["state"] in ("released", "stored")]
    assert released
    output = tmp_path / "labels.pdf"
    result = demo_cli.run("label", released[0], "BAG9999999", "-o", str(output), "--user", "tech")
    assert result.exit_code == 1
    assert f"{released[0]}: print 2 (reprint)" in result.stdout
    assert "BAG9999999: NOT printed: No bag with serial “BAG9999999”." in result.stderr
    assert len(pypdf.PdfReader(output).pages) == 1
