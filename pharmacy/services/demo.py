"""The demo pharmacy: users of every role, stock, a fridge, patients with Greek, Polish and Czech
names, orders across course days, one bag released and one awaiting the check. Idempotent.

The vial serials here are not those of the scanner fixtures, so every fixture scan can still be
received against the demo."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import select

from pharmacy import clock
from pharmacy.db.models import User
from pharmacy.domain import bagid
from pharmacy.domain.gs1 import GS
from pharmacy.domain.inuse import to_local
from pharmacy.domain.lifecycle import BagState
from pharmacy.domain.monograph import DENSITIES
from pharmacy.services import bags, balances, orders, photos, preparation, release, stock, users
from pharmacy.services.base import Pharmacy
from pharmacy.services.setup import init_db

USERS = [  # username, full name, role, password (demo only: printed by `pharmacy demo`)
    ("tech", "Tessa Technician", "technician", "demo-technician-1"),
    ("tech2", "Tom Technician", "technician", "demo-technician-2"),
    ("pharm", "Petra Pharmacist", "pharmacist", "demo-pharmacist-1"),
    ("pharm2", "Paul Pharmacist", "pharmacist", "demo-pharmacist-2"),
    ("nurse", "Nora Nurse", "nurse", "demo-nurse-pass-1"),
    ("auditor", "Alex Auditor", "auditor", "demo-auditor-pass-1"),
    ("admin", "Ada Admin", "admin", "demo-admin-pass-1"),
]
FRIDGE = "Pharmacy fridge 1"
WARD_FRIDGE = "Ward 5 fridge"
VIAL_GTIN = "09506000134369"
NACL, GLUCOSE, WATER = "09506000134376", "09506000134383", "09506000134390"


def vial_scan(serial: str, lot: str = "K123A", expiry: str = "280630") -> str:
    return f"]d201{VIAL_GTIN}21{serial}{GS}10{lot}{GS}17{expiry}"


def diluent_scan(gtin: str, lot: str, expiry: str) -> str:
    return f"]C101{gtin}17{expiry}10{lot}"


NACL_SCAN = diluent_scan(NACL, "N9931", "271130")
GLUCOSE_SCAN = diluent_scan(GLUCOSE, "G5520", "270531")
WATER_SCAN = diluent_scan(WATER, "W0042", "271231")


def _patients(today: date) -> list[tuple[orders.PatientDetails, int, int, date]]:
    return [
        (orders.PatientDetails("P-1001", "Αικατερίνη Παπαδοπούλου", date(1984, 3, 12), "Neurology ward 5",
                               "123456789012345675"), 1, 1, today),
        (orders.PatientDetails("P-1002", "Zbigniew Brzęczyszczykiewicz", date(1979, 11, 2), "Neurology ward 5",
                               "123456789012345682"), 1, 1, today),
        (orders.PatientDetails("P-1003", "Jiří Dvořák", date(1990, 6, 30), "Day unit"), 1, 1, today),
        (orders.PatientDetails("P-1004", "Maria Lopez", date(1988, 1, 5), "Day unit"), 1, 1, today),
        (orders.PatientDetails("P-1005", "Sam Example", date(1975, 8, 19), "Day unit"), 2, 1, today),
    ]


DEMO_BALANCE = "SIM0000001"  # the serial number `pharmacy devices simulate-balance` reports
DEMO_DENSITIES = """\
# DEMO VALUES, written by `pharmacy demo`: never measured, never validated. A pharmacy that weighs
# doses replaces each with the density its own validation found, and its source, and removes demo = true.
[lemtrada]
density = "1.006 g/mL"
source = "demo value (not a measurement): replace with the pharmacy's validated density"
demo = true
"""


def seed(pharmacy: Pharmacy) -> bool:
    """Seed the demo; ``False`` when it was there already (nothing is changed then). The bags made here
    are typed-volume records (the demo has no balance while it seeds); the demo's density and its
    simulated balance's calibration are set up for the preparations made on screen afterwards."""
    init_db(pharmacy)
    with pharmacy.uow(readonly=True) as uow:
        if uow.session.execute(select(User.id).where(User.username == "admin")).first():
            return False
    pharmacy = replace(pharmacy, settings=replace(pharmacy.settings, balance=""))
    for username, name, role, password in USERS:
        users.add_user(pharmacy, None, username, name, role, password)
    bags.add_location(pharmacy, None, FRIDGE, 2.0, 8.0)
    bags.add_location(pharmacy, None, WARD_FRIDGE, 2.0, 8.0)
    for n in range(1, 13):
        stock.receive(pharmacy, "tech", vial_scan(f"DEMO{n:09d}"))
    for scan in (NACL_SCAN, NACL_SCAN, GLUCOSE_SCAN, GLUCOSE_SCAN, WATER_SCAN):
        stock.receive(pharmacy, "tech", scan)
    today = to_local(clock.now(), pharmacy.zone).date()
    made = []
    for details, course, day, when in _patients(today):
        order = orders.create_order(pharmacy, "tech", details, "lemtrada", course, day, when)
        made.append(order)
    maria = _patients(today)[3][0]
    orders.create_order(pharmacy, "tech", maria, "lemtrada", 1, 2, today + timedelta(days=1))
    for order in made[:4]:
        orders.verify_order(pharmacy, "pharm", order.id, premedication_confirmed=True)
    released = _prepare(pharmacy, made[1].id, NACL_SCAN, "DEMO000000001")
    serial = release.decide(pharmacy, "pharm", released.id, None, "demo-pharmacist-1", BagState.RELEASED,
                            bag_scan=bagid.in_process_code(bagid.bag_serial(released.id))).serial
    bags.print_labels(pharmacy, "tech", [serial])
    _label_scanned_on_the_bag(pharmacy, serial)  # the bedside gives only a bag whose label was (H27)
    bags.store(pharmacy, "tech", serial, FRIDGE)
    _prepare(pharmacy, made[2].id, GLUCOSE_SCAN, "DEMO000000002")
    balances.record_calibration(pharmacy, "pharm", DEMO_BALANCE, "Balance simulator (pharmacy devices simulate-balance)",
                                today - timedelta(days=30), today + timedelta(days=335), "DEMO-CAL-0001")
    densities = pharmacy.settings.instance / "catalog" / DENSITIES
    if not densities.exists():  # a pharmacy's own file is never overwritten
        densities.parent.mkdir(parents=True, exist_ok=True)
        densities.write_text(DEMO_DENSITIES, encoding="utf-8")
    return True


def _label_scanned_on_the_bag(pharmacy: Pharmacy, serial: str) -> None:
    """The printed label stuck on the bag and its DataMatrix scanned back, as a scanner sends it."""
    from pharmacy.domain.gs1 import element_string
    from pharmacy.printing.label import label_pairs

    with pharmacy.uow(readonly=True) as uow:
        data = bags.label_data(pharmacy, uow.session, bags.find_bag(uow.session, serial), reprint=0)
    bags.confirm_label(pharmacy, "tech", serial, "]d2" + element_string(label_pairs(data)))


def _prepare(pharmacy: Pharmacy, order_id: int, diluent: str, vial_serial: str):
    prep = preparation.start(pharmacy, "tech", order_id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(vial_serial))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, diluent)
    prep = preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL")
    prep = _photograph(pharmacy, prep, "syringe")
    prep = preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
    prep = _photograph(pharmacy, prep, "bag")
    preparation.sign(pharmacy, "tech", prep.id, prep.version, "demo-technician-1")
    return prep


def _photograph(pharmacy: Pharmacy, prep, kind: str):
    """The demo has no camera: a drawn picture, plainly marked as such, stands for the photo."""
    photos.take(pharmacy, "tech", prep.id, prep.version, kind, demo_picture(
        [f"DEMO PICTURE - not a photograph ({kind})", f"preparation {prep.id}", "LEMTRADA 12 mg / 1.2 mL",
         "syringe at 1.2 mL beside the vial label" if kind == "syringe" else "bag with its in-process label"]))
    return preparation.get(pharmacy, prep.id)


def demo_picture(lines: list[str], size: tuple[int, int] = (800, 600)) -> bytes:
    """A sharp, evenly lit JPEG with ``lines`` of text on a label over a ruled background: what the demo and
    the tests use in place of a camera's photo (its figures pass ``domain/photos``' checks)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    image = Image.new("RGB", size, (178, 186, 190))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 32):  # the graduation of a syringe, roughly
        draw.line([(x, 0), (x, height)], fill=(60, 64, 70), width=2)
    draw.rectangle([width // 10, height // 4, width * 9 // 10, height * 3 // 4], fill=(246, 246, 240),
                   outline=(20, 20, 20), width=4)
    font = ImageFont.load_default(size=max(14, height // 22))
    for number, line in enumerate(lines):
        draw.text((width // 10 + 16, height // 4 + 16 + number * (height // 14)), line, fill=(10, 10, 10), font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


