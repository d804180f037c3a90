"""The tamper-evident audit trail (SPEC 3): every change of state is chained to the one before by
SHA-256; the database refuses UPDATE and DELETE; ``verify`` names the first entry that does not
match, whether a value was changed, an entry removed or the tail cut off; concurrent writers never
fork the chain."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from pharmacy.db import audit
from pharmacy.services import demo, setup, stock
from tests import factories
from tests.integration.records import audit_entries, counts

pytestmark = pytest.mark.hazard("H15")


def verified(pharmacy) -> audit.Verification:
    return setup.verify_audit(pharmacy)


@pytest.fixture
def behind_the_back(pharmacy):
    """What someone with a database shell could do: switch the append-only trigger off, then change
    the trail in raw SQL, on SQLite (drop the trigger) as on PostgreSQL (disable it)."""
    def tamper(trigger: str, statement: str) -> None:
        with pharmacy.db.engine.begin() as connection:
            if pharmacy.db.is_sqlite:
                connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
            else:
                connection.exec_driver_sql(f"ALTER TABLE audit_entries DISABLE TRIGGER {trigger}")
            connection.exec_driver_sql(statement)

    return tamper


@pytest.fixture
def demo_pharmacy(bare_pharmacy, clock):
    assert demo.seed(bare_pharmacy) is True
    return bare_pharmacy


def test_the_chain_verifies_after_the_full_demo_and_counts_every_entry(demo_pharmacy):
    result = verified(demo_pharmacy)
    assert result.ok, result.problem
    entries = audit_entries(demo_pharmacy)
    assert result.checked == len(entries) > 50
    assert [e.id for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:], strict=False))


def test_every_kind_of_change_in_the_demo_is_in_the_trail(demo_pharmacy):
    actions = {e.action for e in audit_entries(demo_pharmacy)}
    assert {"product.add", "user.add", "location.add", "stock.receive", "patient.add", "order.create",
            "order.verify", "prep.start", "prep.vial", "prep.sign", "bag.create", "bag.release", "label.print",
            "bag.store"} <= actions


def test_seeding_the_demo_twice_adds_no_entry(demo_pharmacy):
    before = counts(demo_pharmacy)
    assert demo.seed(demo_pharmacy) is False
    assert counts(demo_pharmacy) == before


def test_an_update_of_an_audit_entry_is_refused_by_the_database(pharmacy):
    with pytest.raises(DatabaseError, match="append-only"), pharmacy.db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET reason = 'tidied up' WHERE id = 2"))
    assert verified(pharmacy).ok


def test_a_delete_of_an_audit_entry_is_refused_by_the_database(pharmacy):
    last = audit_entries(pharmacy)[-1].id
    with pytest.raises(DatabaseError, match="append-only"), pharmacy.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": last})
    assert len(audit_entries(pharmacy)) == last
    assert verified(pharmacy).ok


def test_deleting_an_entry_through_the_orm_is_refused_too(pharmacy):
    with pharmacy.uow() as uow:
        entry = uow.session.get(audit.AuditEntry, 1)
        uow.session.delete(entry)
        with pytest.raises(DatabaseError, match="append-only"):
            uow.session.flush()


def test_a_value_changed_behind_the_applications_back_is_found_and_the_entry_named(pharmacy, behind_the_back):
    target = next(e for e in audit_entries(pharmacy) if e.action == "stock.receive" and e.object_type == "vial")
    behind_the_back("audit_entries_no_update",
                    f"UPDATE audit_entries SET new = replace(new, 'K123A', 'K999Z') WHERE id = {target.id}")
    result = verified(pharmacy)
    assert not result.ok
    assert result.first_bad_id == target.id and result.checked == target.id - 1
    assert f"entry {target.id} was changed" in result.problem


def test_a_changed_entry_whose_hash_was_recomputed_breaks_the_link_to_the_next_one(pharmacy, behind_the_back):
    entries = audit_entries(pharmacy)
    target = entries[4]
    forged_reason = "backdated"
    forged = audit.entry_hash(target.prev_hash, target.id, audit.canonical_time(target.at), target.username,
                              target.action, target.object_type, target.object_id, target.old_json, target.new_json,
                              forged_reason)
    behind_the_back("audit_entries_no_update",
                    f"UPDATE audit_entries SET reason = '{forged_reason}', hash = '{forged}' WHERE id = {target.id}")
    result = verified(pharmacy)
    assert not result.ok and result.first_bad_id == target.id + 1
    assert "does not chain" in result.problem


def test_an_entry_removed_from_the_middle_is_named_as_missing(pharmacy, behind_the_back):
    behind_the_back("audit_entries_no_delete", "DELETE FROM audit_entries WHERE id = 7")
    result = verified(pharmacy)
    assert (result.ok, result.first_bad_id, result.checked) == (False, 7, 6)
    assert "entry 7 is missing" in result.problem


def test_a_removed_tail_is_found_because_the_head_records_more_entries(pharmacy, behind_the_back):
    last = audit_entries(pharmacy)[-1].id
    behind_the_back("audit_entries_no_delete", f"DELETE FROM audit_entries WHERE id >= {last - 1}")
    result = verified(pharmacy)
    assert not result.ok
    assert result.first_bad_id == last - 1 and result.checked == last - 2
    assert "entries were removed" in result.problem


def test_concurrent_receipts_each_get_their_own_place_in_one_unforked_chain(pharmacy):
    writers = 12
    before = len(audit_entries(pharmacy))
    barrier = threading.Barrier(writers, timeout=30)
    errors: list[BaseException] = []

    def receive(n: int) -> None:
        try:
            barrier.wait()
            stock.receive(pharmacy, "tech", factories.vial_scan(f"CONC{n:08d}"))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=receive, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and errors == []
    entries = audit_entries(pharmacy)
    assert len(entries) == before + writers
    received = {e.new["serial"] for e in entries[before:]}
    assert received == {f"CONC{n:08d}" for n in range(writers)}
    result = verified(pharmacy)
    assert result.ok, result.problem
    assert result.checked == before + writers
