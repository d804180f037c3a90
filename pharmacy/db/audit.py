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

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from pharmacy import clock
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


_HEAD = select(AuditHead).where(AuditHead.id == 1).with_for_update()  # built once: every write asks it (issue 18)


def _head(session: Session) -> AuditHead:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite: what the caller changed is written with the entry, in the one flush of ``append`` (issue 18: a
        # preparation's step flushed twice, 1.5 ms each). The write transaction holds the whole database from its
        # BEGIN, so the order of its row locks is moot. Not on PostgreSQL: there the caller's rows are written (and
        # locked) before the head is, as every writer does, so two writers never wait on each other in a circle.
        with session.no_autoflush:
            head = session.execute(_HEAD).scalar_one_or_none()
    else:
        head = session.execute(_HEAD).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def append(session: Session, username: str, action: str, object_type: str, object_id: object, *,
           old: object = None, new: object = None, reason: str | None = None) -> AuditEntry:
    # the columns' widths, checked here so SQLite (which does not enforce them) refuses what PostgreSQL would
    for value, column in ((action, AuditEntry.action), (object_type, AuditEntry.object_type),
                          (str(object_id), AuditEntry.object_id), (username, AuditEntry.username)):
        width = column.type.length
        if width is not None and len(value) > width:
            raise ValueError(f"audit {column.key} {value!r} is longer than its column ({width})")
    head = _head(session)
    at = clock.now()
    id_ = head.last_id + 1
    old_json, new_json = json_text(old), json_text(new)
    digest = entry_hash(head.last_hash, id_, canonical_time(at), username, action, object_type, str(object_id),
                        old_json, new_json, reason)
    entry = AuditEntry(
        id=id_, at=at, username=username, action=action, object_type=object_type, object_id=str(object_id),
        old_json=old_json, new_json=new_json, reason=reason, prev_hash=head.last_hash, hash=digest,
    )
    session.add(entry)
    head.last_id, head.last_hash = id_, digest
    session.flush()
    # anchored outside the database after the commit (db/anchor.py): this transaction's first entry and the head
    first = session.info["audit_head"][0] if "audit_head" in session.info else id_
    session.info["audit_head"] = (first, id_, digest, at)
    return entry


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
