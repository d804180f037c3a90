"""SQLite's one writer at a time, handed over at once (issue 18).

SQLite lets one transaction write at a time. A writer that finds the file locked is held by SQLite's busy
handler, which sleeps and retries (1, 2, 5, 10 … up to 100 ms): under load, with two or more server processes,
that sleeping was most of a write's time, and of everything queued behind it. So every writing unit of work
first takes this lock, which the writer after it gets the moment it is free:

- within a process, a ``threading.Lock`` (the threads queue on it and the next one is woken at the release);
- across processes (``pharmacy serve --workers N``, a command run beside the server), an exclusive ``flock`` on
  a file beside the database (``<database>-writer``), tried again every 0.5 to 2 ms while another process holds it.

The lock only orders the writers; SQLite's own lock (``BEGIN IMMEDIATE``, db/engine.py) still guards the data, so
a writer that does not take this lock (an older build, the ``sqlite3`` shell) is kept out as before. Where there
is no ``fcntl`` (Windows) or no file (an in-memory database), the process's lock alone is used.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler orders the processes
    fcntl = None  # type: ignore[assignment]

_RETRY = (0.0005, 0.001, 0.002)  # seconds between two tries of another process's lock; then 2 ms each

_times = threading.local()  # this thread's time waiting for and holding the lock, since reset_times()


def reset_times() -> None:
    _times.waiting = _times.holding = 0.0


def times() -> tuple[float, float]:
    """Seconds this thread waited for the lock and held it since ``reset_times()`` (a request's log line)."""
    return getattr(_times, "waiting", 0.0), getattr(_times, "holding", 0.0)


class WriteLock:
    def __init__(self, database_file: str | None) -> None:
        self._threads = threading.Lock()
        self._path = Path(f"{database_file}-writer") if database_file and fcntl is not None else None
        self._file: int | None = None  # open while held: the lock is the open file's (closing it releases it)
        self._acquired = 0.0  # when the holder got it

    def acquire(self, timeout: float) -> bool:
        """True once this thread is the one writer of this process and of every process; False after ``timeout``."""
        started = time.monotonic()
        deadline = started + timeout
        try:
            if not self._threads.acquire(timeout=timeout):
                return False
            try:
                if self._path is None or self._other_processes(self._path, deadline):
                    self._acquired = time.monotonic()
                    return True
            except BaseException:
                self._threads.release()
                raise
            self._threads.release()
            return False
        finally:
            _times.waiting = getattr(_times, "waiting", 0.0) + time.monotonic() - started

    def release(self) -> None:
        held, self._file = self._file, None
        _times.holding = getattr(_times, "holding", 0.0) + time.monotonic() - self._acquired
        if held is not None:
            os.close(held)  # and with it the flock
        self._threads.release()

    def _other_processes(self, path: Path, deadline: float) -> bool:
        held, tries = os.open(path, os.O_RDWR | os.O_CREAT, 0o600), 0
        while True:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._file = held
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(held)
                    return False
                time.sleep(_RETRY[min(tries, len(_RETRY) - 1)])
                tries += 1
            except BaseException:
                os.close(held)
                raise
