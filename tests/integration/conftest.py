"""Integration fixtures: the SQLite file for the few tests that reach under the application."""

from __future__ import annotations

import pytest


@pytest.fixture
def sqlite_file(bare_pharmacy):
    """The path of the pharmacy's SQLite file (skips on PostgreSQL, where the tests say so)."""
    if not bare_pharmacy.db.is_sqlite:
        pytest.skip("reaches into the SQLite file")
    return bare_pharmacy.db.url.split("///", 1)[1]
