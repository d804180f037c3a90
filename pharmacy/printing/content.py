"""What a bag label says: the data (``LabelData``), its GS1 element strings and its lines of text.

Times are aware datetimes, UTC inside; the label prints them in the pharmacy's zone with the zone
shown, and AI 7003 carries the use-by as local YYMMDDhhmm (SPEC section 4 and appendix). Beside
the use-by the label prints START BY, the latest start the bedside accepts under the active policy
(``domain.inuse.start_by``); the barcodes carry only the use-by.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pharmacy import i18n
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.gs1 import element_string, format_7003
from pharmacy.i18n import _

from . import barcodes, symbol_sizes
from .stocks import LabelStock
from .textflow import NBSP

PATIENT_AIS = ("8018", *(str(ai) for ai in range(91, 100)))
# The highest print number a label carries (REPRINT 999): the order-entry check (``label.check_printable``)
# fits the label with this mark, the widest one printed, and a bag is not printed more often.
MAX_REPRINT = 999


class NoPatientAIValue(PharmacyError):
    """Labels carry the patient under an AI, and this patient has nothing to put there."""

    code = "patient_ai_value_missing"


def patient_ai_value(patient_ai: str, identifier: str, gsrn: str | None) -> str | None:
    """What the label carries under the configured patient AI (``PHARMACY_PATIENT_AI``): the wristband
    GSRN under 8018, the patient identifier under 91–99, nothing under "none"."""
    if patient_ai == "none":
        return None
    if patient_ai == "8018":
        if not gsrn:
            raise NoPatientAIValue(
                _("Patient {identifier} has no wristband number (GSRN), but this pharmacy's labels carry the "
                  "wristband GSRN (AI 8018, PHARMACY_PATIENT_AI): scan or type the GSRN from the wristband.",
                  identifier=identifier))
        return gsrn
    return identifier


@dataclass(frozen=True)
class LabelData:
    pharmacy_name: str
    patient_name: str
    patient_id: str
    patient_dob: dt.date
    ward: str
    product_brand: str
    product_inn: str
    dose: str
    diluent: str
    diluent_volume: str
    total_volume: str
    concentration: str
    route: str
    infusion: str
    prepared_at: dt.datetime
    use_by: dt.datetime
    start_by: dt.datetime
    timezone: str
    storage: str
    vial_lot: str
    vial_expiry: dt.date
    diluent_lot: str
    batch: str
    bag_serial: str
    preparation_gtin: str
    prepared_by: str
    checked_by: str
    reprint: int = 0
    patient_ai: str | None = None
    patient_ai_value: str | None = None
    # the language of the label's fixed words (USE BY, captions: PHARMACY_LABEL_LANGUAGE); its product facts are
    # the monograph's, its figures (``dose``, ``total_volume`` …) are written in this language by the services
    language: str = "en"

    def __post_init__(self) -> None:
        for name in ("prepared_at", "use_by", "start_by"):
            moment = getattr(self, name)
            if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
                raise ValueError(f"LabelData.{name} must be an aware datetime, not {moment!r}.")
        if self.start_by > self.use_by:
            raise ValueError("LabelData.start_by cannot be later than use_by.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"LabelData.timezone {self.timezone!r} is not an IANA time zone.") from None
        if not isinstance(self.reprint, int) or not 0 <= self.reprint <= MAX_REPRINT:
            raise ValueError(f"LabelData.reprint must be 0 (original) or a print number up to {MAX_REPRINT}, "
                             f"not {self.reprint!r}.")
        if self.patient_ai not in (None, *PATIENT_AIS):
            raise ValueError(f"LabelData.patient_ai must be None, 8018 or 91–99, not {self.patient_ai!r}.")
        if (self.patient_ai is None) != (self.patient_ai_value is None):
            raise ValueError("LabelData.patient_ai and patient_ai_value go together.")

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


def label_pairs(data: LabelData) -> list[tuple[str, str]]:
    """Content of the GS1 DataMatrix: (01) (10) (7003) (21) and the patient's AI where one is used."""
    pairs = [
        ("01", data.preparation_gtin),
        ("10", data.batch),
        ("7003", format_7003(data.local(data.use_by))),
        ("21", data.bag_serial),
    ]
    if data.patient_ai and data.patient_ai_value is not None:  # __post_init__: they go together
        pairs.append((data.patient_ai, data.patient_ai_value))
    return pairs


def linear_pairs(data: LabelData, stock: LabelStock | None = None) -> list[tuple[str, str]]:
    """Content of the GS1-128: (01) and (21) always (GS1 allows 21 only with 01); with a ``stock``,
    also the use-by (7003) and the batch (10) when they fit in 48 characters and the label's width
    at the smallest module every supported printer can print (so the symbol says the same on each),
    a dot to spare. Variable-length fields go last so they need fewer separators."""
    gtin, use_by = ("01", data.preparation_gtin), ("7003", format_7003(data.local(data.use_by)))
    batch, serial = ("10", data.batch), ("21", data.bag_serial)
    minimal = [gtin, serial]
    if stock is None:
        return minimal
    x0, _, x1, _ = stock.content_mm
    module, spare = symbol_sizes.narrowest_gs1_128_mm(), symbol_sizes.dot_mm(min(symbol_sizes.PRINTER_DPIS))
    for candidate in ([gtin, use_by, batch, serial], [gtin, use_by, serial], [gtin, batch, serial]):
        data_string = element_string(candidate)
        if len(data_string) <= barcodes.GS1_128_MAX_CHARS and (
            barcodes.gs1_128_width_mm(data_string, module) + spare <= x1 - x0
        ):
            return candidate
    return minimal




def stamp(data: LabelData, moment: dt.datetime) -> str:
    """A time as printed: local date and time with the zone's abbreviation (CET, CEST …)."""
    local = data.local(moment)
    return NBSP.join((f"{local:%Y-%m-%d}", f"{local:%H:%M}", local.tzname() or ""))


def texts(data: LabelData) -> dict[str, str]:
    """Every line of text on the label, by role; layouts choose where and how large. The fixed words are in the
    label's language (``data.language``), each caption a text of its own that stays on one line with its value."""
    def cap(caption: str, value: object) -> str:  # caption and value stay on one line (a no-break space)
        return f"{caption}{NBSP}{value}"

    # each word a literal _() call of its own (pybabel does not read calls inside f-strings)
    with i18n.using(data.language):
        return {
            "pharmacy": data.pharmacy_name,
            "reprint": _("REPRINT {number}", number=data.reprint) if data.reprint else "",
            "patient": data.patient_name,
            "patient_ids": " · ".join((cap(_("ID"), data.patient_id), cap(_("DOB"), f"{data.patient_dob:%Y-%m-%d}"),
                                       cap(_("Ward"), data.ward))),
            "product": f"{data.product_brand} ({data.product_inn}) {data.dose}",
            "diluent": _("in {diluent} {volume}", diluent=data.diluent, volume=data.diluent_volume),
            "volume": _("Total volume {volume} · {concentration}", volume=data.total_volume, concentration=data.concentration),
            "route": f"{data.route} {data.infusion}",
            # the caption, a space, then the time (NBSP inside): layouts put the caption above it where two lines fit
            "use_by": " ".join((_("USE BY"), stamp(data, data.use_by))),
            "start_by": " ".join((_("START BY"), stamp(data, data.start_by))),
            "prepared": cap(_("Prepared"), stamp(data, data.prepared_at)) + " · " + _("times in {zone}", zone=data.timezone),
            "storage": data.storage,
            "lots": cap(_("Vial lot"), data.vial_lot) + " " + cap(_("exp"), f"{data.vial_expiry:%Y-%m-%d}") + " · "
                    + cap(_("Diluent lot"), data.diluent_lot),
            "batch": cap(_("Batch"), data.batch) + " · " + cap(_("Bag"), data.bag_serial),
            "people": cap(_("Prepared by"), data.prepared_by) + " · " + cap(_("Checked by"), data.checked_by),
        }
