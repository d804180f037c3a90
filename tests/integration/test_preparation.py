"""Guided preparation (SPEC 2.3), step by step: every wrong scan, wrong volume, stale form or wrong
user is refused with a message and changes nothing — not the preparation, not the stock, not the
audit trail — while the refusal itself is noted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.db.models import Vial
from pharmacy.domain.errors import (
    AuthenticationFailed,
    Expired,
    NotAllowed,
    NotFound,
    PharmacyError,
    QuantityError,
    StateConflict,
    VolumeOutOfTolerance,
    WrongDiluent,
    WrongProduct,
)
from pharmacy.services import orders, preparation, stock
from tests import factories
from tests.integration.records import audit_entries, counts, refused

BRUSSELS = ZoneInfo("Europe/Brussels")
STEPS = ("vial", "inspection", "diluent", "volume", "mixing")


def prepared_until(pharmacy, last: str, serial: str | None = None, preparer: str = "tech", who=None):
    """A preparation taken through the steps up to and including ``last`` ("start" for none)."""
    order = factories.verified_order(pharmacy, who)
    prep = preparation.start(pharmacy, preparer, order.id)
    actions = {
        "vial": lambda p: preparation.scan_vial(pharmacy, preparer, p.id, p.version,
                                                factories.vial_scan(serial or pharmacy.vial_serials[0])),
        "inspection": lambda p: preparation.inspect_vial(pharmacy, preparer, p.id, p.version, True),
        "diluent": lambda p: preparation.scan_diluent(pharmacy, preparer, p.id, p.version, factories.NACL_SCAN),
        # each step with the photo the monograph requires after it (issue 14 point 4): ready for the next
        "volume": lambda p: factories.photograph(
            pharmacy, preparation.record_volume(pharmacy, preparer, p.id, p.version, "1.2 mL"), "syringe", preparer),
        "mixing": lambda p: factories.photograph(
            pharmacy, preparation.confirm_mixing(pharmacy, preparer, p.id, p.version), "bag", preparer),
    }
    for step in STEPS[:STEPS.index(last) + 1] if last != "start" else ():
        prep = actions[step](prep)
    return prep


def vial_state(pharmacy, serial: str) -> str:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.query(Vial).filter_by(serial=serial).one().state


def test_a_verified_order_is_prepared_step_by_step_and_each_step_is_audited(pharmacy):
    prep = prepared_until(pharmacy, "mixing")
    bag = preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    done = preparation.get(pharmacy, prep.id)
    assert [s.step for s in done.steps] == ["start", "vial", "inspection", "diluent", "volume", "photo", "mixing",
                                            "photo", "sign"]
    assert [e.action for e in audit_entries(pharmacy) if e.object_type == "preparation"] == [
        "prep.start", "prep.vial", "prep.inspection", "prep.diluent", "prep.volume", "prep.photo", "prep.mixing",
        "prep.photo", "prep.sign"]
    assert (done.state, done.order.state, bag.state) == ("signed", "prepared", "awaiting_check")
    assert done.withdrawn_ml == pytest.approx(1.2) and done.diluent_lot.lot == "N9931"


def test_starting_twice_resumes_the_same_preparation(pharmacy):
    order = factories.verified_order(pharmacy)
    first = preparation.start(pharmacy, "tech", order.id)
    assert preparation.start(pharmacy, "tech", order.id).id == first.id
    assert counts(pharmacy)["preparations"] == 1


def test_a_dose_for_another_day_is_not_prepared_today(pharmacy):
    # SmPC 6.3: the diluted bag keeps 8 hours, so it is made on the day of the infusion.
    today = factories.today(pharmacy)
    orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, today)
    tomorrow = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 2, today + timedelta(days=1))
    orders.verify_order(pharmacy, "pharm", tomorrow.id, premedication_confirmed=True)
    before = counts(pharmacy)
    with pytest.raises(PharmacyError, match="prepare it on the day") as caught:
        preparation.start(pharmacy, "tech", tomorrow.id)
    assert "21 Nov 2026" in caught.value.message and "SmPC 6.3" in caught.value.message
    assert counts(pharmacy)["preparations"] == before["preparations"]
    assert orders.get_order(pharmacy, tomorrow.id).state == "verified"


def test_an_order_not_yet_verified_is_not_prepared(pharmacy):
    entered = orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, factories.today(pharmacy))
    with pytest.raises(StateConflict, match="only a verified order is prepared"):
        preparation.start(pharmacy, "tech", entered.id)


@pytest.mark.hazard("H3")
def test_a_vial_of_another_product_is_refused(pharmacy):
    prep = prepared_until(pharmacy, "start")
    other = factories.NACL_SCAN
    refused(pharmacy, prep, WrongProduct,
            lambda: preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, other),
            "This is not a LEMTRADA vial", "GTIN 09506000134376")


def test_a_vial_never_received_is_refused(pharmacy):
    prep = prepared_until(pharmacy, "start")
    refused(pharmacy, prep, NotFound,
            lambda: preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan("NEVER0001")),
            "Vial serial NEVER0001 was never received")


@pytest.mark.hazard("H9")
def test_a_vial_that_expired_since_it_was_received_is_refused(pharmacy, clock):
    stock.receive(pharmacy, "tech", factories.vial_scan("SHORT0001", "S1", "261121"))  # usable through 21 Nov
    clock.set(datetime(2026, 11, 22, 9, 0, tzinfo=BRUSSELS))
    prep = prepared_until(pharmacy, "start")
    error = refused(
        pharmacy, prep, Expired,
        lambda: preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan("SHORT0001", "S1", "261121")),
        "Vial lot S1 expired on 21 Nov 2026")
    assert error.details["expiry"] == "2026-11-21"
    assert vial_state(pharmacy, "SHORT0001") == "received"


@pytest.mark.hazard("H1")
def test_water_for_injections_is_refused_as_diluent_and_nothing_is_recorded(pharmacy):
    # SmPC 6.6: sodium chloride 0.9% or glucose 5% only, "must not be diluted with other solvents".
    prep = prepared_until(pharmacy, "inspection")
    refused(pharmacy, prep, WrongDiluent,
            lambda: preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.WATER_SCAN),
            "Water for injections is not permitted", "SmPC 6.6", "Sodium chloride 0.9%", "Glucose 5%")
    assert preparation.get(pharmacy, prep.id).diluent_lot_id is None


@pytest.mark.hazard("H1")
def test_a_glucose_bag_is_a_permitted_diluent(pharmacy):
    prep = prepared_until(pharmacy, "inspection")
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.GLUCOSE_SCAN)
    assert preparation.get(pharmacy, prep.id).diluent_lot.diluent_id == "glucose-5-100ml"


@pytest.mark.hazard("H2")
@pytest.mark.parametrize("entered", ["1.2 mL", "1.2 ml", "1200 uL", "1.25 mL", "1.15 mL"])
def test_withdrawn_volumes_within_the_tolerance_are_recorded(pharmacy, entered):
    prep = prepared_until(pharmacy, "diluent")
    prep = preparation.record_volume(pharmacy, "tech", prep.id, prep.version, entered)
    assert prep.withdrawn_entered == entered


@pytest.mark.hazard("H2")
@pytest.mark.parametrize("entered", ["1.3 mL", "1.1 mL", "2 mL"])
def test_a_withdrawn_volume_out_of_tolerance_is_refused(pharmacy, entered):
    prep = prepared_until(pharmacy, "diluent")
    refused(pharmacy, prep, VolumeOutOfTolerance,
            lambda: preparation.record_volume(pharmacy, "tech", prep.id, prep.version, entered),
            "1.2 mL ± 0.05 mL is required")


@pytest.mark.hazard("H2")
@pytest.mark.parametrize("entered, fragment", [("1.2 mg", "mass"), ("12", "unit")])
def test_a_volume_in_the_wrong_dimension_or_without_unit_is_refused(pharmacy, entered, fragment):
    prep = prepared_until(pharmacy, "diluent")
    error = refused(pharmacy, prep, QuantityError,
            lambda: preparation.record_volume(pharmacy, "tech", prep.id, prep.version, entered))
    assert fragment in error.message.lower()


def test_a_double_submit_is_refused_and_changes_nothing(pharmacy):
    started = prepared_until(pharmacy, "start")
    scanned = preparation.scan_vial(pharmacy, "tech", started.id, started.version, factories.vial_scan(pharmacy.vial_serials[0]))
    refused(
        pharmacy, scanned, StateConflict,
        lambda: preparation.scan_vial(pharmacy, "tech", started.id, started.version, factories.vial_scan(pharmacy.vial_serials[1])),
        "was changed since your screen was loaded", "Nothing was recorded")
    assert vial_state(pharmacy, pharmacy.vial_serials[1]) == "received"


def test_a_step_out_of_order_is_refused(pharmacy):
    prep = prepared_until(pharmacy, "start")
    refused(pharmacy, prep, StateConflict,
            lambda: preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL"),
            "not yet due")


def test_only_the_preparer_records_the_steps(pharmacy):
    prep = prepared_until(pharmacy, "start")
    refused(
        pharmacy, prep, NotAllowed,
        lambda: preparation.scan_vial(pharmacy, "tech2", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0])),
        "Only the person who started this preparation")


def test_a_failed_inspection_rejects_the_vial_and_asks_for_another(pharmacy):
    # SmPC 6.6: do not use the vial if there is particulate matter or discolouration.
    first, second = pharmacy.vial_serials[:2]
    prep = prepared_until(pharmacy, "vial", serial=first)
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, False, "particles seen")
    assert (prep.state, prep.vial_id) == ("started", None)
    assert preparation.NEXT_STEP[prep.state] == "vial"
    assert vial_state(pharmacy, first) == "rejected"
    entry = audit_entries(pharmacy, "vial.reject")[-1]
    assert entry.reason == "particles seen" and entry.new == {"state": "rejected"}
    with pytest.raises(StateConflict, match="is rejected"):
        preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(first))
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(second))
    assert prep.state == "vial_scanned"


def test_a_failed_inspection_needs_to_say_what_was_wrong(pharmacy):
    prep = prepared_until(pharmacy, "vial")
    refused(pharmacy, prep, PharmacyError,
            lambda: preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, False, ""),
            "Say what was wrong with the vial")
    assert vial_state(pharmacy, pharmacy.vial_serials[0]) == "in_use"


def test_signing_with_a_wrong_password_is_refused_and_no_bag_is_made(pharmacy):
    prep = prepared_until(pharmacy, "mixing")
    refused(pharmacy, prep, AuthenticationFailed,
            lambda: preparation.sign(pharmacy, "tech", prep.id, prep.version, "not-my-password"),
            "Password not accepted", "nothing was recorded")


@pytest.mark.hazard("H4")
def test_the_use_by_is_eight_hours_after_dilution(pharmacy, clock):
    # SmPC 6.3: chemical and physical in-use stability 8 hours at 2–8 °C.
    prep = prepared_until(pharmacy, "volume")
    clock.set(datetime(2026, 11, 20, 9, 17, 42, tzinfo=BRUSSELS))
    prep = factories.photograph(pharmacy, preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version), "bag")
    bag = preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    assert preparation.get(pharmacy, prep.id).dilution_time == datetime(2026, 11, 20, 8, 17, 42, tzinfo=UTC)
    assert bag.use_by == datetime(2026, 11, 20, 16, 17, tzinfo=UTC)  # 17:17 in Brussels, floored to the minute


@pytest.mark.hazard("H5")
def test_eight_hours_are_eight_real_hours_across_the_change_to_summer_time(pharmacy, clock):
    clock.set(datetime(2027, 3, 27, 22, 0, tzinfo=BRUSSELS))  # CET; clocks go forward at 02:00 on 28 March
    prep = prepared_until(pharmacy, "mixing")
    bag = preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    assert bag.use_by.astimezone(BRUSSELS) == datetime(2027, 3, 28, 7, 0, tzinfo=BRUSSELS)  # CEST: 8 real hours


@pytest.mark.hazard("H4")
def test_the_use_by_is_capped_by_the_vial_lot_expiry_at_the_end_of_that_day(pharmacy, clock):
    stock.receive(pharmacy, "tech", factories.vial_scan("LASTDAY01", "LD1", "261120"))  # expires today
    clock.set(datetime(2026, 11, 20, 19, 30, tzinfo=BRUSSELS))
    prep = prepared_until(pharmacy, "mixing", serial="LASTDAY01")
    bag = preparation.sign(pharmacy, "tech", prep.id, prep.version, factories.PASSWORDS["tech"])
    assert bag.use_by.astimezone(BRUSSELS) == datetime(2026, 11, 20, 23, 59, tzinfo=BRUSSELS)  # not 03:30 next day
