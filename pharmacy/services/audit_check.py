"""``pharmacy audit verify``: the hash chain held against the anchors outside the database, and the
current rows of bags, vials and administrations held against the state the audit trail records
(issue 13, hazard H15).

What it names:
- the chain itself (``db/audit.verify``): an entry changed, missing, or not chaining on;
- against the anchors (``db/anchor``): entries cut from the tail (an anchor records an entry the chain
  no longer has — also when the head row was reset to match), a chain recomputed (the hash at an
  anchored entry differs), an anchor or checkpoint file missing, edited, shortened, or with a line
  signed without the key; as warnings (``--strict``: failures), entries no commit's anchor names as
  its own (a failed anchor write, or entries appended in the database directly: the chain has no key)
  and entries not yet anchored a minute after they were written;
- state replay: a bag, vial or administration row whose serial, lot, state, use-by, location, patient
  or start/end time is not what its audit entries say (a direct ``UPDATE``), a row with no entry of
  its creation (a direct ``INSERT``), an audited object whose row is gone (a direct ``DELETE``).

Two modes. ``full`` (the default, and what an auditor runs by hand) walks the chain from the first
entry, checks every anchor line's signature and replays the state from nothing.
``since_checkpoint`` (for a run every few minutes) starts from the last signed checkpoint: the entry
there must still have the hash the checkpoint signed; only later entries are hashed, the anchor
file's earlier part is checked by its SHA-256 only, and the state is replayed from the snapshot the
checkpoint sealed. It does not re-read entries before the checkpoint, so an edit there is found by the
next full run (schedule one nightly or weekly). A run that finds nothing writes a new checkpoint
(when it can read the signing key). The database is read in one snapshot (REPEATABLE READ on
PostgreSQL), the anchor file before it, so a commit during the run is never mistaken for tampering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db import anchor, audit
from pharmacy.db.models import Administration, AuditEntry, AuditHead, Bag, Patient, StorageLocation, Vial
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.lifecycle import VIAL, VialState
from pharmacy.i18n import _
from pharmacy.services.base import Pharmacy

# an anchor written later than this after the entries it first covers means a failed anchor write
ANCHOR_GAP = timedelta(minutes=1)


@dataclass
class Report:
    mode: str
    chain: audit.Verification
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    anchors_checked: int = 0
    latest_anchor: str = ""
    key: str = ""
    replayed: dict[str, int] = field(default_factory=dict)
    checkpoint_from: int | None = None
    checkpoint_written: int | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


@dataclass
class _Anchors:
    """What the anchor file says: the hash at each anchored entry (restores applied), in file order."""

    expected: dict[int, tuple[str, anchor.Record]] = field(default_factory=dict)
    order: list[anchor.Record] = field(default_factory=list)
    restores: list[anchor.Record] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0


class _Replay:
    """The state of bags, vials and administrations as the audit entries record it. Only what an
    entry says is compared: a field an older entry did not record is left unchecked."""

    def __init__(self, state: dict[str, Any] | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self.state: dict[str, dict[str, dict[str, Any]]] = state or {"bag": {}, "vial": {}, "administration": {}}

    def __call__(self, id_: int, at: str, action: str, object_type: str, object_id: str, new_json: str | None,
                 digest: str) -> None:
        if object_type == "bag":
            self._bag(action, object_id, json.loads(new_json) if new_json else {})
        elif object_type == "vial":
            new = json.loads(new_json) if new_json else {}
            vials = self.state["vial"]
            if action == "stock.receive":
                vials[object_id] = {"created": True, "gtin": new.get("gtin"), "serial": new.get("serial"),
                                    "lot": new.get("lot"), "expiry": new.get("expiry"), "state": VIAL.initial.value}
            elif "state" in new:
                vials.setdefault(object_id, {})["state"] = new["state"]
        elif action == "prep.vial" and new_json:
            vial = json.loads(new_json).get("vial")
            if vial is not None:
                self.state["vial"].setdefault(str(vial), {})["state"] = VialState.IN_USE.value

    def _bag(self, action: str, object_id: str, new: dict[str, Any]) -> None:
        bag = self.state["bag"].setdefault(object_id, {})
        if action == "bag.create":
            bag.update(created=True, serial=new.get("serial"), batch=new.get("batch"), use_by=new.get("use_by"),
                       location=None)
        elif action == "bag.resign" and "use_by" in new:  # signed again after a send-back (services/preparation.sign)
            bag["use_by"] = new["use_by"]
        if "state" in new:
            bag["state"] = new["state"]
        if action in ("bag.release", "bag.reject"):
            if "use_by" in new:
                bag["use_by"] = new["use_by"]
            if new.get("vial") is not None and "vial_state" in new:
                self.state["vial"].setdefault(str(new["vial"]), {})["state"] = new["vial_state"]
        elif action == "bag.store":
            bag["location"] = new.get("location")
        elif action == "bag.take_out":
            bag["location"] = None
        elif action.startswith("administration."):
            given = self.state["administration"].setdefault(object_id, {})
            if action == "administration.start":
                given.update(created=True, patient=new.get("patient"), ended_at=None, end_reason=None)
                if "started_at" in new:
                    given["started_at"] = new["started_at"]
            elif action == "administration.resume":
                given.update(ended_at=None, end_reason=None)
            elif action in ("administration.end", "administration.interrupt") and not new.get("not_resumed"):
                if "ended_at" in new:
                    given["ended_at"] = new["ended_at"]
                if "end_reason" in new:
                    given["end_reason"] = new["end_reason"]


def _utc(value: object) -> str | None:
    """A time as compared and shown: UTC ISO text (an ISO string from an entry, or a column's datetime)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return audit.canonical_time(moment)


def _differs(problems: list[str], what: str, audited: dict[str, Any], field_name: str, current: object,
             shown: str | None = None) -> None:
    if field_name not in audited:
        return
    expected = audited[field_name]
    if field_name.endswith(("_at", "use_by")):
        expected, current = _utc(expected), _utc(current)
    elif current is not None and not isinstance(current, str):
        current = str(current.value if hasattr(current, "value") else current)
    if expected != current:
        problems.append(f"STATE {what}: {shown or field_name} is {current or 'empty'} in the database but the audit "
                        f"trail says {expected or 'empty'} (changed directly in the database)")


def _compare_rows(session: Session, replay: _Replay, problems: list[str]) -> dict[str, int]:
    state = replay.state
    value: object  # a column's value, compared with what the trail says
    seen: dict[str, set[str]] = {"bag": set(), "vial": set(), "administration": set()}
    bags = session.execute(select(Bag.id, Bag.serial, Bag.batch, Bag.state, Bag.use_by, StorageLocation.name)
                           .outerjoin(StorageLocation, StorageLocation.id == Bag.location_id).order_by(Bag.id)).all()
    for id_, serial, batch, bag_state, use_by, location in bags:
        key, what = str(id_), f"bag {serial}"
        seen["bag"].add(key)
        audited = state["bag"].get(key, {})
        if not audited.get("created"):
            problems.append(f"STATE {what}: no bag.create entry in the audit trail (inserted directly in the database)")
            continue
        for name, value in (("serial", serial), ("batch", batch), ("state", bag_state), ("use_by", use_by),
                            ("location", location)):
            _differs(problems, what, audited, name, value)
    vials = session.execute(select(Vial.id, Vial.gtin, Vial.serial, Vial.lot, Vial.expiry, Vial.state).order_by(Vial.id)).all()
    for id_, gtin, serial, lot, expiry, vial_state in vials:
        key, what = str(id_), f"vial serial {serial}"
        seen["vial"].add(key)
        audited = state["vial"].get(key, {})
        if not audited.get("created"):
            problems.append(f"STATE {what}: no stock.receive entry in the audit trail (inserted directly in the database)")
            continue
        for name, value in (("gtin", gtin), ("serial", serial), ("lot", lot), ("expiry", expiry.isoformat()),
                            ("state", vial_state)):
            _differs(problems, what, audited, name, value)
    given = session.execute(select(Administration.bag_id, Bag.serial, Patient.identifier, Administration.started_at,
                                   Administration.ended_at, Administration.end_reason)
                            .join(Bag, Bag.id == Administration.bag_id)
                            .join(Patient, Patient.id == Administration.patient_id).order_by(Administration.id)).all()
    for bag_id, serial, patient, started_at, ended_at, end_reason in given:
        key, what = str(bag_id), f"administration of bag {serial}"
        seen["administration"].add(key)
        audited = state["administration"].get(key, {})
        if not audited.get("created"):
            problems.append(f"STATE {what}: no administration.start entry in the audit trail "
                            "(inserted directly in the database)")
            continue
        recorded: tuple[tuple[str, object], ...] = (("patient", patient), ("started_at", started_at),
                                                     ("ended_at", ended_at), ("end_reason", end_reason))
        for name, value in recorded:
            _differs(problems, what, audited, name, value)
    for kind, objects in state.items():
        for key, audited in objects.items():
            if audited.get("created") and key not in seen[kind]:
                name = audited.get("serial") or state["bag"].get(key, {}).get("serial") or key
                problems.append(f"STATE {kind.replace('administration', 'administration of bag')} {name}: in the audit "
                                "trail but no longer in the database (deleted directly)")
    return {"bags": len(bags), "vials": len(vials), "administrations": len(given)}


def _read_anchors(path: Path, public: Any, report: Report, checkpoint: dict[str, Any] | None) -> _Anchors:
    found = _Anchors()
    offset, first_line = 0, 1
    if checkpoint is not None:
        offset, first_line = int(checkpoint["anchors_bytes"]), int(checkpoint["anchors_lines"]) + 1
        if anchor.prefix_digest(path, offset) != checkpoint["anchors_sha256"]:
            report.problems.append(f"ANCHOR FILE {path}: its first {offset} bytes are not the ones the last "
                                   "checkpoint sealed: earlier anchors were edited, removed or the file replaced")
        top = checkpoint.get("anchor_max")
        if top:  # the highest anchor before the checkpoint, as it sealed it
            found.expected[int(top[0])] = (str(top[1]), anchor.Record(int(top[3]), "head", int(top[0]), str(top[1]),
                                                                      str(top[2]), {}))
    reading = anchor.read(path, public, offset, first_line)
    report.problems.extend(f"ANCHOR FILE {path}: {p}" for p in reading.problems)
    report.warnings.extend(reading.warnings)
    found.bytes, found.lines = reading.end, first_line - 1 + len(reading.records) + len(reading.problems)
    for record in reading.records:
        if record.kind == "restore":  # an operator with the key restored a backup: later entries dropped
            dropped = [s for s in found.expected if s > record.seq]
            for seq in dropped:
                del found.expected[seq]
            found.restores.append(record)
            if dropped:
                report.warnings.append(f"entries {record.seq + 1}–{max(dropped)} were dropped by the restore of "
                                       f"{record.fields.get('source', 'a backup')} at {record.written} (anchor file "
                                       f"line {record.line})")
        if record.kind in ("head", "restore", "adopt"):
            found.expected[record.seq] = (record.hash, record)
            found.order.append(record)
    report.anchors_checked = len(reading.records)
    return found


def _latest_checkpoint(folder: Path, public: Any, report: Report) -> dict[str, Any] | None:
    path = folder / anchor.CHECKPOINT_FILE
    if not path.exists():
        return None
    reading = anchor.read(path, public)
    report.problems.extend(f"CHECKPOINT FILE {path}: {p}" for p in reading.problems)
    report.warnings.extend(reading.warnings)
    latest = [r for r in reading.records if r.kind in ("checkpoint", "restore")]
    return latest[-1].fields if latest and latest[-1].kind == "checkpoint" else None  # none after a restore


def verify(pharmacy: Pharmacy, full: bool = True, checkpoint: bool = True, replay_state: bool = True) -> Report:
    """See the module's docstring. ``checkpoint``: write a checkpoint when nothing was found;
    ``replay_state`` False (the benchmark's chain-only figure): no state replay, and a checkpoint
    without a state snapshot (a later run that replays walks the whole chain)."""
    settings = pharmacy.settings
    folder = settings.instance
    key_path = anchor.key_file(folder, settings.audit_key)
    anchors_path = folder / anchor.ANCHOR_FILE
    public = anchor.verifying_key(key_path)
    report = Report("full" if full else "since-checkpoint", audit.Verification(True, 0))
    if public is not None:
        report.key = anchor.fingerprint(public)
    since = None if full or public is None else _latest_checkpoint(folder, public, report)
    if not full and since is None and public is not None:
        report.warnings.append("no verified checkpoint yet: the whole chain was walked")
        report.mode = "full"
    if since is not None and replay_state and not since.get("state_sha256"):
        report.warnings.append("the last checkpoint has no replayed state: the whole chain was walked")
        since, report.mode = None, "full"
    found = _Anchors()
    if public is None:
        if anchors_path.exists():
            report.problems.append(f"ANCHOR KEY {anchor.public_key_file(key_path)} is missing: the anchors in "
                                   f"{anchors_path} cannot be checked. Restore the public key from its pinned copy.")
    elif anchors_path.exists():
        found = _read_anchors(anchors_path, public, report, since)
    replay = _Replay(None, replay_state)
    state_sha = since.get("state_sha256") if since else None
    if since is not None:
        report.checkpoint_from = int(since["seq"])
    if since is not None and replay_state:
        snapshot = anchor.read_state(folder, str(state_sha))
        if snapshot is None:
            report.problems.append(f"STATE SNAPSHOT {folder / anchor.STATE_FILE} is missing or is not the one the last "
                                   "checkpoint sealed; run `pharmacy audit verify --full`")
            return report
        replay = _Replay(snapshot)
    gaps = _uncovered(found, 0 if since is None else int(since["seq"]))
    with _snapshot(pharmacy) as session:
        start = (int(since["seq"]), str(since["hash"])) if since else None
        report.chain = chain = audit.verify(session, since=start, visit=replay if replay_state else None)
        head = session.get(AuditHead, 1)
        hashes = _hashes(session, list(found.expected))
        last = session.execute(select(func.max(AuditEntry.id))).scalar_one() or 0
        _against_anchors(report, found, hashes, chain, head, last, anchors_path)
        if not anchors_path.exists() and chain.end > 0:
            report.problems.append(f"ANCHOR FILE {anchors_path} is missing: the {chain.end} entries are not anchored "
                                   "outside the database (deleted? moved?). A database from before anchoring is "
                                   "adopted once with `pharmacy audit anchor` after a full verify.")
        _gaps(report, gaps, session, chain, found)
        if chain.ok and replay_state:
            report.replayed = _compare_rows(session, replay, report.problems)
    unchanged = since is not None and int(since["seq"]) == chain.end and int(since["anchors_bytes"]) == found.bytes
    if report.ok and checkpoint and key_path.exists() and not unchanged:
        report.checkpoint_written = _write_checkpoint(pharmacy, folder, found, anchors_path, chain, replay)
    return report


class _snapshot:
    """One read-only snapshot of the whole database for the run."""

    def __init__(self, pharmacy: Pharmacy) -> None:
        self.pharmacy = pharmacy

    def __enter__(self) -> Session:
        connection = self.pharmacy.db.engine.connect()
        options: dict[str, Any] = {"readonly": True} if self.pharmacy.db.is_sqlite else {"isolation_level": "REPEATABLE READ"}
        self.connection = connection.execution_options(**options)
        self.session = Session(bind=self.connection)
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.connection.close()


def _hashes(session: Session, ids: list[int]) -> dict[int, str]:
    table = AuditEntry.__table__
    result: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        result.update((id_, digest) for id_, digest in session.execute(
            select(table.c.id, table.c.hash).where(table.c.id.in_(chunk))))
    return result


def _against_anchors(report: Report, found: _Anchors, hashes: dict[int, str], chain: audit.Verification,
                     head: AuditHead | None, last: int, path: Path) -> None:
    if not found.expected:
        return
    top = max(found.expected)
    top_record = found.expected[top][1]
    report.latest_anchor = f"entry {top} at {top_record.written}"
    mismatched = sorted(seq for seq in found.expected if seq in hashes and hashes[seq] != found.expected[seq][0])
    if mismatched:
        seq = mismatched[0]
        record = found.expected[seq][1]
        report.problems.append(f"ANCHOR: the chain was recomputed: entry {seq}'s hash is not the one anchored outside "
                               f"the database at {record.written} ({path.name} line {record.line})"
                               + (f"; {len(mismatched) - 1} later anchor(s) differ too" if len(mismatched) > 1 else ""))
    if top > last:  # the anchored entry is gone, and every one after the last that is left
        reset = head is not None and head.last_id == last
        report.problems.append(f"ANCHOR: entries {last + 1}–{top} were cut from the tail: the anchor written at "
                               f"{top_record.written} ({path.name} line {top_record.line}) records entry {top}, the "
                               f"chain ends at entry {last}" + (" and the head row was reset to match" if reset else ""))


def _times(session: Session, ids: list[int]) -> dict[int, str]:
    """The stored time of each entry named (as the hash covers it)."""
    table = AuditEntry.__table__
    result: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        result.update((id_, at) for id_, at in session.execute(
            select(table.c.id, type_coerce(table.c.at, String())).where(table.c.id.in_(chunk))))
    return result


def _uncovered(found: _Anchors, base: int) -> list[tuple[int, int, anchor.Record]]:
    """The entries after ``base`` that no commit's anchor names as its own (``first``..``seq`` of each
    head line; an adoption or a restore covers everything up to it), each range with the anchor that
    first covered it by its hash: a failed anchor write, or entries appended in the database directly."""
    ranges = sorted((1 if r.kind != "head" else int(r.fields.get("first", r.seq)), r.seq) for r in found.order)
    gaps, reached = [], base
    for first, last in ranges:
        if first > reached + 1:
            cover = next(r for r in found.order if r.seq >= first - 1)
            gaps.append((reached + 1, first - 1, cover))
        reached = max(reached, last)
    return gaps


def _gaps(report: Report, gaps: list[tuple[int, int, anchor.Record]], session: Session,
          chain: audit.Verification, found: _Anchors) -> None:
    covered = max(found.expected, default=report.checkpoint_from or 0)
    times = _times(session, [first for first, _, _ in gaps[:10]] + [covered + 1])
    for first, last, cover in gaps[:10]:
        at = times.get(first)
        since = f" (from {audit.canonical_time(at)})" if at is not None else ""
        report.warnings.append(
            f"anchor gap: entries {first}–{last}{since} were not anchored by the commit that wrote them; first "
            f"covered by the anchor written at {cover.written} (anchor file line {cover.line}). Either an anchor "
            "write failed (logged then as AUDIT ANCHOR NOT WRITTEN) or they were appended in the database "
            "directly: check these entries")
    if len(gaps) > 10:
        report.warnings.append(f"{len(gaps) - 10} more anchor gap(s)")
    at = times.get(covered + 1)
    # entries committed while this run read the anchor file are not a finding: only a tail older than ANCHOR_GAP
    if chain.ok and chain.end > covered and at is not None:
        since = audit.canonical_time(at)
        if clock.now() - datetime.fromisoformat(since) > ANCHOR_GAP:
            report.warnings.append(f"entries {covered + 1}–{chain.end} (from {since}) are not anchored yet (the next "
                                   "commit's anchor covers them; if this stays, the anchor file is not being written)")


def _write_checkpoint(pharmacy: Pharmacy, folder: Path, found: _Anchors, anchors_path: Path,
                      chain: audit.Verification, replay: _Replay) -> int:
    writer = anchor.Anchorer(folder, pharmacy.settings.audit_key)
    state_sha = anchor.write_state(folder, replay.state) if replay.enabled else ""
    digest = anchor.prefix_digest(anchors_path, found.bytes) if anchors_path.exists() else None
    top = max(found.expected, default=None)
    anchor_max = None
    if top is not None:
        record = found.expected[top][1]
        anchor_max = [top, found.expected[top][0], record.written, record.line]
    record_fields = {"seq": chain.end, "hash": chain.last_hash, "anchors_bytes": found.bytes,
                     "anchors_lines": found.lines, "anchors_sha256": digest or "", "anchor_max": anchor_max,
                     "state_sha256": state_sha}
    line = anchor.signed_line(writer.key, {"v": 1, "kind": "checkpoint", **record_fields,
                                           "written": audit.canonical_time(clock.now())})
    anchor.append_line(folder / anchor.CHECKPOINT_FILE, line)
    return chain.end


def adopt(pharmacy: Pharmacy) -> int:
    """Anchor the head of a chain that verifies whole (``pharmacy audit anchor``)."""
    with _snapshot(pharmacy) as session:
        chain = audit.verify(session)
    if not chain.ok:
        raise PharmacyError(_("The audit chain is broken ({problem}); it is not anchored. "
                              "Find out what happened first.", problem=chain.problem))
    anchor.Anchorer(pharmacy.settings.instance, pharmacy.settings.audit_key).write(
        "adopt", seq=chain.end, hash=chain.last_hash)
    return chain.end


def record_restore(pharmacy: Pharmacy, chain: audit.Verification, source: Path) -> None:
    """A backup was restored (``setup.restore``, run by an operator on the server): the entries after
    ``chain.end`` are gone on purpose. Signed into the anchor file, so verify does not call it a cut tail,
    and into the checkpoint file, so the next run walks the whole restored chain."""
    writer = anchor.Anchorer(pharmacy.settings.instance, pharmacy.settings.audit_key)
    writer.write("restore", seq=chain.end, hash=chain.last_hash, source=str(source))
    line = anchor.signed_line(writer.key, {"v": 1, "kind": "restore", "seq": chain.end, "hash": chain.last_hash,
                                           "written": audit.canonical_time(clock.now())})
    anchor.append_line(pharmacy.settings.instance / anchor.CHECKPOINT_FILE, line)
