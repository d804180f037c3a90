"""One structured log line per request: who, what route, which status, how long, and how much CPU.

Never a password or a patient's data at info level: the line names the route pattern
(``/bags/<serial>``), not the URL with its values, and no form field is ever logged.
"""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, g, request
from flask_login import current_user

from pharmacy.db import writelock

log = logging.getLogger("pharmacy.requests")


def register_logging(app: Flask) -> None:
    @app.before_request
    def _start_clock():
        g.request_started = time.perf_counter(), time.thread_time()
        writelock.reset_times()

    @app.after_request
    def _note_status(response):
        g.request_status = response.status_code
        return response

    @app.teardown_request
    def _log_request(_error=None):
        # logged at the end of the request, once the session is saved: ``ms`` is the whole time the app took,
        # ``cpu_ms`` the CPU time of the thread that served it (what this request cost, whatever else ran meanwhile),
        # ``lock_wait_ms`` and ``lock_ms`` its time waiting for SQLite's one writer and holding it (db/writelock.py)
        started = g.get("request_started")
        waited, held = writelock.times()
        user = g.get("api_user") or (current_user.username if current_user.is_authenticated else None)
        log.info(json.dumps({
            "user": user,
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else "(no route)",
            "endpoint": request.endpoint,
            "status": g.get("request_status", 500),
            "ms": round((time.perf_counter() - started[0]) * 1000, 1) if started else None,
            "cpu_ms": round((time.thread_time() - started[1]) * 1000, 2) if started else None,
            "lock_wait_ms": round(waited * 1000, 1),
            "lock_ms": round(held * 1000, 1),
        }, separators=(",", ":")))


def configure(level: str = "INFO") -> None:
    """Plain lines on standard error for ``pharmacy serve`` (a reverse proxy or journald collects them)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
