"""One structured log line per request: who, what route, which status, how long.

Never a password or a patient's data at info level: the line names the route pattern
(``/bags/<serial>``), not the URL with its values, and no form field is ever logged.
"""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, g, request
from flask_login import current_user

log = logging.getLogger("pharmacy.requests")


def register_logging(app: Flask) -> None:
    @app.before_request
    def _start_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        user = g.get("api_user") or (current_user.username if current_user.is_authenticated else None)
        log.info(json.dumps({
            "user": user,
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else "(no route)",
            "endpoint": request.endpoint,
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        }, separators=(",", ":")))
        return response


def configure(level: str = "INFO") -> None:
    """Plain lines on standard error for ``pharmacy serve`` (a reverse proxy or journald collects them)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
