"""Each test gets its own database: a fresh SQLite file, or — when PHARMACY_DATABASE_URL points at a
PostgreSQL server (CI's second run) — an emptied schema on it. "Now" is frozen by the ``clock``
fixture unless a test moves it."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from pharmacy import clock as clock_module
from pharmacy import config
from pharmacy.services import base, setup, users
from tests import factories

pytest_plugins = ["tests.safety_plugin"]  # @pytest.mark.hazard and --safety-report (SAFETY.md)

ZONE = "Europe/Brussels"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """argon2id still, at its lowest cost: the production parameters take ~0.1 s a hash, and every
    test pharmacy has seven users. (tests/unit/test_password_hashing checks the production ones.)"""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class Clock:
    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        self.now = moment
        clock_module.set_now(moment)

    def advance(self, **kwargs) -> datetime:
        self.set(self.now + timedelta(**kwargs))
        return self.now


@pytest.fixture
def clock():
    controller = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo(ZONE)))
    yield controller
    clock_module.set_now(None)


def _fresh_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def settings(tmp_path):
    url = os.environ.get("PHARMACY_DATABASE_URL", "")
    if url:
        _fresh_postgres(url)
    return config.load({"instance": tmp_path / "instance", "timezone": ZONE, "database_url": url,
                        "secret_key": "test-secret-key"}, environ={})


@pytest.fixture
def bare_pharmacy(settings):
    """A migrated, empty pharmacy."""
    pharmacy = base.build(settings)
    setup.init_db(pharmacy)
    yield pharmacy
    pharmacy.db.dispose()


@pytest.fixture
def pharmacy(bare_pharmacy, clock):
    """Users of every role (see ``factories.PASSWORDS``), vials, diluent lots and a fridge."""
    factories.add_users(bare_pharmacy)
    bare_pharmacy.vial_serials = factories.stock_up(bare_pharmacy)
    return bare_pharmacy


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
