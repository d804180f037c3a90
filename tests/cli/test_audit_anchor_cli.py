"""``pharmacy audit verify`` and ``pharmacy audit anchor`` on the demo database (issue 13, point 8):
the untouched demo verifies against its anchors, a restore is signed into the anchor file so the
entries it drops are not taken for a cut tail, and a database from before anchoring is adopted once."""

from __future__ import annotations

import sqlite3

import pytest

from pharmacy.db import anchor
from tests import factories

pytestmark = pytest.mark.hazard("H15")


def test_the_untouched_demo_database_verifies_intact_in_both_modes(demo_cli):
    with sqlite3.connect(demo_cli.database) as raw:
        entries = raw.execute("SELECT count(*) FROM audit_entries").fetchone()[0]
    raw.close()
    full = demo_cli.ok("audit", "verify")
    assert full.stdout.splitlines()[0] == f"audit chain intact: {entries} entries checked ({entries} in all)"
    assert f"latest entry {entries} at " in full.stdout and "match the audit trail" in full.stdout
    assert full.stderr.count("warning") == 0
    since = demo_cli.ok("audit", "verify", "--since-checkpoint")
    assert f"0 entries checked since the checkpoint at entry {entries} ({entries} in all)" in since.stdout
    demo_cli.ok("stock", "receive", factories.vial_scan("CLI0000009"), "--user", "tech")
    again = demo_cli.ok("audit", "verify", "--since-checkpoint")
    assert f"1 entries checked since the checkpoint at entry {entries} ({entries + 1} in all)" in again.stdout


def test_help_says_which_mode_is_the_default(cli):
    shown = cli.ok("audit", "verify", "--help").stdout
    assert "--full" in shown and "the default" in shown and "--since-checkpoint" in shown


def test_a_restore_is_signed_into_the_anchors_so_its_dropped_entries_are_not_a_cut_tail(demo_cli, tmp_path):
    copy = tmp_path / "backup.sqlite3"
    demo_cli.ok("backup", str(copy))
    demo_cli.ok("audit", "verify")  # a checkpoint beyond what the restore keeps
    demo_cli.ok("stock", "receive", factories.vial_scan("CLI0000010"), "--user", "tech")
    demo_cli.ok("restore", str(copy))
    result = demo_cli.ok("audit", "verify", "--since-checkpoint")
    assert "dropped by the restore of" in result.stderr and "no verified checkpoint yet" in result.stderr
    lines = (demo_cli.instance / anchor.ANCHOR_FILE).read_text().splitlines()
    assert '"kind": "restore"' in lines[-1]


def test_a_database_from_before_anchoring_is_named_then_adopted_once(demo_cli):
    (demo_cli.instance / anchor.ANCHOR_FILE).unlink()
    refused = demo_cli.run("audit", "verify")
    assert refused.exit_code == 1 and "is missing" in refused.stderr and "pharmacy audit anchor" in refused.stderr
    adopted = demo_cli.ok("audit", "anchor")
    assert adopted.stdout.startswith("audit head anchored at entry ")
    demo_cli.ok("audit", "verify")


def test_a_broken_chain_is_not_adopted(demo_cli):
    with sqlite3.connect(demo_cli.database) as raw:
        raw.execute("DROP TRIGGER audit_entries_no_update")
        raw.execute("UPDATE audit_entries SET username = 'nobody' WHERE id = 3")
    raw.close()
    refused = demo_cli.run("audit", "anchor")
    assert refused.exit_code == 1 and "it is not anchored" in refused.stderr
