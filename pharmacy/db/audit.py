"""The tamper-evident audit trail: append-only rows, each carrying the SHA-256 of the one before.

``append`` runs inside the caller's transaction (the entry commits or rolls back with the change it
records). ``verify`` walks the chain and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, id_: int, at: datetime, username: str, action: str, object_type: str,
               object_id: str, old, new, reason) -> str:
    body = json.dumps(
        [id_, _canonical_time(at), username, action, object_type, object_id, old, new, reason],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _head(session: Session) -> AuditHead:
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def _plain(value):
    """JSON-able old/new values; dates and quantities become their text."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def append(session: Session, username: str, action: str, object_type: str, object_id, *,
           old=None, new=None, reason: str | None = None) -> AuditEntry:
    head = _head(session)
    at = clock.now()
    id_ = head.last_id + 1
    old, new = _plain(old), _plain(new)
    digest = entry_hash(head.last_hash, id_, at, username, action, object_type, str(object_id), old, new, reason)
    entry = AuditEntry(
        id=id_, at=at, username=username, action=action, object_type=object_type, object_id=str(object_id),
        old=old, new=new, reason=reason, prev_hash=head.last_hash, hash=digest,
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


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the whole chain in id order, in batches (constant memory)."""
    previous_hash, expected_id, checked = GENESIS, 1, 0
    last_seen = 0
    while True:
        rows = session.execute(
            select(AuditEntry.id, AuditEntry.at, AuditEntry.username, AuditEntry.action, AuditEntry.object_type,
                   AuditEntry.object_id, AuditEntry.old, AuditEntry.new, AuditEntry.reason,
                   AuditEntry.prev_hash, AuditEntry.hash)
            .where(AuditEntry.id > last_seen).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.id != expected_id:
                return Verification(False, checked, expected_id, f"entry {expected_id} is missing")
            if row.prev_hash != previous_hash:
                return Verification(False, checked, row.id, f"entry {row.id} does not chain onto entry {row.id - 1}")
            digest = entry_hash(row.prev_hash, row.id, row.at, row.username, row.action, row.object_type,
                                row.object_id, row.old, row.new, row.reason)
            if digest != row.hash:
                return Verification(False, checked, row.id, f"entry {row.id} was changed after it was written")
            previous_hash, expected_id, checked = row.hash, row.id + 1, checked + 1
        last_seen = rows[-1].id
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != checked or head.last_hash != previous_hash):
        return Verification(False, checked, checked + 1, f"the chain ends at entry {checked} but the head "
                            f"records entry {head.last_id}: entries were removed")
    return Verification(True, checked)
