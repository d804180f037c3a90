"""A full disk or a read-only database file: a clear message on the screen, never a stack trace,
and no half-written record. The full disk strikes half-way through the use case (SQLite's own
"database or disk is full" on the audit insert, after the vial row went in); the read-only file is
SQLite's ``query_only``."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event

from tests import factories
from tests.integration.records import counts
from tests.web.conftest import text


def _break_storage(pharmacy, fault: str) -> None:
    engine = pharmacy.db.engine
    if fault == "full":
        # the disk fills up in the middle of the use case: the vial row is in, its audit entry is not
        @event.listens_for(engine, "before_cursor_execute")
        def _full(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("INSERT INTO audit_entries"):
                raise sqlite3.OperationalError("database or disk is full")
    else:
        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA query_only = ON")  # as a file the process may not write

        engine.dispose()  # every connection from now on is a read-only one


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_storage_fault_shows_a_clear_message_and_records_nothing(signed_in, pharmacy, fault):
    if pharmacy.settings.database_url:
        pytest.skip("emulated with SQLite pragmas")
    tech = signed_in("tech")
    before = counts(pharmacy)
    _break_storage(pharmacy, fault)
    scan = factories.vial_scan("FULL000000001").replace(factories.GS, "<GS>")
    response = tech.post("/stock/receive", {"scan": scan})
    assert response.status_code == 503
    page = text(response)
    assert "The record could not be written" in page and "Nothing of this step was recorded" in page
    assert "Traceback" not in page and "sqlite3" not in page.lower()
    assert counts(pharmacy) == before
