"""Check and release (SPEC 2.4): a pharmacist who did not prepare the bag reviews every step, signs
electronically (password again) and releases or rejects it. Only a released bag can be labelled
for administration."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Bag, Preparation, PreparationStep, Refusal, User, Vial
from pharmacy.domain import bagid, nearmiss
from pharmacy.domain.errors import Expired, NotFound, PharmacyError, SeparationOfDuties, StateConflict
from pharmacy.domain.inuse import format_local, is_expired
from pharmacy.domain.lifecycle import BAG, ORDER, PREPARATION, VIAL, BagState, Event
from pharmacy.services import recalls, users
from pharmacy.services.base import Pharmacy, actor, check_version, refusals_recorded

DECISIONS: dict[str, Event] = {BagState.RELEASED: Event.RELEASE, BagState.REJECTED: Event.REJECT}  # the outcome chosen → its event


def check_not_preparer(preparer_id: int, checker_id: int) -> None:
    """Separation of duties (SPEC 3): the user who prepared a bag cannot check it."""
    if preparer_id == checker_id:
        raise SeparationOfDuties("You prepared this bag, so you cannot check it. Another pharmacist must "
                                 "check and release it.")


def near_misses(pharmacy: Pharmacy, prep_id: int) -> list[nearmiss.NearMiss]:
    """Every refused attempt at a step of this preparation, oldest first (the refusals record)."""
    with pharmacy.uow(readonly=True) as uow:
        return near_misses_in(uow.session, prep_id)


def near_misses_in(session, prep_id: int) -> list[nearmiss.NearMiss]:
    rows = session.execute(select(Refusal, User.full_name).outerjoin(User, User.username == Refusal.username).where(
        Refusal.object_type == "preparation", Refusal.object_id == str(prep_id),
        Refusal.action.like("prep.%")).order_by(Refusal.id)).all()
    return [nearmiss.NearMiss(r.id, r.at, name or r.username or "", r.action, r.code, r.message, r.entered)
            for r, name in rows]


def deviations(pharmacy: Pharmacy, prep: Preparation, names: dict[int, str]) -> list[nearmiss.Deviation]:
    return nearmiss.deviations((s.at, names.get(s.user_id, ""), s.step, s.detail or {}) for s in prep.steps)


class BagMismatch(StateConflict):
    """The bag in the checker's hands is not the one whose record is on the screen (H27)."""

    code = "bag_mismatch"


def check_bag_in_hand(prep_id: int, bag_scan: str | None) -> None:
    """The check begins with the bag: its in-process label scanned (or its serial typed from it) must be
    this preparation's bag. Two bags made for two patients cannot be swapped at the check."""
    expected = bagid.bag_serial(prep_id)
    text = (bag_scan or "").strip()
    if not text:
        raise BagMismatch(f"Scan the in-process label of the bag in your hands (bag {expected}) before you release it: "
                          "the check is of that bag. Nothing was recorded.")
    scanned = bagid.in_process_serial(text) or text.upper()
    if scanned != expected:
        raise BagMismatch(f"STOP: the bag in your hands is {scanned}, but this record is of bag {expected}. The bags may "
                          "have been swapped: nothing was released. Find bag " + expected + " and check it, and tell "
                          "the preparer.")


def decide(pharmacy: Pharmacy, username: str, prep_id: int, version, password: str, decision: str,
           reason: str = "", acknowledged: Collection[int] = (), bag_scan: str | None = None) -> Bag:
    """Release or reject the bag of a signed preparation, under the checker's electronic signature. A
    release needs the bag in hand scanned (``bag_scan``: its in-process label) and each safety near miss
    of the preparation acknowledged (``acknowledged``: refusal ids)."""
    with refusals_recorded(pharmacy, username, f"bag.{decision}", "preparation", prep_id, bag_scan):
        if decision not in DECISIONS:
            raise PharmacyError("Choose release or reject.")
        if DECISIONS[decision] == Event.RELEASE:
            check_bag_in_hand(prep_id, bag_scan)
        users.check_signature(pharmacy, username, password, "release" if DECISIONS[decision] == Event.RELEASE else "rejection")
    with refusals_recorded(pharmacy, username, f"bag.{decision}", "preparation", prep_id), pharmacy.uow() as uow:
        checker = actor(uow.session, username, "check.release")
        event = DECISIONS[decision]
        prep = uow.session.execute(select(Preparation).where(Preparation.id == prep_id).with_for_update()).scalar_one_or_none()
        if prep is None:
            raise NotFound(f"Preparation {prep_id} does not exist.")
        check_not_preparer(prep.prepared_by, checker.id)
        check_version(prep.version, version, "preparation")
        PREPARATION.apply(prep.state, event, checker.role, what=f"Preparation {prep.id}")
        if event == Event.RELEASE:  # a bag of a recalled ingredient is never released; rejecting it stays possible
            recalls.check_not_recalled(uow.session, pharmacy.zone, preparation=prep)
        reason = (reason or "").strip()
        if event == Event.REJECT and len(reason) < 5:
            raise PharmacyError("Say why the bag is rejected.")
        bag = uow.session.execute(select(Bag).where(Bag.preparation_id == prep.id)).scalar_one()
        if event == Event.RELEASE and is_expired(bag.use_by, clock.now()):
            raise Expired(f"The bag expired at {format_local(bag.use_by, pharmacy.zone)} and cannot be released. Reject it.")
        seen = nearmiss.check_acknowledged(near_misses_in(uow.session, prep.id), acknowledged) if event == Event.RELEASE else []
        now = clock.now()
        prep.state, prep.version = PREPARATION.apply(prep.state, event), prep.version + 1
        prep.checked_by, prep.checked_at, prep.check_reason = checker.id, now, reason or None
        old_bag = bag.state
        bag.state = BAG.apply(bag.state, event, what=f"Bag {bag.serial}")
        bag.released_at = now if event == Event.RELEASE else None
        prep.order.state = ORDER.apply(prep.order.state, event)
        vial = uow.session.get(Vial, prep.vial_id)
        if vial is None:  # a signed preparation has its vial
            raise StateConflict(f"Preparation {prep.id} has no vial recorded.")
        vial.state = VIAL.apply(vial.state, Event.CONSUME)
        uow.session.add(PreparationStep(preparation_id=prep.id, step="check", user_id=checker.id, at=now, detail={
            "meaning": decision, "signed_by": checker.full_name, "reason": reason or None,
            "near_misses_acknowledged": seen}))
        audit.append(uow.session, username, f"bag.{event}", "bag", bag.id,
                     old={"state": old_bag}, new={"state": bag.state, "signature": checker.full_name,
                                                  "meaning": decision, "use_by": bag.use_by.isoformat(),
                                                  "vial": vial.id, "vial_state": vial.state,  # replayed by audit verify
                                                  "near_misses_acknowledged": seen},
                     reason=reason or None)
        uow.commit()
        return bag
