"""FHIR servers on loopback for the outbox tests (issue 17): a real one (Medplum's FHIR router over its in-memory
repository, tests/fhir_server/, installed by .ci/run with ``npm ci``) and a stand-in receiver that fails on purpose
(down, 500, slow) and counts what it got. Both listen on 127.0.0.1 and a free port, and stop by themselves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

MEDPLUM = Path(__file__).resolve().parent / "fhir_server"
START_TIMEOUT = 30.0


def require_medplum() -> list[str]:
    """The node command for tests/fhir_server/server.mjs; missing node or node_modules: a skip locally, a failure in CI."""
    node = shutil.which("node")
    if node is None or not (MEDPLUM / "node_modules" / "@medplum" / "fhir-router").is_dir():
        message = ("the FHIR test server needs node and its packages: cd tests/fhir_server && npm ci "
                   "(.ci/run does it)")
        if os.environ.get("CI"):
            pytest.fail(message + ": in CI a missing FHIR test server is a failure, not a skip")
        pytest.skip(message)
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
                .lstrip("v").split(".")[0])
    # Medplum uses the global WebSocket, which node 22 has and node 20 only behind this flag
    return [node, *(["--experimental-websocket"] if major < 22 else []), "server.mjs"]


class Medplum:
    """``with Medplum() as server: server.base`` — the process ends when its stdin closes (and is killed after)."""

    def __enter__(self) -> Medplum:
        self.process = subprocess.Popen(require_medplum(), cwd=MEDPLUM, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + START_TIMEOUT
        line = ""
        while time.monotonic() < deadline and not line.startswith("listening"):
            line = self.process.stdout.readline() if self.process.stdout else ""
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"the FHIR test server stopped: {self.process.stderr.read() if self.process.stderr else ''}")
        if not line.startswith("listening"):
            self.__exit__()
            raise RuntimeError("the FHIR test server did not start in time")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}/fhir/R4"
        return self

    def get(self, path: str) -> dict:
        import urllib.request

        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def __exit__(self, *_exc) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


class StandIn:
    """A receiver that answers as told: ``mode`` "ok" (stores the resource by its identifier), "500", "slow"
    (answers after ``delay`` seconds), "bad-request"; "down" is a port nobody listens on (``stop``)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 2.0
        self.stored: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet
                pass

            def do_PUT(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                stand_in.requests.append(("PUT", self.path, self.headers.get("Authorization")))
                if stand_in.mode == "slow":
                    time.sleep(stand_in.delay)
                if stand_in.mode in ("500", "slow"):
                    return self._answer(500, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "exception", "diagnostics": "the record is down for maintenance"}]})
                if stand_in.mode == "bad-request":
                    return self._answer(400, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "invalid", "diagnostics": "unknown element"}]})
                kind, _, query = self.path.removeprefix("/fhir/").partition("?")
                identifier = urllib.parse.parse_qs(query)["identifier"][0]
                created = (kind, identifier) not in stand_in.stored
                stand_in.stored[(kind, identifier)] = body
                self._answer(201 if created else 200, {**body, "id": "x"})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
