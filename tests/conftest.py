"""Each test gets its own database: a fresh SQLite file, or — when PHARMACY_DATABASE_URL points at a
PostgreSQL server (CI's second run) — an emptied schema on it. "Now" is frozen by the ``clock``
fixture unless a test moves it."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, make_url, text

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


TEMPLATE_DATABASE = "pharmacy_template"


def _recreate_postgres(url: str, template: str | None = None) -> None:
    """The test's database dropped (its connections ended) and made again: empty, or a copy of ``template``."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{target.database}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One migrated pharmacy per run (``setup.init_db``: the migrations and the catalogue's product rows, with
    their audit entries and the anchors of those in the instance folder); each test's database starts as a
    copy of it — a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL — instead of running
    the migrations again (about 0.25 s a test on SQLite, 0.6 s on PostgreSQL)."""
    instance = tmp_path_factory.mktemp("template") / "instance"
    url = os.environ.get("PHARMACY_DATABASE_URL", "")
    template_url = ""
    if url:
        template_url = make_url(url).set(database=TEMPLATE_DATABASE).render_as_string(hide_password=False)
        _recreate_postgres(template_url)
    pharmacy = base.build(config.load({"instance": instance, "timezone": ZONE, "database_url": template_url,
                                       "secret_key": "test-secret-key"}, environ={}))
    setup.init_db(pharmacy)
    pharmacy.db.dispose()
    return instance


@pytest.fixture
def settings(tmp_path):
    url = os.environ.get("PHARMACY_DATABASE_URL", "")
    if url:
        _recreate_postgres(url)  # an empty database, as a fresh installation has
    return config.load({"instance": tmp_path / "instance", "timezone": ZONE, "database_url": url,
                        "secret_key": "test-secret-key"}, environ={})


@pytest.fixture
def bare_pharmacy(settings, migrated_template):
    """A migrated, empty pharmacy: a copy of the run's migrated template (the same as ``setup.init_db`` on an
    empty database gives); ``init_db`` runs on the copy only where the test put its own catalogue."""
    template_on_sqlite = (migrated_template / "pharmacy.sqlite3").is_file()
    copied = bool(settings.database_url) or template_on_sqlite  # a test may ask for SQLite on a PostgreSQL run
    if settings.database_url:
        _recreate_postgres(settings.database_url, TEMPLATE_DATABASE)
    if copied:
        shutil.copytree(migrated_template, settings.instance, dirs_exist_ok=True,
                        ignore=None if template_on_sqlite else shutil.ignore_patterns("pharmacy.sqlite3*"))
    pharmacy = base.build(settings)
    if not copied or (settings.instance / "catalog").is_dir():
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
