"""The check sends a signed preparation back to a step (issue 14 point 5, SAFETY.md H29): the step and
every later one are done again with new evidence and signed again; the earlier records stay, superseded;
the vial stays used by this preparation, the bag keeps its serial and its dilution time never moves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry, Bag, LabelConfirmation, Preparation, Refusal, Vial
from pharmacy.domain import nearmiss
from pharmacy.domain.errors import AuthenticationFailed, NotAllowed, SeparationOfDuties, StateConflict
from pharmacy.domain.lifecycle import TransitionRefused
from pharmacy.domain.photos import PhotoMissing
from pharmacy.services import audit_check, preparation, release
from pharmacy.services import photos as photo_service
from pharmacy.services.release import SendBackRefused
from tests import factories
from tests.factories import NACL_SCAN, PASSWORDS
from tests.integration.records import counts
from tests.integration.test_weighing import SYRINGE, at_volume_step, calibrated, grams_for, sim, weighed_pharmacy

__all__ = ["sim"]  # the simulator fixture, used by the weighed test below


def _send_back(pharmacy, prep, step="volume", reason="re-weigh the syringe", who="pharm", version=None):
    return release.send_back(pharmacy, who, prep.id, prep.version if version is None else version, PASSWORDS[who],
                             step, reason)


def _row(pharmacy, model, **where):
    with pharmacy.uow(readonly=True) as uow:
        row = uow.session.execute(select(model).filter_by(**where)).scalar_one()
        uow.session.expunge(row)
        return row


@pytest.mark.hazard("H29")
def test_a_send_back_returns_the_preparation_to_the_step_voids_the_signature_and_keeps_vial_and_bag(pharmacy, clock):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    diluted_at = prep.dilution_time
    clock.advance(minutes=20)
    back = _send_back(pharmacy, prep, "volume", "the typed volume does not match the syringe: measure it again")
    assert back.state == "diluent_scanned" and back.version == prep.version + 1
    again = preparation.get(pharmacy, prep.id)
    assert again.signed_at is None and again.withdrawn_ml is None and again.volume_evidence is None
    assert again.vial_id == prep.vial_id and again.order.state == "in_preparation"
    assert _row(pharmacy, Vial, id=prep.vial_id).state == "in_use"  # the vial stays used by this preparation
    assert _row(pharmacy, Bag, preparation_id=prep.id).state == "awaiting_check"  # the same bag, not releasable
    entry = _row(pharmacy, AuditEntry, action="prep.send_back")
    assert (entry.username, entry.object_id, entry.reason) == ("pharm", str(prep.id), "the typed volume does not "
                                                                                       "match the syringe: measure it again")
    assert entry.new["to"] == "volume" and entry.new["redo"] == ["volume", "mixing", "sign"]
    assert entry.new["signature"] == "Petra Pharmacist" and entry.old == {"state": "signed"}
    # a release is refused until the preparer has redone the steps and signed again
    with pytest.raises(TransitionRefused, match="only a signed preparation is checked"):
        release.decide(pharmacy, "pharm", prep.id, again.version, PASSWORDS["pharm"], "released",
                       bag_scan=factories.in_process_scan(prep.id))
    # the preparer sees it, redoes volume, mixing, signs: the same bag, the first dilution time
    assert preparation.sent_back(again)["reason"].startswith("the typed volume")
    p = preparation.record_volume(pharmacy, "tech", prep.id, again.version, "1.21 mL")
    with pytest.raises(PhotoMissing, match="photo of the syringe"):  # the first one was set aside
        preparation.confirm_mixing(pharmacy, "tech", prep.id, p.version)
    p = factories.photograph(pharmacy, p, "syringe", take=2)
    p = preparation.confirm_mixing(pharmacy, "tech", prep.id, p.version)
    assert p.dilution_time == diluted_at  # never later: the use-by counts from the first mixing
    p = factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "bag", take=2)
    resigned = preparation.sign(pharmacy, "tech", prep.id, p.version, PASSWORDS["tech"])
    assert (resigned.id, resigned.serial, resigned.use_by) == (bag.id, bag.serial, bag.use_by)
    final = preparation.get(pharmacy, prep.id)
    assert final.state == "signed" and final.withdrawn_entered == "1.21 mL" and preparation.sent_back(final) is None
    # the next check shows the send-back as a deviation and the old steps as superseded
    names = {final.prepared_by: "Tessa Technician"}
    deviations = release.deviations(pharmacy, final, names)
    assert any("sent back to “volume” by the check: the typed volume does not match" in d.what for d in deviations)
    void = nearmiss.superseded((s.id, s.step, s.detail or {}) for s in final.steps)
    assert sorted(s.step for s in final.steps if s.id in void) == ["mixing", "photo", "photo", "sign", "volume"]
    assert {p.photo.sha256 for p in photo_service.evidence(pharmacy, prep.id)} == {
        s.detail["sha256"] for s in final.steps if s.step == "photo" and s.id not in void}  # the retakes count
    released = release.decide(pharmacy, "pharm", prep.id, final.version, PASSWORDS["pharm"], "released",
                              bag_scan=factories.in_process_scan(prep.id))
    assert released.state == "released" and released.use_by == bag.use_by
    report = audit_check.verify(pharmacy)  # the re-signed bag's use-by is in the trail (bag.resign)
    assert report.ok, report.problems


@pytest.mark.hazard("H29")
def test_a_send_back_to_the_diluent_needs_the_diluent_scanned_again_and_every_later_step(pharmacy):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    back = _send_back(pharmacy, prep, "diluent", "re-scan the diluent: the lot on the bag is not the one recorded")
    assert back.state == "inspected" and preparation.get(pharmacy, prep.id).diluent_lot_id is None
    with pytest.raises(StateConflict, match="already done or not yet due"):  # no skipping ahead to the sign
        preparation.sign(pharmacy, "tech", prep.id, back.version, PASSWORDS["tech"])
    p = preparation.scan_diluent(pharmacy, "tech", prep.id, back.version, NACL_SCAN)
    p = preparation.record_volume(pharmacy, "tech", prep.id, p.version, "1.2 mL")
    p = factories.photograph(pharmacy, p, "syringe", take=2)
    p = preparation.confirm_mixing(pharmacy, "tech", prep.id, p.version)
    p = factories.photograph(pharmacy, preparation.get(pharmacy, prep.id), "bag", take=2)
    assert preparation.sign(pharmacy, "tech", prep.id, p.version, PASSWORDS["tech"]).serial == bag.serial


@pytest.mark.hazard("H29")
def test_a_weighed_volume_sent_back_needs_a_new_tare_the_old_one_is_void(pharmacy, sim):
    weighed = weighed_pharmacy(pharmacy, sim)
    calibrated(weighed)
    prep = at_volume_step(weighed)
    preparation.tare(weighed, "tech", prep.id, prep.version)
    sim.place(SYRINGE + grams_for("1.21"))
    p = preparation.weigh_volume(weighed, "tech", prep.id, prep.version + 1)
    p = factories.photograph(weighed, p, "syringe")
    p = preparation.confirm_mixing(weighed, "tech", prep.id, p.version)
    p = factories.photograph(weighed, preparation.get(weighed, prep.id), "bag")
    preparation.sign(weighed, "tech", prep.id, p.version, PASSWORDS["tech"])
    signed = preparation.get(weighed, prep.id)
    back = _send_back(weighed, signed, "volume", "re-weigh the syringe: the reading was taken while it moved")
    before = counts(weighed)
    with pytest.raises(StateConflict, match="Tare the empty syringe on the balance first"):
        preparation.weigh_volume(weighed, "tech", prep.id, back.version)  # the earlier tare does not count
    assert {k: v for k, v in counts(weighed).items() if k != "refusals"} == {k: v for k, v in before.items() if k != "refusals"}
    assert preparation.weighings(weighed, prep.id, current=True) == []
    sim.place(SYRINGE)
    preparation.tare(weighed, "tech", prep.id, back.version)
    sim.place(SYRINGE + grams_for("1.19"))
    p = preparation.weigh_volume(weighed, "tech", prep.id, back.version + 1)
    assert p.withdrawn_ml == pytest.approx(1.19, abs=1e-4) and p.volume_evidence == "weighed"
    assert [w.kind for w in preparation.weighings(weighed, prep.id, current=True)] == ["tare", "net"]
    assert len(preparation.weighings(weighed, prep.id)) == 4  # the void ones stay in the record
    assert Decimal(preparation.weighings(weighed, prep.id)[-1].grams) == grams_for("1.19")


@pytest.mark.hazard("H29")
@pytest.mark.parametrize(("step", "reason", "error", "words"), [
    ("vial", "the vial looks wrong", SendBackRefused, "the vial stays used by this preparation"),
    ("inspection", "inspect again", SendBackRefused, "the vial stays used by this preparation"),
    ("weigh-again", "re-weigh the syringe", SendBackRefused, "Choose the step to send the preparation back to"),
    ("", "re-weigh the syringe", SendBackRefused, "Choose the step"),
    ("volume", "   ", SendBackRefused, "Say what must be redone and why"),
    ("volume", "bad", SendBackRefused, "Say what must be redone and why"),
])
def test_a_send_back_without_a_step_it_allows_or_without_a_reason_is_refused_and_recorded(pharmacy, step, reason,
                                                                                          error, words):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    before = counts(pharmacy)
    with pytest.raises(error, match=words):
        _send_back(pharmacy, prep, step, reason)
    after = counts(pharmacy)
    assert {k: v for k, v in after.items() if k != "refusals"} == {k: v for k, v in before.items() if k != "refusals"}
    assert preparation.get(pharmacy, prep.id).state == "signed"
    refusal = _row(pharmacy, Refusal, action="check.send_back")
    assert refusal.object_id == str(prep.id) and refusal.username == "pharm"


@pytest.mark.hazard("H29")
def test_the_preparer_a_stale_form_a_wrong_password_or_a_technician_cannot_send_back(pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    own, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[1], factories.patient("P-2", "Ben Other"),
                                          preparer="pharm")
    with pytest.raises(SeparationOfDuties, match="You prepared this bag"):
        _send_back(pharmacy, own)
    with pytest.raises(StateConflict, match="changed"):
        _send_back(pharmacy, prep, version=prep.version - 1)
    with pytest.raises(AuthenticationFailed):
        release.send_back(pharmacy, "pharm", prep.id, prep.version, "not my password", "volume", "re-weigh it")
    with pytest.raises(NotAllowed, match="may not"):
        release.send_back(pharmacy, "tech2", prep.id, prep.version, PASSWORDS["tech2"], "volume", "re-weigh the syringe")
    _send_back(pharmacy, prep, "sign", "read the steps again before you sign")
    with pytest.raises(TransitionRefused, match="only a signed preparation is sent back"):  # twice: not signed now
        _send_back(pharmacy, preparation.get(pharmacy, prep.id), "sign", "read the steps again")
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.get(Preparation, own.id).state == "signed"


@pytest.mark.hazard("H27")
def test_migration_0015_carries_over_the_confirmations_recorded_before_it(pharmacy):
    """A bag confirmed before 0015 (bags.label_confirmed_at only) keeps its confirmation for the prints made
    up to then; a reprint after it is not covered."""
    from alembic import command
    from sqlalchemy import text

    from pharmacy.db import migrate
    from pharmacy.services import bags

    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    with pharmacy.db.engine.begin() as connection:
        command.downgrade(migrate._config(connection), "0014")
    with pharmacy.db.engine.connect() as connection:
        tables = set(connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()) \
            if pharmacy.db.is_sqlite else set(connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    assert "label_confirmations" not in tables
    migrate.upgrade(pharmacy.db)
    assert migrate.differences(pharmacy.db) == []
    with pharmacy.uow(readonly=True) as uow:
        carried = uow.session.execute(select(LabelConfirmation)).scalar_one()
        assert (carried.bag_id, carried.print_number, carried.user_id) == (bag.id, 1, None)
        assert bags.label_unconfirmed(uow.session, bags.find_bag(uow.session, bag.serial)) is None
