"""Factories that build data through the services, the way a pharmacy would."""

from __future__ import annotations

import io
from datetime import date, timedelta

from pharmacy import clock
from pharmacy.domain import bagid
from pharmacy.domain.gs1 import GS, element_string
from pharmacy.domain.infusions import GivenPremedication
from pharmacy.domain.inuse import to_local
from pharmacy.printing.label import label_pairs, linear_pairs
from pharmacy.services import administration, bags, orders, photos, preparation, release, stock, users
from pharmacy.services.demo import GLUCOSE_SCAN, NACL_SCAN, USERS, WATER_SCAN, demo_picture, vial_scan

PASSWORDS = {username: password for username, _n, _r, password in USERS}
FRIDGE = "Pharmacy fridge 1"
__all__ = ["GLUCOSE_SCAN", "NACL_SCAN", "WATER_SCAN", "GS", "vial_scan", "PASSWORDS", "FRIDGE"]


def add_users(pharmacy) -> None:
    for username, name, role, password in USERS:
        users.add_user(pharmacy, None, username, name, role, password)


def stock_up(pharmacy, vials: int = 6, lot: str = "K123A", expiry: str = "280630") -> list[str]:
    serials = [f"T{lot}{n:06d}" for n in range(1, vials + 1)]
    for serial in serials:
        stock.receive(pharmacy, "tech", vial_scan(serial, lot, expiry))
    for scan in (NACL_SCAN, GLUCOSE_SCAN, WATER_SCAN):
        stock.receive(pharmacy, "tech", scan)
    bags.add_location(pharmacy, None, FRIDGE, 2.0, 8.0)
    return serials


def clock_module_now():
    return clock.now()


def today(pharmacy) -> date:
    return to_local(clock.now(), pharmacy.zone).date()


def patient(identifier: str = "P-1", name: str = "Anna Example", ward: str = "Ward 5", gsrn: str | None = None):
    return orders.PatientDetails(identifier, name, date(1980, 1, 1), ward, gsrn)


def verified_order(pharmacy, who=None, course: int = 1, day: int = 1, on: date | None = None):
    order = orders.create_order(pharmacy, "tech", who or patient(), "lemtrada", course, day, on or today(pharmacy))
    return orders.verify_order(pharmacy, "pharm", order.id, premedication_confirmed=True,
                               override_reason="Course history kept in another hospital's records" if order.state == "blocked" else None)


def signed_preparation(pharmacy, vial_serial: str, who=None, diluent: str = NACL_SCAN, preparer: str = "tech",
                       on: date | None = None, day: int = 1):
    order = verified_order(pharmacy, who, on=on, day=day)
    prep = preparation.start(pharmacy, preparer, order.id)
    prep = preparation.scan_vial(pharmacy, preparer, prep.id, prep.version, vial_scan(vial_serial))
    prep = preparation.inspect_vial(pharmacy, preparer, prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, preparer, prep.id, prep.version, diluent)
    prep = preparation.record_volume(pharmacy, preparer, prep.id, prep.version, "1.2 mL")
    prep = photograph(pharmacy, prep, "syringe", preparer)
    prep = preparation.confirm_mixing(pharmacy, preparer, prep.id, prep.version)
    prep = photograph(pharmacy, prep, "bag", preparer)
    bag = preparation.sign(pharmacy, preparer, prep.id, prep.version, PASSWORDS[preparer])
    return preparation.get(pharmacy, prep.id), bag


def picture(prep_id: int, kind: str, take: int = 1, size: tuple[int, int] = (800, 600)) -> bytes:
    """A sharp, evenly lit JPEG that names the preparation, the kind and the take (so each is its own picture)."""
    return demo_picture([f"TEST PICTURE {kind} take {take}", f"preparation {prep_id}", "LEMTRADA 12 mg / 1.2 mL"], size)


def photo_field(prep_id: int, kind: str, take: int = 1) -> dict:
    """The file field of a photo POST through a screen (``/prep/<id>/photo/<kind>``), as the camera script sends it."""
    return {"photo": (io.BytesIO(picture(prep_id, kind, take)), f"{kind}.jpg", "image/jpeg")}


def photograph(pharmacy, prep, kind: str, preparer: str = "tech", take: int = 1):
    """The photo the monograph requires at this point (``syringe`` after the volume, ``bag`` after mixing),
    taken with a generated sharp picture; the preparation as it is after it (a new version)."""
    photos.take(pharmacy, preparer, prep.id, prep.version, kind, picture(prep.id, kind, take))
    return preparation.get(pharmacy, prep.id)


def in_process_scan(prep_id: int) -> str:
    """What a scanner sends for the in-process label of the preparation's bag (Code 128: ]C0)."""
    return "]C0" + bagid.in_process_code(bagid.bag_serial(prep_id))


def released_bag(pharmacy, vial_serial: str, who=None, diluent: str = NACL_SCAN, on: date | None = None, day: int = 1):
    prep, _ = signed_preparation(pharmacy, vial_serial, who, diluent, on=on, day=day)
    return release.decide(pharmacy, "pharm", prep.id, prep.version, PASSWORDS["pharm"], "released",
                          bag_scan=in_process_scan(prep.id))


def confirm_label(pharmacy, serial: str, symbol: str = "datamatrix"):
    """What the pharmacy does with a released bag before it leaves (H27): print its label, stick it on,
    scan it back (``bags.confirm_label``). The bedside refuses a bag whose latest label print was not.
    A bag whose label is printed already is only scanned."""
    if not bags.labels_printed(pharmacy, serial):
        bags.print_labels(pharmacy, "tech", [serial])
    return bags.confirm_label(pharmacy, "tech", serial, label_scan(pharmacy, serial, symbol))


def bedside_bag(pharmacy, vial_serial: str, who=None, diluent: str = NACL_SCAN, on: date | None = None, day: int = 1):
    """A released bag with its final label printed and confirmed on it: ready for the bedside."""
    bag = released_bag(pharmacy, vial_serial, who, diluent, on=on, day=day)
    confirm_label(pharmacy, bag.serial)
    return bag


def premedication_given(pharmacy, day: int = 1, minutes_before: int = 30, product: str = "lemtrada"):
    """The pre-medication the monograph requires on course ``day`` (SmPC 4.2), confirmed as given
    ``minutes_before`` now: what the nurse ticks at the bedside (H17)."""
    at = clock.now() - timedelta(minutes=minutes_before)
    return [GivenPremedication(p.what, at) for p in pharmacy.product(product).premedication_for_day(day)]


def premedication_form(pharmacy, day: int = 1, minutes_before: int = 30, product: str = "lemtrada") -> dict[str, str]:
    """The start form's pre-medication fields, ticked, each with its local time given."""
    fields: dict[str, str] = {}
    for number, given in enumerate(premedication_given(pharmacy, day, minutes_before, product)):
        fields |= {f"premed_what_{number}": given.what, f"premed_given_{number}": "on",
                   f"premed_at_{number}": to_local(given.given_at, pharmacy.zone).strftime("%Y-%m-%dT%H:%M")}
    return fields


def start_infusion(pharmacy, serial: str, wristband: str = "P-1", nurse: str = "nurse"):
    """The bedside start of the bag's dose with the pre-medication of its course day confirmed."""
    order = bags.get_bag(pharmacy, serial).preparation.order
    given = premedication_given(pharmacy, order.course_day, product=order.product_id)
    return administration.start(pharmacy, nurse, serial, wristband, premedication=given)


def label_scan(pharmacy, serial: str, symbol: str = "datamatrix") -> str:
    """What a scanner types for the bag's label: the DataMatrix (``]d2``) or the GS1-128 (``]C1``)."""
    with pharmacy.uow(readonly=True) as uow:
        data = bags.label_data(pharmacy, uow.session, bags.find_bag(uow.session, serial), reprint=0)
    if symbol == "datamatrix":
        return "]d2" + element_string(label_pairs(data))
    return "]C1" + element_string(linear_pairs(data))


def wristband_scan(gsrn: str) -> str:
    """A GS1 wristband: the patient's GSRN (8018) in a GS1-128."""
    return "]C1" + element_string([("8018", gsrn)])
