"""SQLite's writers queue on one lock across the server's processes (db/writelock.py, issue 18): while another
process writes, a writer here waits for it (and, past the time limit, gives up with nothing written); once the
other process is done, the write goes through. SQLite's own lock still guards the data: this lock orders the
writers so that the next one starts the moment the last one ends, instead of after SQLite's busy handler's sleep."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from pharmacy.db import database, engine
from pharmacy.db.writelock import WriteLock
from pharmacy.services import stock
from tests import factories
from tests.integration.records import counts

ROOT = Path(__file__).resolve().parents[2]


class OtherProcess:
    """Another process (a second server worker, a command) holding the writer lock of ``database_file``."""

    def __init__(self, database_file: str) -> None:
        script = textwrap.dedent(f"""
            import sys
            from pharmacy.db.writelock import WriteLock
            lock = WriteLock({database_file!r})
            assert lock.acquire(timeout=10)
            print("held", flush=True)
            sys.stdin.readline()
            lock.release()
            print("released", flush=True)
            sys.stdin.readline()
        """)
        self.process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "released"

    def end(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=10)  # waits for it and closes its pipes


def sqlite_file(pharmacy) -> str:
    if pharmacy.db.write_lock is None:
        pytest.skip("PostgreSQL locks rows, not the database: there is no writer lock")
    return pharmacy.db.url.split("///", 1)[-1]


def test_a_writer_waits_while_another_process_writes_and_goes_on_once_it_is_done(tmp_path):
    here = WriteLock(str(tmp_path / "pharmacy.sqlite3"))
    other = OtherProcess(str(tmp_path / "pharmacy.sqlite3"))
    try:
        assert here.acquire(timeout=0.2) is False  # the other process writes: not now
        other.release()
        assert here.acquire(timeout=10) is True
        here.release()
        assert here.acquire(timeout=0.2) is True  # released here too: the next writer is not kept out
        here.release()
    finally:
        other.end()


def test_a_process_that_ends_while_writing_leaves_no_lock_behind(tmp_path):
    other = OtherProcess(str(tmp_path / "pharmacy.sqlite3"))
    other.end()  # killed mid-write: the system drops its lock with the process
    here = WriteLock(str(tmp_path / "pharmacy.sqlite3"))
    assert here.acquire(timeout=5) is True
    here.release()


def test_a_receipt_while_another_process_holds_the_database_waits_and_then_records_nothing(pharmacy, monkeypatch):
    other = OtherProcess(sqlite_file(pharmacy))
    try:
        before = counts(pharmacy)
        monkeypatch.setattr(database, "LOCK_TIMEOUT", 0.3)
        with pytest.raises(OperationalError, match="waiting for the database"):
            stock.receive(pharmacy, "tech", factories.vial_scan("WAITED0001"))
        assert counts(pharmacy) == before
        other.release()
        assert stock.receive(pharmacy, "tech", factories.vial_scan("WAITED0001")).serial == "WAITED0001"
    finally:
        other.end()


def test_an_in_memory_database_has_only_the_process_lock():
    lock = WriteLock(None)
    assert lock.acquire(timeout=1) is True
    lock.release()
    assert engine.sqlite_file("sqlite:///:memory:") is None
    assert engine.sqlite_file("sqlite:////srv/pharmacy/pharmacy.sqlite3") == "/srv/pharmacy/pharmacy.sqlite3"
