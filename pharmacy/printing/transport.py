"""Getting a rendered label to a printer: raw TCP (port 9100, ZPL printers) or a CUPS queue (``lp``).

Each call either returns what the printer or CUPS answered (for the job's record) or raises
``SendFailed`` with a message for the bench and ``maybe_printed``: False when nothing of the label can
have reached the printer (connection refused, no answer, paper out before sending, ``lp`` refused the
job), True when bytes may have left (the connection broke while sending, ``lp`` timed out after
taking the job). ``services/printjobs`` moves the reprint counter on a maybe-printed failure, so a
label that may have come out is never printed again without REPRINT.

Every wait is bounded: a connect, the status query and the send each time out; a refused or
unanswered connect is tried at most ``CONNECT_ATTEMPTS`` times (nothing was sent, so trying again
cannot print twice); nothing is ever retried once a byte of the label has been sent.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass

CONNECT_ATTEMPTS = 3
CONNECT_PAUSE = 0.2  # seconds between connect attempts
_STATUS_QUERY = b"~HS"
_STATUS_LIMIT = 4096  # bytes: a ~HS answer is about 80


class SendFailed(Exception):
    def __init__(self, message: str, maybe_printed: bool) -> None:
        super().__init__(message)
        self.message, self.maybe_printed = message, maybe_printed


@dataclass(frozen=True)
class Sent:
    reply: str  # lp's request id, or what the ZPL printer reported before the job


def send_raw(host: str, port: int, payload: bytes, timeout: float, status_query: bool) -> Sent:
    """Send ``payload`` to ``host:port`` over TCP. With ``status_query`` (ZPL printers), ask the printer
    its host status (``~HS``) first and refuse to send when it reports paper out, pause, head open or
    ribbon out."""
    connection = _connect(host, port, timeout)
    with connection:
        reply = _status(connection, host, port) if status_query else ""
        try:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
        except OSError as error:
            raise SendFailed(f"the connection to {host}:{port} broke while the label was being sent ({_why(error)}); "
                             "part of it may have printed", maybe_printed=True) from None
    return Sent(reply)


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    last: OSError | None = None
    for attempt in range(CONNECT_ATTEMPTS):
        if attempt:
            time.sleep(CONNECT_PAUSE)
        try:
            connection = socket.create_connection((host, port), timeout=timeout)
            connection.settimeout(timeout)
            return connection
        except OSError as error:
            last = error
    assert last is not None
    raise SendFailed(f"printer {host}:{port} cannot be reached ({_why(last)}, {CONNECT_ATTEMPTS} attempts): "
                     "is it switched on and on the network?", maybe_printed=False)


def _status(connection: socket.socket, host: str, port: int) -> str:
    """The printer's ``~HS`` answer: three STX…ETX strings; the first two carry the flags read here."""
    try:
        connection.sendall(_STATUS_QUERY)
        data = b""
        while data.count(b"\x03") < 2:
            chunk = connection.recv(512)
            if not chunk:
                raise SendFailed(f"printer {host}:{port} closed the connection without answering its status query "
                                 "(~HS); nothing was sent", maybe_printed=False)
            data += chunk
            if len(data) > _STATUS_LIMIT:
                raise SendFailed(f"printer {host}:{port} answered its status query (~HS) with something that is not a "
                                 "ZPL host status; nothing was sent", maybe_printed=False)
    except TimeoutError:
        raise SendFailed(f"printer {host}:{port} did not answer its status query (~HS) in time; nothing was sent. "
                         "Is it a ZPL printer, and is it ready?", maybe_printed=False) from None
    except OSError as error:
        raise SendFailed(f"printer {host}:{port} dropped the connection during its status query ({_why(error)}); "
                         "nothing was sent", maybe_printed=False) from None
    problems = host_status_problems(data)
    if problems:
        raise SendFailed(f"printer {host}:{port} reports {' and '.join(problems)}; nothing was sent. "
                         "Fix the printer, then retry the job", maybe_printed=False)
    return "ready"


def host_status_problems(answer: bytes) -> list[str]:
    """What stops a ZPL printer from printing, from its ``~HS`` answer (ZPL II manual, ~HS: string 1
    ``aaa,b,c,…``: b paper out, c pause; string 2 ``mmm,n,o,p,…``: o head up, p ribbon out)."""
    strings = [part.split(b"\x03", 1)[0].decode("ascii", "replace") for part in answer.split(b"\x02")[1:]]
    if len(strings) < 2:
        return ["a status answer that cannot be read"]
    first, second = strings[0].split(","), strings[1].split(",")
    if len(first) < 3 or len(second) < 4:
        return ["a status answer that cannot be read"]
    flags = [("out of labels (paper out)", first[1]), ("paused", first[2]), ("print head open", second[2]),
             ("out of ribbon", second[3])]
    return [words for words, flag in flags if flag.strip() == "1"]


def send_lp(queue: str, payload: bytes, raw: bool, timeout: float) -> Sent:
    """``lp -d QUEUE`` (``-o raw`` for ZPL: CUPS passes it to the printer untouched). ``lp`` returning 0
    means CUPS took the job; its later fate (paper out) is the CUPS queue's to report."""
    command = ["lp", "-d", queue] + (["-o", "raw"] if raw else [])
    try:
        done = subprocess.run(command, input=payload, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise SendFailed("the lp command is not installed on this server (Debian: cups-client)",
                         maybe_printed=False) from None
    except subprocess.TimeoutExpired:
        raise SendFailed(f"lp did not finish within {timeout:g} s; CUPS may have taken the job — check the "
                         f"queue (lpstat -o {queue})", maybe_printed=True) from None
    except OSError as error:
        raise SendFailed(f"lp could not be run ({_why(error)})", maybe_printed=False) from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise SendFailed(f"CUPS refused the job: {said}", maybe_printed=False)
    return Sent(done.stdout.decode(errors="replace").strip())


def _why(error: OSError) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return error.strerror or type(error).__name__
