"""The ``pharmacy`` command (issue 3, point 5): each command calls the services, prints what it did,
and exits non-zero with the reason on stderr when it is refused."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime

import pytest

from pharmacy import config
from pharmacy.services import base, demo, users
from tests import factories

SCAN = factories.vial_scan("CLI0000001")


def as_json(result) -> list[dict]:
    return json.loads(result.stdout)


def tamper(database, entry_id: int) -> None:
    with sqlite3.connect(database) as outside:
        outside.execute("DROP TRIGGER audit_entries_no_update")
        outside.execute(f"UPDATE audit_entries SET username = 'nobody' WHERE id = {entry_id}")
    outside.close()


def test_help_lists_the_commands(cli):
    result = cli.ok("--help")
    for command in ("init-db", "demo", "users", "stock", "bags", "label", "audit", "backup", "restore", "tokens"):
        assert command in result.stdout


def test_init_db_creates_the_database_in_the_instance_folder_and_says_where(cli):
    result = cli.ok("init-db")
    assert "database is at the newest schema" in result.stdout
    assert f"pharmacy: instance {cli.instance}" in result.stderr
    assert cli.database.is_file()
    # the command closed its connections when it ended: SQLite checkpointed and removed the WAL
    assert not cli.database.with_name("pharmacy.sqlite3-wal").exists()
    assert cli.ok("init-db").exit_code == 0  # again: nothing to do


def test_users_add_reads_the_password_from_stdin(cli):
    cli.ok("init-db")
    result = cli.ok("users", "add", "petra", "--role", "pharmacist", "--name", "Petra Example", "--password-stdin",
                    input="a-long-enough-secret\n")
    assert "user petra added as pharmacist" in result.stdout
    pharmacy = base.build(config.load({"instance": cli.instance, "timezone": "Europe/Brussels", "database_url": ""},
                                      environ={}))
    try:
        user = users.authenticate(pharmacy, "petra", "a-long-enough-secret")
        assert (user.role, user.full_name) == ("pharmacist", "Petra Example")
    finally:
        pharmacy.db.dispose()


def test_users_add_asks_for_the_password_twice_without_stdin(cli):
    cli.ok("init-db")
    result = cli.ok("users", "add", "nina", "--role", "nurse", input="another-long-secret\nanother-long-secret\n")
    assert "another-long-secret" not in result.stdout  # hidden input
    assert "user nina added as nurse" in result.stdout


def test_a_short_password_is_refused_with_exit_1(cli):
    cli.ok("init-db")
    result = cli.run("users", "add", "shorty", "--role", "nurse", "--password-stdin", input="short\n")
    assert result.exit_code == 1
    assert "at least 12 characters" in result.stderr and "added" not in result.stdout


def test_an_unknown_role_is_refused(cli):
    result = cli.run("users", "add", "x", "--role", "surgeon", "--password-stdin", input="a-long-enough-secret\n")
    assert result.exit_code == 2 and "surgeon" in result.stderr


def test_demo_prints_the_demo_users_and_a_second_run_changes_nothing(cli):
    first = cli.ok("demo")
    assert "demo data seeded" in first.stdout
    for username, _name, role, password in demo.USERS:
        assert username in first.stdout and password in first.stdout and role in first.stdout
    stock_before, bags_before = as_json(cli.ok("stock", "list", "--format", "json")), as_json(cli.ok("bags", "--format", "json"))
    audit_before = cli.ok("audit", "verify").stdout
    second = cli.ok("demo")
    assert "already present: nothing changed" in second.stdout
    assert as_json(cli.ok("stock", "list", "--format", "json")) == stock_before
    assert as_json(cli.ok("bags", "--format", "json")) == bags_before
    assert cli.ok("audit", "verify").stdout == audit_before


def test_stock_receive_records_a_valid_scan(demo_cli):
    result = demo_cli.ok("stock", "receive", SCAN, "--user", "tech")
    assert "Received LEMTRADA" in result.stdout and "serial CLI0000001, lot K123A, expiry 2028-06-30" in result.stdout
    assert "CLI0000001" in {row["serial"] for row in as_json(demo_cli.ok("stock", "list", "--format", "json"))}


def test_stock_receive_refuses_with_a_non_zero_exit_and_the_reason_on_stderr(demo_cli):
    demo_cli.ok("stock", "receive", SCAN, "--user", "tech")
    before = as_json(demo_cli.ok("stock", "list", "--format", "json"))
    result = demo_cli.run("stock", "receive", SCAN, "--user", "tech")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Refused: Serial CLI0000001")
    assert "falsified" in result.stderr and "Received" not in result.stdout
    # nothing was received; the pack already in stock is set aside as a suspected falsification (H10)
    after = as_json(demo_cli.ok("stock", "list", "--format", "json"))
    assert len(after) == len(before)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if a != b]
    assert [(b["serial"], b["state"], a["state"]) for b, a in changed] == [("CLI0000001", "received", "suspect")]


def test_stock_list_json_has_kind_gtin_serial_lot_iso_expiry_and_state(demo_cli):
    rows = as_json(demo_cli.ok("stock", "list", "--format", "json"))
    assert {row["kind"] for row in rows} == {"vial", "diluent"}
    for row in rows:
        assert {"kind", "gtin", "serial", "lot", "expiry", "state"} <= row.keys()
        assert date.fromisoformat(row["expiry"]).isoformat() == row["expiry"]
        assert len(row["gtin"]) == 14
        assert (row["serial"] is None) == (row["kind"] == "diluent")
    vial = next(r for r in rows if r["serial"] == "DEMO000000003")
    assert (vial["gtin"], vial["lot"], vial["expiry"], vial["state"]) == ("09506000134369", "K123A", "2028-06-30", "received")


def test_stock_list_table_has_a_header(demo_cli):
    lines = demo_cli.ok("stock", "list").stdout.splitlines()
    assert lines[0].split() == ["kind", "product", "gtin", "serial", "lot", "expiry", "state"]


def test_bags_json_has_serial_state_use_by_with_offset_patient_and_ingredients(demo_cli):
    rows = as_json(demo_cli.ok("bags", "--format", "json"))
    assert {row["state"] for row in rows} == {"stored", "awaiting_check"}
    for row in rows:
        assert {"serial", "state", "use_by", "patient_id", "vial_lot", "vial_serial", "diluent_lot"} <= row.keys()
        use_by = datetime.fromisoformat(row["use_by"])
        assert use_by.utcoffset() is not None and row["use_by"].endswith("+00:00")
    stored = next(r for r in rows if r["state"] == "stored")
    assert (stored["patient_id"], stored["vial_serial"], stored["vial_lot"], stored["diluent_lot"]) == (
        "P-1002", "DEMO000000001", "K123A", "N9931")
    assert stored["use_by"] == "2026-11-20T16:00:00+00:00"  # 09:00 Brussels + 8 h (SmPC 6.3)


def test_bags_can_be_filtered_by_state(demo_cli):
    rows = as_json(demo_cli.ok("bags", "--state", "awaiting_check", "--format", "json"))
    assert [(r["state"], r["patient_id"], r["diluent_lot"]) for r in rows] == [("awaiting_check", "P-1003", "G5520")]
    assert as_json(demo_cli.ok("bags", "--state", "destroyed", "--format", "json")) == []


def test_bags_past_their_use_by_are_listed_as_expired(demo_cli, clock):
    clock.advance(hours=8)
    rows = as_json(demo_cli.ok("bags", "--state", "expired", "--format", "json"))
    assert {r["patient_id"] for r in rows} == {"P-1002", "P-1003"}


def test_label_writes_a_pdf_and_the_second_print_is_a_reprint(demo_cli, tmp_path):
    serial = next(r["serial"] for r in as_json(demo_cli.ok("bags", "--format", "json")) if r["state"] == "stored")
    target = tmp_path / "label.pdf"
    result = demo_cli.ok("label", serial, "--user", "pharm", "-o", str(target))
    assert target.read_bytes().startswith(b"%PDF")
    assert f"{serial}: print 2 (reprint)" in result.stdout  # the demo printed the first one


@pytest.mark.hazard("H13")
def test_label_of_a_bag_awaiting_the_check_is_refused(demo_cli, tmp_path):
    serial = as_json(demo_cli.ok("bags", "--state", "awaiting_check", "--format", "json"))[0]["serial"]
    result = demo_cli.run("label", serial, "--user", "pharm", "-o", str(tmp_path / "no.pdf"))
    assert result.exit_code == 1 and "only a released bag gets a label" in result.stderr
    assert not (tmp_path / "no.pdf").exists()


def test_audit_verify_counts_the_entries_and_names_a_tampered_one(demo_cli):
    result = demo_cli.ok("audit", "verify")
    assert result.stdout.startswith("audit chain intact: ") and "entries checked" in result.stdout
    tamper(demo_cli.database, 17)
    broken = demo_cli.run("audit", "verify")
    assert broken.exit_code == 1
    assert "AUDIT CHAIN BROKEN at entry 17: entry 17 was changed after it was written" in broken.stderr
    assert "(16 entries before it are intact)" in broken.stderr


def test_backup_writes_a_copy_that_verifies_and_restore_brings_it_back(demo_cli, tmp_path):
    copy = tmp_path / "backups" / "pharmacy-backup.sqlite3"
    demo_cli.ok("backup", str(copy))
    with sqlite3.connect(copy) as backup:
        entries = backup.execute("SELECT count(*) FROM audit_entries").fetchone()[0]
        assert backup.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    backup.close()
    stock_at_backup = as_json(demo_cli.ok("stock", "list", "--format", "json"))
    demo_cli.ok("stock", "receive", SCAN, "--user", "tech")
    assert len(as_json(demo_cli.ok("stock", "list", "--format", "json"))) == len(stock_at_backup) + 1
    restored = demo_cli.ok("restore", str(copy))
    assert f"audit chain intact: {entries} entries checked" in restored.stdout
    assert as_json(demo_cli.ok("stock", "list", "--format", "json")) == stock_at_backup
    assert f"{entries} entries checked" in demo_cli.ok("audit", "verify").stdout
    assert copy.is_file()  # the backup itself is kept as it was


def test_backup_never_overwrites_a_file(demo_cli, tmp_path):
    target = tmp_path / "exists.sqlite3"
    target.write_bytes(b"keep me")
    result = demo_cli.run("backup", str(target))
    assert result.exit_code == 1 and "exists already" in result.stderr
    assert target.read_bytes() == b"keep me"


def test_restore_refuses_a_backup_whose_audit_chain_is_broken(demo_cli, tmp_path):
    copy = tmp_path / "tampered.sqlite3"
    demo_cli.ok("backup", str(copy))
    tamper(copy, 5)
    demo_cli.ok("stock", "receive", SCAN, "--user", "tech")
    result = demo_cli.run("restore", str(copy))
    assert result.exit_code == 1 and "audit chain is broken" in result.stderr and "not restored" in result.stderr
    assert "CLI0000001" in {r["serial"] for r in as_json(demo_cli.ok("stock", "list", "--format", "json"))}


def test_tokens_create_prints_a_token_that_identifies_the_user(demo_cli):
    token = demo_cli.ok("tokens", "create", "nurse", "--name", "ward 5 scanner").stdout.strip()
    assert len(token) >= 40
    pharmacy = base.build(config.load({"instance": demo_cli.instance, "timezone": "Europe/Brussels",
                                       "database_url": ""}, environ={}))
    try:
        assert users.user_for_token(pharmacy, token).username == "nurse"
    finally:
        pharmacy.db.dispose()


def test_tokens_for_an_unknown_user_are_refused(demo_cli):
    result = demo_cli.run("tokens", "create", "ghost", "--name", "x")
    assert result.exit_code == 1 and "ghost" in result.stderr
