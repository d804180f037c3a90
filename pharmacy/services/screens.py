"""Read-only queries the screens need and no use-case service returns: who is user 7, which
preparation is under way for an order, which bag came out of it, and when it must be used by.
Nothing here changes anything."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import joinedload, selectinload

from pharmacy.db.database import plain
from pharmacy.db.models import AuditEntry, Bag, Order, Preparation, PreparationStep, User
from pharmacy.domain import bagid
from pharmacy.domain.inuse import use_by
from pharmacy.domain.lifecycle import ORDER_ON_WORKLIST, PREP_ACTIVE
from pharmacy.services.base import Pharmacy

# statements the step screens and the worklist run at every load, built once (issue 18)
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_USER_NAMES = select(User.id, User.full_name).where(User.id.in_(_IDS))
_BAGS_OF = select(Bag).where(Bag.preparation_id.in_(_IDS))
_ACTIVE = (select(Preparation).where(Preparation.order_id.in_(_IDS), Preparation.state.in_(PREP_ACTIVE))
           .options(joinedload(Preparation.vial), joinedload(Preparation.diluent_lot)))
_SENT_BACK_OR_AFTER = (select(PreparationStep).where(PreparationStep.preparation_id.in_(_IDS),
                                                     PreparationStep.step.in_(("send_back", "sign", "check")))
                       .order_by(PreparationStep.id))
_IN_PROCESS_PRINTED = select(AuditEntry.id).where(
    AuditEntry.action == "label.in_process", AuditEntry.object_type == "preparation",
    AuditEntry.object_id == bindparam("prep_id")).limit(1)


def user_names(pharmacy: Pharmacy, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    with pharmacy.uow(readonly=True) as uow:
        return {row.id: row.full_name for row in plain(uow.session, _USER_NAMES, {"ids": sorted(wanted)})}


def active_preparations(pharmacy: Pharmacy, order_ids: Iterable[int]) -> dict[int, Preparation]:
    """order id → its preparation under way (started up to signed), with vial and diluent loaded."""
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(_ACTIVE, {"ids": list(order_ids)}).scalars()
        return {prep.order_id: prep for prep in rows}


def bags_by_preparation(pharmacy: Pharmacy, prep_ids: Iterable[int]) -> dict[int, Bag]:
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(_BAGS_OF, {"ids": list(prep_ids)}).scalars()
        return {bag.preparation_id: bag for bag in rows}


def provisional_use_by(pharmacy: Pharmacy, prep: Preparation, product_id: str) -> datetime | None:
    """Once the dilution time is stamped the in-use clock runs: the use-by the bag would get if it
    were signed now (the rule ``preparation.sign`` applies). ``prep`` needs vial and diluent loaded."""
    if prep.dilution_time is None or prep.vial is None or prep.diluent_lot is None:
        return None
    limit = pharmacy.product(product_id).in_use_limit
    return use_by(prep.dilution_time, limit, [prep.vial.expiry, prep.diluent_lot.expiry], pharmacy.zone)


def in_process_label_printed(pharmacy: Pharmacy, prep_id: int) -> bool:
    """Whether the bag's in-process label was printed (every print is audited): until it is, printing
    it is the next thing to do on the volume step."""
    with pharmacy.uow(readonly=True) as uow:
        return plain(uow.session, _IN_PROCESS_PRINTED, {"prep_id": str(prep_id)}).first() is not None


def sent_back(pharmacy: Pharmacy, prep_ids: Iterable[int]) -> dict[int, dict]:
    """prep id → the check's send-back its preparer is working through (the detail of its step, with ``at`` and
    ``user_id``), for the worklist: the rule of ``preparation.sent_back`` (the latest send-back, not followed by a
    signature or the check's decision), for many preparations at once."""
    wanted = list(prep_ids)
    if not wanted:
        return {}
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(_SENT_BACK_OR_AFTER, {"ids": wanted}).scalars()
        latest = {row.preparation_id: row for row in rows}
    return {prep_id: {**(row.detail or {}), "at": row.at, "user_id": row.user_id}
            for prep_id, row in latest.items() if row.step == "send_back"}


# An order has no barcode of its own: it is opened by the patient's wristband (GSRN or identifier), by
# its number typed as the screens show it ("#12", "order 12", or only the digits), or by the in-process
# label of a bag under way.
_ORDER_NUMBER = re.compile(r"^(?:#|ORDER\s*|ORD-?)?(\d{1,18})$", re.IGNORECASE)


@dataclass(frozen=True)
class WorklistMatch:
    """What a scan or typed code on the worklist names: today's orders on the worklist, or the
    preparation whose in-process label it is (``prep``)."""

    orders: list[Order] = field(default_factory=list)
    prep: Preparation | None = None


def worklist_lookup(pharmacy: Pharmacy, day: date, code: str) -> WorklistMatch:
    """The worklist orders of ``day`` a wristband, an order number or an in-process label names.
    Digits alone are tried both as a patient identifier and as an order number: the caller refuses
    when they name different orders, rather than guess."""
    from pharmacy.services.administration import _patient_from_wristband  # the bedside's wristband reading

    text = (code or "").strip()
    with pharmacy.uow(readonly=True) as uow:
        serial = bagid.in_process_serial(text)
        if serial is not None:
            # the serial is the preparation's from the filling on (``bagid.bag_serial``); its Bag row comes at signing
            digits = serial.removeprefix("BAG")
            prep_id = int(digits) if digits.isdigit() and len(digits) < 19 and bagid.bag_serial(int(digits)) == serial else None
            prep = uow.session.get(Preparation, prep_id) if prep_id is not None else None
            return WorklistMatch(prep=prep)
        found: dict[int, Order] = {}
        on_worklist = select(Order).where(Order.scheduled_on == day, Order.state.in_(ORDER_ON_WORKLIST)) \
            .options(selectinload(Order.patient))
        patient = _patient_from_wristband(pharmacy, uow.session, text) if text else None
        if patient is not None:
            found.update((o.id, o) for o in uow.session.execute(on_worklist.where(Order.patient_id == patient.id)).scalars())
        number = _ORDER_NUMBER.match(text)
        if number is not None:
            found.update((o.id, o) for o in uow.session.execute(on_worklist.where(Order.id == int(number.group(1)))).scalars())
        return WorklistMatch(orders=sorted(found.values(), key=lambda o: o.id))

