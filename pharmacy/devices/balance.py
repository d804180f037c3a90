"""Laboratory balances at the bench: Mettler Toledo MT-SICS (level 0/1) and Sartorius SBI, over TCP
(Ethernet balances, serial-device servers) or a serial port (pyserial).

The driver speaks the protocol and nothing else: it returns readings with their stability and refuses
everything it cannot be sure of — a dynamic (unsettled) value when a stable one was asked for, an
overload or underload, a unit other than a mass, an answer it cannot parse, silence past the timeout, a
connection that closes mid-answer. What a reading means for the dose (mass → volume through the
product's density, within the tolerance) is the domain's business, not this module's.

Configured per workstation by a URL (``PHARMACY_BALANCE``)::

    mt-sics+tcp://127.0.0.1:4001
    sbi+tcp://10.0.0.7:4001?timeout=5
    serial:///dev/ttyUSB0?protocol=sbi&baud=9600
    mt-sics+serial:///dev/ttyUSB0?baud=9600&parity=N

MT-SICS (Mettler Toledo Standard Interface Command Set): commands and answers are ASCII lines ending
CR LF. ``S`` (stable weight: ``S S <value> <unit>``, or ``S I`` when no stable value came within the
balance's own timeout, ``S +`` overload, ``S -`` underload), ``SI`` (immediate: ``S S`` or ``S D`` for
dynamic), ``T`` (tare: ``T S <tare> <unit>``), ``Z`` (zero: ``Z A``), ``I4`` (serial number:
``I4 A "…"``); ``ES``/``ET``/``EL`` are syntax, transmission and logical errors.

SBI (Sartorius Balance Interface): ``ESC P`` prints the display as a 16-character line (sign, value,
unit; the unit is left out while the value is unstable), or 22 characters with a 6-character
identifier before it; ``High``/``Low`` for overload/underload, ``Err nn`` for errors. ``ESC U`` tares,
``ESC V`` zeroes (both without an answer), ``ESC x2_`` gives the serial number.
"""

from __future__ import annotations

import re
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _, lazy

CRLF = b"\r\n"
ESC = b"\x1b"
MAX_LINE = 80  # no balance answer is longer; more bytes without a line end is not a balance talking
# a reading's mass in grams; the units a pharmacy balance may be set to
UNITS_IN_GRAMS = {"g": Decimal(1), "mg": Decimal("0.001"), "kg": Decimal(1000)}


class BalanceError(PharmacyError):
    """The balance could not give a reading that can be trusted; nothing was recorded."""

    code = "balance_error"


class BalanceUnavailable(BalanceError):
    """No answer: not connected, switched off, the wrong address, or silent past the timeout."""

    code = "balance_unavailable"


class BalanceNotStable(BalanceError):
    code = "balance_not_stable"


class BalanceOutOfRange(BalanceError):
    """Overload or underload: the pan holds more than the balance can weigh, or less than zero."""

    code = "balance_out_of_range"


class BalanceProtocolError(BalanceError):
    """An answer that is not what the protocol allows (garbage bytes, another device on the line)."""

    code = "balance_protocol_error"


@dataclass(frozen=True)
class Reading:
    """One answer of the balance: the value as it was sent, in grams, and whether it had settled."""

    grams: Decimal
    stable: bool
    unit: str
    raw: str

    def __str__(self) -> str:
        return f"{self.grams} g ({'stable' if self.stable else 'dynamic'})"


# --- transports ----------------------------------------------------------------------------------
class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read_line(self, timeout: float) -> bytes: ...

    def close(self) -> None: ...


class _LineReader(ABC):
    """Lines ending LF (CR LF on the wire), bounded in length and in time."""

    def __init__(self) -> None:
        self._buffer = b""

    @abstractmethod
    def _receive(self, timeout: float) -> bytes | None:
        """What arrived within ``timeout`` (``None``: nothing; ``b""``: the connection closed)."""

    def discard_pending(self) -> None:
        """Drop what arrived unasked (a late answer to a command that timed out, a press of the balance's
        print key) so the next answer read is the one to the next command."""
        self._buffer = b""
        while self._receive(0.0):
            pass

    def read_line(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                self._buffer = b""
                raise BalanceProtocolError(_("The balance sent more than a line of data without a line end: it is "
                                             "not answering in its protocol (check the interface settings). Nothing "
                                             "was recorded."))
            left = deadline - time.monotonic()
            if left <= 0:
                raise BalanceUnavailable(_("The balance did not answer within {timeout:g} s. Check that it is on "
                                           "and connected, then weigh again. Nothing was recorded.", timeout=timeout))
            chunk = self._receive(left)
            if chunk is None:
                continue
            if chunk == b"":
                self._buffer = b""
                raise BalanceUnavailable(_("The connection to the balance closed in the middle of an answer. "
                                           "Check the cable or network, then weigh again. Nothing was recorded."))
            self._buffer += chunk
        line, _end, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")


class TcpTransport(_LineReader):
    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__()
        try:
            self._socket = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise BalanceUnavailable(_("The balance at {host}:{port} cannot be reached ({value}). "
                                       "Check that it is on and connected. Nothing was recorded.",
                                       host=host, port=port, value=error.strerror or error)) from None

    def write(self, data: bytes) -> None:
        self.discard_pending()
        try:
            self._socket.sendall(data)
        except OSError as error:
            raise BalanceUnavailable(_("The command could not be sent to the balance ({value}). "
                                       "Nothing was recorded.", value=error.strerror or error)) from None

    def _receive(self, timeout: float) -> bytes | None:
        self._socket.settimeout(timeout)
        try:
            return self._socket.recv(256)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: nothing waiting, with a timeout of 0
            return None
        except OSError as error:
            raise BalanceUnavailable(_("The connection to the balance failed ({value}). "
                                       "Nothing was recorded.", value=error.strerror or error)) from None

    def close(self) -> None:
        self._socket.close()


class SerialTransport(_LineReader):  # pragma: no cover - needs a serial port; the same line reading as TCP
    def __init__(self, device: str, baud: int, parity: str, bytesize: int, timeout: float) -> None:
        super().__init__()
        import serial  # pyserial, imported only where a serial balance is configured

        try:
            self._port = serial.Serial(device, baudrate=baud, parity=parity, bytesize=bytesize, timeout=timeout)
        except (serial.SerialException, ValueError) as error:
            raise BalanceUnavailable(_("The balance's serial port {device} cannot be opened ({error}). Nothing was "
                                       "recorded.", device=device, error=error)) from None

    def write(self, data: bytes) -> None:
        self._port.reset_input_buffer()
        self._port.write(data)

    def _receive(self, timeout: float) -> bytes | None:
        self._port.timeout = timeout
        chunk = self._port.read(1)  # a serial line has no "closed": silence is the timeout
        return chunk + self._port.read(self._port.in_waiting) if chunk else None

    def close(self) -> None:
        self._port.close()


# --- protocols -----------------------------------------------------------------------------------
def _text(line: bytes) -> str:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise BalanceProtocolError(_("The balance sent bytes that are not text: another device on the line, or the "
                                     "wrong speed or parity. Nothing was recorded.")) from None
    if any(ord(c) < 32 for c in text):
        raise BalanceProtocolError(_("The balance sent control characters inside an answer: check the interface "
                                     "settings. Nothing was recorded."))
    return text


def _mass(value: str, unit: str, raw: str, stable: bool) -> Reading:
    if unit not in UNITS_IN_GRAMS:
        raise BalanceProtocolError(_("The balance weighs in “{unit}”, not in grams: set it to g, then weigh again. "
                                     "Nothing was recorded.", unit=unit))
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BalanceProtocolError(_("The balance sent “{raw}”, which is not a weight. Nothing was recorded.", raw=raw)) from None
    if not number.is_finite():
        raise BalanceProtocolError(_("The balance sent “{raw}”, which is not a weight. Nothing was recorded.", raw=raw))
    return Reading(number * UNITS_IN_GRAMS[unit], stable, unit, raw)


OVERLOAD = lazy("The balance is overloaded: take off what is on the pan (is it the right balance for a syringe?). "
                "Nothing was recorded.")
UNDERLOAD = lazy("The balance is under its zero (underload): the pan is missing or was tared with a load on it. "
                 "Zero it with the pan empty. Nothing was recorded.")


class MtSics:
    """MT-SICS level 0/1 commands over a line transport."""

    name = "mt-sics"
    _WEIGHT = re.compile(r"^S ([SD]) +(-?\d+(?:\.\d+)?) +(\S+)$")
    _TARE = re.compile(r"^T S +(-?\d+(?:\.\d+)?) +(\S+)$")

    def __init__(self, transport: Transport, timeout: float) -> None:
        self.transport, self.timeout = transport, timeout

    def _ask(self, command: str, timeout: float | None = None) -> str:
        self.transport.write(command.encode("ascii") + CRLF)
        return _text(self.transport.read_line(timeout or self.timeout)).strip()

    def _errors(self, answer: str, command: str) -> None:
        if answer in ("ES", "ET", "EL"):
            if answer == "ES":
                raise BalanceProtocolError(_("The balance did not understand the command ({command} → {answer}). "
                                             "Nothing was recorded.", command=command, answer=answer))
            if answer == "ET":
                raise BalanceProtocolError(_("The balance had a transmission error ({command} → {answer}). "
                                             "Nothing was recorded.", command=command, answer=answer))
            raise BalanceProtocolError(_("The balance could not carry out the command ({command} → {answer}). "
                                         "Nothing was recorded.", command=command, answer=answer))
        if answer.endswith(" +") and answer.split()[0] in ("S", "T", "Z", "SI"):
            raise BalanceOutOfRange(OVERLOAD.now())
        if answer.endswith(" -") and answer.split()[0] in ("S", "T", "Z", "SI"):
            raise BalanceOutOfRange(UNDERLOAD.now())

    def _reading(self, answer: str, command: str) -> Reading:
        self._errors(answer, command)
        if answer in ("S I", "SI I"):
            raise BalanceNotStable(_("The balance did not settle: keep the pan still (no draught, nothing touching it) "
                                     "and weigh again. Nothing was recorded."))
        match = self._WEIGHT.match(answer)
        if not match:
            raise BalanceProtocolError(_("The balance answered “{answer}” to {command}, which is not a weight. "
                                         "Nothing was recorded.", answer=answer, command=command))
        return _mass(match[2], match[3], answer, stable=match[1] == "S")

    def weigh_stable(self) -> Reading:
        """``S``: the balance waits for a stable value itself (or answers ``S I``)."""
        return self._reading(self._ask("S"), "S")

    def weigh_immediate(self) -> Reading:
        """``SI``: the value now, stable or dynamic."""
        return self._reading(self._ask("SI"), "SI")

    def tare(self) -> Reading:
        answer = self._ask("T")
        self._errors(answer, "T")
        if answer == "T I":
            raise BalanceNotStable(_("The balance could not tare: it did not settle. Keep the pan still and tare again. "
                                     "Nothing was recorded."))
        match = self._TARE.match(answer)
        if not match:
            raise BalanceProtocolError(_("The balance answered “{answer}” to the tare command. Nothing was recorded.", answer=answer))
        return _mass(match[1], match[2], answer, stable=True)

    def zero(self) -> None:
        answer = self._ask("Z")
        self._errors(answer, "Z")
        if answer != "Z A":
            raise BalanceNotStable(_("The balance could not be zeroed ({answer}): empty the pan, keep it still and "
                                     "zero again.", answer=answer))

    def serial_number(self) -> str:
        answer = self._ask("I4")
        match = re.match(r'^I4 A "([^"]{1,40})"$', answer)
        if not match:
            raise BalanceProtocolError(_("The balance did not give its serial number (I4 → “{answer}”): it cannot be "
                                         "identified, so its readings cannot be recorded.", answer=answer))
        return match[1].strip()


class Sbi:
    """Sartorius SBI: ``ESC P`` prints the display; stability is the presence of the unit."""

    name = "sbi"
    _LINE = re.compile(r"^([+-]?) *(\d+(?:\.\d+)?) *([a-z]*)$")

    def __init__(self, transport: Transport, timeout: float, poll: float = 0.1) -> None:
        self.transport, self.timeout, self.poll = transport, timeout, poll

    def _send(self, command: bytes) -> None:
        self.transport.write(ESC + command + CRLF)

    def _print(self) -> Reading:
        self._send(b"P")
        raw = _text(self.transport.read_line(self.timeout))
        body = raw[6:] if len(raw) > 16 else raw  # 22 characters: a 6-character identifier first
        lowered = body.strip().lower()
        if lowered.startswith("high"):
            raise BalanceOutOfRange(OVERLOAD.now())
        if lowered.startswith("low"):
            raise BalanceOutOfRange(UNDERLOAD.now())
        if lowered.startswith("err") or lowered.startswith("cal") or set(lowered) <= {"-", " "}:
            raise BalanceNotStable(_("The balance shows “{body}” instead of a weight. Clear it on the balance, "
                                     "then weigh again. Nothing was recorded.", body=body.strip()))
        compact = body.strip()
        match = self._LINE.match(re.sub(r"(?<=[+-]) +", "", compact))
        if not match:
            raise BalanceProtocolError(_("The balance sent “{raw}”, which is not a weight. Nothing was recorded.", raw=raw.strip()))
        sign, value, unit = match[1], match[2], match[3]
        if not unit:  # SBI leaves the unit out while the value moves
            return Reading(Decimal(sign + value), False, "", raw)
        return _mass(sign + value, unit, raw, stable=True)

    def weigh_immediate(self) -> Reading:
        return self._print()

    def weigh_stable(self) -> Reading:
        """Print until the value settles, within the timeout (SBI has no wait-for-stable command)."""
        deadline = time.monotonic() + self.timeout
        while True:
            reading = self._print()
            if reading.stable:
                return reading
            if time.monotonic() >= deadline:
                raise BalanceNotStable(_("The balance did not settle: keep the pan still (no draught, nothing touching "
                                         "it) and weigh again. Nothing was recorded."))
            time.sleep(self.poll)

    def tare(self) -> None:
        """``ESC U`` (tare only). SBI neither answers it nor reports the tare mass, so a stable print of
        zero is awaited as the proof that it happened."""
        self._send(b"U")
        reading = self.weigh_stable()
        if reading.grams != 0:
            raise BalanceNotStable(_("The balance did not tare (it shows {grams} g). Tare again with the pan "
                                     "still. Nothing was recorded.", grams=reading.grams))

    def zero(self) -> None:
        self._send(b"V")

    def serial_number(self) -> str:
        self._send(b"x2_")
        answer = _text(self.transport.read_line(self.timeout)).strip()
        if not answer or len(answer) > 40:
            raise BalanceProtocolError(_("The balance did not give its serial number: it cannot be identified, so its "
                                         "readings cannot be recorded."))
        return answer


# --- configuration -------------------------------------------------------------------------------
PROTOCOLS = {"mt-sics": MtSics, "sbi": Sbi}


@dataclass(frozen=True)
class BalanceConfig:
    """Where a workstation's balance is and how it talks, parsed from ``PHARMACY_BALANCE``."""

    protocol: str
    transport: str  # "tcp" or "serial"
    address: str    # host:port, or the serial device
    timeout: float = 3.0
    serial: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str) -> BalanceConfig:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        protocol, _plus, transport = scheme.rpartition("+")
        protocol = protocol or query.pop("protocol", "mt-sics")
        query.pop("protocol", None)
        if protocol not in PROTOCOLS or transport not in ("tcp", "serial"):
            raise BalanceError(_("Balance address “{url}” is not understood: use mt-sics+tcp://HOST:PORT, "
                                 "sbi+tcp://HOST:PORT or serial:///dev/DEVICE?protocol=sbi&baud=9600.", url=url))
        try:
            timeout = float(query.pop("timeout", "3"))
        except ValueError:
            raise BalanceError(_("Balance address “{url}”: timeout must be a number of seconds.", url=url)) from None
        if not 0 < timeout <= 60:
            raise BalanceError(_("Balance address “{url}”: timeout must be between 0 and 60 s.", url=url))
        if transport == "tcp":
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or not port:
                raise BalanceError(_("Balance address “{url}” needs a host and a port (mt-sics+tcp://HOST:PORT).", url=url))
            return cls(protocol, "tcp", f"{parts.hostname}:{port}", timeout)
        if not parts.path:
            raise BalanceError(_("Balance address “{url}” needs a serial device (serial:///dev/ttyUSB0).", url=url))
        try:
            settings = {"baud": int(query.get("baud", "9600")), "parity": query.get("parity", "N").upper()[:1],
                        "bytesize": int(query.get("bytesize", "8"))}
        except ValueError:
            raise BalanceError(_("Balance address “{url}”: baud and bytesize must be whole numbers.", url=url)) from None
        return cls(protocol, "serial", parts.path, timeout, settings)

    def __str__(self) -> str:
        return f"{self.protocol} over {self.transport} at {self.address}"


def connect(config: BalanceConfig | str) -> Balance:
    """Open the configured balance; the caller closes it (``with connect(...) as balance``)."""
    if isinstance(config, str):
        config = BalanceConfig.parse(config)
    transport: Transport
    if config.transport == "tcp":
        host, _, port = config.address.rpartition(":")
        transport = TcpTransport(host, int(port), config.timeout)
    else:  # pragma: no cover - needs a serial port
        transport = SerialTransport(config.address, config.serial["baud"], config.serial["parity"],
                                    config.serial["bytesize"], config.timeout)
    return Balance(config, transport, PROTOCOLS[config.protocol](transport, config.timeout))


class Balance:
    """An open balance: weigh (stable or immediate), tare, zero, and its serial number."""

    def __init__(self, config: BalanceConfig, transport: Transport, protocol: MtSics | Sbi) -> None:
        self.config, self._transport, self._protocol = config, transport, protocol

    def __enter__(self) -> Balance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def serial_number(self) -> str:
        return self._protocol.serial_number()

    def tare(self) -> Reading | None:
        """Tare what is on the pan; the tare mass where the protocol reports it (MT-SICS), else ``None``."""
        return self._protocol.tare()

    def zero(self) -> None:
        self._protocol.zero()

    def weigh_immediate(self) -> Reading:
        return self._protocol.weigh_immediate()

    def weigh_stable(self) -> Reading:
        """A settled net mass; a dynamic value is never returned from here."""
        reading = self._protocol.weigh_stable()
        if not reading.stable:  # a protocol that answered a stable request with a moving value
            raise BalanceNotStable(_("The balance did not settle: keep the pan still and weigh again. Nothing was "
                                     "recorded."))
        return reading
