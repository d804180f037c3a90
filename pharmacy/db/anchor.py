"""The audit chain anchored outside the database (issue 13, hazard H15).

The hash chain in ``audit_entries`` shows an edit only to someone who trusts the database: whoever can
write to it can also drop the triggers, cut the tail and reset ``audit_head``, or recompute every hash.
So after every commit that appended audit entries, the new head (entry number, hash, time) is signed
with an Ed25519 key that the database does not hold and appended as one JSON line to
``<instance>/audit-anchors.jsonl`` (``O_APPEND`` and an exclusive ``flock`` for the one ``write``:
several app workers and CLI processes may write at once), and, where configured, sent to syslog, which
can forward it to a remote write-once store. ``pharmacy audit verify`` (``services/audit_check``)
holds the chain against these lines.

A failed anchor write never undoes the clinical change, which has committed already: it is logged
loudly and the next commit's anchor, which covers the head and so every entry before it, closes the
gap; verify reports an entry that waited too long for its anchor.

Also here: the signed checkpoints of verify (``audit-checkpoints.jsonl``, same folder, same key) and
the replayed-state snapshot they seal (``audit-state.json``), so a scheduled verify starts from the
last verified entry instead of the first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import logging.handlers
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pharmacy import clock
from pharmacy.db.audit import canonical_time

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

ANCHOR_FILE = "audit-anchors.jsonl"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
STATE_FILE = "audit-state.json"
KEY_FILE = "audit-anchor.key"


def key_file(instance: Path, configured: str = "") -> Path:
    return Path(configured) if configured else instance / KEY_FILE


def public_key_file(key: Path) -> Path:
    return key.with_suffix(".pub")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` unless it exists, atomically: a temporary file linked into place, so
    two processes starting together never both create a key (the second reads the first one's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The anchor key at ``path``, created on first use (mode 0600), its public key beside it."""
    if not path.exists():
        fresh = Ed25519PrivateKey.generate()
        _write_new(path, fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), 0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    public = public_key_file(path)
    if not public.exists():
        _write_new(public, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return key


def verifying_key(key: Path) -> Ed25519PublicKey | None:
    """The public key beside ``key`` (a verifier needs nothing else); None when there is none."""
    public = public_key_file(key)
    if public.exists():
        loaded = serialization.load_pem_public_key(public.read_bytes())
    elif key.exists():
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None).public_key()
    else:
        return None
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError(f"{public} is not an Ed25519 public key")
    return loaded


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, first 16 hex digits: to pin the key somewhere else."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_body(record: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in record.items() if k != "sig"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_line(key: Ed25519PrivateKey, record: dict[str, Any]) -> bytes:
    signature = base64.b64encode(key.sign(_signed_body(record))).decode("ascii")
    return (json.dumps({**record, "sig": signature}, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def append_line(path: Path, data: bytes) -> None:
    """One ``write`` on an ``O_APPEND`` descriptor under an exclusive lock: whole lines, never
    interleaved, whichever process writes."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if sys.platform != "win32":
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)  # releases the lock


def _syslog_handler(where: str) -> logging.Handler:
    address: str | tuple[str, int]
    if where in ("1", "true", "yes", "on"):
        address = "/dev/log" if Path("/dev/log").exists() else ("localhost", 514)
    elif where.startswith("/"):
        address = where
    else:
        host, _, port = where.rpartition(":")
        address = (host or "localhost", int(port or 514))
    handler = logging.handlers.SysLogHandler(address=address, facility=logging.handlers.SysLogHandler.LOG_AUTH)
    handler.setFormatter(logging.Formatter("pharmacy-audit-anchor: %(message)s"))
    return handler


class Anchorer:
    """Writes signed records to the anchor file (and syslog). ``head`` is the database's
    after-commit hook (``Database.on_audit_commit``); it logs a failure and never raises."""

    def __init__(self, instance: Path, configured_key: str = "", syslog: str = "") -> None:
        self.folder = instance
        self.path = instance / ANCHOR_FILE
        self.key_path = key_file(instance, configured_key)
        self._key: Ed25519PrivateKey | None = None
        self._syslog: logging.Logger | None = None
        if syslog:
            self._syslog = logging.getLogger(f"pharmacy.audit.anchor.syslog.{id(self)}")
            self._syslog.propagate = False
            self._syslog.setLevel(logging.INFO)
            self._syslog.addHandler(_syslog_handler(syslog))

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = signing_key(self.key_path)
        return self._key

    def write(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = {"v": 1, "kind": kind, **fields, "written": canonical_time(clock.now()), "pid": os.getpid()}
        line = signed_line(self.key, record)
        self.folder.mkdir(parents=True, exist_ok=True)
        append_line(self.path, line)
        if self._syslog is not None:
            try:
                self._syslog.info(line.decode("utf-8").rstrip("\n"))
            except Exception:  # the file has it; a syslog outage must not stop the pharmacy
                log.exception("audit anchor for %s not sent to syslog", fields.get("seq"))
        return record

    def head(self, first: int, seq: int, digest: str, at: datetime) -> None:
        """The head after a commit that appended entries ``first``..``seq``: the range says which entries
        the application wrote (one appended in the database directly is in no commit's range)."""
        try:
            self.write("head", first=first, seq=seq, hash=digest, at=canonical_time(at))
        except Exception:
            log.critical("AUDIT ANCHOR NOT WRITTEN for entry %s: %s is not writable or the key %s cannot be read. "
                         "The change itself is saved; the next commit's anchor covers this entry. Fix the "
                         "instance folder now.", seq, self.path, self.key_path, exc_info=True)


@dataclass(frozen=True)
class Record:
    """One verified line of an anchor or checkpoint file."""

    line: int
    kind: str
    seq: int
    hash: str
    written: str
    fields: dict[str, Any]


@dataclass
class Reading:
    records: list[Record]
    problems: list[str]
    warnings: list[str]
    end: int  # byte offset after the last whole line read


def read(path: Path, public: Ed25519PublicKey, offset: int = 0, first_line: int = 1) -> Reading:
    """The signed lines of ``path`` from byte ``offset``; each bad one named by its line number."""
    result = Reading([], [], [], offset)
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: empty, or a line a crash cut short
    number = first_line - 1
    for number, raw in enumerate(lines, start=first_line):
        result.end += len(raw) + 1
        _check_line(path, number, raw, public, result)
    if torn:
        result.warnings.append(f"{path.name} line {number + 1} is incomplete (a write cut short); it is not counted")
    return result


def _check_line(path: Path, number: int, raw: bytes, public: Ed25519PublicKey, result: Reading) -> None:
    where = f"{path.name} line {number}"
    try:
        record = json.loads(raw)
        signature = base64.b64decode(record["sig"], validate=True)
        public.verify(signature, _signed_body(record))
        entry = Record(number, str(record["kind"]), int(record["seq"]), str(record["hash"]),
                       str(record["written"]), record)
    except InvalidSignature:
        result.problems.append(f"{where} has a bad signature: it was edited, or written without the anchor key")
        return
    except (ValueError, KeyError, TypeError, AttributeError):
        result.problems.append(f"{where} is not a signed anchor: the file was edited")
        return
    result.records.append(entry)


def prefix_digest(path: Path, length: int) -> str | None:
    """SHA-256 of the first ``length`` bytes of ``path``; None if it is shorter."""
    digest = hashlib.sha256()
    left = length
    with path.open("rb") as handle:
        while left:
            chunk = handle.read(min(left, 1 << 20))
            if not chunk:
                return None
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def write_state(folder: Path, state: dict[str, Any]) -> str:
    """The replayed state at a checkpoint, written whole (temporary file, then rename); its SHA-256
    goes into the signed checkpoint, so an edit of this file is found."""
    data = json.dumps(state, sort_keys=True, separators=(",", ":")).encode("utf-8")
    staged = folder / f".{STATE_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    staged.write_bytes(data)
    staged.replace(folder / STATE_FILE)
    return hashlib.sha256(data).hexdigest()


def read_state(folder: Path, expected: str) -> dict[str, Any] | None:
    """The state snapshot if its SHA-256 is the one the checkpoint signed; None otherwise."""
    try:
        data = (folder / STATE_FILE).read_bytes()
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != expected:
        return None
    state: dict[str, Any] = json.loads(data)
    return state
