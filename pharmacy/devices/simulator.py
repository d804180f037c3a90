"""A balance on loopback that speaks MT-SICS or SBI like the real ones, for tests and demos.

It holds a pan (gross mass) and a tare, and answers the commands ``devices.balance`` sends. Tests
script what a real balance does at the worst moment: values that move before they settle, overload
and underload, a unit other than grams, garbage bytes, silence, a connection dropped mid-answer.
``pharmacy devices simulate-balance --port N`` runs one for a demo; with ``fill_after_tare`` set, every
tare is followed by that much liquid on the pan, as if the technician had filled the tared syringe.

Listens on 127.0.0.1 only; every connection and the server stop with ``stop()``.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections import deque
from decimal import Decimal

FAULTS = ("dynamic", "overload", "underload", "unit", "garbage", "silent", "disconnect", "error")


class BalanceSimulator:
    def __init__(self, protocol: str = "mt-sics", serial_number: str = "SIM0000001", port: int = 0,
                 capacity: Decimal = Decimal("220"), fill_after_tare: Decimal | None = None) -> None:
        if protocol not in ("mt-sics", "sbi"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.protocol, self.serial_number, self.capacity = protocol, serial_number, capacity
        self.fill_after_tare = fill_after_tare
        self.gross, self.tare_mass = Decimal("0"), Decimal("0")
        self.commands: list[str] = []  # every command received, for tests to read
        self._faults: deque[tuple[str, tuple[str, ...]]] = deque()
        self._dynamic = 0
        self.fill_pending = False  # SBI: the liquid goes in after the print that confirmed the tare
        self._lock = threading.Lock()
        simulator = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                simulator._serve(self.connection, self.rfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- what a test or a demo does to the pan ---------------------------------------------------
    @property
    def url(self) -> str:
        return f"{self.protocol}+tcp://127.0.0.1:{self.port}"

    def place(self, grams: Decimal | str | float) -> None:
        """Put something on the pan (the gross mass becomes ``grams``)."""
        with self._lock:
            self.gross = Decimal(str(grams))

    def unsettled(self, readings: int) -> None:
        """The next ``readings`` weighings see a moving value (a draught, a hand on the bench)."""
        with self._lock:
            self._dynamic = readings

    def fail_next(self, fault: str, on: tuple[str, ...] = ()) -> None:
        """The next command (or the next of the commands ``on``, e.g. ``("S", "P")``: the weighing, not the
        serial-number query before it) meets ``fault`` (one of ``FAULTS``)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.append((fault, on))

    @property
    def net(self) -> Decimal:
        return self.gross - self.tare_mass

    # --- life ------------------------------------------------------------------------------------
    def start(self) -> BalanceSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> BalanceSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the protocol ----------------------------------------------------------------------------
    def _serve(self, connection: socket.socket, rfile) -> None:
        while True:
            try:
                line = rfile.readline(256)
            except OSError:
                return
            if not line:
                return
            command = line.rstrip(b"\r\n").lstrip(b"\x1b").decode("ascii", "replace")
            with self._lock:
                self.commands.append(command)
                fault = None
                if self._faults and (not self._faults[0][1] or command in self._faults[0][1]):
                    fault = self._faults.popleft()[0]
                answer = self._answer(command, fault)
            if fault == "silent":
                continue
            if fault == "disconnect":
                connection.sendall(answer[: max(1, len(answer) // 2)])
                connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "garbage":
                answer = b"\xff\xfe\x00\x13garbage\x80\r\n"
            if answer:
                connection.sendall(answer)

    def _moving(self) -> bool:
        if self._dynamic > 0:
            self._dynamic -= 1
            return True
        return False

    def _answer(self, command: str, fault: str | None) -> bytes:
        if self.protocol == "mt-sics":
            return (self._mt_sics(command, fault) + "\r\n").encode("ascii")
        text = self._sbi(command, fault)
        return b"" if text is None else (text + "\r\n").encode("ascii")

    def _range(self, fault: str | None) -> str | None:
        if fault == "overload" or self.gross > self.capacity:
            return "+"
        if fault == "underload" or self.gross < 0:
            return "-"
        return None

    def _mt_sics(self, command: str, fault: str | None) -> str:
        if fault == "error":
            return "ES"
        if command in ("S", "SI"):
            out = self._range(fault)
            if out:
                return f"S {out}"
            moving = self._moving()
            if command == "S" and moving:
                return "S I"  # the balance's own wait for stability ran out
            unit = "lb" if fault == "unit" else "g"
            value = self.net / Decimal("453.59237") if unit == "lb" else self.net
            return f"S {'D' if moving else 'S'} {value:>10.4f} {unit}"
        if command == "T":
            out = self._range(fault)
            if out:
                return f"T {out}"
            if self._moving():
                return "T I"
            self.tare_mass = self.gross
            if self.fill_after_tare is not None:
                self.gross += self.fill_after_tare
            return f"T S {self.tare_mass:>10.4f} g"
        if command == "Z":
            if self._moving():
                return "Z I"
            self.tare_mass = self.gross = Decimal("0")
            return "Z A"
        if command == "I4":
            return f'I4 A "{self.serial_number}"'
        return "ES"

    def _sbi(self, command: str, fault: str | None) -> str | None:
        if fault == "error":
            return "Err 02"
        if command == "P":
            out = self._range(fault)
            if out:
                return "        High    " if out == "+" else "        Low     "
            moving = self._moving()
            unit = "" if moving else ("lb" if fault == "unit" else "g")
            value = self.net / Decimal("453.59237") if unit == "lb" else self.net
            sign = "-" if value < 0 else "+"
            if self.fill_pending and not moving and self.fill_after_tare is not None:
                self.gross += self.fill_after_tare
                self.fill_pending = False
            return f"{sign}{abs(value):>10.4f} {unit:<3} "
        if command == "U":
            self.tare_mass = self.gross
            if self.fill_after_tare is not None:
                self.fill_pending = True
            return None
        if command == "V":
            self.tare_mass = self.gross = Decimal("0")
            return None
        if command == "x2_":
            return f"  {self.serial_number}"
        return "Err 01"
