"""The database as the pharmacy's record: migrations that match the models, SQLite in WAL mode with
foreign keys enforced, and times that are UTC on the way in and aware UTC on the way out."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from pharmacy.db import migrate
from pharmacy.db.models import User, Vial
from pharmacy.services import demo, stock
from tests import factories


def test_the_migrations_create_exactly_the_schema_the_models_describe(bare_pharmacy):
    assert migrate.differences(bare_pharmacy.db) == []


def test_upgrading_an_up_to_date_database_again_changes_nothing(bare_pharmacy):
    migrate.upgrade(bare_pharmacy.db)
    assert migrate.differences(bare_pharmacy.db) == []


def test_the_sqlite_file_runs_in_wal_mode_with_foreign_keys_on(bare_pharmacy, sqlite_file):
    with bare_pharmacy.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with sqlite3.connect(sqlite_file) as outside:  # WAL is a property of the file, not of one connection
        assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_row_pointing_at_a_missing_user_is_refused_by_the_database(pharmacy):
    with pharmacy.uow() as uow:
        uow.session.add(Vial(product_id="lemtrada", gtin=demo.VIAL_GTIN, serial="ORPHAN1", lot="L1",
                             expiry=datetime(2028, 1, 1).date(), state="received", received_by=9999))
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_times_are_stored_as_utc_and_come_back_aware_in_utc(pharmacy, clock):
    receipt = stock.receive(pharmacy, "tech", factories.vial_scan("TIME0001"))
    with pharmacy.uow(readonly=True) as uow:
        vial = uow.session.get(Vial, receipt.id)
        stored = uow.session.execute(text("SELECT received_at FROM vials WHERE id = :id"), {"id": receipt.id}).scalar()
    assert vial.received_at.tzinfo is not None and vial.received_at.utcoffset().total_seconds() == 0
    # 09:00 in Brussels on 20 November (CET, UTC+1) is 08:00 UTC
    assert vial.received_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    if pharmacy.db.is_sqlite:
        assert str(stored).startswith("2026-11-20 08:00:00")


def test_a_time_in_another_zone_is_converted_to_utc_before_it_is_stored(pharmacy):
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))  # CEST, UTC+2
    with pharmacy.uow() as uow:
        user = uow.session.execute(select(User).where(User.username == "nurse")).scalar_one()
        user.locked_until = summer
        uow.commit()
    with pharmacy.uow(readonly=True) as uow:
        back = uow.session.execute(select(User.locked_until).where(User.username == "nurse")).scalar_one()
    assert back == datetime(2026, 7, 1, 10, 0, tzinfo=UTC) and back.tzinfo == UTC


def test_a_naive_datetime_is_refused_by_the_column_type_and_nothing_is_written(pharmacy):
    with pharmacy.uow(readonly=True) as uow:
        before = uow.session.execute(select(func.count()).select_from(User)).scalar_one()
    with pharmacy.uow() as uow:
        uow.session.add(User(username="naive", full_name="Naive Time", role="nurse", password_hash="x",
                             created_at=datetime(2026, 11, 20, 9, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            uow.session.flush()
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(func.count()).select_from(User)).scalar_one() == before
