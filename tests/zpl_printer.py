"""A stand-in ZPL label printer on loopback (port 0): it answers the host status query (``~HS``) and
keeps every job it receives. Told how to misbehave: ``refuse`` (nothing listens: a printer switched
off), ``close`` (accepts and hangs up at once), ``hang`` (accepts and never answers) or ``paper_out``
(reports out of labels).
Every wait is bounded; ``stop`` joins the thread."""

from __future__ import annotations

import socket
import threading


def host_status(paper_out: bool = False, paused: bool = False, head_open: bool = False) -> bytes:
    """A ZPL ``~HS`` answer: three STX…ETX CR LF strings, flags where the ZPL II manual puts them."""
    first = f"030,{int(paper_out)},{int(paused)},1245,000,0,0,0,000,0,0,0"
    second = f"000,0,{int(head_open)},0,0,2,6,0,00000000,1,000"
    return b"".join(b"\x02" + part.encode() + b"\x03\r\n" for part in (first, second, "1234,0"))


class ZplPrinter:
    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"
        self.jobs: list[bytes] = []
        self.queries = 0
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port))
        self.port = self._server.getsockname()[1]
        self._server.listen(8)
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                self._handle(connection)

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(3)
        if self.mode == "close":  # a clean hang-up (FIN), never a reset: closing with the client's ~HS unread
            # in the buffer would send RST instead, and which one the client saw depended on timing (load)
            try:
                connection.shutdown(socket.SHUT_WR)
                for _ in range(100):  # read what the client sends until it closes too (3 s timeout each)
                    if not connection.recv(4096):
                        break
            except OSError:
                pass
            return
        if self.mode == "hang":
            self._stop.wait(3)
            return
        data = b""
        try:
            while b"~HS" not in data and len(data) < 100_000:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                data += chunk
            if b"~HS" in data:
                self.queries += 1
                connection.sendall(host_status(paper_out=self.mode == "paper_out"))
                data = data.replace(b"~HS", b"", 1)
            for _ in range(10_000):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            return
        if data:
            self.jobs.append(data)

    def stop(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port
