"""Nothing refused after the dose is made (issue 15, point 1; SAFETY.md H30): an order whose bag label could
not be printed — on any stock in use, with the widest REPRINT mark — is refused at entry, saying which field,
which stock and what fits, and nothing is stored; a batch print prints the bags it can and names the others."""

from __future__ import annotations

import io
from dataclasses import replace

import pypdf
import pytest
from sqlalchemy import func, select

from pharmacy.db.models import Order, Patient, Refusal
from pharmacy.domain.gs1 import with_check_digit
from pharmacy.printing.content import MAX_REPRINT, NoPatientAIValue
from pharmacy.printing.label import LabelCannotPrint, check_printable, render_label
from pharmacy.printing.stocks import available_stocks, load_stock
from pharmacy.services import bags, labelcheck, orders
from tests import factories

pytestmark = pytest.mark.hazard("H30")

GSRN = with_check_digit("10614141123456789")
LONG_NAME = ("Maria-Magdalena Alexandra Konstantinopoulou-Wiśniewska de la Santísima Trinidad "
             "Papadopoulou-Vandenbroucke Nepomucena Dvořáková Ferreiras")


def _settings(pharmacy, **changes):
    pharmacy.settings = replace(pharmacy.settings, **changes)


def _counts(pharmacy) -> tuple[int, int]:
    with pharmacy.uow(readonly=True) as uow:
        return (uow.session.execute(select(func.count()).select_from(Patient)).scalar_one(),
                uow.session.execute(select(func.count()).select_from(Order)).scalar_one())


def _refused(pharmacy, details) -> Exception:
    before = _counts(pharmacy)
    with pytest.raises((LabelCannotPrint, NoPatientAIValue)) as caught:
        orders.create_order(pharmacy, "tech", details, "lemtrada", 1, 1, factories.today(pharmacy))
    assert _counts(pharmacy) == before  # nothing stored: no patient, no order
    with pharmacy.uow(readonly=True) as uow:
        kept = uow.session.execute(select(Refusal).order_by(Refusal.id.desc())).scalars().first()
    assert kept.action == "order.create" and kept.code == caught.value.code  # the near miss is kept
    return caught.value


def test_a_patient_without_a_gsrn_is_refused_when_labels_carry_the_gsrn(pharmacy):
    _settings(pharmacy, patient_ai="8018")
    error = _refused(pharmacy, factories.patient())
    assert "has no wristband number (GSRN)" in error.message and "AI 8018" in error.message
    order = orders.create_order(pharmacy, "tech", factories.patient(gsrn=GSRN), "lemtrada", 1, 1,
                                factories.today(pharmacy))
    assert order.id


@pytest.mark.hazard("H7")
def test_an_identifier_a_gs1_barcode_cannot_carry_is_refused_under_an_internal_ai(pharmacy):
    _settings(pharmacy, patient_ai="91")
    error = _refused(pharmacy, factories.patient(identifier="MRN#2026/0042"))
    assert "patient identifier “MRN#2026/0042”" in error.message and "AI (91)" in error.message
    assert "“#”" in error.message and "GS1 character set 82" in error.message
    # the issue's “MRN 2026/0042” is stored as MRN2026/0042 (white space is not part of an identifier, H16): it fits
    order = orders.create_order(pharmacy, "tech", factories.patient(identifier="MRN 2026/0042"), "lemtrada", 1, 1,
                                factories.today(pharmacy))
    assert order.patient_id


def test_a_name_too_long_for_a_stock_is_refused_naming_the_stock_and_what_fits(pharmacy):
    assert len(LONG_NAME) == 137
    error = _refused(pharmacy, factories.patient(name=LONG_NAME))
    stock = load_stock(error.details["stock"])  # the first stock in use it does not fit
    assert error.details["field"] == "patient name"
    assert f"({len(LONG_NAME)} characters) does not fit the {stock.title} ({stock.name}, at {stock.dpi} dpi)" in error.message
    assert f"with the REPRINT {MAX_REPRINT} mark" in error.message
    fits = error.details["fits"]
    assert f"up to {fits} characters of it fit there" in error.message
    # what the refusal says fits does fit, and one more character does not: asked of the same layout
    with pharmacy.uow(readonly=True) as uow:
        probe = labelcheck.probe(pharmacy, uow.session, labelcheck.PatientOnLabel(
            "P-1", LONG_NAME, factories.patient().date_of_birth, "Ward 5"), "lemtrada")
    check_printable(replace(probe, patient_name=LONG_NAME[:fits].rstrip()), [stock])
    with pytest.raises(LabelCannotPrint):
        check_printable(replace(probe, patient_name=LONG_NAME[:fits + 1]), [stock])


def test_the_check_covers_every_stock_and_the_widest_reprint(pharmacy):
    with pharmacy.uow(readonly=True) as uow:
        probe = labelcheck.probe(pharmacy, uow.session, labelcheck.PatientOnLabel(
            "P-1", "Anna Example", factories.patient().date_of_birth, "Ward 5"), "lemtrada")
    assert probe.reprint == MAX_REPRINT
    assert probe.vial_lot == probe.diluent_lot == labelcheck.REFERENCE_LOT  # 20 characters, wider than the stock's
    assert probe.prepared_by and probe.checked_by  # the widest names of those who may prepare and check
    stocks = labelcheck.stocks_in_use(pharmacy)
    assert {s.name for s in stocks} == set(available_stocks())
    assert stocks[0].name == pharmacy.settings.label_stock
    for stock in stocks:  # the probe is a label the renderer prints
        assert render_label(probe, stock).startswith(b"%PDF")


def test_the_stock_loaded_in_each_configured_printer_is_checked_at_that_printer_s_dpi(pharmacy):
    folder = pharmacy.settings.instance
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "printers.toml").write_text(
        '[[printer]]\nname = "Ward 5 Zebra"\nkind = "zpl"\naddress = "127.0.0.1:9100"\ndpi = 203\n'
        'stock = "bag-100x70"\n', encoding="utf-8")
    checked = {(stock.name, stock.dpi) for stock in labelcheck.stocks_in_use(pharmacy)}
    assert ("bag-100x70", 203) in checked and ("bag-100x70", load_stock("bag-100x70").dpi) in checked
    error = _refused(pharmacy, factories.patient(name=LONG_NAME))
    assert error.details["field"] == "patient name"


@pytest.mark.hazard("H31")
@pytest.mark.parametrize("name", ["王小明", "山田 はなこ", "김민준"])
def test_chinese_japanese_and_korean_names_are_accepted_and_printed(pharmacy, name):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0], factories.patient(name=name))
    printed = bags.print_labels(pharmacy, "tech", [bag.serial])
    assert printed.prints == [(bag.serial, 1)] and b"WenQuanYi" in printed.pdf


@pytest.mark.hazard("H31")
def test_a_name_with_a_character_no_label_font_has_is_refused_at_entry_naming_it(pharmacy):
    error = _refused(pharmacy, factories.patient(name="Anna \ue000 Example"))
    assert "U+E000, a private-use character" in error.message and "empty box" in error.message


def test_a_change_of_ward_that_would_not_fit_is_refused_and_the_ward_kept(pharmacy):
    """Patient details change at order entry (a new ward): the label is asked again, the changed field named."""
    fits = _refused(pharmacy, factories.patient(identifier="P-9", name=LONG_NAME)).details["fits"]
    name = LONG_NAME[:fits].rstrip()  # as long a name as fits: a longer ward no longer does
    orders.create_order(pharmacy, "tech", factories.patient(name=name), "lemtrada", 1, 1, factories.today(pharmacy))
    ward = ("Neurology and neurosurgery day unit, " * 3)[:100]
    error = _refused(pharmacy, factories.patient(name=name, ward=ward))
    assert error.details["field"] == "ward" and f"The ward “{ward}”" in error.message
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(Patient.ward)).scalar_one() == "Ward 5"


def test_a_gsrn_added_at_a_later_order_lets_the_patient_be_labelled(pharmacy):
    orders.create_order(pharmacy, "tech", factories.patient(), "lemtrada", 1, 1, factories.today(pharmacy))
    _settings(pharmacy, patient_ai="8018")
    _refused(pharmacy, factories.patient())  # the known patient, still without a GSRN
    order = orders.create_order(pharmacy, "tech", factories.patient(gsrn=GSRN), "lemtrada", 1, 2,
                                factories.today(pharmacy))
    assert order.id


def test_one_bad_bag_in_a_batch_prints_the_others_and_names_the_one_refused(pharmacy):
    good = factories.released_bag(pharmacy, pharmacy.vial_serials[0], factories.patient(gsrn=GSRN))
    other = factories.released_bag(pharmacy, pharmacy.vial_serials[1],
                                   factories.patient(identifier="P-2", name="Bert Example"))
    _settings(pharmacy, patient_ai="8018")  # the labels now carry the GSRN, which P-2 has not got
    printed = bags.print_labels(pharmacy, "tech", [good.serial, other.serial])
    assert printed.prints == [(good.serial, 1)]
    assert [serial for serial, _ in printed.refused] == [other.serial]
    assert printed.refused[0][1].startswith("Patient P-2 has no wristband number (GSRN)")
    assert len(pypdf.PdfReader(io.BytesIO(printed.pdf)).pages) == 1
    assert bags.labels_printed(pharmacy, other.serial) == 0 and bags.labels_printed(pharmacy, good.serial) == 1
    with pharmacy.uow(readonly=True) as uow:
        kept = uow.session.execute(select(Refusal).where(Refusal.action == "label.print")).scalars().all()
    assert [(r.object_id, r.code) for r in kept] == [(other.serial, "patient_ai_value_missing")]
    with pytest.raises(NoPatientAIValue):  # alone, it is refused as before
        bags.print_labels(pharmacy, "tech", [other.serial])
