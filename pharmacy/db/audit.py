"""The tamper-evident audit trail: append-only rows, each carrying the SHA-256 of the one before.

``append`` runs inside the caller's transaction (the entry commits or rolls back with the change it
records). ``verify`` walks the chain and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
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


def _head(session: Session) -> AuditHead:
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
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
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""


def verify(session: Session, batch: int = 20_000) -> Verification:
    """Walk the whole chain in id order, in batches (constant memory). Columns are read raw (no
    datetime or JSON parsing): the hash covers the stored text, so that is all it needs."""
    table = AuditEntry.__table__
    columns = [table.c.id, type_coerce(table.c.at, String()), table.c.username, table.c.action, table.c.object_type,
               table.c.object_id, table.c.old, table.c.new, table.c.reason, table.c.prev_hash, table.c.hash]
    previous_hash, expected_id, checked, last_seen = GENESIS, 1, 0, 0
    sha256, dumps = hashlib.sha256, json.dumps
    while True:
        rows = session.execute(select(*columns).where(table.c.id > last_seen).order_by(table.c.id).limit(batch)).all()
        if not rows:
            break
        for id_, at, username, action, object_type, object_id, old, new, reason, prev_hash, digest in rows:
            if id_ != expected_id:
                return Verification(False, checked, expected_id, f"entry {expected_id} is missing")
            if prev_hash != previous_hash:
                return Verification(False, checked, id_, f"entry {id_} does not chain onto entry {id_ - 1}")
            body = dumps([id_, canonical_time(at), username, action, object_type, object_id, old, new, reason],
                         ensure_ascii=False, separators=(",", ":"))
            if sha256((prev_hash + body).encode("utf-8")).hexdigest() != digest:
                return Verification(False, checked, id_, f"entry {id_} was changed after it was written")
            previous_hash, expected_id, checked = digest, id_ + 1, checked + 1
        last_seen = rows[-1][0]
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != checked or head.last_hash != previous_hash):
        return Verification(False, checked, checked + 1, f"the chain ends at entry {checked} but the head "
                            f"records entry {head.last_id}: entries were removed")
    return Verification(True, checked)
