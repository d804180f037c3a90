"""What a test asks of the records: how many rows each table holds, the refusals noted, the scanner
fixtures. Reads go through a read-only unit of work, as any report would."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import AuditEntry, Bag, DiluentLot, LabelPrint, Preparation, PreparationStep, Refusal, Vial

SCANS = Path(__file__).resolve().parent.parent / "fixtures" / "scans.tsv"
COUNTED = {"vials": Vial, "diluent_lots": DiluentLot, "audit": AuditEntry, "refusals": Refusal,
           "bags": Bag, "preparations": Preparation, "steps": PreparationStep, "label_prints": LabelPrint}


def counts(pharmacy) -> dict[str, int]:
    with pharmacy.uow(readonly=True) as uow:
        return {name: uow.session.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in COUNTED.items()}


def diluent_bags(pharmacy) -> int:
    """Diluent bags received (a lot counts every bag of it)."""
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.coalesce(func.sum(DiluentLot.received_count), 0))).scalar_one()


def last_refusal(pharmacy) -> Refusal:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(Refusal).order_by(Refusal.id.desc()).limit(1)).scalar_one()


def audit_entries(pharmacy, action: str | None = None) -> list[AuditEntry]:
    with pharmacy.uow(readonly=True) as uow:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(uow.session.execute(query).scalars())


def scans() -> dict[str, str]:
    """description → scan, with column 2 un-escaped (``\\x1d`` is GS)."""
    rows = {}
    for line in SCANS.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("description\t"):
            continue
        description, escaped = line.split("\t", 1)
        rows[description] = codecs.decode(escaped, "unicode_escape")
    return rows


def scan(description_start: str) -> str:
    """The one fixture scan whose description starts with these words."""
    found = [raw for description, raw in scans().items() if description.startswith(description_start)]
    assert len(found) == 1, f"{description_start!r} matches {len(found)} fixture rows"
    return found[0]


def refused(pharmacy, prep, error: type, call, *fragments: str):
    """``call()`` must raise ``error`` saying every fragment, record nothing but the note of the
    refusal (with the same code and message) and leave ``prep`` (a preparation, or None) as it was."""
    before = counts(pharmacy)
    with pytest.raises(error) as caught:
        call()
    for fragment in fragments:
        assert fragment in caught.value.message
    after = counts(pharmacy)
    assert {k: v for k, v in after.items() if k != "refusals"} == {k: v for k, v in before.items() if k != "refusals"}
    assert after["refusals"] == before["refusals"] + 1
    note = last_refusal(pharmacy)
    assert (note.code, note.message) == (error.code, caught.value.message)
    if prep is not None:
        with pharmacy.uow(readonly=True) as uow:
            now = uow.session.get(Preparation, prep.id)
            assert (now.state, now.version) == (prep.state, prep.version)
    return caught.value
