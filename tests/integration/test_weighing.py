"""The gravimetric volume step (issue 14 point 3, SAFETY.md H2): the preparer tares the empty syringe
on a calibrated balance and weighs it filled; the stable net mass through the product's density is the
withdrawn volume, checked against the dose (SmPC 6.6: withdraw 1.2 mL) within the tolerance. The
balance is the simulator on loopback, speaking MT-SICS or SBI as a real one does."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import AuditEntry, Preparation, Refusal, Weighing
from pharmacy.devices.balance import BalanceError
from pharmacy.devices.simulator import BalanceSimulator
from pharmacy.domain.errors import PharmacyError, VolumeOutOfTolerance
from pharmacy.services import balances, base, preparation
from tests import factories
from tests.factories import NACL_SCAN, PASSWORDS, vial_scan

DENSITY = "1.006"  # g/mL, the test pharmacy's "validated" value
SYRINGE = Decimal("6.5210")  # an empty 2 mL syringe with its cap


def grams_for(ml: str) -> Decimal:
    return (Decimal(ml) * Decimal(DENSITY)).quantize(Decimal("0.0001"))


@pytest.fixture(params=["mt-sics", "sbi"])
def sim(request):
    with BalanceSimulator(request.param, serial_number="B123456789") as simulator:
        simulator.place(SYRINGE)
        yield simulator


def weighed_pharmacy(pharmacy, sim, density: str | None = DENSITY, demo: bool = False):
    """The test pharmacy with a density in its instance catalogue and the simulator as its balance."""
    folder = pharmacy.settings.instance / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    if density:
        (folder / "densities.toml").write_text(
            f'[lemtrada]\ndensity = "{density} g/mL"\nsource = "QC validation report 2026-14"\ndemo = {str(demo).lower()}\n')
    built = base.build(replace(pharmacy.settings, balance=f"{sim.url}?timeout=1"))
    built.vial_serials = pharmacy.vial_serials
    return built


def calibrated(pharmacy, serial="B123456789", due_in_days=180):
    today = factories.today(pharmacy)
    return balances.record_calibration(pharmacy, "pharm", serial, "XPR204 (simulated)", today - timedelta(days=10),
                                       today + timedelta(days=due_in_days), "CAL-2026-118")


def at_volume_step(pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    return preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, NACL_SCAN)


def counts(pharmacy) -> dict:
    with pharmacy.uow(readonly=True) as uow:
        return {name: uow.session.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in (("weighings", Weighing), ("audit", AuditEntry), ("refusals", Refusal))}


def state_of(pharmacy, prep_id):
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.get(Preparation, prep_id).state


@pytest.mark.hazard("H2")
def test_the_filled_syringe_weighed_on_a_tared_calibrated_balance_is_the_recorded_volume(pharmacy, sim):
    weighed = weighed_pharmacy(pharmacy, sim)
    calibrated(weighed)
    prep = at_volume_step(weighed)
    tare = preparation.tare(weighed, "tech", prep.id, prep.version)
    assert tare.balance_serial == "B123456789"
    sim.place(SYRINGE + grams_for("1.21"))  # filled to 1.21 mL
    prep = preparation.weigh_volume(weighed, "tech", prep.id, prep.version + 1)
    assert prep.volume_evidence == "weighed"
    assert prep.withdrawn_ml == pytest.approx(1.21, abs=1e-4)
    readings = preparation.weighings(weighed, prep.id)
    assert [(w.kind, w.balance_serial) for w in readings] == [("tare", "B123456789"), ("net", "B123456789")]
    assert readings[1].grams == str(grams_for("1.21")) and readings[1].density_g_ml == DENSITY
    with weighed.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "prep.volume")).scalar_one()
    assert entry.new["evidence"] == "weighed" and entry.new["balance"] == "B123456789"
    assert entry.new["net_g"] == str(grams_for("1.21")) and entry.new["density_source"] == "QC validation report 2026-14"
    # the bag carries how its volume is known
    prep = factories.photograph(weighed, preparation.get(weighed, prep.id), "syringe")
    prep = factories.photograph(weighed, preparation.confirm_mixing(weighed, "tech", prep.id, prep.version), "bag")
    bag = preparation.sign(weighed, "tech", prep.id, prep.version, PASSWORDS["tech"])
    with weighed.uow(readonly=True) as uow:
        created = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "bag.create")).scalar_one()
    assert created.new["volume_evidence"] == "weighed" and created.new["serial"] == bag.serial


@pytest.mark.hazard("H2")
@pytest.mark.parametrize("ml", ["1.40", "1.14", "0.00"])
def test_a_weighed_volume_outside_the_tolerance_is_refused_with_the_mass_and_nothing_recorded(pharmacy, sim, ml):
    """SmPC 6.6: 1.2 mL; the monograph's tolerance ±0.05 mL."""
    weighed = weighed_pharmacy(pharmacy, sim)
    calibrated(weighed)
    prep = at_volume_step(weighed)
    preparation.tare(weighed, "tech", prep.id, prep.version)
    sim.place(SYRINGE + grams_for(ml))
    before = counts(weighed)
    with pytest.raises(VolumeOutOfTolerance) as refused:
        preparation.weigh_volume(weighed, "tech", prep.id, prep.version + 1)
    assert f"Weighed {grams_for(ml)} g net" in refused.value.message and "1.2 mL" in refused.value.message
    after = counts(weighed)
    assert after["weighings"] == before["weighings"] and after["audit"] == before["audit"]
    assert after["refusals"] == before["refusals"] + 1  # the near miss is kept
    assert state_of(weighed, prep.id) == "diluent_scanned"


@pytest.mark.hazard("H2")
def test_only_a_stable_reading_counts(pharmacy, sim):
    weighed = weighed_pharmacy(pharmacy, sim)
    calibrated(weighed)
    prep = at_volume_step(weighed)
    preparation.tare(weighed, "tech", prep.id, prep.version)
    sim.place(SYRINGE + grams_for("1.2"))
    sim.unsettled(1000)  # a hand on the bench, a draught
    before = counts(weighed)
    with pytest.raises(BalanceError, match="did not settle"):
        preparation.weigh_volume(weighed, "tech", prep.id, prep.version + 1)
    assert counts(weighed)["weighings"] == before["weighings"] and state_of(weighed, prep.id) == "diluent_scanned"


@pytest.mark.hazard("H2")
@pytest.mark.parametrize("fault", ["overload", "unit", "garbage", "disconnect", "silent"])
def test_a_balance_fault_while_weighing_records_no_volume(pharmacy, sim, fault):
    weighed = weighed_pharmacy(pharmacy, sim)
    calibrated(weighed)
    prep = at_volume_step(weighed)
    preparation.tare(weighed, "tech", prep.id, prep.version)
    sim.place(SYRINGE + grams_for("1.2"))
    before = counts(weighed)
    sim.fail_next(fault, on=("S", "P"))  # the serial number is asked first: the fault meets the weighing
    with pytest.raises(BalanceError) as refused:
        preparation.weigh_volume(weighed, "tech", prep.id, prep.version + 1)
    assert "Nothing was recorded" in refused.value.message
    after = counts(weighed)
    assert after["weighings"] == before["weighings"] and after["audit"] == before["audit"]
    assert state_of(weighed, prep.id) == "diluent_scanned"


@pytest.mark.hazard("H2")
def test_a_weighing_without_a_tare_or_on_another_balance_is_refused(pharmacy, sim):
    weighed = weighed_pharmacy(pharmacy, sim)
    calibrated(weighed)
    calibrated(weighed, serial="B999")
    prep = at_volume_step(weighed)
    sim.place(grams_for("1.2"))
    with pytest.raises(PharmacyError, match="Tare the empty syringe on the balance first"):
        preparation.weigh_volume(weighed, "tech", prep.id, prep.version)
    preparation.tare(weighed, "tech", prep.id, prep.version)
    sim.serial_number = "B999"  # the syringe carried to another balance
    with pytest.raises(PharmacyError, match="tared on balance B123456789 but weighed on B999"):
        preparation.weigh_volume(weighed, "tech", prep.id, prep.version + 1)


@pytest.mark.hazard("H2")
@pytest.mark.parametrize("case", ["unknown", "past due"])
def test_a_balance_without_a_current_calibration_is_refused_before_it_is_used(pharmacy, sim, clock, case):
    weighed = weighed_pharmacy(pharmacy, sim)
    if case == "past due":
        due = calibrated(weighed, due_in_days=5).calibration_due
        clock.advance(days=6)
    prep = at_volume_step(weighed)
    before = counts(weighed)
    expected = f"was due for calibration on {due:%d %b %Y}" if case == "past due" else "B123456789 has no calibration record"
    with pytest.raises(balances.BalanceNotCalibrated, match=expected):
        preparation.tare(weighed, "tech", prep.id, prep.version)
    assert "T" not in sim.commands and "U" not in sim.commands  # refused before the balance tared anything
    assert counts(weighed)["weighings"] == before["weighings"]


@pytest.mark.hazard("H2")
def test_where_the_product_is_weighed_a_typed_volume_is_refused(pharmacy, sim):
    weighed = weighed_pharmacy(pharmacy, sim)
    prep = at_volume_step(weighed)
    with pytest.raises(PharmacyError, match="is weighed at this workstation"):
        preparation.record_volume(weighed, "tech", prep.id, prep.version, "1.2 mL")


@pytest.mark.hazard("H2")
def test_without_a_density_the_volume_is_typed_and_kept_as_unweighed(pharmacy, sim):
    """The LEMTRADA SmPC gives no density: without the pharmacy's own, the step falls back to typing."""
    typed = weighed_pharmacy(pharmacy, sim, density=None)
    prep = at_volume_step(typed)
    with pytest.raises(PharmacyError, match="no validated density"):
        preparation.tare(typed, "tech", prep.id, prep.version)
    prep = preparation.record_volume(typed, "tech", prep.id, prep.version, "1.2 mL")
    assert prep.volume_evidence == "typed"
    with typed.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "prep.volume")).scalar_one()
    assert entry.new["evidence"] == "typed" and "no validated density" in entry.new["unweighed_because"]


def test_only_a_pharmacist_records_a_calibration_and_nonsense_dates_are_refused(pharmacy):
    today = factories.today(pharmacy)
    with pytest.raises(PharmacyError, match="only a pharmacist may"):
        balances.record_calibration(pharmacy, "tech", "B1", "XPR", today, today + timedelta(days=30), "C1")
    for on, due, words in ((today + timedelta(days=1), today + timedelta(days=30), "future"),
                           (today, today, "after the calibration date"),
                           (today - timedelta(days=500), today - timedelta(days=1), "already run out"),
                           (today, today + timedelta(days=500), "at least once a year")):
        with pytest.raises(PharmacyError, match=words):
            balances.record_calibration(pharmacy, "pharm", "B1", "XPR", on, due, "C1")
    assert balances.calibrations(pharmacy) == []
