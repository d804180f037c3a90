"""The lifecycles of orders, preparations, bags, vials and diluent lots, as tables.

Each lifecycle is a table of transitions ``(state, event) → new state``, each with the permission
(``domain.permissions``) a user needs to cause it. Services ask the table before they change a
state (``LIFECYCLE.apply``) and screens ask it which actions a state allows (``allows``); a move
that is not in the table is refused with ``TransitionRefused``. No other module spells a state.

ARCHITECTURE.md draws these tables; ``tests/unit/test_lifecycle.py`` walks every cell of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pharmacy.domain.errors import NotAllowed, StateConflict
from pharmacy.domain.permissions import check_permission_name, may, refusal
from pharmacy.i18n import _, lazy, now


class TransitionRefused(StateConflict):
    """The object is not in a state from which this event is allowed."""

    code = "transition_refused"


class _State(StrEnum):
    @property
    def label(self) -> str:
        """The state as a person reads it, in the current language: "awaiting check"."""
        return now(STATE_WORDS.get(self.value, self.value.replace("_", " ")))


class OrderState(_State):
    ENTERED = "entered"
    BLOCKED = "blocked"  # breaks a course rule: a pharmacist verifies it only with a written override
    VERIFIED = "verified"
    IN_PREPARATION = "in_preparation"
    PREPARED = "prepared"
    RELEASED = "released"
    REJECTED = "rejected"
    # a pharmacist (or the technician who entered it, before verification) set it aside, with a reason:
    CANCELLED = "cancelled"  # entered by mistake: never prepared, never counts in the course rules
    HELD = "held"  # paused: not prepared, still counts (it may yet be given); lifting it means verifying again


class PrepState(_State):
    STARTED = "started"
    VIAL_SCANNED = "vial_scanned"
    INSPECTED = "inspected"
    DILUENT_SCANNED = "diluent_scanned"
    VOLUME_RECORDED = "volume_recorded"
    MIXED = "mixed"
    SIGNED = "signed"
    RELEASED = "released"
    REJECTED = "rejected"


class BagState(_State):
    AWAITING_CHECK = "awaiting_check"
    RELEASED = "released"
    STORED = "stored"
    # never stored: a live bag past its use-by is *seen* as expired (inuse.effective_state)
    EXPIRED = "expired"
    QUARANTINED = "quarantined"
    IN_ADMINISTRATION = "in_administration"
    # stopped early with the reason "interrupted": resumed with the same bag and patient within its use-by, or ended
    INTERRUPTED = "interrupted"
    ADMINISTERED = "administered"
    REJECTED = "rejected"
    DESTROYED = "destroyed"


class VialState(_State):
    RECEIVED = "received"
    IN_USE = "in_use"
    USED = "used"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"
    # its serial was seen again (EU FMD): set aside until a pharmacist resolves the incident
    SUSPECT = "suspect"


class LotState(_State):
    """A diluent lot (received by GTIN + lot, counted)."""

    RECEIVED = "received"
    QUARANTINED = "quarantined"


class Event(StrEnum):
    # orders
    BREACH_FOUND = "breach_found"
    VERIFY = "verify"
    START_PREPARATION = "start_preparation"
    CANCEL = "cancel"
    HOLD = "hold"
    LIFT_HOLD = "lift_hold"
    # preparations (and the order and vial they move along)
    SCAN_VIAL = "scan_vial"
    PASS_INSPECTION = "pass_inspection"
    FAIL_INSPECTION = "fail_inspection"
    SCAN_DILUENT = "scan_diluent"
    RECORD_VOLUME = "record_volume"
    MIX = "mix"
    SIGN = "sign"
    RELEASE = "release"
    REJECT = "reject"
    # the check returns a signed preparation to a step, with a reason (issue 14 point 5): one event per
    # step it may be returned to (SEND_BACK below); that step and every step after it are done again
    SEND_BACK_TO_DILUENT = "send_back_to_diluent"
    SEND_BACK_TO_VOLUME = "send_back_to_volume"
    SEND_BACK_TO_MIXING = "send_back_to_mixing"
    SEND_BACK_TO_SIGN = "send_back_to_sign"
    # a preparation sent back that cannot be redone (the bag damaged): rejected by the check where it stands,
    # before it is signed again (services/release.decide asks that the send-back still stands)
    REJECT_SENT_BACK = "reject_sent_back"
    # bags
    PRINT_LABEL = "print_label"
    STORE = "store"
    TAKE_OUT = "take_out"
    START_INFUSION = "start_infusion"
    END_INFUSION = "end_infusion"
    INTERRUPT = "interrupt"
    RESUME = "resume"
    DISPOSE = "dispose"
    EXCURSION = "excursion"
    RECALL = "recall"
    # vials
    CONSUME = "consume"
    SUSPECT = "suspect"  # the serial was seen again: a suspected falsification (EU FMD)
    CLEAR_SUSPICION = "clear_suspicion"  # a pharmacist found the pack genuine


# every state as a person reads it (``label``), marked for translation
STATE_WORDS: dict[str, str] = {
    "entered": lazy("entered"), "blocked": lazy("blocked"), "verified": lazy("verified"),
    "in_preparation": lazy("in preparation"), "prepared": lazy("prepared"), "released": lazy("released"),
    "rejected": lazy("rejected"), "cancelled": lazy("cancelled"), "held": lazy("held"), "started": lazy("started"),
    "vial_scanned": lazy("vial scanned"), "inspected": lazy("inspected"), "diluent_scanned": lazy("diluent scanned"),
    "volume_recorded": lazy("volume recorded"), "mixed": lazy("mixed"), "signed": lazy("signed"),
    "awaiting_check": lazy("awaiting check"), "stored": lazy("stored"), "expired": lazy("expired"),
    "quarantined": lazy("quarantined"), "in_administration": lazy("in administration"),
    "interrupted": lazy("interrupted"), "administered": lazy("administered"), "destroyed": lazy("destroyed"),
    "received": lazy("received"), "in_use": lazy("in use"), "used": lazy("used"), "suspect": lazy("suspect"),
}
# "This order is …" where a refusal does not name the object (``Lifecycle.apply``'s ``what``)
_THIS: dict[str, str] = {"order": lazy("This order"), "preparation": lazy("This preparation"), "bag": lazy("This bag"),
                         "vial": lazy("This vial"), "diluent lot": lazy("This diluent lot")}

# the rule an event follows, for a refusal: "Bag BAG0000001 is administered: <rule>."
EVENT_RULES: dict[Event, str] = {
    Event.BREACH_FOUND: lazy("only a newly entered order is blocked for a course rule"),
    Event.VERIFY: lazy("only an entered or blocked order is verified"),
    Event.START_PREPARATION: lazy("only a verified order is prepared"),
    Event.CANCEL: lazy("only an order not yet in preparation is cancelled here; once a preparation has started, "
                        "the pharmacist rejects it at the check"),
    Event.HOLD: lazy("only an order not yet in preparation is put on hold; once a preparation has started, "
                      "the pharmacist rejects it at the check"),
    Event.LIFT_HOLD: lazy("only an order on hold has its hold lifted"),
    Event.SCAN_VIAL: lazy("a vial is used once only"),
    Event.PASS_INSPECTION: lazy("this step is already done or not yet due"),
    Event.FAIL_INSPECTION: lazy("this step is already done or not yet due"),
    Event.SCAN_DILUENT: lazy("it must not be used"),
    Event.RECORD_VOLUME: lazy("this step is already done or not yet due"),
    Event.MIX: lazy("this step is already done or not yet due"),
    Event.SIGN: lazy("this step is already done or not yet due"),
    Event.RELEASE: lazy("only a signed preparation is checked"),
    Event.REJECT: lazy("only a signed preparation is checked"),
    Event.SEND_BACK_TO_DILUENT: lazy("only a signed preparation is sent back by the check"),
    Event.SEND_BACK_TO_VOLUME: lazy("only a signed preparation is sent back by the check"),
    Event.SEND_BACK_TO_MIXING: lazy("only a signed preparation is sent back by the check"),
    Event.SEND_BACK_TO_SIGN: lazy("only a signed preparation is sent back by the check"),
    Event.REJECT_SENT_BACK: lazy("only a preparation sent back by the check, and not yet signed again, is rejected that way"),
    Event.PRINT_LABEL: lazy("only a released bag gets a label that can be administered"),
    Event.STORE: lazy("only a released bag is put into storage"),
    Event.TAKE_OUT: lazy("only a stored bag is taken out of storage"),
    Event.START_INFUSION: lazy("only a released bag is given"),
    Event.END_INFUSION: lazy("no infusion of it is under way"),
    Event.INTERRUPT: lazy("no infusion of it is under way"),
    Event.RESUME: lazy("only an interrupted infusion is resumed"),
    Event.DISPOSE: lazy("it cannot be disposed of"),
    Event.EXCURSION: lazy("only a bag not yet given is quarantined for a temperature excursion"),
    Event.RECALL: lazy("it is no longer stock that a recall quarantines"),
    Event.CONSUME: lazy("only a vial in use is used up"),
    Event.SUSPECT: lazy("only a vial in stock is set aside as suspect"),
    Event.CLEAR_SUSPICION: lazy("only a vial set aside as suspect is cleared"),
}

S = TypeVar("S", bound=_State)


@dataclass(frozen=True)
class Transition(Generic[S]):
    source: S
    event: Event
    target: S
    permission: str


class Lifecycle(Generic[S]):
    """One object's table. ``initial`` is the state an object is created in."""

    def __init__(self, noun: str, states: type[S], initial: S,
                 rows: Iterable[tuple[Iterable[S], Event, S | None, str]]) -> None:
        """``rows``: (source states, event, target — None: the state stays —, permission)."""
        self.noun, self.states, self.initial = noun, states, initial
        table: dict[tuple[S, Event], Transition[S]] = {}
        for sources, event, target, permission in rows:
            check_permission_name(permission)
            for source in sources:
                if (source, event) in table:
                    raise ValueError(f"{noun}: {source} × {event} is in the table twice")
                table[(source, event)] = Transition(source, event, source if target is None else target, permission)
        self.table = table

    @property
    def transitions(self) -> tuple[Transition[S], ...]:
        return tuple(self.table.values())

    def events(self) -> tuple[Event, ...]:
        return tuple(dict.fromkeys(t.event for t in self.table.values()))

    def allows(self, state: str, event: Event, role: str | None = None) -> bool:
        """Whether ``event`` may happen in ``state`` (and, given a role, whether that role may cause it)."""
        found = self.table.get((self.states(state), event))
        return found is not None and (role is None or may(role, found.permission))

    def allowed(self, state: str, role: str | None = None) -> tuple[Event, ...]:
        """The events ``state`` allows (to ``role``), for a screen's buttons."""
        return tuple(event for event in self.events() if self.allows(state, event, role))

    def apply(self, state: str, event: Event, role: str | None = None, what: str | None = None) -> S:
        """The state after ``event``, or ``TransitionRefused`` (not from this state) or ``NotAllowed``
        (this role may not cause it). ``what`` names the object in the message ("Bag BAG0000001")."""
        current = self.states(state)
        found = self.table.get((current, event))
        if found is None:
            name = what or now(_THIS.get(self.noun, f"This {self.noun}"))
            raise TransitionRefused(_("{name} is {state}: {rule}. Nothing was recorded.", name=name, state=current.label,
                                      rule=now(EVENT_RULES[event])), state=current.value, event=event.value)
        if role is not None and not may(role, found.permission):
            raise NotAllowed(refusal(role, found.permission))
        return found.target

    def sources(self, event: Event) -> tuple[S, ...]:
        """The states from which ``event`` is allowed (for a query: "every bag that may be recalled")."""
        return tuple(s for s in self.states if (s, event) in self.table)

    def is_final(self, state: str) -> bool:
        """No event leaves this state."""
        return not self.allowed(state)



ORDER = Lifecycle("order", OrderState, OrderState.ENTERED, [
    ([OrderState.ENTERED], Event.BREACH_FOUND, OrderState.BLOCKED, "orders.enter"),
    ([OrderState.ENTERED, OrderState.BLOCKED], Event.VERIFY, OrderState.VERIFIED, "orders.verify"),
    ([OrderState.VERIFIED], Event.START_PREPARATION, OrderState.IN_PREPARATION, "prep.work"),
    ([OrderState.IN_PREPARATION], Event.SIGN, OrderState.PREPARED, "prep.work"),
    ([OrderState.PREPARED], Event.RELEASE, OrderState.RELEASED, "check.release"),
    ([OrderState.PREPARED], Event.REJECT, OrderState.REJECTED, "check.release"),
    # the check sent the preparation back to a step: it is being prepared again (the same bag)
    *(([OrderState.PREPARED], event, OrderState.IN_PREPARATION, "check.release")
      for event in (Event.SEND_BACK_TO_DILUENT, Event.SEND_BACK_TO_VOLUME, Event.SEND_BACK_TO_MIXING,
                    Event.SEND_BACK_TO_SIGN)),
    ([OrderState.IN_PREPARATION], Event.REJECT_SENT_BACK, OrderState.REJECTED, "check.release"),
    # before any preparation only: a bag being made or made is rejected at the check instead. A
    # technician holds orders.cancel too, but only for an order they entered, before verification
    # (services/orders.cancel_order checks that ownership rule on top of this table).
    ([OrderState.ENTERED, OrderState.BLOCKED, OrderState.VERIFIED, OrderState.HELD], Event.CANCEL,
     OrderState.CANCELLED, "orders.cancel"),
    ([OrderState.ENTERED, OrderState.BLOCKED, OrderState.VERIFIED], Event.HOLD, OrderState.HELD, "orders.hold"),
    # back to entered: the course rules are checked again and a pharmacist verifies it again
    ([OrderState.HELD], Event.LIFT_HOLD, OrderState.ENTERED, "orders.hold"),
])

PREPARATION = Lifecycle("preparation", PrepState, PrepState.STARTED, [
    ([PrepState.STARTED], Event.SCAN_VIAL, PrepState.VIAL_SCANNED, "prep.work"),
    ([PrepState.VIAL_SCANNED], Event.PASS_INSPECTION, PrepState.INSPECTED, "prep.work"),
    ([PrepState.VIAL_SCANNED], Event.FAIL_INSPECTION, PrepState.STARTED, "prep.work"),  # the vial is rejected; scan another
    ([PrepState.INSPECTED], Event.SCAN_DILUENT, PrepState.DILUENT_SCANNED, "prep.work"),
    ([PrepState.DILUENT_SCANNED], Event.RECORD_VOLUME, PrepState.VOLUME_RECORDED, "prep.work"),
    ([PrepState.VOLUME_RECORDED], Event.MIX, PrepState.MIXED, "prep.work"),
    ([PrepState.MIXED], Event.SIGN, PrepState.SIGNED, "prep.work"),
    ([PrepState.SIGNED], Event.RELEASE, PrepState.RELEASED, "check.release"),
    ([PrepState.SIGNED], Event.REJECT, PrepState.REJECTED, "check.release"),
    # sent back by the check: to the state in which the step is due, so that step and every later one are
    # done again (and signed again). Never to the vial or its inspection: the vial stays used by this
    # preparation (a wrong vial means another bag: reject it). A step added to the preparation (a photo
    # taken before a step) is returned to by sending back to the step before which it is due.
    ([PrepState.SIGNED], Event.SEND_BACK_TO_DILUENT, PrepState.INSPECTED, "check.release"),
    ([PrepState.SIGNED], Event.SEND_BACK_TO_VOLUME, PrepState.DILUENT_SCANNED, "check.release"),
    ([PrepState.SIGNED], Event.SEND_BACK_TO_MIXING, PrepState.VOLUME_RECORDED, "check.release"),
    ([PrepState.SIGNED], Event.SEND_BACK_TO_SIGN, PrepState.MIXED, "check.release"),
    # a preparation sent back that cannot be redone (the bag damaged) is rejected from the state the send-back
    # left it in (each send-back's target above), before it is signed again
    ([PrepState.INSPECTED, PrepState.DILUENT_SCANNED, PrepState.VOLUME_RECORDED, PrepState.MIXED], Event.REJECT_SENT_BACK,
     PrepState.REJECTED, "check.release"),
])

# a bag that may still be given, until its use-by passes
_USABLE = (BagState.RELEASED, BagState.STORED)
BAG = Lifecycle("bag", BagState, BagState.AWAITING_CHECK, [
    ([BagState.AWAITING_CHECK], Event.RELEASE, BagState.RELEASED, "check.release"),
    ([BagState.AWAITING_CHECK], Event.REJECT, BagState.REJECTED, "check.release"),
    ([BagState.QUARANTINED], Event.REJECT, None, "check.release"),  # recalled before its check: stays quarantined
    (_USABLE, Event.PRINT_LABEL, None, "bags.label"),  # the state stays
    (_USABLE, Event.STORE, BagState.STORED, "bags.handle"),   # stored again = moved to another location
    (_USABLE, Event.START_INFUSION, BagState.IN_ADMINISTRATION, "ward.bedside"),
    ([BagState.IN_ADMINISTRATION, BagState.INTERRUPTED], Event.END_INFUSION, BagState.ADMINISTERED, "ward.bedside"),
    ([BagState.IN_ADMINISTRATION], Event.INTERRUPT, BagState.INTERRUPTED, "ward.bedside"),
    ([BagState.INTERRUPTED], Event.RESUME, BagState.IN_ADMINISTRATION, "ward.bedside"),  # same bag, same patient
    ([BagState.STORED], Event.TAKE_OUT, BagState.RELEASED, "bags.handle"),  # to the ward, in transit: out of the fridge
    # a late reading also quarantines a bag that was there then and has been taken out since
    (_USABLE, Event.EXCURSION, BagState.QUARANTINED, "temps.record"),
    # an interrupted bag is still stock that may be given (resumed): a recall takes it out of use
    ([BagState.AWAITING_CHECK, *_USABLE, BagState.EXPIRED, BagState.INTERRUPTED], Event.RECALL, BagState.QUARANTINED,
     "trace.quarantine"),
    ([BagState.AWAITING_CHECK, *_USABLE, BagState.EXPIRED, BagState.REJECTED, BagState.INTERRUPTED], Event.DISPOSE,
     BagState.DESTROYED, "bags.handle"),
    ([BagState.QUARANTINED], Event.DISPOSE, BagState.DESTROYED, "bags.discard_quarantined"),
])
VIAL = Lifecycle("vial", VialState, VialState.RECEIVED, [
    ([VialState.RECEIVED], Event.SCAN_VIAL, VialState.IN_USE, "prep.work"),
    ([VialState.IN_USE], Event.FAIL_INSPECTION, VialState.REJECTED, "prep.work"),
    ([VialState.IN_USE], Event.CONSUME, VialState.USED, "check.release"),  # its bag was released or rejected
    # a recall takes unused vials and those in preparations under way out of use (services/recalls)
    ([VialState.RECEIVED, VialState.IN_USE], Event.RECALL, VialState.QUARANTINED, "trace.quarantine"),
    ([VialState.QUARANTINED], Event.CONSUME, None, "check.release"),  # its recalled bag was rejected: it stays
    # caused by a receipt or a vial scan of the same serial (services/fmd); a vial in use or used stays
    # as it is, and the incident names it
    ([VialState.RECEIVED], Event.SUSPECT, VialState.SUSPECT, "stock.receive"),
    ([VialState.SUSPECT], Event.CLEAR_SUSPICION, VialState.RECEIVED, "fmd.resolve"),
])

LOT = Lifecycle("diluent lot", LotState, LotState.RECEIVED, [
    ([LotState.RECEIVED], Event.SCAN_DILUENT, None, "prep.work"),  # a bag of the lot goes into a preparation
    ([LotState.RECEIVED], Event.RECALL, LotState.QUARANTINED, "trace.quarantine"),
])

LIFECYCLES: dict[str, Lifecycle[OrderState] | Lifecycle[PrepState] | Lifecycle[BagState] | Lifecycle[VialState]
                 | Lifecycle[LotState]] = {
    "order": ORDER, "preparation": PREPARATION, "bag": BAG, "vial": VIAL, "lot": LOT}

# Sets the services and screens ask for, derived from the tables where they can be.
PREP_ACTIVE = tuple(s for s in PrepState if not PREPARATION.is_final(s))  # started … signed: one per order at a time
PREP_NEXT_STEP: dict[PrepState, str] = {  # what the preparation screen asks for next
    PrepState.STARTED: "vial", PrepState.VIAL_SCANNED: "inspection", PrepState.INSPECTED: "diluent", PrepState.DILUENT_SCANNED: "volume",
    PrepState.VOLUME_RECORDED: "mixing", PrepState.MIXED: "sign", PrepState.SIGNED: "check",
}
# the steps (PREP_NEXT_STEP's names) a check may send a preparation back to, in the order they are done
SEND_BACK: dict[str, Event] = {"diluent": Event.SEND_BACK_TO_DILUENT, "volume": Event.SEND_BACK_TO_VOLUME,
                               "mixing": Event.SEND_BACK_TO_MIXING, "sign": Event.SEND_BACK_TO_SIGN}


def send_back_steps(state: str, role: str | None = None) -> tuple[str, ...]:
    """The steps a preparation in ``state`` may be sent back to (by ``role``), for the check's chooser."""
    return tuple(step for step, event in SEND_BACK.items() if PREPARATION.allows(state, event, role))


def step_of(event: Event) -> str | None:
    """The preparation step (PREP_NEXT_STEP's name) at which ``event`` happens: a photo taken before the
    mixing belongs to the "mixing" step, and is taken again when that step is redone."""
    return next((PREP_NEXT_STEP[s] for s in PrepState if s in PREP_NEXT_STEP and PREPARATION.allows(s, event)), None)


def redone_after_send_back(step: str) -> tuple[str, ...]:
    """The steps done again when a preparation is sent back to ``step``: it and every later one."""
    order = list(dict.fromkeys(PREP_NEXT_STEP.values()))
    return tuple(order[order.index(step):order.index("check")])


# a rejected bag's dose was never given, a cancelled order never will be: neither counts in the course
# rules. A held order still counts: it may yet be given once its hold is lifted.
ORDER_COUNTS_FOR_COURSE = tuple(s for s in OrderState if s not in (OrderState.REJECTED, OrderState.CANCELLED))
ORDER_TO_VERIFY = tuple(s for s in OrderState if ORDER.allows(s, Event.VERIFY))
ORDER_PENDING = (*ORDER_TO_VERIFY, OrderState.HELD)  # the pharmacist's list: to verify, and on hold
ORDER_ON_WORKLIST = (OrderState.VERIFIED, OrderState.IN_PREPARATION)
BAG_LIVE = (BagState.AWAITING_CHECK, *_USABLE)  # stock that may still be given until its use-by passes
BAG_LABELLABLE = tuple(s for s in BagState if BAG.allows(s, Event.PRINT_LABEL))
BAG_GIVEN = (BagState.IN_ADMINISTRATION, BagState.INTERRUPTED, BagState.ADMINISTERED)
BAG_TO_DISCARD = (BagState.EXPIRED, BagState.QUARANTINED)
BAG_ON_DASHBOARD = (*BAG_LIVE, BagState.QUARANTINED)


def markdown() -> str:
    """The tables as ARCHITECTURE.md shows them (a test keeps the two the same)."""
    from pharmacy.domain.permissions import roles_with

    parts = []
    for machine in LIFECYCLES.values():
        parts.append(f"**{machine.noun}** (created {machine.initial.value})\n")
        parts.append("| from | event | to | permission (roles) |\n|---|---|---|---|")
        for t in machine.transitions:
            to = "(stays)" if t.target == t.source else t.target.value
            roles = ", ".join(roles_with(t.permission))
            parts.append(f"| {t.source.value} | {t.event.value} | {to} | {t.permission} ({roles}) |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
