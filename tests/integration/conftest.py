"""Integration fixtures: cheap password hashing (argon2id still, at the lowest cost: the production
parameters cost ~0.1 s per hash, and every pharmacy has seven users) and the SQLite file for the
few tests that reach under the application."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from pharmacy.services import users


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def sqlite_file(bare_pharmacy):
    """The path of the pharmacy's SQLite file (skips on PostgreSQL, where the tests say so)."""
    if not bare_pharmacy.db.is_sqlite:
        pytest.skip("reaches into the SQLite file")
    return bare_pharmacy.db.url.split("///", 1)[1]
