"""Check and release (SPEC 2.4): a pharmacist who did not prepare the bag reviews every step, signs
electronically (password again) and releases or rejects it. Only a released bag can be labelled
for administration."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.models import Bag, Preparation, PreparationStep, Refusal, User, Vial, Weighing
from pharmacy.domain import bagid, nearmiss
from pharmacy.domain.errors import Expired, NotFound, PharmacyError, SeparationOfDuties, StateConflict
from pharmacy.domain.inuse import format_local, is_expired
from pharmacy.domain.lifecycle import (
    BAG,
    ORDER,
    PREPARATION,
    SEND_BACK,
    VIAL,
    BagState,
    Event,
    redone_after_send_back,
    send_back_steps,
    step_of,
)
from pharmacy.domain.photos import PHOTO_KINDS
from pharmacy.i18n import _, lazy
from pharmacy.services import outbox, preparation, recalls, users
from pharmacy.services import photos as photo_service
from pharmacy.services.base import Pharmacy, actor, check_version, refusals_recorded

DECISIONS: dict[str, Event] = {BagState.RELEASED: Event.RELEASE, BagState.REJECTED: Event.REJECT}  # the outcome chosen → its event


def check_not_preparer(preparer_id: int, checker_id: int) -> None:
    """Separation of duties (SPEC 3): the user who prepared a bag cannot check it."""
    if preparer_id == checker_id:
        raise SeparationOfDuties(_("You prepared this bag, so you cannot check it. Another pharmacist must "
                                   "check and release it."))


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
        raise BagMismatch(_("Scan the in-process label of the bag in your hands (bag {expected}) before you release it: "
                            "the check is of that bag. Nothing was recorded.", expected=expected))
    scanned = bagid.in_process_serial(text) or text.upper()
    if scanned != expected:
        raise BagMismatch(_("STOP: the bag in your hands is {scanned}, but this record is of bag {expected}. The bags may "
                            "have been swapped: nothing was released. Find bag {expected} and check it, and tell "
                            "the preparer.", scanned=scanned, expected=expected))


def decide(pharmacy: Pharmacy, username: str, prep_id: int, version, password: str, decision: str,
           reason: str = "", acknowledged: Collection[int] = (), bag_scan: str | None = None) -> Bag:
    """Release or reject the bag of a signed preparation, under the checker's electronic signature. A
    release needs the bag in hand scanned (``bag_scan``: its in-process label) and each safety near miss
    of the preparation acknowledged (``acknowledged``: refusal ids). A preparation sent back and not yet
    signed again is rejected where it stands when it cannot be redone (the bag damaged: ``REJECT_SENT_BACK``)."""
    with refusals_recorded(pharmacy, username, f"bag.{decision}", "preparation", prep_id, bag_scan):
        if decision not in DECISIONS:
            raise PharmacyError(_("Choose release or reject."))
        if DECISIONS[decision] == Event.RELEASE:
            check_bag_in_hand(prep_id, bag_scan)
        users.check_signature(pharmacy, username, password,
                              lazy("release") if DECISIONS[decision] == Event.RELEASE else lazy("rejection"))
    with refusals_recorded(pharmacy, username, f"bag.{decision}", "preparation", prep_id), pharmacy.uow() as uow:
        checker = actor(uow.session, username, "check.release")
        event = DECISIONS[decision]
        prep = uow.session.execute(select(Preparation).where(Preparation.id == prep_id).with_for_update()).scalar_one_or_none()
        if prep is None:
            raise NotFound(_("Preparation {prep_id} does not exist.", prep_id=prep_id))
        check_not_preparer(prep.prepared_by, checker.id)
        check_version(prep.version, version, "preparation")
        # sent back, not signed again, and it cannot be redone (the bag damaged): rejected where it stands (H29)
        step_event = Event.REJECT_SENT_BACK if event == Event.REJECT and preparation.sent_back(prep) else event
        PREPARATION.apply(prep.state, step_event, checker.role, what=_("Preparation {id}", id=prep.id))
        if event == Event.RELEASE:  # a bag of a recalled ingredient is never released; rejecting it stays possible
            recalls.check_not_recalled(uow.session, pharmacy.zone, preparation=prep)
            # nor on a photo that is missing or no longer matches its SHA-256 (issue 14 point 4, H28)
            photo_service.check_evidence(pharmacy, uow.session, prep.id, pharmacy.product(prep.order.product_id).photos)
        reason = (reason or "").strip()
        if event == Event.REJECT and len(reason) < 5:
            raise PharmacyError(_("Say why the bag is rejected."))
        bag = uow.session.execute(select(Bag).where(Bag.preparation_id == prep.id)).scalar_one()
        if event == Event.RELEASE and is_expired(bag.use_by, clock.now()):
            raise Expired(_("The bag expired at {use_by} and cannot be released. Reject it.",
                            use_by=format_local(bag.use_by, pharmacy.zone)))
        seen = nearmiss.check_acknowledged(near_misses_in(uow.session, prep.id), acknowledged) if event == Event.RELEASE else []
        now = clock.now()
        prep.state, prep.version = PREPARATION.apply(prep.state, step_event), prep.version + 1
        prep.checked_by, prep.checked_at, prep.check_reason = checker.id, now, reason or None
        old_bag = bag.state
        bag.state = BAG.apply(bag.state, event, what=_("Bag {serial}", serial=bag.serial))
        bag.released_at = now if event == Event.RELEASE else None
        prep.order.state = ORDER.apply(prep.order.state, step_event)
        vial = uow.session.get(Vial, prep.vial_id)
        if vial is None:  # a signed preparation has its vial
            raise StateConflict(_("Preparation {id} has no vial recorded.", id=prep.id))
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
        outbox.bag_changed(pharmacy, uow.session, bag, event.value, reason or None)  # FHIR MedicationDispense (H38)
        uow.commit()
        return bag


# what the check screen and the preparer read for each step a preparation may be sent back to
SEND_BACK_WORDS: dict[str, str] = {
    "diluent": lazy("the diluent scan"), "volume": lazy("the withdrawn volume (tare and weigh again, or type it again)"),
    "mixing": lazy("the mixing"), "sign": lazy("the preparer's signature"),
}


def send_back_choices(state: str, role: str | None, photos: Collection[str] = ()) -> list[tuple[str, str]]:
    """(step, words) of each step the lifecycle lets ``role`` send a preparation in ``state`` back to; the
    words name the photos (of ``photos``, the monograph's) taken again with the step."""
    choices = []
    for step in send_back_steps(state, role):
        retaken = [kind.title.lower() for name, kind in PHOTO_KINDS.items() if name in photos and step_of(kind.before) == step]
        words = i18n.now(SEND_BACK_WORDS.get(step, step))
        choices.append((step, _("{photos}, then {step}", photos=" and ".join(retaken), step=words) if retaken else words))
    return choices


def photos_retaken(redone: Collection[str]) -> list[str]:
    """The photo kinds taken again when ``redone`` steps are redone: those taken before one of them."""
    return [name for name, kind in PHOTO_KINDS.items() if step_of(kind.before) in redone]


class SendBackRefused(PharmacyError):
    code = "send_back_refused"


def _send_back_event(step: str) -> Event:
    event = SEND_BACK.get((step or "").strip())
    if event is None:
        allowed = ", ".join(f"{name} ({i18n.now(SEND_BACK_WORDS.get(name, name))})" for name in SEND_BACK)
        if step in ("vial", "inspection"):
            raise SendBackRefused(_("A preparation is not sent back to the vial or its inspection: the vial stays used by "
                                    "this preparation. If the vial is wrong, reject the bag. Nothing was recorded."))
        raise SendBackRefused(_("Choose the step to send the preparation back to: {allowed}. Nothing was recorded.", allowed=allowed))
    return event


def send_back(pharmacy: Pharmacy, username: str, prep_id: int, version, password: str, step: str,
              reason: str) -> Preparation:
    """The checker (who did not prepare it, from the evidence alone: no bag need be in hand) returns a signed
    preparation to ``step`` with a reason, under their electronic signature. That step and every later one
    are done again by the preparer (``lifecycle.redone_after_send_back``): what they recorded stays in the
    history, superseded; the preparer's signature is void (a release needs them to sign again); the vial
    stays used by this preparation and the bag keeps its serial; the dilution time never moves (H29)."""
    with refusals_recorded(pharmacy, username, "check.send_back", "preparation", prep_id, step):
        event = _send_back_event(step)
        reason = (reason or "").strip()
        if len(reason) < 5:
            raise SendBackRefused(_("Say what must be redone and why (for example “re-weigh the syringe”): the preparer "
                                    "reads it at the step. Nothing was recorded."))
        users.check_signature(pharmacy, username, password, lazy("send-back"))
    with refusals_recorded(pharmacy, username, "check.send_back", "preparation", prep_id, step), pharmacy.uow() as uow:
        checker = actor(uow.session, username, "check.release")
        prep = uow.session.execute(select(Preparation).where(Preparation.id == prep_id).with_for_update()).scalar_one_or_none()
        if prep is None:
            raise NotFound(_("Preparation {prep_id} does not exist.", prep_id=prep_id))
        check_not_preparer(prep.prepared_by, checker.id)
        check_version(prep.version, version, "preparation")
        old = prep.state
        target = PREPARATION.apply(old, event, checker.role, what=_("Preparation {id}", id=prep.id))
        redone = redone_after_send_back(step)
        # the weighings so far: a weighing after this send-back needs a tare taken after it
        weighed_up_to = uow.session.execute(select(func.coalesce(func.max(Weighing.id), 0))
                                            .where(Weighing.preparation_id == prep.id)).scalar_one()
        # the photos taken before a redone step are set aside (kept, marked replaced): the step asks for new ones
        set_aside = photo_service.set_aside(uow.session, prep.id, photos_retaken(redone))
        if "diluent" in redone:
            prep.diluent_lot_id = None
        if "volume" in redone:
            prep.withdrawn_ml = prep.withdrawn_entered = prep.volume_evidence = None
        prep.signed_at = None  # the preparer's signature no longer stands
        prep.state, prep.version = target, prep.version + 1
        prep.order.state = ORDER.apply(prep.order.state, event)
        now = clock.now()
        detail = {"to": step, "redo": list(redone), "reason": reason, "signed_by": checker.full_name,
                  "from": old.value, "weighings_before": weighed_up_to, "photos_set_aside": set_aside}
        uow.session.add(PreparationStep(preparation_id=prep.id, step="send_back", user_id=checker.id, at=now,
                                        detail=detail))
        audit.append(uow.session, username, "prep.send_back", "preparation", prep.id, old={"state": old},
                     new={"state": target, "to": step, "redo": list(redone), "signature": checker.full_name,
                          "meaning": "sent back", "photos_set_aside": set_aside}, reason=reason)
        uow.commit()
        return prep
