"""Recalls as a standing status (SPEC 5; clinical-safety issue, item 2; hazards H9, H14).

A recall names a vial lot, one vial serial or a diluent lot (optionally of one GTIN). From the moment
it is recorded until a pharmacist lifts it under their electronic signature, everything of it is
refused at every step: receipt (``stock.receive``), vial and diluent scans and every later step of a
preparation (``preparation``), the release (``release.decide``; a rejection stays possible), labels
(``bags.print_labels``) and the bedside (``administration._reasons``). They all ask one function,
``check_not_recalled``.

Lots and serials are compared normalised (``normalise``: every space removed, upper case — lots are
printed upper case on packs), on both sides: a recall of ``ra`` is a recall of lot ``RA``; stored
lots keep the text they were received with, for display.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import Bag, DiluentLot, Order, Patient, Preparation, Recall, User, Vial
from pharmacy.domain.errors import NotFound, PharmacyError, Recalled, StateConflict
from pharmacy.domain.inuse import format_local
from pharmacy.domain.lifecycle import BAG, LOT, PREP_ACTIVE, VIAL, Event, PrepState, VialState
from pharmacy.i18n import _, lazy
from pharmacy.services import users
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

VIAL_LOT, VIAL_SERIAL, DILUENT_LOT = "vial_lot", "vial_serial", "diluent_lot"
KINDS = (VIAL_LOT, VIAL_SERIAL, DILUENT_LOT)
KIND_NAMES = {VIAL_LOT: lazy("vial lot"), VIAL_SERIAL: lazy("vial serial"), DILUENT_LOT: lazy("diluent lot")}
MIN_REASON = 10


def normalise(text: str | None) -> str:
    """A lot or serial as it is compared: every space removed, upper case (`` ra `` → ``RA``)."""
    return "".join((text or "").split()).upper()


def normalised(column) -> ColumnElement:
    """The same normalisation in SQL (portable: SQLite and PostgreSQL both have REPLACE and UPPER)."""
    return func.upper(func.replace(column, " ", ""))


def _reason(text: str | None, what: str) -> str:
    reason = (text or "").strip()
    if len(reason) < MIN_REASON:
        raise PharmacyError(_("Give the {what} (at least {MIN_REASON} characters), e.g. the manufacturer's notice.",
                              what=what, MIN_REASON=MIN_REASON))
    return reason


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise PharmacyError(_("Recall a vial lot, a vial serial or a diluent lot."))
    return kind


# --- the one question every step asks ----------------------------------------------------------
def describe(recall: Recall, by: str | None, zone) -> str:
    """“vial lot RA, recalled 20 Nov 2026 10:00 CET by Petra Pharmacist: <reason>”."""
    return _("{kind} {lot_or_serial} was recalled on {at} by {by} (recall R{id}: {reason})",
             kind=KIND_NAMES[recall.kind].now(), lot_or_serial=recall.lot_or_serial,
             at=format_local(recall.recalled_at, zone), by=by or _("a pharmacist"), id=recall.id, reason=recall.reason)


def check_not_recalled(session: Session, zone, *, preparation: Preparation | None = None,
                       vial_gtin: str | None = None, vial_lot: str | None = None, vial_serial: str | None = None,
                       diluent_gtin: str | None = None, diluent_lot: str | None = None) -> None:
    """Refuse (``Recalled``, naming the recall) if any ingredient named — the vial and diluent lot
    recorded on ``preparation``, and/or the lot and serial given — is under an active recall."""
    found = _standing_recall(session, preparation=preparation, vial_gtin=vial_gtin, vial_lot=vial_lot,
                             vial_serial=vial_serial, diluent_gtin=diluent_gtin, diluent_lot=diluent_lot)
    if found is not None:
        recall, by = found
        raise Recalled(_("RECALLED: {recall}. It must not be used: set it aside for the "
                         "pharmacist. Nothing was recorded.", recall=describe(recall, by, zone)), recall=recall.id, kind=recall.kind,
                       lot_or_serial=recall.lot_or_serial)


def _recall_of(kind: str, value: str, gtin: str) -> ColumnElement[bool]:
    """A recall of this kind naming the value (normalised; NULL, a value not named, matches nothing), of any GTIN
    or of this one."""
    return and_(Recall.kind == kind, Recall.lot_or_serial == bindparam(value),
                or_(Recall.gtin.is_(None), Recall.gtin == bindparam(gtin)))


# built once (issue 18: every step of every preparation and every bedside check asks it)
_STANDING_RECALL = (select(Recall, User.full_name).join(User, User.id == Recall.recalled_by)
                    .where(Recall.lifted_at.is_(None), or_(_recall_of(VIAL_LOT, "vial_lot", "vial_gtin"),
                                                           _recall_of(VIAL_SERIAL, "vial_serial", "vial_gtin"),
                                                           _recall_of(DILUENT_LOT, "diluent_lot", "diluent_gtin")))
                    .order_by(Recall.id))


def _standing_recall(session: Session, *, preparation: Preparation | None = None,
                     vial_gtin: str | None = None, vial_lot: str | None = None, vial_serial: str | None = None,
                     diluent_gtin: str | None = None, diluent_lot: str | None = None) -> tuple[Recall, str] | None:
    """The first active recall over an ingredient named (as ``check_not_recalled``), with who recalled it."""
    if preparation is not None:
        if preparation.vial is not None:
            vial_gtin, vial_lot, vial_serial = preparation.vial.gtin, preparation.vial.lot, preparation.vial.serial
        if preparation.diluent_lot is not None:
            diluent_gtin, diluent_lot = preparation.diluent_lot.gtin, preparation.diluent_lot.lot
    values = {"vial_lot": normalise(vial_lot) or None, "vial_serial": normalise(vial_serial) or None,
              "diluent_lot": normalise(diluent_lot) or None, "vial_gtin": vial_gtin, "diluent_gtin": diluent_gtin}
    if values["vial_lot"] is None and values["vial_serial"] is None and values["diluent_lot"] is None:
        return None
    found = session.execute(_STANDING_RECALL, values).first()
    return (found[0], found[1]) if found is not None else None


# --- what a recall reaches -------------------------------------------------------------------------
_RECALLED = {VIAL_LOT: Vial.lot, VIAL_SERIAL: Vial.serial, DILUENT_LOT: DiluentLot.lot}  # the column each kind names


def _ingredient_condition(kind: str, value: str, gtin: str | None = None):
    model = DiluentLot if kind == DILUENT_LOT else Vial
    return and_(normalised(_RECALLED[kind]) == normalise(value), *([model.gtin == gtin] if gtin else []))


def _under_way_statement(kind: str, gtin: bool):
    """``under_way``'s statement for this kind, with or without a GTIN: plain columns, the values as parameters."""
    model = DiluentLot if kind == DILUENT_LOT else Vial
    value = normalised(_RECALLED[kind]) == bindparam("value")
    return (select(Preparation.id, Preparation.state, User.full_name, Preparation.started_at, Patient.identifier,
                   Patient.name, Patient.ward, Vial.lot, Vial.serial, DiluentLot.lot)
            .join(User, User.id == Preparation.prepared_by)
            .join(Order, Order.id == Preparation.order_id).join(Patient, Patient.id == Order.patient_id)
            .outerjoin(Vial, Preparation.vial_id == Vial.id).outerjoin(DiluentLot, Preparation.diluent_lot_id == DiluentLot.id)
            .where(Preparation.state.in_([s for s in PREP_ACTIVE if s != PrepState.SIGNED]), value,
                   *([model.gtin == bindparam("gtin")] if gtin else []))
            .order_by(Preparation.id))


# built once (issue 18: the recall screen built its statements at each look), by kind and whether a GTIN is given
_UNDER_WAY = {(kind, gtin): _under_way_statement(kind, gtin) for kind in KINDS for gtin in (False, True)}
_UNDER_WAY_FIELDS = ("preparation", "state", "prepared_by", "started_at", "patient_id", "patient_name", "ward",
                     "vial_lot", "vial_serial", "diluent_lot")


def under_way(session: Session, kind: str, value: str, gtin: str | None = None) -> list[dict]:
    """Preparations not yet signed (no bag yet) that use the lot or serial: they are stopped by the
    recall (their next step is refused). With their preparer, patient and state."""
    rows = plain(session, _UNDER_WAY[(kind, bool(gtin))], {"value": normalise(value), "gtin": gtin or None})
    return [dict(zip(_UNDER_WAY_FIELDS, row, strict=True)) for row in rows]


@dataclass
class Reach:
    """What a recall takes out of use now: bags not yet given, unused stock, and the vials of
    preparations under way (and of bags awaiting their check)."""

    bags: list[Bag]
    stock: list
    in_use: list[Vial]
    preparations: list[dict]

    def summary(self) -> dict:
        return {"bags": [b.serial for b in self.bags], "stock": len(self.stock),
                "preparations": [p["preparation"] for p in self.preparations]}


def reach(session: Session, kind: str, value: str, gtin: str | None = None) -> Reach:
    condition = _ingredient_condition(kind, value, gtin)
    join = Preparation.diluent_lot_id == DiluentLot.id if kind == DILUENT_LOT else Preparation.vial_id == Vial.id
    model = DiluentLot if kind == DILUENT_LOT else Vial
    bags = session.execute(select(Bag).join(Preparation, Bag.preparation_id == Preparation.id).join(model, join)
                           .where(condition, Bag.state.in_(BAG.sources(Event.RECALL))).order_by(Bag.serial)
                           ).scalars().all()
    stock: list[Vial] | list[DiluentLot]
    if kind == DILUENT_LOT:
        stock = list(session.execute(select(DiluentLot).where(condition, DiluentLot.state.in_(LOT.sources(Event.RECALL)))
                                     .order_by(DiluentLot.id)).scalars().all())
        in_use: list[Vial] = []
    else:
        vials = session.execute(select(Vial).where(condition, Vial.state.in_(VIAL.sources(Event.RECALL)))
                                .order_by(Vial.id)).scalars().all()
        stock = [v for v in vials if v.state != VialState.IN_USE]
        in_use = [v for v in vials if v.state == VialState.IN_USE]
    return Reach(list(bags), list(stock), in_use, under_way(session, kind, value, gtin))


def record(session: Session, user: User, username: str, kind: str, value: str, reason: str,
           gtin: str | None = None, *, expected: dict | None = None) -> dict:
    """Inside the caller's transaction: the standing recall (unless one is active already for the
    same thing) and the quarantine of everything it reaches, each audited with the reason."""
    number = normalise(value)
    found = reach(session, kind, number, gtin)
    summary = found.summary()
    if expected is not None and ((expected.get("bags") is not None and expected["bags"] != len(found.bags)) or
                                 (expected.get("stock") is not None and expected["stock"] != len(found.stock))):
        raise StateConflict(_("Lot {value} changed since you confirmed: it now has {count} bag(s) not yet "
                              "given and {count_2} stock item(s). Nothing was quarantined: check and confirm again.",
                              value=value, count=len(found.bags), count_2=len(found.stock)))
    standing = session.execute(select(Recall).where(Recall.kind == kind, Recall.lot_or_serial == number,
                                                    Recall.lifted_at.is_(None))).scalars().first()
    if standing is None:
        standing = Recall(kind=kind, gtin=gtin or None, lot_or_serial=number, reason=reason, recalled_by=user.id,
                          recalled_at=clock.now())
        session.add(standing)
        session.flush()
        audit.append(session, username, "recall.create", "recall", standing.id, new={
            "kind": kind, "gtin": gtin or None, "lot_or_serial": number, "as_entered": value,
            "preparations_stopped": summary["preparations"]}, reason=reason)
    what = f"{KIND_NAMES[kind]} {value}"
    for bag in found.bags:
        old, bag.state = bag.state, BAG.apply(bag.state, Event.RECALL, user.role)
        audit.append(session, username, "bag.quarantine", "bag", bag.id, old={"state": old},
                     new={"state": bag.state}, reason=f"recall of {what}: {reason}")
    for item in found.stock:
        is_vial = isinstance(item, Vial)
        was, item.state = item.state, (VIAL if is_vial else LOT).apply(item.state, Event.RECALL, user.role)
        audit.append(session, username, "vial.quarantine" if is_vial else "diluent.quarantine",
                     "vial" if is_vial else "diluent_lot", item.id, old={"state": was}, new={"state": item.state},
                     reason=f"recall of {'lot ' + value if kind != VIAL_SERIAL else what}: {reason}")
    for vial in found.in_use:
        held, vial.state = vial.state, VIAL.apply(vial.state, Event.RECALL, user.role)
        audit.append(session, username, "vial.quarantine", "vial", vial.id, old={"state": held},
                     new={"state": vial.state}, reason=f"recall of {what} (vial in a preparation): {reason}")
    return {**summary, "recall": standing.id}


def recall(pharmacy: Pharmacy, username: str, kind: str, lot_or_serial: str, reason: str,
           gtin: str | None = None) -> dict:
    """Record a standing recall (a pharmacist: ``trace.quarantine``) and quarantine what it reaches.
    A lot never received may be recalled too (the notice can come before the delivery): its receipt
    is then refused."""
    with refusals_recorded(pharmacy, username, "recall.create", "recall", lot_or_serial):
        kind = _kind(kind)
        if not normalise(lot_or_serial):
            raise PharmacyError(_("Give the lot or serial number to recall."))
        if len(normalise(lot_or_serial)) > 40:
            raise PharmacyError(_("A lot or serial number has at most 40 characters."))
        reason = _reason(reason, _("recall reason"))
        gtin = (gtin or "").strip() or None
        if gtin is not None and not (gtin.isdigit() and len(gtin) == 14):
            raise PharmacyError(_("A GTIN has 14 digits, not “{gtin}” (or leave it empty: every product).", gtin=gtin))
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "trace.quarantine")
            done = record(uow.session, user, username, kind, lot_or_serial.strip(), reason, gtin)
            uow.commit()
            return done


def lift(pharmacy: Pharmacy, username: str, recall_id: int, password: str, reason: str) -> Recall:
    """Lift a recall: a pharmacist's act under their electronic signature, with a reason, audited.
    What the recall quarantined stays quarantined (each item is reviewed and discarded on its own)."""
    with refusals_recorded(pharmacy, username, "recall.lift", "recall", recall_id):
        reason = _reason(reason, _("reason the recall is lifted"))
        users.check_signature(pharmacy, username, password, lazy("lifting of the recall"))
    with refusals_recorded(pharmacy, username, "recall.lift", "recall", recall_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "trace.quarantine")
        row = uow.session.execute(select(Recall).where(Recall.id == recall_id).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(_("Recall R{recall_id} does not exist.", recall_id=recall_id))
        if row.lifted_at is not None:
            raise StateConflict(_("Recall R{id} was already lifted on {lifted_at}. "
                                  "Nothing was recorded.", id=row.id, lifted_at=format_local(row.lifted_at, pharmacy.zone)))
        row.lifted_by, row.lifted_at, row.lift_reason = user.id, clock.now(), reason
        audit.append(uow.session, username, "recall.lift", "recall", row.id, old={"active": True},
                     new={"active": False, "kind": row.kind, "lot_or_serial": row.lot_or_serial,
                          "signature": user.full_name}, reason=reason)
        uow.commit()
        uow.session.expunge(row)
        return row


def standing(pharmacy: Pharmacy) -> list[dict]:
    """Every recall, active ones first, newest first, with who recalled and who lifted it."""
    with pharmacy.uow(readonly=True) as uow:
        names = {u.id: u.full_name for u in uow.session.execute(select(User)).scalars()}
        rows = uow.session.execute(select(Recall).order_by(Recall.lifted_at.is_not(None), Recall.id.desc())).scalars()
        return [{"id": r.id, "kind": r.kind, "what": KIND_NAMES[r.kind], "gtin": r.gtin, "lot_or_serial": r.lot_or_serial,
                 "reason": r.reason, "recalled_by": names.get(r.recalled_by), "recalled_at": r.recalled_at,
                 "active": r.active, "lifted_by": names.get(r.lifted_by) if r.lifted_by else None,
                 "lifted_at": r.lifted_at, "lift_reason": r.lift_reason} for r in rows]


_ACTIVE_FOR = select(Recall).where(Recall.kind == bindparam("kind"), Recall.lot_or_serial == bindparam("value"),
                                   Recall.lifted_at.is_(None))


def active_for(session: Session, kind: str, value: str) -> Recall | None:
    """The active recall of exactly this lot or serial, if any (for the recall screen's banner)."""
    return session.execute(_ACTIVE_FOR, {"kind": kind, "value": normalise(value)}).scalars().first()


def now_active(pharmacy: Pharmacy, kind: str, value: str) -> dict | None:
    with pharmacy.uow(readonly=True) as uow:
        row = active_for(uow.session, kind, value)
        if row is None:
            return None
        by = uow.session.get(User, row.recalled_by)
        return {"id": row.id, "text": describe(row, by.full_name if by else None, pharmacy.zone)}



def bedside_reasons(session: Session, zone, bag: Bag) -> list[tuple[str, str]]:
    """The bedside's reason (``administration._reasons``) when an ingredient of the bag is recalled."""
    found = _standing_recall(session, preparation=bag.preparation)
    if found is not None:
        recall, by = found
        return [("recalled", _("RECALLED: {recall}. Do not give this bag; return it to pharmacy.",
                               recall=describe(recall, by, zone)))]
    return []
