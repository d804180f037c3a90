"""The lifecycle tables, walked cell by cell: every transition SPEC 2 allows happens, with the
permission it needs, and every other (state, event) pair is refused with a named error."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from pharmacy.domain import lifecycle
from pharmacy.domain.errors import NotAllowed, StateConflict
from pharmacy.domain.lifecycle import (
    BAG,
    LIFECYCLES,
    LOT,
    ORDER,
    PREPARATION,
    VIAL,
    BagState,
    Event,
    LotState,
    OrderState,
    PrepState,
    TransitionRefused,
    VialState,
)
from pharmacy.domain.permissions import Role, may

E = Event
# What SPEC 2 (workflow) says, written out independently of the module: (from, event, to, permission).
EXPECTED = {
    "order": {
        ("entered", E.BREACH_FOUND, "blocked", "orders.enter"),
        ("entered", E.VERIFY, "verified", "orders.verify"),
        ("blocked", E.VERIFY, "verified", "orders.verify"),
        ("verified", E.START_PREPARATION, "in_preparation", "prep.work"),
        ("in_preparation", E.SIGN, "prepared", "prep.work"),
        ("prepared", E.RELEASE, "released", "check.release"),
        ("prepared", E.REJECT, "rejected", "check.release"),
        # issue 14 point 5: the check sends the preparation back to a step; it is being prepared again
        ("prepared", E.SEND_BACK_TO_DILUENT, "in_preparation", "check.release"),
        ("prepared", E.SEND_BACK_TO_VOLUME, "in_preparation", "check.release"),
        ("prepared", E.SEND_BACK_TO_MIXING, "in_preparation", "check.release"),
        ("prepared", E.SEND_BACK_TO_SIGN, "in_preparation", "check.release"),
        # H29: sent back and not redoable (the bag damaged): rejected before it is signed again
        ("in_preparation", E.REJECT_SENT_BACK, "rejected", "check.release"),
        # H19: a mistaken order is cancelled, a doubtful one held, before any preparation
        ("entered", E.CANCEL, "cancelled", "orders.cancel"),
        ("blocked", E.CANCEL, "cancelled", "orders.cancel"),
        ("verified", E.CANCEL, "cancelled", "orders.cancel"),
        ("held", E.CANCEL, "cancelled", "orders.cancel"),
        ("entered", E.HOLD, "held", "orders.hold"),
        ("blocked", E.HOLD, "held", "orders.hold"),
        ("verified", E.HOLD, "held", "orders.hold"),
        ("held", E.LIFT_HOLD, "entered", "orders.hold"),
    },
    "preparation": {
        ("started", E.SCAN_VIAL, "vial_scanned", "prep.work"),
        ("vial_scanned", E.PASS_INSPECTION, "inspected", "prep.work"),
        ("vial_scanned", E.FAIL_INSPECTION, "started", "prep.work"),
        ("inspected", E.SCAN_DILUENT, "diluent_scanned", "prep.work"),
        ("diluent_scanned", E.RECORD_VOLUME, "volume_recorded", "prep.work"),
        ("volume_recorded", E.MIX, "mixed", "prep.work"),
        ("mixed", E.SIGN, "signed", "prep.work"),
        ("signed", E.RELEASE, "released", "check.release"),
        ("signed", E.REJECT, "rejected", "check.release"),
        # sent back to the state in which the step is due (never to the vial: it stays used by this preparation)
        ("signed", E.SEND_BACK_TO_DILUENT, "inspected", "check.release"),
        ("signed", E.SEND_BACK_TO_VOLUME, "diluent_scanned", "check.release"),
        ("signed", E.SEND_BACK_TO_MIXING, "volume_recorded", "check.release"),
        ("signed", E.SEND_BACK_TO_SIGN, "mixed", "check.release"),
        # H29: rejected from where a send-back left it (the step to redo), before it is signed again
        ("inspected", E.REJECT_SENT_BACK, "rejected", "check.release"),
        ("diluent_scanned", E.REJECT_SENT_BACK, "rejected", "check.release"),
        ("volume_recorded", E.REJECT_SENT_BACK, "rejected", "check.release"),
        ("mixed", E.REJECT_SENT_BACK, "rejected", "check.release"),
    },
    "bag": {
        ("awaiting_check", E.RELEASE, "released", "check.release"),
        ("awaiting_check", E.REJECT, "rejected", "check.release"),
        ("quarantined", E.REJECT, "quarantined", "check.release"),
        ("released", E.PRINT_LABEL, "released", "bags.label"),
        ("stored", E.PRINT_LABEL, "stored", "bags.label"),
        ("released", E.STORE, "stored", "bags.handle"),
        ("stored", E.STORE, "stored", "bags.handle"),
        ("released", E.START_INFUSION, "in_administration", "ward.bedside"),
        ("stored", E.START_INFUSION, "in_administration", "ward.bedside"),
        ("in_administration", E.END_INFUSION, "administered", "ward.bedside"),
        ("interrupted", E.END_INFUSION, "administered", "ward.bedside"),
        ("in_administration", E.INTERRUPT, "interrupted", "ward.bedside"),
        ("interrupted", E.RESUME, "in_administration", "ward.bedside"),
        ("interrupted", E.RECALL, "quarantined", "trace.quarantine"),
        ("interrupted", E.DISPOSE, "destroyed", "bags.handle"),
        ("stored", E.TAKE_OUT, "released", "bags.handle"),
        ("released", E.EXCURSION, "quarantined", "temps.record"),
        ("stored", E.EXCURSION, "quarantined", "temps.record"),
        ("awaiting_check", E.RECALL, "quarantined", "trace.quarantine"),
        ("released", E.RECALL, "quarantined", "trace.quarantine"),
        ("stored", E.RECALL, "quarantined", "trace.quarantine"),
        ("expired", E.RECALL, "quarantined", "trace.quarantine"),
        ("awaiting_check", E.DISPOSE, "destroyed", "bags.handle"),
        ("released", E.DISPOSE, "destroyed", "bags.handle"),
        ("stored", E.DISPOSE, "destroyed", "bags.handle"),
        ("expired", E.DISPOSE, "destroyed", "bags.handle"),
        ("rejected", E.DISPOSE, "destroyed", "bags.handle"),
        ("quarantined", E.DISPOSE, "destroyed", "bags.discard_quarantined"),
    },
    "vial": {
        ("received", E.SCAN_VIAL, "in_use", "prep.work"),
        ("in_use", E.FAIL_INSPECTION, "rejected", "prep.work"),
        ("in_use", E.CONSUME, "used", "check.release"),
        ("received", E.RECALL, "quarantined", "trace.quarantine"),
        ("in_use", E.RECALL, "quarantined", "trace.quarantine"),
        ("quarantined", E.CONSUME, "quarantined", "check.release"),
        ("received", E.SUSPECT, "suspect", "stock.receive"),
        ("suspect", E.CLEAR_SUSPICION, "received", "fmd.resolve"),
    },
    "lot": {
        ("received", E.SCAN_DILUENT, "received", "prep.work"),
        ("received", E.RECALL, "quarantined", "trace.quarantine"),
    },
}
INITIAL = {"order": "entered", "preparation": "started", "bag": "awaiting_check", "vial": "received", "lot": "received"}


def test_each_table_is_exactly_the_workflow_of_the_spec():
    for name, machine in LIFECYCLES.items():
        actual = {(t.source.value, t.event, t.target.value, t.permission) for t in machine.transitions}
        assert actual == EXPECTED[name], name
        assert machine.initial == INITIAL[name]


def _cells():
    for name, machine in LIFECYCLES.items():
        for state, event in itertools.product(machine.states, Event):
            yield pytest.param(name, state, event, id=f"{name}-{state}-{event}")


@pytest.mark.parametrize(("name", "state", "event"), list(_cells()))
def test_every_cell_of_every_table_is_allowed_or_refused_by_name(name, state, event):
    machine = LIFECYCLES[name]
    expected = {(s, e): (t, p) for s, e, t, p in EXPECTED[name]}.get((state.value, event))
    if expected is None:
        assert not machine.allows(state, event)
        with pytest.raises(TransitionRefused) as refused:
            machine.apply(state, event, what=f"The {name}")
        assert isinstance(refused.value, StateConflict) and refused.value.code == "transition_refused"
        assert f"The {name} is {state.label}: " in refused.value.message and "Nothing was recorded" in refused.value.message
        return
    target, permission = expected
    assert machine.apply(state, event) == target
    for role in Role:
        if may(role, permission):
            assert machine.apply(state, event, role) == target
            assert machine.allows(state, event, role) and event in machine.allowed(state, role)
        else:
            with pytest.raises(NotAllowed, match=f"A {role} may not "):
                machine.apply(state, event, role)
            assert not machine.allows(state, event, role) and event not in machine.allowed(state, role)


def test_a_state_the_table_does_not_know_is_an_error_not_a_silent_pass():
    with pytest.raises(ValueError):
        BAG.apply("lost", Event.DISPOSE)
    with pytest.raises(ValueError):
        BAG.allows("Released", Event.STORE)  # states are exact: no case folding


def test_what_is_reachable_from_the_initial_state_is_every_stored_state():
    for name, machine in LIFECYCLES.items():
        reached, frontier = {machine.initial}, [machine.initial]
        while frontier:
            state = frontier.pop()
            for t in machine.transitions:
                if t.source == state and t.target not in reached:
                    reached.add(t.target)
                    frontier.append(t.target)
        unreachable = set(machine.states) - reached
        # an expired bag is never stored: it is how a live bag past its use-by is seen (inuse.effective_state)
        assert unreachable == ({BagState.EXPIRED} if machine is BAG else set()), name


def test_a_bag_that_was_given_or_destroyed_never_changes_again():
    for state in (BagState.ADMINISTERED, BagState.DESTROYED):
        assert BAG.is_final(state) and BAG.allowed(state) == ()


def test_an_expired_bag_can_only_be_destroyed_or_recalled_never_labelled_stored_or_given():
    assert set(BAG.allowed(BagState.EXPIRED)) == {Event.DISPOSE, Event.RECALL}


def test_only_a_pharmacist_discards_a_quarantined_bag():
    assert [r for r in Role if BAG.allows(BagState.QUARANTINED, Event.DISPOSE, r)] == [Role.PHARMACIST]


def test_the_derived_sets_the_services_use():
    assert lifecycle.PREP_ACTIVE == tuple(PrepState)[:7] and PrepState.SIGNED in lifecycle.PREP_ACTIVE
    assert set(lifecycle.PREP_NEXT_STEP) == set(lifecycle.PREP_ACTIVE)
    assert lifecycle.ORDER_TO_VERIFY == (OrderState.ENTERED, OrderState.BLOCKED)
    assert OrderState.REJECTED not in lifecycle.ORDER_COUNTS_FOR_COURSE
    # H19: a cancelled order is not a dose; a held one may still be given, so it counts
    assert set(lifecycle.ORDER_COUNTS_FOR_COURSE) == set(OrderState) - {OrderState.REJECTED, OrderState.CANCELLED}
    assert OrderState.HELD in lifecycle.ORDER_COUNTS_FOR_COURSE
    assert lifecycle.ORDER_PENDING == (OrderState.ENTERED, OrderState.BLOCKED, OrderState.HELD)
    assert set(ORDER.sources(Event.CANCEL)) & set(lifecycle.ORDER_ON_WORKLIST) == {OrderState.VERIFIED}
    assert lifecycle.BAG_LABELLABLE == (BagState.RELEASED, BagState.STORED)
    assert lifecycle.BAG_LIVE == (BagState.AWAITING_CHECK, BagState.RELEASED, BagState.STORED)
    assert set(BAG.sources(Event.RECALL)) == {*lifecycle.BAG_LIVE, BagState.EXPIRED, BagState.INTERRUPTED}
    assert VIAL.sources(Event.RECALL) == (VialState.RECEIVED, VialState.IN_USE) and LOT.sources(Event.RECALL) == (LotState.RECEIVED,)
    assert ORDER.sources(Event.VERIFY) == lifecycle.ORDER_TO_VERIFY
    assert PREPARATION.sources(Event.SIGN) == (PrepState.MIXED,)


def test_labels_read_as_words():
    assert BagState.AWAITING_CHECK.label == "awaiting check" and VialState.IN_USE.label == "in use"


def test_a_transition_named_twice_is_a_programming_error():
    with pytest.raises(ValueError, match="twice"):
        lifecycle.Lifecycle("thing", LotState, LotState.RECEIVED, [
            ([LotState.RECEIVED], Event.RECALL, LotState.QUARANTINED, "trace.quarantine"),
            ([LotState.RECEIVED], Event.RECALL, LotState.RECEIVED, "trace.quarantine")])
    with pytest.raises(ValueError, match="unknown permission"):
        lifecycle.Lifecycle("thing", LotState, LotState.RECEIVED, [
            ([LotState.RECEIVED], Event.RECALL, LotState.QUARANTINED, "trace.quarantin")])


# --- no state is spelled outside the lifecycle module ------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
STATE_NAMES = sorted({s.value for machine in LIFECYCLES.values() for s in machine.states})
_QUOTED = re.compile(r"""(["'])(""" + "|".join(STATE_NAMES) + r""")\1""")
# Words that are spelled like a state but are not one, each with why (anything else is a finding).
NOT_A_STATE = {
    'REQUEST_STATUSES = frozenset({"active"': "FHIR R4 MedicationRequest status codes (domain/fhir), not an order's state",
    '"prepared": "active", "released": "completed"': "an order's state mapped to a FHIR MedicationRequest status code",
    '_CANCELLING = {"cancelled", "entered-in-error"': "FHIR R4 MedicationRequest status codes that cancel an order",
    'CANCELLED = "cancelled"': "a print job's state (domain/printjobs.JobState), not an object of the lifecycle tables",
    'code = "expired"': "the refusal code of errors.Expired, part of the API",
    'Reason("quarantined"': "a bedside reason code of the API",
    'Reason("expired"': "a bedside reason code of the API",
    '"meaning": "prepared"': "the meaning of the preparer's electronic signature",
    '"inspection", "vial_storage", "dose", "courses", "in_use"': "tables of the monograph's TOML",
    '"expired" if token.expires_at': "an API token's state on the token list (services/tokens), not a bag's",
    '"expired": lazy("expired")': "the words of an API token's state on the token list (services/tokens.TOKEN_STATE_WORDS)",
}


def _is_key(text: str, match: re.Match) -> bool:
    """A dictionary key or subscript (``"quarantined": …``, ``t["prepared"]``), not a value."""
    before, after = text[:match.start()].rstrip()[-1:], text[match.end():match.end() + 1]
    return (after == ":" and before in ("{", ",", "")) or (before == "[" and after == "]")


def _sources():
    for folder, pattern in (("pharmacy", "*.py"), ("templates", "*.html")):
        for path in sorted((ROOT / folder).rglob(pattern)):
            relative = path.relative_to(ROOT)
            if relative != Path("pharmacy/domain/lifecycle.py") and "migrations" not in relative.parts:
                yield relative, path.read_text(encoding="utf-8")


def state_literals(text: str) -> list[str]:
    found = []
    for match in _QUOTED.finditer(text):
        line = text[text.rfind("\n", 0, match.start()) + 1:text.find("\n", match.end())]
        if not _is_key(text, match) and not any(allowed in line for allowed in NOT_A_STATE):
            found.append(line.strip())
    return found


def test_no_state_literal_remains_outside_the_lifecycle_module_and_the_migrations():
    found = [f"{relative}: {line}" for relative, text in _sources() for line in state_literals(text)]
    assert found == []


def test_the_literal_check_finds_a_state_written_as_a_string_and_only_that():
    assert state_literals('if bag.state == "stored":\n') == ['if bag.state == "stored":']
    assert state_literals("{% if state == 'in_administration' %}\n") == ["{% if state == 'in_administration' %}"]
    assert state_literals('new={"state": "quarantined"}\n') == ['new={"state": "quarantined"}']
    assert state_literals('BagState.STORED, "stored_at", {"quarantined": []}, t["prepared"]\n') == []


def _section(text: str, name: str) -> str:
    return text.split(f"<!-- {name}: begin -->\n", 1)[1].split(f"<!-- {name}: end -->", 1)[0]


def test_architecture_md_draws_the_tables_the_code_has():
    from pharmacy.domain import permissions
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert _section(text, "lifecycle tables") == lifecycle.markdown()
    assert _section(text, "permission table") == permissions.markdown()
    assert "| quarantined | dispose | destroyed | bags.discard_quarantined (pharmacist) |" in lifecycle.markdown()


def test_a_table_is_built_row_by_row_and_a_row_without_target_keeps_the_state():
    machine = lifecycle.Lifecycle("thing", LotState, LotState.RECEIVED, [
        ([LotState.RECEIVED], Event.SCAN_DILUENT, None, "prep.work"),
        ([LotState.RECEIVED], Event.RECALL, LotState.QUARANTINED, "trace.quarantine")])
    assert machine.transitions == (
        lifecycle.Transition(LotState.RECEIVED, Event.SCAN_DILUENT, LotState.RECEIVED, "prep.work"),
        lifecycle.Transition(LotState.RECEIVED, Event.RECALL, LotState.QUARANTINED, "trace.quarantine"))
    assert machine.apply(LotState.RECEIVED, Event.SCAN_DILUENT) == LotState.RECEIVED
    assert machine.allowed(LotState.QUARANTINED) == () and machine.is_final(LotState.QUARANTINED)


def test_a_refused_transition_carries_the_state_and_the_event_for_the_api():
    with pytest.raises(TransitionRefused) as refused:
        BAG.apply(BagState.ADMINISTERED, Event.DISPOSE, what="Bag BAG0000001")
    assert refused.value.details == {"state": "administered", "event": "dispose"}
    assert refused.value.message == ("Bag BAG0000001 is administered: it cannot be disposed of. Nothing was recorded.")


@pytest.mark.hazard("H29")
def test_a_send_back_returns_to_the_state_in_which_its_step_is_due_and_only_a_pharmacist_sends_back():
    for step, event in lifecycle.SEND_BACK.items():
        target = PREPARATION.apply(PrepState.SIGNED, event, "pharmacist")
        assert lifecycle.PREP_NEXT_STEP[target] == step
        assert ORDER.apply(OrderState.PREPARED, event, "pharmacist") == OrderState.IN_PREPARATION
    assert lifecycle.send_back_steps(PrepState.SIGNED, "pharmacist") == ("diluent", "volume", "mixing", "sign")
    assert lifecycle.send_back_steps(PrepState.SIGNED, "technician") == ()
    assert lifecycle.send_back_steps(PrepState.MIXED, "pharmacist") == ()  # only a signed preparation
    assert "vial" not in lifecycle.SEND_BACK and "inspection" not in lifecycle.SEND_BACK
    assert lifecycle.redone_after_send_back("diluent") == ("diluent", "volume", "mixing", "sign")
    assert lifecycle.redone_after_send_back("sign") == ("sign",)


@pytest.mark.hazard("H29")
def test_a_preparation_sent_back_may_be_rejected_from_wherever_a_send_back_leaves_it_and_only_by_a_pharmacist():
    left_at = {PREPARATION.apply(PrepState.SIGNED, event) for event in lifecycle.SEND_BACK.values()}
    assert set(PREPARATION.sources(Event.REJECT_SENT_BACK)) == left_at
    assert [r for r in Role if PREPARATION.allows(PrepState.MIXED, Event.REJECT_SENT_BACK, r)] == [Role.PHARMACIST]
    assert ORDER.apply(OrderState.IN_PREPARATION, Event.REJECT_SENT_BACK, "pharmacist") == OrderState.REJECTED
    assert not PREPARATION.allows(PrepState.SIGNED, Event.REJECT_SENT_BACK)  # signed again: the check's own reject
