"""The bag has an identity from its filling (issue 14 point 1, SAFETY.md H27): an in-process label
from the diluent scan on — IN PREPARATION, NOT FOR ADMINISTRATION, its serial in a plain Code 128,
no use-by, no GS1 symbol — that the bedside names and refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry
from pharmacy.services import preparation, users
from tests import factories
from tests.factories import NACL_SCAN, vial_scan
from tests.unit.label_helpers import decode, pdf_text
from tests.web.conftest import text, version_on


def filled(pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    return prep, preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, NACL_SCAN)


@pytest.mark.hazard("H27")
def test_from_the_diluent_scan_the_bag_has_an_in_process_label_no_bedside_can_take_for_a_released_one(signed_in, pharmacy):
    before, prep = filled(pharmacy)
    tech = signed_in("tech")
    page = text(tech.get(f"/prep/{prep.id}"))
    assert f"Print the in-process label of bag BAG{prep.id:07d}" in page
    response = tech.post(f"/prep/{prep.id}/in-process-label.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    found = decode(response.data)
    assert list(found) == ["]C0"]  # one plain Code 128 — no GS1-128 (]C1), no DataMatrix (]d2)
    assert found["]C0"].text == f"IP-BAG{prep.id:07d}"
    words = pdf_text(response.data)
    assert "IN PREPARATION" in words and "NOT FOR ADMINISTRATION" in words and "Anna Example" in words
    assert "USE BY" not in words.upper().replace("NO USE-BY", "") and "START BY" not in words.upper()
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "label.in_process")).scalar_one()
    assert entry.new == {"bag": f"BAG{prep.id:07d}", "code": f"IP-BAG{prep.id:07d}"}


@pytest.mark.hazard("H27")
def test_no_in_process_label_before_the_diluent_is_scanned_nor_by_get(signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    tech = signed_in("tech")
    refused = tech.post(f"/prep/{prep.id}/in-process-label.pdf")
    assert refused.status_code == 409 and "from the diluent scan until the check" in text(refused)
    assert "in-process label" not in text(tech.get(f"/prep/{prep.id}"))
    assert tech.get(f"/prep/{prep.id}/in-process-label.pdf").status_code == 405


@pytest.mark.hazard("H27")
@pytest.mark.parametrize("scanned", ["IP-BAG{id}", "]C0IP-BAG{id}", "ip-bag{id}"])
def test_the_bedside_names_the_in_process_label_and_refuses_it(app, pharmacy, scanned):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    token = users.create_token(pharmacy, "nurse", "ward tablet")
    response = app.test_client().post("/api/v1/bedside/check", headers={"Authorization": f"Bearer {token}"},
                                      json={"bag_scan": scanned.format(id=f"{prep.id:07d}"), "patient_scan": "P-1"})
    assert response.status_code == 422
    message = response.get_json()["message"]
    assert f"IN-PREPARATION label of bag BAG{prep.id:07d}: NOT FOR ADMINISTRATION" in message


@pytest.mark.hazard("H27")
def test_a_check_releases_only_the_bag_in_the_checkers_hands_and_a_swap_is_stopped_and_recorded(signed_in, pharmacy):
    from pharmacy.db.models import Refusal
    from tests.web.conftest import version_on

    first, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    second, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Ben Other"))
    pharm = signed_in("pharm")
    page = pharm.get(f"/check/{first.id}")
    assert 'id="bag_scan"' in text(page) and "autofocus" in text(page).split('id="bag_scan"')[1][:200]
    form = {"version": version_on(page), "decision": "released", "password": factories.PASSWORDS["pharm"]}
    for scanned, words in ((None, f"Scan the in-process label of the bag in your hands (bag BAG{first.id:07d})"),
                           (factories.in_process_scan(second.id),
                            f"STOP: the bag in your hands is BAG{second.id:07d}, but this record is of bag BAG{first.id:07d}")):
        refused = pharm.post(f"/check/{first.id}", {**form, **({"bag_scan": scanned} if scanned else {})})
        assert refused.status_code == 409 and words in text(refused)
        assert preparation.get(pharmacy, first.id).state == "signed"
    with pharmacy.uow(readonly=True) as uow:
        swap = uow.session.execute(select(Refusal).where(Refusal.code == "bag_mismatch").order_by(Refusal.id.desc())).scalars().first()
    assert swap.entered == factories.in_process_scan(second.id) and swap.object_id == str(first.id)
    typed = pharm.post(f"/check/{first.id}", {**form, "bag_scan": f"bag{first.id:07d}"})  # the serial typed from the label
    assert typed.status_code == 302 and preparation.get(pharmacy, first.id).state == "released"


@pytest.mark.hazard("H27")
def test_the_final_label_scanned_back_on_the_wrong_bag_stops_and_is_recorded(signed_in, pharmacy):
    from pharmacy.db.models import Refusal
    from pharmacy.services import bags

    first = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    second = factories.released_bag(pharmacy, pharmacy.vial_serials[1], who=factories.patient("P-2", "Ben Other"))
    tech = signed_in("tech")
    assert 'id="confirm-scan"' not in text(tech.get(f"/bags/{first.serial}"))  # nothing printed yet: nothing to confirm
    for bag in (first, second):
        assert tech.post(f"/bags/{bag.serial}/label.pdf").status_code == 200
    assert 'id="confirm-scan"' in text(tech.get(f"/bags/{first.serial}"))
    wrong = tech.post(f"/bags/{first.serial}/confirm-label", {"scan": factories.label_scan(pharmacy, second.serial)})
    assert wrong.status_code == 409
    assert f"STOP: the label on this bag is for bag {second.serial}, not {first.serial}" in text(wrong)
    typed = tech.post(f"/bags/{first.serial}/confirm-label", {"scan": first.serial})
    assert typed.status_code == 409 and "a typed serial does not prove which label is on the bag" in text(typed)
    assert bags.get_bag(pharmacy, first.serial).label_confirmed_at is None
    with pharmacy.uow(readonly=True) as uow:
        codes = [r.code for r in uow.session.execute(select(Refusal).where(Refusal.action == "label.confirm")).scalars()]
    assert codes == ["label_mismatch", "label_mismatch"]
    for symbol in ("gs1-128", "datamatrix"):
        right = tech.post(f"/bags/{first.serial}/confirm-label", {"scan": factories.label_scan(pharmacy, first.serial, symbol)})
        assert right.status_code == 302
    assert bags.get_bag(pharmacy, first.serial).label_confirmed_at is not None
    assert "Label on the bag confirmed by scan" in text(tech.get(f"/bags/{first.serial}"))


def at_diluent_step(pharmacy):
    prep = preparation.start(pharmacy, "tech", factories.verified_order(pharmacy).id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(pharmacy.vial_serials[0]))
    return preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)


def in_process_form(page: str) -> str:
    return page.split('class="in-process-print"', 1)[1].split(">", 1)[0]


@pytest.mark.hazard("H27")
def test_once_the_diluent_bag_is_scanned_its_in_process_label_download_starts_by_itself_once(signed_in, pharmacy):
    prep = at_diluent_step(pharmacy)
    tech = signed_in("tech")
    screen = tech.get(f"/prep/{prep.id}")
    shown = text(tech.post(f"/prep/{prep.id}/diluent", {"version": version_on(screen), "scan": NACL_SCAN},
                                 follow_redirects=True))
    assert "Its in-process label prints now (the button below prints it again)" in shown
    assert "data-print-on-load" in in_process_form(shown)  # the page sends the print form once (pharmacy.js rule 10)
    assert f"Print the in-process label of bag BAG{prep.id:07d} (PDF)" in shown  # and keeps the button
    assert tech.post(f"/prep/{prep.id}/in-process-label.pdf").mimetype == "application/pdf"
    again = text(tech.get(f"/prep/{prep.id}"))
    assert "data-print-on-load" not in again and f"Print the in-process label of bag BAG{prep.id:07d} (PDF)" in again
    with pharmacy.uow(readonly=True) as uow:
        printed = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "label.in_process")).scalars().all()
    assert len(printed) == 1  # nothing printed by the screens themselves: the one print the page sent


@pytest.mark.hazard("H27")
def test_with_a_label_printer_the_diluent_scan_sends_the_in_process_label_to_it(signed_in, pharmacy):
    from tests.zpl_printer import ZplPrinter

    printer = ZplPrinter()
    try:
        pharmacy.settings.instance.mkdir(parents=True, exist_ok=True)
        (pharmacy.settings.instance / "printers.toml").write_text(
            f'[[printer]]\nname = "Bench Zebra"\nkind = "zpl"\naddress = "{printer.address}"\ndpi = 300\n'
            'stock = "bag-100x70"\nlanguage = "pdf"\ntimeout = 1\n', encoding="utf-8")
        prep = at_diluent_step(pharmacy)
        tech = signed_in("tech")
        screen = tech.get(f"/prep/{prep.id}")
        shown = text(tech.post(f"/prep/{prep.id}/diluent", {"version": version_on(screen), "scan": NACL_SCAN},
                                 follow_redirects=True))
    finally:
        printer.stop()
    assert f"The label of bag BAG{prep.id:07d} (in-process label) was sent to Bench Zebra" in shown
    assert "Stick its in-process label on the bag" in shown
    assert "data-print-on-load" not in shown  # queued on the printer: nothing for the page to download
    assert len(printer.jobs) == 1 and printer.jobs[0].startswith(b"%PDF")
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "label.in_process")).scalar_one()
    assert entry.new["printer"] == "Bench Zebra"
