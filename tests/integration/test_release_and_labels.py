"""Check and release (SPEC 2.4) under a second person's electronic signature, and labels (SPEC 2.5):
only a released bag is labelled, and every print after the first is a reprint, numbered and audited."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from pharmacy.db.models import LabelPrint, Vial
from pharmacy.domain.errors import AuthenticationFailed, Expired, NotAllowed, PharmacyError, SeparationOfDuties, StateConflict
from pharmacy.services import bags, preparation, release
from tests import factories
from tests.integration.records import audit_entries, counts, refused

PHARM = factories.PASSWORDS["pharm"]


def in_hand(prep) -> str:
    """The checker scans the in-process label of the bag in their hands."""
    return factories.in_process_scan(prep.id)


def signed(pharmacy, preparer: str = "tech"):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0], preparer=preparer)
    return prep, bag


def bag_state(pharmacy, serial: str) -> str:
    return bags.get_bag(pharmacy, serial).state


def test_a_second_pharmacist_releases_the_bag_under_signature_and_it_is_audited(pharmacy):
    prep, bag = signed(pharmacy)
    released = release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "released", bag_scan=in_hand(prep))
    assert released.state == "released" and released.released_at is not None
    done = preparation.get(pharmacy, prep.id)
    assert (done.state, done.order.state, done.steps[-1].step) == ("released", "released", "check")
    assert done.steps[-1].detail["signed_by"] == "Petra Pharmacist"
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(Vial.state).where(Vial.serial == pharmacy.vial_serials[0])).scalar_one() == "used"
    entry = audit_entries(pharmacy, "bag.release")[-1]
    assert entry.username == "pharm" and entry.new["signature"] == "Petra Pharmacist"


@pytest.mark.hazard("H11")
def test_the_preparer_cannot_check_their_own_bag(pharmacy):
    # SPEC 3, separation of duties: a pharmacist who prepared a bag cannot release it.
    prep, bag = signed(pharmacy, preparer="pharm")
    refused(pharmacy, prep, SeparationOfDuties,
            lambda: release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "released", bag_scan=in_hand(prep)),
            "You prepared this bag, so you cannot check it")
    assert bag_state(pharmacy, bag.serial) == "awaiting_check"
    assert release.decide(pharmacy, "pharm2", prep.id, prep.version, factories.PASSWORDS["pharm2"],
                          "released", bag_scan=in_hand(prep)).state == "released"


def test_a_technician_cannot_release(pharmacy):
    prep, _bag = signed(pharmacy)
    refused(pharmacy, prep, NotAllowed,
            lambda: release.decide(pharmacy, "tech2", prep.id, prep.version, factories.PASSWORDS["tech2"],
                                   "released", bag_scan=in_hand(prep)),
            "A technician may not check and release bags; only a pharmacist may")


def test_release_needs_the_checkers_password(pharmacy):
    prep, bag = signed(pharmacy)
    refused(pharmacy, prep, AuthenticationFailed,
            lambda: release.decide(pharmacy, "pharm", prep.id, prep.version, "wrong-password", "released", bag_scan=in_hand(prep)),
            "Password not accepted: the release was not signed")
    assert bag_state(pharmacy, bag.serial) == "awaiting_check"


@pytest.mark.hazard("H4")
def test_a_bag_past_its_use_by_cannot_be_released(pharmacy, clock):
    prep, bag = signed(pharmacy)
    clock.set(bag.use_by)  # at the use-by minute the bag is expired (SmPC 6.3: 8 hours)
    refused(pharmacy, prep, Expired,
            lambda: release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "released", bag_scan=in_hand(prep)),
            "The bag expired at 20 Nov 2026 17:00 CET", "Reject it")
    assert bags.list_bags(pharmacy)[0]["state"] == "expired"
    rejected = release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "rejected", "expired before check")
    assert rejected.state == "rejected"


def test_a_bag_is_released_one_minute_before_its_use_by(pharmacy, clock):
    prep, bag = signed(pharmacy)
    clock.set(bag.use_by)
    clock.advance(minutes=-1)
    assert release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "released", bag_scan=in_hand(prep)).state == "released"


def test_a_stale_release_form_is_refused(pharmacy):
    prep, _bag = signed(pharmacy)
    release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "released", bag_scan=in_hand(prep))
    current = preparation.get(pharmacy, prep.id)
    refused(pharmacy, current, StateConflict,
            lambda: release.decide(pharmacy, "pharm2", prep.id, prep.version, factories.PASSWORDS["pharm2"],
                                   "rejected", "second thoughts"),
            "was changed since your screen was loaded")


def test_a_rejection_needs_a_reason(pharmacy):
    prep, _bag = signed(pharmacy)
    refused(pharmacy, prep, PharmacyError,
            lambda: release.decide(pharmacy, "pharm", prep.id, prep.version, PHARM, "rejected", ""),
            "Say why the bag is rejected")


@pytest.mark.hazard("H13")
def test_only_a_released_bag_gets_a_label(pharmacy):
    _prep, bag = signed(pharmacy)
    before = counts(pharmacy)
    with pytest.raises(StateConflict, match="awaiting check: only a released bag gets a label"):
        bags.print_labels(pharmacy, "tech", [bag.serial])
    assert counts(pharmacy)["label_prints"] == before["label_prints"]
    assert counts(pharmacy)["audit"] == before["audit"]


def test_the_second_print_is_a_reprint_numbered_and_audited(pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    first = bags.print_labels(pharmacy, "tech", [bag.serial])
    second = bags.print_labels(pharmacy, "pharm", [bag.serial])
    assert (first.prints, second.prints) == ([(bag.serial, 1)], [(bag.serial, 2)])
    with pharmacy.uow(readonly=True) as uow:
        numbers = uow.session.execute(select(LabelPrint.number).order_by(LabelPrint.id)).scalars().all()
    assert numbers == [1, 2]
    actions = [(e.action, e.username, e.new["number"]) for e in audit_entries(pharmacy) if e.action.startswith("label.")]
    assert actions == [("label.print", "tech", 1), ("label.reprint", "pharm", 2)]
    assert "REPRINT" not in PdfReader(io.BytesIO(first.pdf)).pages[0].extract_text()
    assert "REPRINT 1" in PdfReader(io.BytesIO(second.pdf)).pages[0].extract_text()


@pytest.mark.hazard("H4")
def test_an_expired_released_bag_gets_no_label(pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    clock.set(bag.use_by)
    with pytest.raises(StateConflict, match="is expired"):
        bags.print_labels(pharmacy, "tech", [bag.serial])
