"""The guided preparation screens: one step per screen, each a hard stop; a refusal shows its
reason on the same screen and records nothing."""

from __future__ import annotations

import pytest

from pharmacy.db.models import Vial
from pharmacy.domain.gs1 import GS
from pharmacy.services import preparation
from tests import factories
from tests.web.conftest import text, version_on


@pytest.fixture
def tech(signed_in):
    return signed_in("tech")


def started(browser, pharmacy) -> int:
    """Start the preparation of a fresh verified order from the worklist; its id."""
    order = factories.verified_order(pharmacy)
    browser.get("/worklist")
    response = browser.post(f"/prep/start/{order.id}")
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def do(browser, prep_id: int, step: str, **fields):
    """Load the step screen, then submit its form as a person would (with the page's version)."""
    page = browser.get(f"/prep/{prep_id}")
    return browser.post(f"/prep/{prep_id}/{step}", {"version": version_on(page), **fields})


def up_to(browser, pharmacy, step: str) -> int:
    prep_id = started(browser, pharmacy)
    sequence = [("vial", {"scan": factories.vial_scan(pharmacy.vial_serials[0])}), ("inspection", {"result": "pass"}),
                ("diluent", {"scan": factories.NACL_SCAN}), ("volume", {"volume": "1.2 mL"}),
                ("photo/syringe", factories.photo_field(prep_id, "syringe")), ("mixing", {})]
    for name, fields in sequence:
        if name == step:
            return prep_id
        assert do(browser, prep_id, name, **fields).status_code == 302, name
    return prep_id


def steps_of(pharmacy, prep_id: int) -> list[str]:
    return [s.step for s in preparation.get(pharmacy, prep_id).steps]


def test_a_bag_is_prepared_screen_by_screen_from_scans(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    screens = []
    for step, fields in [("vial", {"scan": factories.vial_scan(pharmacy.vial_serials[0])}),
                         ("inspection", {"result": "pass"}), ("diluent", {"scan": factories.GLUCOSE_SCAN}),
                         ("volume", {"volume": "1200 uL"}), ("photo/syringe", factories.photo_field(prep_id, "syringe")),
                         ("mixing", {}), ("photo/bag", factories.photo_field(prep_id, "bag")),
                         ("sign", {"password": factories.PASSWORDS["tech"]})]:
        page = tech.get(f"/prep/{prep_id}")
        screens.append(text(page))
        response = tech.post(f"/prep/{prep_id}/{step}", {"version": version_on(page), **fields})
        assert response.status_code == 302, (step, text(response))
    assert "Step 1 of 6" in screens[0] and "Scan the vial" in screens[0]
    assert "Clear, colourless to slightly yellow solution." in screens[1]
    assert "Sodium chloride 0.9% 100 mL or Glucose 5% 100 mL only" in screens[2]
    assert "1.2 mL (± 0.05 mL)" in screens[3]
    assert "Invert the bag gently to mix. Do not shake." in screens[4]
    assert "at most 8 h after dilution, at 2–8 °C" in screens[4]
    assert "Photo of the syringe at the dose" in screens[4] and "Photo of the finished bag" in screens[6]
    assert "In-use clock running" in screens[7] and "20 Nov 2026 17:00 CET" in screens[7]
    done = text(tech.get(f"/prep/{prep_id}"))
    assert "Waiting for the pharmacist's check" in done and "BAG" in done
    assert steps_of(pharmacy, prep_id) == ["start", "vial", "inspection", "diluent", "volume", "photo", "mixing", "photo",
                                           "sign"]
    assert preparation.get(pharmacy, prep_id).withdrawn_entered == "1200 uL"


def test_every_step_screen_shows_dose_volume_diluents_and_handling(tech, pharmacy):
    page = text(tech.get(f"/prep/{started(tech, pharmacy)}"))
    for fact in ("12 mg", "1.2 mL", "Sodium chloride 0.9% 100 mL or Glucose 5% 100 mL", "Do not shake",
                 "at most 8 h after dilution, at 2–8 °C", "approx. 101.2 mL, 0.12 mg/mL", "25.3 mL/h"):
        assert fact in page


def test_the_scan_field_is_focused_and_takes_keyboard_wedge_input(tech, pharmacy):
    html = tech.get(f"/prep/{started(tech, pharmacy)}").get_data(as_text=True)
    assert 'id="scan" name="scan"' in html and "autofocus" in html
    assert 'data-gs="&lt;GS&gt;"' in html
    assert "/static/pharmacy.js" in html


@pytest.mark.parametrize("separator", ["<GS>", GS])
def test_a_vial_scan_is_accepted_with_a_gs_substitute_or_the_real_gs(tech, pharmacy, separator):
    prep_id = started(tech, pharmacy)
    scan = factories.vial_scan(pharmacy.vial_serials[0]).replace(GS, separator)
    response = do(tech, prep_id, "vial", scan=scan)
    assert response.status_code == 302
    assert preparation.get(pharmacy, prep_id).vial.serial == pharmacy.vial_serials[0]


@pytest.mark.hazard("H1")
def test_the_wrong_diluent_is_refused_with_its_message_and_nothing_is_recorded(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "diluent")
    response = do(tech, prep_id, "diluent", scan=factories.WATER_SCAN)
    assert response.status_code == 422
    page = text(response)
    assert "Water for injections is not permitted: LEMTRADA must not be diluted with other solvents (SmPC 6.6)." in page
    assert 'role="alert"' in page and "Scan the diluent bag" in page
    prep = preparation.get(pharmacy, prep_id)
    assert prep.state == "inspected" and prep.diluent_lot_id is None
    assert steps_of(pharmacy, prep_id) == ["start", "vial", "inspection"]


def test_a_malformed_scan_is_refused_with_its_message(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    response = do(tech, prep_id, "vial", scan="hello")
    assert response.status_code == 422
    assert "The scan is not a GS1 element string." in text(response)
    assert steps_of(pharmacy, prep_id) == ["start"]


@pytest.mark.hazard("H3")
def test_a_diluent_scanned_at_the_vial_step_is_refused(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    response = do(tech, prep_id, "vial", scan=factories.NACL_SCAN)
    assert response.status_code == 422
    assert "is not a LEMTRADA vial" in text(response)


@pytest.mark.hazard("H2")
def test_a_volume_out_of_tolerance_is_refused(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "volume")
    response = do(tech, prep_id, "volume", volume="1.4 mL")
    assert response.status_code == 422
    assert "1.4 mL withdrawn, but 1.2 mL ± 0.05 mL is required." in text(response)
    assert preparation.get(pharmacy, prep_id).state == "diluent_scanned"
    assert preparation.get(pharmacy, prep_id).withdrawn_ml is None


@pytest.mark.hazard("H2")
def test_a_mass_typed_for_the_volume_is_refused_with_the_unit_message(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "volume")
    response = do(tech, prep_id, "volume", volume="1.2 mg")
    assert response.status_code == 422
    assert "“1.2 mg” is a mass, but a volume is needed here; nothing is converted between the two." in text(response)
    assert steps_of(pharmacy, prep_id)[-1] == "diluent"


@pytest.mark.hazard("H2")
def test_a_volume_without_its_unit_is_refused(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "volume")
    response = do(tech, prep_id, "volume", volume="1.2")
    assert response.status_code == 422
    assert "“1.2” has no unit" in text(response)


def test_a_double_submit_is_harmless(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    page = tech.get(f"/prep/{prep_id}")
    form = {"version": version_on(page), "scan": factories.vial_scan(pharmacy.vial_serials[0])}
    first = tech.post(f"/prep/{prep_id}/vial", form)
    second = tech.post(f"/prep/{prep_id}/vial", form)
    assert first.status_code == 302
    assert second.status_code == 409
    assert "was changed since your screen was loaded" in text(second)
    assert steps_of(pharmacy, prep_id) == ["start", "vial"]


def test_a_double_click_on_a_confirmation_is_harmless(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "mixing")
    page = tech.get(f"/prep/{prep_id}")
    assert tech.post(f"/prep/{prep_id}/mixing", {"version": version_on(page)}).status_code == 302
    stamped = preparation.get(pharmacy, prep_id).dilution_time
    assert tech.post(f"/prep/{prep_id}/mixing", {"version": version_on(page)}).status_code == 409
    assert preparation.get(pharmacy, prep_id).dilution_time == stamped
    assert steps_of(pharmacy, prep_id).count("mixing") == 1


def test_a_stale_form_is_refused_and_changes_nothing(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "diluent")
    stale = tech.get(f"/prep/{prep_id}")  # a second tab, left open
    prep = preparation.get(pharmacy, prep_id)
    preparation.scan_diluent(pharmacy, "tech", prep_id, prep.version, factories.NACL_SCAN)  # the first tab goes on
    response = tech.post(f"/prep/{prep_id}/diluent", {"version": version_on(stale), "scan": factories.GLUCOSE_SCAN})
    assert response.status_code == 409
    page = text(response)
    assert "Nothing was recorded: reload and check before you go on." in page
    assert "Record the withdrawn volume" in page  # the screen now shows where the preparation really is
    assert preparation.get(pharmacy, prep_id).diluent_lot.lot == "N9931"


def test_a_form_without_its_version_is_refused(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    tech.get(f"/prep/{prep_id}")
    response = tech.post(f"/prep/{prep_id}/vial", {"scan": factories.vial_scan(pharmacy.vial_serials[0])})
    assert response.status_code == 400
    assert "does not say which version" in text(response)
    assert steps_of(pharmacy, prep_id) == ["start"]


def test_a_step_that_is_not_due_is_refused(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    response = do(tech, prep_id, "mixing")
    assert response.status_code == 409
    assert "already done or not yet due" in text(response)


def test_an_unknown_step_is_not_found(tech, pharmacy):
    prep_id = started(tech, pharmacy)
    tech.get(f"/prep/{prep_id}")
    assert tech.post(f"/prep/{prep_id}/shake", {"version": "2"}).status_code == 404


def test_a_failed_inspection_rejects_the_vial_and_asks_for_another(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "inspection")
    response = do(tech, prep_id, "inspection", result="fail", note="particles seen")
    assert response.status_code == 302
    page = text(tech.get(f"/prep/{prep_id}"))
    assert "Vial rejected and recorded" in page and "Scan the vial" in page
    with pharmacy.uow(readonly=True) as uow:
        rejected = uow.session.query(Vial).filter(Vial.serial == pharmacy.vial_serials[0]).one()
    assert rejected.state == "rejected"
    again = do(tech, prep_id, "vial", scan=factories.vial_scan(pharmacy.vial_serials[0]))
    assert again.status_code == 409 and "is rejected" in text(again)
    assert do(tech, prep_id, "vial", scan=factories.vial_scan(pharmacy.vial_serials[1])).status_code == 302


def test_a_failed_inspection_needs_a_reason(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "inspection")
    response = do(tech, prep_id, "inspection", result="fail", note="")
    assert response.status_code == 422
    assert "Say what was wrong with the vial" in text(response)
    assert preparation.get(pharmacy, prep_id).state == "vial_scanned"


def test_an_inspection_without_a_result_is_refused(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "inspection")
    assert do(tech, prep_id, "inspection").status_code == 400


def test_only_the_preparer_records_the_steps(tech, signed_in, pharmacy):
    prep_id = started(tech, pharmacy)
    other = signed_in("tech2")
    page = other.get(f"/prep/{prep_id}")
    assert "only they can record its steps" in text(page)
    response = other.post(f"/prep/{prep_id}/vial", {"version": version_on(page),
                                                    "scan": factories.vial_scan(pharmacy.vial_serials[0])})
    assert response.status_code == 403
    assert steps_of(pharmacy, prep_id) == ["start"]


def test_signing_with_a_wrong_password_records_nothing(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "sign")
    response = do(tech, prep_id, "sign", password="not-my-password")
    assert response.status_code == 401
    assert "Password not accepted" in text(response)
    assert preparation.get(pharmacy, prep_id).state == "mixed"


def test_starting_twice_resumes_the_same_preparation(tech, pharmacy):
    order = factories.verified_order(pharmacy)
    tech.get("/worklist")
    first = tech.post(f"/prep/start/{order.id}").headers["Location"]
    second = tech.post(f"/prep/start/{order.id}").headers["Location"]
    assert first == second


def test_an_order_for_another_day_cannot_be_started(tech, pharmacy):
    from datetime import timedelta

    order = factories.verified_order(pharmacy, on=factories.today(pharmacy) + timedelta(days=1))
    tech.get("/worklist")
    response = tech.post(f"/prep/start/{order.id}")
    assert response.status_code == 422
    assert "prepare it on the day" in text(response)
