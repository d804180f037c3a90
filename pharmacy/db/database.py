"""Engine, sessions and the unit of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on, and every writing transaction
starts with BEGIN IMMEDIATE: the write lock is taken before anything is read, so two use cases
cannot read the same free vial or the same audit head and both act on it. On PostgreSQL the audit
head row is locked with SELECT … FOR UPDATE for the same effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from pharmacy.db.engine import LOCK_TIMEOUT, make_engine, sqlite_file
from pharmacy.db.writelock import WriteLock

log = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # a read-only session never flushes: an object a caller changed in memory (for a page) stays unwritten, and a
        # request's shared reads (shared_reads) never send an UPDATE inside their read transaction
        self._readonly = sessionmaker(
            self.engine.execution_options(readonly=True), expire_on_commit=False, autoflush=False
        )
        # SQLite has one writer at a time: writers queue on a lock that the next one gets the moment the last
        # commits, within this process and across processes (db/writelock.py), not on SQLite's busy handler,
        # which polls with sleeps of up to 100 ms (under load, most of a write's time)
        self.write_lock = WriteLock(sqlite_file(url)) if self.is_sqlite else None
        # Called after every commit that appended audit entries: its first entry, the new head (id, hash, time);
        # db/anchor.py writes it outside the database. It runs after the commit, so it cannot undo it.
        self.on_audit_commit: Callable[[int, int, str, datetime], None] | None = None
        event.listen(self._sessions, "after_commit", self._after_commit)
        event.listen(self._sessions, "after_soft_rollback", _forget_audit_head)

    def _after_commit(self, session: Session) -> None:
        head = session.info.pop("audit_head", None)
        if head is not None and self.on_audit_commit is not None:
            try:
                self.on_audit_commit(*head)
            except Exception:  # the clinical change is committed: never lose it for its anchor
                log.exception("audit anchor for entry %s was not written; the next commit's anchor covers it", head[1])

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self, readonly: bool = False) -> Session:
        return (self._readonly if readonly else self._sessions)()

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Within this block (one web request), the read-only units of work share one session, opened at the
        first read and closed at the end, instead of each opening its own (a page makes 5 to 10 reads: issue 18).
        A writing unit of work ends the shared one first, so a read after a write always sees it."""
        shared = _Shared(self)
        token = _SHARED.set(shared)
        try:
            yield
        finally:
            shared.close()
            _SHARED.reset(token)

    def _shared_session(self) -> Session | None:
        """The read session shared within ``shared_reads``, opened if need be; None outside one."""
        shared = _SHARED.get()
        if shared is None or shared.db is not self:
            return None
        if shared.session is None:
            shared.session = self.session(readonly=True)
        return shared.session

    def _end_shared_reads(self) -> None:
        shared = _SHARED.get()
        if shared is not None and shared.db is self:
            shared.close()

    def dispose(self) -> None:
        self.engine.dispose()


class _Shared:
    """The read session of one ``shared_reads`` block (None until the first read)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.session: Session | None = None

    def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            session.close()


_SHARED: ContextVar[_Shared | None] = ContextVar("pharmacy_shared_reads", default=None)


def plain(session: Session, statement: Executable, params: Mapping[str, object] | None = None) -> CursorResult[Any]:
    """A statement built once (at module level, its values as ``bindparam``) run on the session's connection:
    plain rows, without the ORM's work on the way (issue 18: 0.1 ms, where building a statement and running it
    through the session is 0.6 ms). What the session holds unwritten is flushed first, as its autoflush would."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(statement, params or {})


def _forget_audit_head(session: Session, _previous: object) -> None:
    """A rolled-back transaction's audit entries are gone: nothing to anchor."""
    session.info.pop("audit_head", None)


class UnitOfWork:
    """One use case, one transaction: ``commit()`` explicitly; leaving the block without it (or
    with an exception) rolls everything back, audit entries included."""

    def __init__(self, db: Database, readonly: bool = False) -> None:
        self.db = db
        self.readonly = readonly

    def __enter__(self) -> UnitOfWork:
        self._shared = False
        if self.readonly:
            shared = self.db._shared_session()
            if shared is not None:  # one web request's reads share one session (Database.shared_reads)
                self._shared, self._lock, self.session = True, None, shared
                return self
        else:
            self.db._end_shared_reads()  # a read after this write must see it: a new read session then
        self._lock = None if self.readonly else self.db.write_lock
        if self._lock is not None and not self._lock.acquire(timeout=LOCK_TIMEOUT):
            raise OperationalError("waiting for the database", {}, TimeoutError("another writer held the lock"))
        self.session = self.db.session(readonly=self.readonly)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._shared:  # closed at the end of the request; after an error, at once (a failed statement
            if exc[0] is not None:  # can leave the transaction unusable: the next read opens a fresh one)
                self.db._end_shared_reads()
            return
        # close() releases the connection (rolling back anything uncommitted) and detaches the
        # objects without expiring them, so a caller may still read what it loaded.
        try:
            if self.session.in_transaction() and not self.readonly:
                self.session.rollback()
            self.session.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def commit(self) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.session.commit()
