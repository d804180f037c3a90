"""Balances from the command line: a pharmacist records a calibration, anyone lists them; the demo
comes with its simulated balance calibrated and a density marked as a demo value."""

from __future__ import annotations

from pharmacy.domain.monograph import load_catalog


def test_a_pharmacist_records_a_calibration_and_it_is_listed(demo_cli):
    done = demo_cli.ok("devices", "calibrate", "B123456789", "--model", "XPR204", "--calibrated-on", "2026-11-01",
                       "--due", "2027-05-01", "--certificate", "CAL-9", "--user", "pharm")
    assert "balance B123456789: calibrated 2026-11-01, due 2027-05-01" in done.output
    listing = demo_cli.ok("devices", "balances").output
    assert "B123456789" in listing and "CAL-9" in listing and "Petra Pharmacist" in listing
    assert "SIM0000001" in listing and "DEMO-CAL-0001" in listing  # the demo's simulated balance


def test_a_technician_cannot_record_a_calibration(demo_cli):
    refused = demo_cli.run("devices", "calibrate", "B1", "--model", "X", "--calibrated-on", "2026-11-01",
                           "--due", "2027-05-01", "--certificate", "C", "--user", "tech")
    assert refused.exit_code != 0 and "only a pharmacist may" in refused.output
    assert "B1 " not in demo_cli.ok("devices", "balances").output


def test_the_demo_density_is_marked_as_a_demo_value(demo_cli):
    density = load_catalog([demo_cli.instance / "catalog"]).products["lemtrada"].density
    assert density is not None and density.demo and "not a measurement" in density.source
