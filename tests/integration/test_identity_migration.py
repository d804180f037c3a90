"""Revision 0008 (SAFETY.md H16): existing patient identifiers take the one spelling; two that become
the same are not merged: the upgrade stops, names them and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pharmacy.db import migrate
from pharmacy.services import base


@pytest.fixture
def at_0007(settings):
    pharmacy = base.build(settings)
    migrate.upgrade(pharmacy.db, "0007")
    yield pharmacy
    pharmacy.db.dispose()


def add_patients(pharmacy, *identifiers: str) -> None:
    with pharmacy.db.engine.begin() as connection:
        for identifier in identifiers:
            connection.execute(text("INSERT INTO patients (identifier, name, date_of_birth, ward) "
                                    "VALUES (:i, 'Ewa Nowak', '1985-02-03', 'Ward 5')"), {"i": identifier})


def identifiers(pharmacy) -> list[str]:
    with pharmacy.db.engine.connect() as connection:
        return list(connection.execute(text("SELECT identifier FROM patients ORDER BY id")).scalars())


@pytest.mark.hazard("H16")
def test_the_upgrade_normalises_the_identifiers_already_stored(at_0007):
    add_patients(at_0007, " h6-a ", "p 12", "Ｈ７-B", "H8")
    migrate.upgrade(at_0007.db)
    assert identifiers(at_0007) == ["H6-A", "P12", "H7-B", "H8"]
    assert migrate.differences(at_0007.db) == []


@pytest.mark.hazard("H16")
def test_two_stored_identifiers_that_become_one_stop_the_upgrade_and_nothing_is_merged(at_0007):
    add_patients(at_0007, "H6-A", "h6-a", "p 12")
    with pytest.raises(RuntimeError, match=r"nothing was changed.*H6-A: patient 1 “H6-A”, patient 2 “h6-a”"):
        migrate.upgrade(at_0007.db)
    assert identifiers(at_0007) == ["H6-A", "h6-a", "p 12"]
    with at_0007.db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
