"""One use case, one transaction: a crash (any exception) in the middle of a use case leaves nothing
half-written — no row of the change and no audit entry — and the work can simply be done again."""

from __future__ import annotations

from datetime import date

import pytest

from pharmacy.db import audit
from pharmacy.db.models import Patient
from pharmacy.services import preparation, stock
from tests import factories
from tests.integration.records import counts


class Crash(RuntimeError):
    """Stands for anything that can go wrong half-way: a bug, a full disk, a killed process."""


def crash_on_audit_call(monkeypatch, number: int) -> list[int]:
    """Let ``audit.append`` run normally ``number - 1`` times (it flushes), then crash."""
    calls: list[int] = []
    real = audit.append

    def append(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise Crash("simulated crash while writing the audit entry")
        return real(*args, **kwargs)

    monkeypatch.setattr(audit, "append", append)
    return calls


def test_uncommitted_work_is_rolled_back_when_the_unit_of_work_ends(bare_pharmacy):
    with bare_pharmacy.uow() as uow:
        uow.session.add(Patient(identifier="P-X", name="Never Saved", date_of_birth=date(1980, 1, 1),
                                ward="Ward 1"))
        uow.session.flush()
    with bare_pharmacy.uow(readonly=True) as uow:
        assert uow.session.query(Patient).count() == 0


def test_a_crash_while_receiving_a_vial_leaves_no_vial_and_no_audit_entry(pharmacy, monkeypatch):
    before = counts(pharmacy)
    crash_on_audit_call(monkeypatch, 1)  # the vial row has been flushed by then
    with pytest.raises(Crash):
        stock.receive(pharmacy, "tech", factories.vial_scan("CRASH0001"))
    assert counts(pharmacy) == before
    monkeypatch.undo()
    assert stock.receive(pharmacy, "tech", factories.vial_scan("CRASH0001")).serial == "CRASH0001"


def test_a_crash_while_receiving_a_diluent_bag_leaves_the_lot_count_unchanged(pharmacy, monkeypatch):
    before = counts(pharmacy)
    lots = {row["lot"]: row["count"] for row in stock.list_stock(pharmacy) if row["kind"] == "diluent"}
    crash_on_audit_call(monkeypatch, 1)
    with pytest.raises(Crash):
        stock.receive(pharmacy, "tech", factories.NACL_SCAN)
    assert counts(pharmacy) == before
    assert {row["lot"]: row["count"] for row in stock.list_stock(pharmacy) if row["kind"] == "diluent"} == lots


def _mixed(pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    prep = factories.photograph(pharmacy, preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL"),
                                "syringe")
    return factories.photograph(pharmacy, preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version), "bag")


def test_a_crash_after_the_bag_and_its_audit_entry_were_flushed_rolls_back_the_whole_signature(pharmacy, monkeypatch):
    prep = _mixed(pharmacy)
    before = counts(pharmacy)
    calls = crash_on_audit_call(monkeypatch, 2)  # bag.create is written and flushed; prep.sign crashes
    with pytest.raises(Crash):
        preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    assert len(calls) == 2
    assert counts(pharmacy) == before  # no bag, no step, no audit entry
    after = preparation.get(pharmacy, prep.id)
    assert (after.state, after.version, after.signed_at) == ("mixed", prep.version, None)
    assert after.order.state == "in_preparation"
    monkeypatch.undo()
    bag = preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    assert bag.state == "awaiting_check"
    assert counts(pharmacy)["bags"] == before["bags"] + 1


def test_the_audit_chain_still_verifies_after_a_rolled_back_use_case(pharmacy, monkeypatch):
    crash_on_audit_call(monkeypatch, 1)
    with pytest.raises(Crash):
        stock.receive(pharmacy, "tech", factories.vial_scan("CRASH0002"))
    monkeypatch.undo()
    stock.receive(pharmacy, "tech", factories.vial_scan("CRASH0003"))
    with pharmacy.uow(readonly=True) as uow:
        result = audit.verify(uow.session)
    assert result.ok, result.problem
