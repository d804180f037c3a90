"""Can this patient's bag label be printed? Asked at order entry and wherever the patient's details change
(``services/orders.create_order``), before any dose is made for them (SAFETY.md H30, H31).

A refusal at the label comes after dilution, with the 8-hour clock running, and a reprint that does not
fit where the original did leaves a damaged label irreplaceable. So the order is refused at entry when
the label could not be printed on every stock the pharmacy uses, with the widest REPRINT mark the system
prints (``content.MAX_REPRINT``). The answer is the layout code's own (``printing.label.check_printable``
lays the label out with the same ``draw_label``), for a label whose patient and product fields are built
by the functions the bag label uses (``bags.label_patient_fields``, ``label_product_fields``) and whose
other fields, not known before the bag is made, are the longest the system writes: the widest lot in stock
and not less than a 20-character lot (the GS1 maximum), the widest permitted diluent, the widest names among the users who may prepare and
check, the largest batch and bag numbers for a long time to come, and the zone's longer abbreviation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from pharmacy import clock
from pharmacy.db.models import DiluentLot, User, Vial
from pharmacy.domain import bagid, dilution
from pharmacy.domain.lifecycle import LotState, VialState
from pharmacy.domain.permissions import may
from pharmacy.printing import fonts
from pharmacy.printing.content import MAX_REPRINT, LabelData
from pharmacy.printing.label import check_printable
from pharmacy.printing.stocks import LabelStock, available_stocks, load_stock
from pharmacy.services.bags import label_patient_fields, label_product_fields, start_by_for
from pharmacy.services.base import Pharmacy

# The longest values of the fields a label gets only once its bag is made (see the module's text).
REFERENCE_LOT = "LOT-ABCDEFGHIJ-12345"  # 20 characters (the GS1 maximum) of a lot's usual letters and digits
LONGEST_PREPARATION_ID = 99_999_999  # 10 000 preparations a day for 27 years
LONGEST_EXPIRY = dt.date(2099, 12, 31)


@dataclass(frozen=True)
class PatientOnLabel:
    """The patient's details as the label prints them (the attributes of a ``Patient``)."""

    identifier: str
    name: str
    date_of_birth: dt.date
    ward: str
    gsrn: str | None = None


def stocks_in_use(pharmacy: Pharmacy) -> list[LabelStock]:
    """Every stock and resolution a bag label may be printed at: each of the pharmacy's stocks (``labels/``,
    a PDF download takes any) at its own dpi, the default (``PHARMACY_LABEL_STOCK``) first, and the stock
    loaded in each configured printer (``<instance>/printers.toml``) at that printer's dpi."""
    from pharmacy.services import printjobs  # the printers, as the print path reads them

    names = [pharmacy.settings.label_stock, *(n for n in available_stocks() if n != pharmacy.settings.label_stock)]
    stocks = [load_stock(name) for name in names]
    for printer in printjobs.configured(pharmacy):
        stocks.append(load_stock(printer.stock).on_printer(printer.dpi))
    return list(dict.fromkeys(stocks))  # the same stock at the same dpi once


def _widest(names: list[str], fallback: str) -> str:
    """The widest of these texts as the label prints them (bold: the wider face)."""
    return max(names, key=lambda name: fonts.width(name, True, 1.0), default=fallback)


def _staff(session, permission: str) -> str:
    users = session.execute(select(User).where(User.active.is_(True))).scalars()
    return _widest([u.full_name for u in users if may(u.role, permission)], "Prepared by")


def _lot(session, model, states) -> str:
    """The widest lot of this kind still in stock, and not narrower than ``REFERENCE_LOT``."""
    lots = session.execute(select(model.lot).where(model.state.in_(states)).distinct()).scalars()
    return _widest([REFERENCE_LOT, *lots], REFERENCE_LOT)


def _moment(pharmacy: Pharmacy) -> dt.datetime:
    """A dilution time at 10:15 local, in the half of the year whose zone abbreviation is longer."""
    zone = ZoneInfo(pharmacy.settings.timezone)
    year = clock.now().year
    candidates = [dt.datetime(year, month, 15, 10, 15, tzinfo=zone) for month in (1, 7)]
    return max(candidates, key=lambda moment: fonts.width(moment.tzname() or "", True, 1.0)).astimezone(dt.UTC)


def probe(pharmacy: Pharmacy, session, patient: PatientOnLabel, product_id: str) -> LabelData:
    """The widest label this patient's order can get: its REPRINT mark and every field not yet known at
    their longest (the module's text). Raises the refusal of a patient without what the patient AI needs."""
    monograph = pharmacy.product(product_id)
    diluents = monograph.permitted_diluents or tuple(pharmacy.catalog.diluents.values())
    diluent = max(diluents, key=lambda d: fonts.width(f"in {d.name} {dilution.display_volume(d.volume)}", False, 1.0))
    pump = dilution.pump_settings(monograph, None, diluent.volume)
    prepared_at = _moment(pharmacy)
    use_by = prepared_at + dt.timedelta(hours=8)
    started = start_by_for(pharmacy, use_by, product_id)
    serial = bagid.bag_serial(LONGEST_PREPARATION_ID)
    return LabelData(
        **label_patient_fields(pharmacy, patient), **label_product_fields(pharmacy, monograph, diluent, pump),
        prepared_at=prepared_at, use_by=use_by, start_by=min(started, use_by),
        vial_lot=_lot(session, Vial, (VialState.RECEIVED, VialState.IN_USE)), vial_expiry=LONGEST_EXPIRY,
        diluent_lot=_lot(session, DiluentLot, (LotState.RECEIVED,)),
        batch=f"P991231-{LONGEST_PREPARATION_ID}", bag_serial=serial,
        prepared_by=_staff(session, "prep.work"), checked_by=_staff(session, "check.release"),
        reprint=MAX_REPRINT,
    )


def check_patient_label(pharmacy: Pharmacy, session, patient, product_id: str) -> None:
    """Refuse (``LabelCannotPrint``, ``NoPatientAIValue``) an order whose bag label could not be printed
    on every stock in use, reprints included: the field, the stock and what fits are named. ``patient``: a
    ``Patient`` (a known one with the changes of this entry not yet flushed: a changed field is blamed
    first) or a ``PatientOnLabel``."""
    changed: list[str] = []
    state = sa_inspect(patient, raiseerr=False)
    if state is not None and state.persistent:
        names = {"name": "patient_name", "ward": "ward", "identifier": "patient_id"}
        changed = [field for attribute, field in names.items() if state.attrs[attribute].history.has_changes()]
    check_printable(probe(pharmacy, session, patient, product_id), stocks_in_use(pharmacy), changed)
