"""A single-use vial (SmPC 6.6) goes into one bag only, even when two technicians scan the same
serial at the same moment: the write lock (BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL) lets
one of them through and the other is told, and the unique vial link in the database backs it up."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pharmacy.db.models import Preparation, Vial
from pharmacy.domain.errors import StateConflict
from pharmacy.services import preparation
from tests import factories
from tests.integration.records import audit_entries

pytestmark = pytest.mark.hazard("H10")


def _started(pharmacy, patient_id: str, preparer: str) -> Preparation:
    order = factories.verified_order(pharmacy, factories.patient(patient_id, f"Patient {patient_id}"))
    return preparation.start(pharmacy, preparer, order.id)


def test_two_technicians_scanning_the_same_vial_at_once_get_it_for_one_bag_only(pharmacy):
    first, second = _started(pharmacy, "P-1", "tech"), _started(pharmacy, "P-2", "tech2")
    serial = pharmacy.vial_serials[0]
    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def scan(preparer: str, prep: Preparation) -> None:
        try:
            barrier.wait()
            outcomes[preparer] = preparation.scan_vial(pharmacy, preparer, prep.id, prep.version,
                                                       factories.vial_scan(serial))
        except Exception as error:  # noqa: BLE001 - judged below
            outcomes[preparer] = error

    threads = [threading.Thread(target=scan, args=args) for args in (("tech", first), ("tech2", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refused = [o for o in outcomes.values() if isinstance(o, Exception)]
    scanned = [o for o in outcomes.values() if isinstance(o, Preparation)]
    assert len(scanned) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], StateConflict)
    assert f"Vial serial {serial} is in use: a vial is used once only" in refused[0].message
    with pharmacy.uow(readonly=True) as uow:
        vial = uow.session.execute(select(Vial).where(Vial.serial == serial)).scalar_one()
        linked = uow.session.execute(select(Preparation.id).where(Preparation.vial_id == vial.id)).scalars().all()
        loser = uow.session.get(Preparation, ({first.id, second.id} - {scanned[0].id}).pop())
    assert vial.state == "in_use" and linked == [scanned[0].id]
    assert (loser.state, loser.version, loser.vial_id) == ("started", 1, None)
    assert len(audit_entries(pharmacy, "prep.vial")) == 1


def test_the_refused_technician_can_go_on_with_another_vial(pharmacy):
    first, second = _started(pharmacy, "P-1", "tech"), _started(pharmacy, "P-2", "tech2")
    preparation.scan_vial(pharmacy, "tech", first.id, first.version, factories.vial_scan(pharmacy.vial_serials[0]))
    with pytest.raises(StateConflict):
        preparation.scan_vial(pharmacy, "tech2", second.id, second.version, factories.vial_scan(pharmacy.vial_serials[0]))
    again = preparation.scan_vial(pharmacy, "tech2", second.id, second.version, factories.vial_scan(pharmacy.vial_serials[1]))
    assert again.state == "vial_scanned"


def test_a_vial_used_in_a_released_bag_is_refused_for_the_next_preparation(pharmacy):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    prep = _started(pharmacy, "P-2", "tech")
    with pytest.raises(StateConflict, match="is used: a vial is used once only"):
        preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))


def test_the_database_itself_refuses_one_vial_linked_to_two_preparations(pharmacy):
    first, second = _started(pharmacy, "P-1", "tech"), _started(pharmacy, "P-2", "tech2")
    preparation.scan_vial(pharmacy, "tech", first.id, first.version, factories.vial_scan(pharmacy.vial_serials[0]))
    with pharmacy.uow() as uow:
        vial_id = uow.session.get(Preparation, first.id).vial_id
        uow.session.get(Preparation, second.id).vial_id = vial_id
        with pytest.raises(IntegrityError):
            uow.session.flush()
