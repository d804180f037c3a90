"""Reports a pharmacy's own review asks for (issue 7.5): the work done per day and user, refusals and
near misses by kind, waste with its cost, bags whose use-by passed unused — over a period of local
days — plus the audit log export and the last verification of its chain. Nothing here changes a
record; the verification result is kept in a file of the instance folder, not in the database."""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.models import (
    Administration,
    AuditEntry,
    Bag,
    Disposal,
    LabelPrint,
    Order,
    Patient,
    Preparation,
    PreparationStep,
    Refusal,
    User,
    Vial,
)
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.inuse import effective_state, to_local
from pharmacy.domain.lifecycle import BagState, PrepState
from pharmacy.i18n import _, lazy
from pharmacy.services.base import Pharmacy, actor, instance_path
from pharmacy.services.trace import audit_conditions

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Whole local days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of ``first`` to local midnight after ``last``."""
        return (datetime.combine(self.first, datetime.min.time(), zone).astimezone(UTC),
                datetime.combine(self.last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC))

    def __str__(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


def period(first: date, last: date) -> Period:
    if last < first:
        raise PharmacyError(_("The period ends ({last}) before it starts ({first}).", last=last.isoformat(), first=first.isoformat()))
    if (last - first).days >= MAX_DAYS:
        raise PharmacyError(_("Choose a period of at most {MAX_DAYS} days.", MAX_DAYS=MAX_DAYS))
    return Period(first, last)


# --- work done --------------------------------------------------------------------------------
WORK_COLUMNS = ["day", "username", "name", "preparations_signed", "bags_checked", "bags_released", "bags_rejected",
                "labels_printed", "reprints", "administrations"]
_COUNTS = WORK_COLUMNS[3:]


def work_done(pharmacy: Pharmacy, when: Period) -> list[dict]:
    """Per local day and user: preparations signed, bags checked (released or rejected), labels
    printed (first prints and reprints) and administrations started. Days without work are left out."""
    start, end = when.bounds(pharmacy.zone)
    tally: dict[tuple[date, int], Counter] = defaultdict(Counter)

    def add(user_id: int, at: datetime, *counts: str) -> None:
        for name in counts:
            tally[(to_local(at, pharmacy.zone).date(), user_id)][name] += 1

    with pharmacy.uow(readonly=True) as uow:
        session = uow.session
        users = {u.id: u for u in session.execute(select(User)).scalars()}
        for step, user_id, at, detail in session.execute(
                select(PreparationStep.step, PreparationStep.user_id, PreparationStep.at, PreparationStep.detail)
                .where(PreparationStep.step.in_(("sign", "check")), PreparationStep.at >= start, PreparationStep.at < end)):
            if step == "sign":
                add(user_id, at, "preparations_signed")
            else:
                add(user_id, at, "bags_checked",
                    "bags_released" if (detail or {}).get("meaning") == BagState.RELEASED else "bags_rejected")
        for user_id, at, number in session.execute(select(LabelPrint.user_id, LabelPrint.at, LabelPrint.number)
                                                   .where(LabelPrint.at >= start, LabelPrint.at < end)):
            add(user_id, at, "labels_printed" if number == 1 else "reprints")
        for user_id, at in session.execute(select(Administration.nurse_id, Administration.started_at)
                                           .where(Administration.started_at >= start, Administration.started_at < end)):
            add(user_id, at, "administrations")
    rows = []
    for (day, user_id), counts in tally.items():
        user = users.get(user_id)
        rows.append({"day": day, "username": user.username if user else f"user {user_id}",
                     "name": user.full_name if user else "", **{name: counts[name] for name in _COUNTS}})
    return sorted(rows, key=lambda r: (r["day"], r["username"]))


# --- refusals and near misses -------------------------------------------------------------------
# What each refusal code means to a safety review (codes: pharmacy.domain.errors).
REFUSAL_KINDS = {
    "wrong_diluent": lazy("Wrong diluent scanned"),
    "wrong_product": lazy("Wrong product scanned"),
    "expired": lazy("Expired item scanned or bag past its use-by"),
    "volume_out_of_tolerance": lazy("Withdrawn volume out of tolerance"),
    "separation_of_duties": lazy("Self-check attempt (preparer tried to check)"),
    "serial_already_known": lazy("Serial seen before (used vial or possible falsified pack)"),
    "scan_malformed": lazy("Unreadable or malformed scan"),
    "check_digit_invalid": lazy("Scan with a wrong check digit"),
    "unknown_gtin": lazy("Unknown product code scanned"),
    "quantity_invalid": lazy("Volume typed without a unit or out of range"),
    "administration_refused": lazy("Bedside check refused"),
    "course_rule_breach": lazy("Course rules (SmPC 4.2) not met"),
    "authentication_failed": lazy("Wrong password at an electronic signature"),
    "forbidden": lazy("Action not allowed for the user's role"),
    "not_found": lazy("Unknown item (not received, no such bag or patient)"),
    "state_conflict": lazy("Stale form, double submit or item in the wrong state"),
}
REFUSAL_SUMMARY_COLUMNS = ["code", "what", "count"]
REFUSAL_COLUMNS = ["at", "code", "what", "username", "action", "object_type", "object_id", "message"]


def _what(code: str) -> str:
    return i18n.now(REFUSAL_KINDS.get(code, lazy("Other refusal")))


def refusals(pharmacy: Pharmacy, when: Period) -> list[dict]:
    """Every refused action of the period, grouped by code (most frequent code first), oldest first."""
    start, end = when.bounds(pharmacy.zone)
    with pharmacy.uow(readonly=True) as uow:
        notes = uow.session.execute(select(Refusal).where(Refusal.at >= start, Refusal.at < end)
                                    .order_by(Refusal.at, Refusal.id)).scalars().all()
    counts = Counter(n.code for n in notes)
    rows = [{"at": n.at, "code": n.code, "what": _what(n.code), "username": n.username, "action": n.action,
             "object_type": n.object_type, "object_id": n.object_id, "message": n.message} for n in notes]
    return sorted(rows, key=lambda r: (-counts[r["code"]], r["code"]))  # stable: time order within a code


def refusal_summary(pharmacy: Pharmacy, when: Period) -> list[dict]:
    """How many refusals of each code, most frequent first."""
    counts = Counter(r["code"] for r in refusals(pharmacy, when))
    return [{"code": code, "what": _what(code), "count": count}
            for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


# --- waste ---------------------------------------------------------------------------------------
WASTE_COLUMNS = ["at", "what", "bag_serial", "vial_serial", "vial_lot", "patient_id", "reason", "by", "cost"]


def vial_cost(pharmacy: Pharmacy) -> Decimal | None:
    cost = pharmacy.settings.vial_cost
    return None if cost is None or cost == "" else Decimal(str(cost))


def waste(pharmacy: Pharmacy, when: Period) -> list[dict]:
    """Bags recorded as destroyed and vials rejected at the visual inspection: one vial each, with
    the reason, who, and the vial's cost where ``PHARMACY_VIAL_COST`` is set."""
    start, end = when.bounds(pharmacy.zone)
    cost = vial_cost(pharmacy)
    with pharmacy.uow(readonly=True) as uow:
        session = uow.session
        rows = [{"at": at, "what": _("bag destroyed"), "bag_serial": serial, "vial_serial": vial_serial,
                 "vial_lot": lot, "patient_id": patient_id, "reason": reason, "by": username, "cost": cost}
                for at, serial, vial_serial, lot, patient_id, reason, username in session.execute(
                    select(Disposal.at, Bag.serial, Vial.serial, Vial.lot, Patient.identifier, Disposal.reason,
                           User.username)
                    .join(Bag, Bag.id == Disposal.object_id).join(Preparation, Bag.preparation_id == Preparation.id)
                    .join(Vial, Preparation.vial_id == Vial.id).join(Order, Preparation.order_id == Order.id)
                    .join(Patient, Order.patient_id == Patient.id).join(User, User.id == Disposal.user_id)
                    .where(Disposal.object_type == "bag", Disposal.at >= start, Disposal.at < end))]
        rejected = session.execute(select(AuditEntry.at, AuditEntry.object_id, AuditEntry.reason, AuditEntry.username)
                                   .where(AuditEntry.action == "vial.reject", AuditEntry.at >= start,
                                          AuditEntry.at < end)).all()
        vials = {str(v.id): v for v in session.execute(
            select(Vial).where(Vial.id.in_([int(r.object_id) for r in rejected])))
            .scalars()} if rejected else {}
        for at, vial_id, reason, username in rejected:
            vial = vials.get(vial_id)
            rows.append({"at": at, "what": _("vial rejected at inspection"), "bag_serial": None,
                         "vial_serial": vial.serial if vial else None, "vial_lot": vial.lot if vial else None,
                         "patient_id": None, "reason": reason, "by": username, "cost": cost})
    return sorted(rows, key=lambda r: (r["at"], r["what"]))


def waste_total(pharmacy: Pharmacy, rows: list[dict]) -> str:
    cost = vial_cost(pharmacy)
    total = _("{count} vial(s) wasted", count=len(rows))
    return total if cost is None else _("{total}, cost {cost:.2f} ({each:.2f} a vial)", total=total, cost=cost * len(rows),
                                        each=cost)


# --- bags whose use-by passed unused --------------------------------------------------------------
EXPIRED_COLUMNS = ["use_by", "bag_serial", "batch", "state", "patient_id", "patient_name", "ward", "vial_lot",
                   "vial_serial", "released_at", "destroyed_at"]


def expired_unused(pharmacy: Pharmacy, when: Period) -> list[dict]:
    """Bags whose use-by fell in the period and has passed with no administration started. A bag
    rejected at the check, or destroyed before its use-by, was not left to expire: it is waste, not here."""
    start, end = when.bounds(pharmacy.zone)
    now = clock.now()
    destroyed = (select(Disposal.object_id.label("bag_id"), func.min(Disposal.at).label("at"))
                 .where(Disposal.object_type == "bag").group_by(Disposal.object_id).subquery())
    with pharmacy.uow(readonly=True) as uow:
        found = uow.session.execute(
            select(Bag.use_by, Bag.serial, Bag.batch, Bag.state, Patient.identifier, Patient.name, Patient.ward,
                   Vial.lot, Vial.serial, Bag.released_at, destroyed.c.at)
            .join(Preparation, Bag.preparation_id == Preparation.id).join(Order, Preparation.order_id == Order.id)
            .join(Patient, Order.patient_id == Patient.id).join(Vial, Preparation.vial_id == Vial.id)
            .outerjoin(Administration, Administration.bag_id == Bag.id)
            .outerjoin(destroyed, destroyed.c.bag_id == Bag.id)
            .where(Bag.use_by >= start, Bag.use_by < end, Bag.use_by <= now, Administration.id.is_(None),
                   Preparation.state != PrepState.REJECTED)
            .order_by(Bag.use_by, Bag.serial)).all()
    rows = []
    for row in found:
        item = dict(zip(EXPIRED_COLUMNS, row, strict=True))
        if item["destroyed_at"] is not None and item["destroyed_at"] < item["use_by"]:
            continue
        item["state"] = effective_state(item["state"], item["use_by"], now)
        rows.append(item)
    return rows


# --- the audit log, exported -----------------------------------------------------------------------
AUDIT_COLUMNS = ["id", "at", "username", "action", "object_type", "object_id", "old", "new", "reason",
                 "prev_hash", "hash"]


def audit_export(pharmacy: Pharmacy, batch: int = 5000, **filters) -> Iterator[dict]:
    """Every entry matching the filters (``trace.audit_conditions``), oldest first, read in batches
    so a download of millions of entries needs constant memory. Entries appended while the export
    runs are not in it: it stops at the last entry that existed when it began."""
    conditions = audit_conditions(**filters)
    with pharmacy.uow(readonly=True) as uow:
        last = uow.session.execute(select(func.max(AuditEntry.id))).scalar_one() or 0
    seen = 0
    while True:
        with pharmacy.uow(readonly=True) as uow:
            entries = uow.session.execute(
                select(AuditEntry).where(*conditions, AuditEntry.id > seen, AuditEntry.id <= last)
                .order_by(AuditEntry.id).limit(batch)).scalars().all()
        if not entries:
            return
        for e in entries:
            yield {"id": e.id, "at": e.at, "username": e.username, "action": e.action, "object_type": e.object_type,
                   "object_id": e.object_id, "old": e.old_json, "new": e.new_json, "reason": e.reason,
                   "prev_hash": e.prev_hash, "hash": e.hash}
        seen = entries[-1].id


def usernames(pharmacy: Pharmacy) -> list[str]:
    """Who can appear in the audit log: every user, and ``system`` (set-up, monitoring)."""
    with pharmacy.uow(readonly=True) as uow:
        return ["system", *uow.session.execute(select(User.username).order_by(User.username)).scalars()]


# --- the audit chain's last verification -------------------------------------------------------------
VERIFICATION_FILE = "audit-verification.json"


def verify_audit_chain(pharmacy: Pharmacy, username: str) -> dict:
    """Walk the whole chain now (``db.audit.verify``) and keep the result, its time, who asked and how
    long it took in the instance folder. The database records nothing."""
    started = time.monotonic()
    with pharmacy.uow(readonly=True) as uow:
        actor(uow.session, username, "audit.verify")
        result = audit.verify(uow.session)
    record = {"ok": result.ok, "checked": result.checked, "first_bad_id": result.first_bad_id,
              "problem": result.problem, "at": clock.now().isoformat(), "by": username,
              "seconds": round(time.monotonic() - started, 3)}
    path = instance_path(pharmacy.settings, VERIFICATION_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(staged, path)
    kept = last_verification(pharmacy)
    if kept is None:  # written a moment ago: only a file that cannot be read back gets here
        raise OSError(f"{path} could not be read back after it was written.")
    return kept


def last_verification(pharmacy: Pharmacy) -> dict | None:
    """The last kept verification (``at`` as an aware time), or None if the chain was never verified here."""
    path = instance_path(pharmacy.settings, VERIFICATION_FILE)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["at"] = datetime.fromisoformat(record["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record
