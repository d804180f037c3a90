"""A sample bag label for a fictitious patient, for the label tests and the label benchmark (bench/bench_label.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from pharmacy.domain.gs1 import with_check_digit
from pharmacy.printing.content import LabelData

SAMPLE_GTIN = with_check_digit("0540000000001")
SAMPLE_GSRN = with_check_digit("10614141123456789")

_SAMPLE = LabelData(
    pharmacy_name="Demo University Hospital Pharmacy",
    patient_name="Anna Janssens",
    patient_id="P0012345",
    patient_dob=dt.date(1984, 2, 29),
    ward="Neurology 4B",
    product_brand="LEMTRADA",
    product_inn="alemtuzumab",
    dose="12 mg",
    diluent="Sodium chloride 0.9%",
    diluent_volume="100 mL",
    total_volume="approx. 101.2 mL",
    concentration="0.12 mg/mL",
    route="IV infusion",
    infusion="over approx. 4 h at 25.3 mL/h",
    prepared_at=dt.datetime(2026, 3, 10, 8, 15, tzinfo=dt.UTC),  # 09:15 CET
    use_by=dt.datetime(2026, 3, 10, 16, 15, tzinfo=dt.UTC),  # 8 h later (SmPC 6.3)
    start_by=dt.datetime(2026, 3, 10, 12, 15, tzinfo=dt.UTC),  # use-by less the 4 h infusion (policy "end")
    timezone="Europe/Brussels",
    storage="Store at 2–8 °C. Protect from light. Do not shake.",
    vial_lot="ABC1234",
    vial_expiry=dt.date(2027, 3, 31),
    diluent_lot="23K1507",
    batch="P2603100001",
    bag_serial="B00012345",
    preparation_gtin=SAMPLE_GTIN,
    prepared_by="J. Peeters",
    checked_by="M. Dubois",
)


def sample_label(**changes) -> LabelData:
    return replace(_SAMPLE, **changes)
