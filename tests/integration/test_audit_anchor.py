"""The audit trail anchored outside the database (issue 13, point 8): what a database administrator
can do with write access to the database — drop the triggers, cut the tail and reset the head,
recompute the whole chain, edit a bag, vial or administration row — each named by
``pharmacy audit verify`` through the CLI, on SQLite and PostgreSQL; so is an anchor file that is
missing, edited, shortened or carries a line signed without the key."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text, update

from pharmacy.cli import main
from pharmacy.db import anchor, audit
from pharmacy.db.models import Bag
from pharmacy.domain.errors import PharmacyError
from pharmacy.services import administration, demo, stock
from tests import factories
from tests.conftest import ZONE
from tests.integration.records import audit_entries

pytestmark = pytest.mark.hazard("H15")


def verify(pharmacy, *options: str, env: dict[str, str] | None = None):
    """``pharmacy audit verify`` in-process against the test's instance folder and database."""
    runner = CliRunner(env={"PHARMACY_INSTANCE": str(pharmacy.settings.instance), "PHARMACY_TIMEZONE": ZONE,
                            "PHARMACY_DATABASE_URL": pharmacy.settings.database_url, **(env or {})})
    return runner.invoke(main, ["audit", "verify", *options], catch_exceptions=False)


def intact(pharmacy, *options: str):
    result = verify(pharmacy, *options)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit chain intact: ")
    return result


def broken(pharmacy, *options: str) -> str:
    result = verify(pharmacy, *options)
    assert result.exit_code == 1, result.output
    return result.stderr


def behind_the_back(pharmacy, *statements: str) -> None:
    """A database shell: the append-only triggers off (dropped on SQLite, disabled on PostgreSQL), then raw SQL."""
    with pharmacy.db.engine.begin() as connection:
        for trigger in ("audit_entries_no_update", "audit_entries_no_delete"):
            if pharmacy.db.is_sqlite:
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            else:
                connection.exec_driver_sql(f"ALTER TABLE audit_entries DISABLE TRIGGER {trigger}")
        for statement in statements:
            connection.execute(text(statement))


def chain_alone(pharmacy) -> audit.Verification:
    """What the chain walk by itself says (no anchors): the attacker's view."""
    with pharmacy.uow(readonly=True) as uow:
        return audit.verify(uow.session)


def anchors_file(pharmacy):
    return pharmacy.settings.instance / anchor.ANCHOR_FILE


@pytest.fixture
def given(pharmacy, clock):
    """The stocked pharmacy with one bag released and given (started, then ended 4 h later), one
    released and still in the pharmacy: bags, vials and an administration to replay."""
    first = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    second = factories.released_bag(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Bruno Other"))
    factories.start_infusion(pharmacy, first.serial, "P-1")
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", first.serial)
    pharmacy.given_serial, pharmacy.kept_serial = first.serial, second.serial
    return pharmacy


def test_every_commit_that_audits_anchors_the_head_in_a_signed_line_with_a_private_key_file(given):
    entries = audit_entries(given)
    lines = [json.loads(line) for line in anchors_file(given).read_text().splitlines()]
    assert lines[-1]["seq"] == entries[-1].id and lines[-1]["hash"] == entries[-1].hash
    assert {line["kind"] for line in lines} == {"head"}
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    key = given.settings.instance / anchor.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (given.settings.instance / "audit-anchor.pub").is_file()
    assert b"PRIVATE" not in (given.settings.instance / "audit-anchor.pub").read_bytes()


def test_the_untouched_trail_verifies_with_its_anchors_and_replayed_state(given):
    result = intact(given)
    entries = len(audit_entries(given))
    assert f"audit chain intact: {entries} entries checked ({entries} in all)" in result.stdout
    assert "anchors outside the database agree" in result.stdout and f"latest entry {entries}" in result.stdout
    assert "state replayed: 2 bags, 6 vials, 1 administrations match the audit trail" in result.stdout
    assert f"checkpoint written at entry {entries}" in result.stdout


def test_the_untouched_demo_database_verifies_intact(bare_pharmacy, clock):
    assert demo.seed(bare_pharmacy) is True
    result = intact(bare_pharmacy)
    assert "anchors outside the database agree" in result.stdout and "match the audit trail" in result.stdout
    assert result.stderr.count("warning") == 0
    assert "0 entries checked since the checkpoint" in intact(bare_pharmacy, "--since-checkpoint").stdout


def test_an_entry_edited_after_the_triggers_were_dropped_is_named(given):
    target = next(e for e in audit_entries(given) if e.action == "administration.end")
    behind_the_back(given, f"UPDATE audit_entries SET username = 'pharm' WHERE id = {target.id}")
    assert f"AUDIT CHAIN BROKEN at entry {target.id}: entry {target.id} was changed after it was written" in broken(given)


def test_a_cut_tail_with_the_head_reset_to_match_is_named_by_the_anchor(given):
    entries = audit_entries(given)
    keep = entries[-4]
    behind_the_back(given, f"DELETE FROM audit_entries WHERE id > {keep.id}",
                    f"UPDATE audit_head SET last_id = {keep.id}, last_hash = '{keep.hash}'")
    assert chain_alone(given).ok  # the chain alone looks whole
    stderr = broken(given)
    assert (f"ANCHOR: entries {keep.id + 1}–{entries[-1].id} were cut from the tail" in stderr
            and f"records entry {entries[-1].id}, the chain ends at entry {keep.id} and the head row was reset" in stderr)


def rehash_from(pharmacy, first_id: int, **changes: str) -> None:
    """The attacker who knows the hash function: change entry ``first_id`` and recompute it and
    every later entry with ``audit.entry_hash``, then the head, so the chain is consistent again."""
    entries = audit_entries(pharmacy)
    previous = next(e.hash for e in entries if e.id == first_id - 1) if first_id > 1 else audit.GENESIS
    statements = []
    for entry in (e for e in entries if e.id >= first_id):
        reason = changes.get("reason", entry.reason) if entry.id == first_id else entry.reason
        digest = audit.entry_hash(previous, entry.id, audit.canonical_time(entry.at), entry.username, entry.action,
                                  entry.object_type, entry.object_id, entry.old_json, entry.new_json, reason)
        quoted = "NULL" if reason is None else "'" + reason.replace("'", "''") + "'"
        statements.append(f"UPDATE audit_entries SET reason = {quoted}, prev_hash = '{previous}', hash = '{digest}' "
                          f"WHERE id = {entry.id}")
        previous = digest
    statements.append(f"UPDATE audit_head SET last_hash = '{previous}'")
    behind_the_back(pharmacy, *statements)


def test_a_chain_recomputed_consistently_from_an_edited_entry_is_named_by_the_anchor(given):
    target = next(e for e in audit_entries(given) if e.action == "administration.end")
    rehash_from(given, target.id, reason="ended at the patient's request")
    assert chain_alone(given).ok  # consistent again inside the database
    stderr = broken(given)
    assert f"ANCHOR: the chain was recomputed: entry {target.id}'s hash is not the one anchored" in stderr


def test_the_whole_chain_recomputed_from_the_first_entry_is_named(given):
    rehash_from(given, 1, reason="rewritten")
    assert "ANCHOR: the chain was recomputed: entry 1's hash is not the one anchored" in broken(given)


def test_a_deleted_anchor_file_is_named(given):
    anchors_file(given).unlink()
    stderr = broken(given)
    assert f"ANCHOR FILE {anchors_file(given)} is missing" in stderr


def test_an_edited_anchor_line_is_named_by_its_line_number(given):
    path = anchors_file(given)
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["hash"] = "0" * 64
    lines[2] = json.dumps(record, sort_keys=True) + "\n"
    path.write_text("".join(lines))
    assert f"{anchor.ANCHOR_FILE} line 3 has a bad signature" in broken(given)


def test_an_anchor_line_forged_without_the_key_is_named(given):
    """The attacker cuts the tail and writes an anchor for the new head, signed with a key of their own."""
    entries = audit_entries(given)
    keep = entries[-3]
    behind_the_back(given, f"DELETE FROM audit_entries WHERE id > {keep.id}",
                    f"UPDATE audit_head SET last_id = {keep.id}, last_hash = '{keep.hash}'")
    forged = anchor.signed_line(Ed25519PrivateKey.generate(), {"v": 1, "kind": "restore", "seq": keep.id,
                                                                "hash": keep.hash, "written": "2026-11-20T13:00:00.000000Z"})
    anchor.append_line(anchors_file(given), forged)
    unsigned = json.dumps({"v": 1, "kind": "restore", "seq": keep.id, "hash": keep.hash}) + "\n"
    anchor.append_line(anchors_file(given), unsigned.encode())
    stderr = broken(given)
    count = len(anchors_file(given).read_text().splitlines())
    assert f"line {count - 1} has a bad signature: it was edited, or written without the anchor key" in stderr
    assert f"line {count} is not a signed anchor" in stderr
    assert f"entries {keep.id + 1}–{entries[-1].id} were cut from the tail" in stderr


def test_a_bags_use_by_changed_directly_is_named(given, clock):
    later = clock.now + timedelta(days=1)
    with given.db.engine.begin() as connection:  # raw UPDATE, no service, no audit entry
        connection.execute(update(Bag).where(Bag.serial == given.kept_serial).values(use_by=later))
    stderr = broken(given)
    assert (f"STATE bag {given.kept_serial}: use_by is {audit.canonical_time(later)} in the database but the audit "
            "trail says ") in stderr and "(changed directly in the database)" in stderr


def test_a_vials_state_changed_directly_is_named(given):
    serial = given.vial_serials[5]  # never used: received
    behind_the_back(given, f"UPDATE vials SET state = 'used' WHERE serial = '{serial}'")
    assert (f"STATE vial serial {serial}: state is used in the database but the audit trail says received"
            in broken(given))


def test_an_administrations_end_time_changed_directly_is_named(given, clock):
    behind_the_back(given, "UPDATE administrations SET ended_at = started_at")
    stderr = broken(given)
    assert f"STATE administration of bag {given.given_serial}: ended_at is " in stderr
    assert f"but the audit trail says {audit.canonical_time(clock.now)}" in stderr


def test_a_bag_inserted_or_deleted_directly_is_named(given):
    behind_the_back(given, f"UPDATE bags SET serial = 'BAG9999999' WHERE serial = '{given.kept_serial}'")
    stderr = broken(given)
    assert f"STATE bag BAG9999999: serial is BAG9999999 in the database but the audit trail says {given.kept_serial}" in stderr


def test_a_failed_anchor_write_keeps_the_change_and_the_next_anchor_covers_it(given, clock, monkeypatch, caplog):
    real = anchor.append_line
    monkeypatch.setattr(anchor, "append_line", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with caplog.at_level(logging.CRITICAL):
        stock.receive(given, "tech", factories.vial_scan("GAP0000001"))
    assert "AUDIT ANCHOR NOT WRITTEN" in caplog.text
    assert "GAP0000001" in {v["serial"] for v in stock.list_stock(given)}  # the receipt is kept
    missed = audit_entries(given)[-1].id
    monkeypatch.setattr(anchor, "append_line", real)
    clock.advance(minutes=2)
    warned = verify(given)
    assert warned.exit_code == 0 and f"entries {missed}–{missed} (from " in warned.stderr
    assert "are not anchored yet" in warned.stderr
    clock.advance(minutes=3)
    stock.receive(given, "tech", factories.vial_scan("GAP0000002"))
    result = intact(given, "--full")
    assert f"anchor gap: entries {missed}–{missed} (from " in result.stderr
    assert "were not anchored by the commit that wrote them" in result.stderr
    assert f"entries {missed + 1}" not in result.stderr  # the next commit's own entry is anchored
    assert verify(given, "--strict").exit_code == 1


def test_an_entry_appended_in_the_database_directly_is_named_as_not_anchored_by_its_commit(given, clock):
    """The hash function has no key: a DBA can append a well-formed entry at the tail. No commit's
    anchor names it as its own, so verify points at it once the next commit has anchored over it."""
    last = audit_entries(given)[-1]
    at = audit.canonical_time(clock.now)
    new = audit.json_text({"state": "destroyed"})
    digest = audit.entry_hash(last.hash, last.id + 1, at, "pharm", "bag.dispose", "bag", "2", None, new, "broken")
    stored = at.replace("T", " ").replace("Z", "+00:00")
    with given.db.engine.begin() as connection:
        connection.execute(text("INSERT INTO audit_entries (id, at, username, action, object_type, object_id, old, new, "
                                "reason, prev_hash, hash) VALUES (:id, :at, 'pharm', 'bag.dispose', 'bag', '2', NULL, "
                                ":new, 'broken', :prev, :hash)"),
                           {"id": last.id + 1, "at": stored if given.db.is_sqlite else clock.now, "new": new,
                            "prev": last.hash, "hash": digest})
        connection.execute(text("UPDATE audit_head SET last_id = :id, last_hash = :hash"),
                           {"id": last.id + 1, "hash": digest})
    stock.receive(given, "tech", factories.vial_scan("APP0000001"))
    result = verify(given)
    assert f"anchor gap: entries {last.id + 1}–{last.id + 1}" in result.stderr
    assert "appended in the database directly" in result.stderr
    assert verify(given, "--strict").exit_code == 1
    # the forged disposal says bag 2 is destroyed; its row says otherwise: the replay names that too
    assert result.exit_code == 1 and "STATE bag " in result.stderr and "audit trail says destroyed" in result.stderr


def test_since_checkpoint_hashes_only_the_new_entries_and_still_names_tampering(given):
    first = intact(given)
    end = len(audit_entries(given))
    assert f"checkpoint written at entry {end}" in first.stdout
    stock.receive(given, "tech", factories.vial_scan("INC0000001"))
    result = intact(given, "--since-checkpoint")
    assert f"audit chain intact: 1 entries checked since the checkpoint at entry {end} ({end + 1} in all)" in result.stdout
    assert "2 bags, 7 vials, 1 administrations match" in result.stdout  # the state replayed from the snapshot
    behind_the_back(given, f"UPDATE bags SET state = 'stored' WHERE serial = '{given.kept_serial}'")
    assert f"STATE bag {given.kept_serial}: state is stored in the database" in broken(given, "--since-checkpoint")


def test_since_checkpoint_names_a_chain_recomputed_before_the_checkpoint(given):
    intact(given)
    rehash_from(given, 3, reason="rewritten")
    assert "the chain was recomputed" in broken(given, "--since-checkpoint")


def test_since_checkpoint_names_an_anchor_file_shortened_or_a_snapshot_edited(given):
    intact(given)
    path = anchors_file(given)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))
    assert "are not the ones the last checkpoint sealed" in broken(given, "--since-checkpoint")
    path.write_text("".join(lines))
    intact(given, "--since-checkpoint")
    snapshot = given.settings.instance / anchor.STATE_FILE
    snapshot.write_text(snapshot.read_text().replace('"released"', '"stored"'))
    assert "is not the one the last checkpoint sealed" in broken(given, "--since-checkpoint")


def test_anchors_go_to_syslog_too_when_configured(pharmacy):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        port = server.getsockname()[1]
        runner = CliRunner(env={"PHARMACY_INSTANCE": str(pharmacy.settings.instance), "PHARMACY_TIMEZONE": ZONE,
                                "PHARMACY_DATABASE_URL": pharmacy.settings.database_url,
                                "PHARMACY_AUDIT_SYSLOG": f"127.0.0.1:{port}"})
        done = runner.invoke(main, ["stock", "receive", factories.vial_scan("SYS0000001"), "--user", "tech"],
                             catch_exceptions=False)
        assert done.exit_code == 0, done.output
        message = server.recv(65536).decode()
    last = audit_entries(pharmacy)[-1]
    assert "pharmacy-audit-anchor: " in message
    line = json.loads(message.split("pharmacy-audit-anchor: ", 1)[1].rstrip("\x00"))
    assert (line["seq"], line["hash"]) == (last.id, last.hash) and line["sig"]


def test_a_configured_key_path_is_used_and_its_public_key_put_beside_it(pharmacy, tmp_path):
    key = tmp_path / "keys" / "anchor.key"
    runner = CliRunner(env={"PHARMACY_INSTANCE": str(pharmacy.settings.instance), "PHARMACY_TIMEZONE": ZONE,
                            "PHARMACY_DATABASE_URL": pharmacy.settings.database_url, "PHARMACY_AUDIT_KEY": str(key)})
    done = runner.invoke(main, ["stock", "receive", factories.vial_scan("KEY0000001"), "--user", "tech"],
                         catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and (tmp_path / "keys" / "anchor.pub").is_file()
    # the lines before were signed by the instance's own key: with this key they do not verify
    result = runner.invoke(main, ["audit", "verify"], catch_exceptions=False)
    assert result.exit_code == 1 and "has a bad signature" in result.stderr


def test_a_refused_use_case_anchors_nothing_it_rolled_back(pharmacy):
    with pytest.raises(PharmacyError, match="already known"):
        stock.receive(pharmacy, "tech", factories.vial_scan(pharmacy.vial_serials[0]))
    last = audit_entries(pharmacy)[-1].id
    assert max(json.loads(line)["seq"] for line in anchors_file(pharmacy).read_text().splitlines()) == last
    intact(pharmacy)


WORKER = """
import sys
from pharmacy import config
from pharmacy.services import base, stock
from tests import factories
pharmacy = base.build(config.load())
for n in range(int(sys.argv[2])):
    stock.receive(pharmacy, "tech", factories.vial_scan(f"{sys.argv[1]}{n:05d}"))
"""


def test_several_processes_append_whole_signed_lines_to_one_anchor_file(pharmacy):
    """Three app processes commit at once: every line is whole and signed, one per commit, and the
    trail verifies against them (O_APPEND + flock)."""
    before = len(anchors_file(pharmacy).read_text().splitlines())
    env = {**os.environ, "PHARMACY_INSTANCE": str(pharmacy.settings.instance), "PHARMACY_TIMEZONE": ZONE,
           "PHARMACY_DATABASE_URL": pharmacy.settings.database_url}
    root = Path(__file__).resolve().parents[2]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, f"MP{w}", "8"], env=env, cwd=root)
               for w in range(3)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    lines = anchors_file(pharmacy).read_text().splitlines()
    assert len(lines) == before + 24
    new = sorted(json.loads(line)["seq"] for line in lines[before:])
    assert new == list(range(new[0], new[0] + 24))
    result = intact(pharmacy)
    assert f"{len(lines)} signed line(s) checked" in result.stdout
