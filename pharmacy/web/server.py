"""Serving the app with waitress, in one process or several.

Waitress runs on every platform (many pharmacies run Windows) but is one Python process, so one core
of Python at a time. On Unix, ``workers > 1`` forks that many processes that accept on one shared
listening socket; the kernel spreads connections between them. Each process opens its own database
connections after the fork. Writers in different processes are serialised by the database itself
(SQLite's file lock, PostgreSQL's row locks), so the rules hold whatever the number of workers.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

import waitress


def serve(make_app, host: str, port: int, threads: int, workers: int = 1, announce=lambda: None) -> None:
    """``make_app()`` builds a fresh app (and database engine) in the process that serves it. The port is
    taken first (``OSError`` when it is in use); ``announce()`` is called once it is ours."""
    if workers <= 1 or not hasattr(os, "fork"):
        server = waitress.create_server(make_app(), host=host, port=port, threads=threads, ident="pharmacy")
        announce()
        server.run()
        return
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    listener.listen(1024)
    announce()
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own app, engine and connections
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            waitress.serve(make_app(), sockets=[listener], threads=threads, ident="pharmacy")
            os._exit(0)
        children.append(pid)

    def stop(signum, _frame):
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or code
    listener.close()
    sys.exit(0 if status in (0, signal.SIGTERM) else 1)
