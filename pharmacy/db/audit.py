"""The tamper-evident audit trail: append-only rows, each carrying the SHA-256 of the one before.

``append`` runs inside the caller's transaction (the entry commits or rolls back with the change it
records). ``verify`` walks the chain and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import String, Table, bindparam, insert, select, type_coerce, update
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db.database import plain
from pharmacy.db.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical_time(value: datetime | str) -> str:
    """The entry's time as hashed: UTC, microseconds, ``Z``. Accepts what the column gives back (an
    aware datetime) and what SQLite holds raw (``YYYY-MM-DD HH:MM:SS.ffffff+00:00``)."""
    if isinstance(value, str):
        return value[:26].replace(" ", "T") + "Z"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_text(value: object) -> str | None:
    """Old/new values as stored and hashed: JSON with sorted keys; dates become their ISO text."""
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, id_: int, at: str, username: str, action: str, object_type: str,
               object_id: str, old_json: str | None, new_json: str | None, reason: str | None) -> str:
    """SHA-256 over the previous hash and the entry's fields exactly as stored (``at`` canonical)."""
    body = json.dumps([id_, at, username, action, object_type, object_id, old_json, new_json, reason],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


# built once and run as plain statements (issue 18: every write of the system appends; the entry and the head as ORM
# objects were a third of a preparation step's flush)
_ENTRIES, _HEADS = cast(Table, AuditEntry.__table__), cast(Table, AuditHead.__table__)
_HEAD = select(_HEADS.c.last_id, _HEADS.c.last_hash).where(_HEADS.c.id == 1).with_for_update()
_FIRST_HEAD = insert(_HEADS).values(id=1, last_id=0, last_hash=GENESIS)
_ENTRY = insert(_ENTRIES)
_MOVE_HEAD = (update(_HEADS).where(_HEADS.c.id == 1, _HEADS.c.last_id == bindparam("was_id"))
              .values(last_id=bindparam("new_id"), last_hash=bindparam("new_hash")))


def _head(session: Session) -> tuple[int, str]:
    """The last entry's id and hash, locked (FOR UPDATE) until the transaction ends. What the caller changed is
    written first (``plain`` flushes it): on PostgreSQL its rows are locked before the head is, as every writer
    does, so two writers never wait on each other in a circle; SQLite's write transaction holds the whole database
    from its BEGIN."""
    head = plain(session, _HEAD).first()
    if head is None:
        plain(session, _FIRST_HEAD)
        return 0, GENESIS
    return head.last_id, head.last_hash


def append(session: Session, username: str, action: str, object_type: str, object_id: object, *,
           old: object = None, new: object = None, reason: str | None = None) -> int:
    """Chain an entry onto the head in the caller's transaction; returns its id."""
    # the columns' widths, checked here so SQLite (which does not enforce them) refuses what PostgreSQL would
    for value, column in ((action, AuditEntry.action), (object_type, AuditEntry.object_type),
                          (str(object_id), AuditEntry.object_id), (username, AuditEntry.username)):
        width = column.type.length
        if width is not None and len(value) > width:
            raise ValueError(f"audit {column.key} {value!r} is longer than its column ({width})")
    last_id, last_hash = _head(session)
    at = clock.now()
    id_ = last_id + 1
    old_json, new_json = json_text(old), json_text(new)
    digest = entry_hash(last_hash, id_, canonical_time(at), username, action, object_type, str(object_id),
                        old_json, new_json, reason)
    plain(session, _ENTRY, {"id": id_, "at": at, "username": username, "action": action, "object_type": object_type,
                            "object_id": str(object_id), "old": old_json, "new": new_json, "reason": reason,
                            "prev_hash": last_hash, "hash": digest})
    moved = plain(session, _MOVE_HEAD, {"was_id": last_id, "new_id": id_, "new_hash": digest})
    if moved.rowcount != 1:  # cannot happen under the head's lock: never chain two entries onto one
        raise RuntimeError(f"the audit head moved away from entry {last_id} under its lock")
    # anchored outside the database after the commit (db/anchor.py): this transaction's first entry and the head
    first = session.info["audit_head"][0] if "audit_head" in session.info else id_
    session.info["audit_head"] = (first, id_, digest, at)
    return id_


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    end: int = 0  # the last entry that chains (the whole chain when ok)
    last_hash: str = GENESIS  # its hash


# what ``verify`` hands a visitor for each entry it has checked: id, at (stored text), action,
# object type, object id, new values (stored JSON text), hash
Visitor = Callable[[int, str, str, str, str, "str | None", str], None]


def verify(session: Session, batch: int = 20_000, *, since: tuple[int, str] | None = None,
           visit: Visitor | None = None) -> Verification:
    """Walk the chain in id order, in batches (constant memory). Columns are read raw (no
    datetime or JSON parsing): the hash covers the stored text, so that is all it needs.

    ``since``: a verified checkpoint (id, hash): the walk starts there (the entry must still be there
    with that hash, and unchanged) instead of at the first entry. ``visit`` sees every entry checked."""
    table = AuditEntry.__table__
    columns = [table.c.id, type_coerce(table.c.at, String()), table.c.username, table.c.action, table.c.object_type,
               table.c.object_id, table.c.old, table.c.new, table.c.reason, table.c.prev_hash, table.c.hash]
    previous_hash, expected_id, checked, last_seen = GENESIS, 1, 0, 0
    sha256, dumps = hashlib.sha256, json.dumps
    if since is not None and since[0] > 0:
        seq, anchored = since
        row = session.execute(select(*columns).where(table.c.id == seq)).first()
        if row is None:
            return Verification(False, 0, seq, f"entry {seq}, verified at the last checkpoint, is missing", seq - 1)
        body = dumps([row[0], canonical_time(row[1]), *row[2:9]], ensure_ascii=False, separators=(",", ":"))
        if row[10] != anchored:
            return Verification(False, 0, seq, f"entry {seq} no longer has the hash verified at the last checkpoint: "
                                "the chain was recomputed", seq - 1)
        if sha256((row[9] + body).encode("utf-8")).hexdigest() != anchored:
            return Verification(False, 0, seq, f"entry {seq} was changed after it was written", seq - 1)
        previous_hash, expected_id, last_seen = anchored, seq + 1, seq
    while True:
        rows = session.execute(select(*columns).where(table.c.id > last_seen).order_by(table.c.id).limit(batch)).all()
        if not rows:
            break
        for id_, at, username, action, object_type, object_id, old, new, reason, prev_hash, digest in rows:
            if id_ != expected_id:
                return Verification(False, checked, expected_id, f"entry {expected_id} is missing", expected_id - 1)
            if prev_hash != previous_hash:
                return Verification(False, checked, id_, f"entry {id_} does not chain onto entry {id_ - 1}", id_ - 1)
            body = dumps([id_, canonical_time(at), username, action, object_type, object_id, old, new, reason],
                         ensure_ascii=False, separators=(",", ":"))
            if sha256((prev_hash + body).encode("utf-8")).hexdigest() != digest:
                return Verification(False, checked, id_, f"entry {id_} was changed after it was written", id_ - 1)
            if visit is not None:
                visit(id_, at, action, object_type, object_id, new, digest)
            previous_hash, expected_id, checked = digest, id_ + 1, checked + 1
        last_seen = rows[-1][0]
    end = expected_id - 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != end or head.last_hash != previous_hash):
        return Verification(False, checked, end + 1, f"the chain ends at entry {end} but the head "
                            f"records entry {head.last_id}: entries were removed", end)
    return Verification(True, checked, end=end, last_hash=previous_hash)
