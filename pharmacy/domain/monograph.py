"""Product facts as data: a TOML monograph per product, validated on load.

A pharmacy adds a product by adding a file. Every error names the file and the field, so the
person who wrote the file can mend it without reading code.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import pint
from pint.util import UnitsContainer

from pharmacy.domain.courses import CourseRules
from pharmacy.domain.errors import MonographError
from pharmacy.domain.gs1 import normalize_gtin
from pharmacy.domain.photos import PHOTO_KINDS
from pharmacy.domain.units import CONCENTRATION, MASS, Q_, TIME, VOLUME, Quantity, describe
from pharmacy.i18n import _, lazy, now

SHIPPED = Path(__file__).resolve().parent.parent / "catalog"

_T = TypeVar("_T")


@dataclass(frozen=True)
class StorageRange:
    min_celsius: float
    max_celsius: float
    protect_from_light: bool
    text: str


@dataclass(frozen=True)
class Premedication:
    what: str
    course_days: tuple[int, ...]
    required: bool


@dataclass(frozen=True)
class Diluent:
    id: str
    name: str
    long_name: str
    volume: Quantity
    gtins: tuple[str, ...]


@dataclass(frozen=True)
class Density:
    """The mass per volume of the product's solution, which turns a weighed mass into a volume. The
    SmPC rarely gives one (LEMTRADA's does not): a pharmacy's own validated value, with its source."""

    value: Quantity  # g/mL
    source: str
    demo: bool = False  # a value for the demo pharmacy only, never validated: shown as such wherever used


WEIGH_MODES = ("none", "syringe", "bag")


@dataclass(frozen=True)
class Monograph:
    id: str
    brand: str
    inn: str
    form: str
    strength: Quantity
    vial_volume: Quantity
    concentration: Quantity
    vial_gtins: tuple[str, ...]
    serialised: bool
    appearance: str
    reject_if: str
    vial_storage: StorageRange
    do_not_shake: bool
    dose: Quantity
    courses: CourseRules
    withdraw: Quantity
    withdraw_tolerance: Quantity
    diluent_volume: Quantity
    permitted_diluents: tuple[Diluent, ...]
    mixing: str
    in_use_limit: timedelta
    in_use_storage: StorageRange
    in_use_carton_text: str  # “Administer within … after dilution.”; empty when the file gives none
    route: str
    route_text: str
    infusion_duration: Quantity
    observation: Quantity
    # least time between the starts of two doses (``infusion.min_interval``): the pharmacy's policy
    # where the SmPC gives no figure; without one, the infusion and its observation (no overlap)
    min_interval: Quantity
    premedication: tuple[Premedication, ...]
    preparation_gtin: str
    source: str
    # what the check rests on besides the scans: "syringe" (tare the empty syringe, weigh it filled),
    # "bag" (the bag before and after the injection) or "none" ([evidence].weigh); the density from the
    # pharmacy's densities.toml (None: the volume is typed and shown as unweighed)
    weigh: str = "none"
    density: Density | None = None
    # the WHO ATC code ([product].atc, SmPC 5.1): how the hospital's record names the medicine (FHIR, issue 17)
    atc: str = ""
    # the photos the check rests on ([evidence].photos, names of ``domain.photos.PHOTO_KINDS``): each one
    # refuses the step it precedes until it is taken
    photos: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.brand} ({self.inn})"

    @cached_property
    def infusion_time(self) -> timedelta:
        """The planned infusion duration as a time span, converted once (every START BY on every screen asks it)."""
        return timedelta(seconds=float(self.infusion_duration.to("second").magnitude))

    def premedication_for_day(self, course_day: int) -> tuple[Premedication, ...]:
        """What SmPC 4.2 asks before the infusion on this course day."""
        return tuple(p for p in self.premedication if p.required and course_day in p.course_days)


class _Fields:
    """Reads one table of a TOML file; every error names file and dotted field."""

    def __init__(self, source: str, table: dict[str, object], path: str) -> None:
        self.source, self.table, self.path = source, table, path

    def fail(self, key: str, problem: str, **values: object) -> MonographError:
        """``problem``: a whole sentence marked ``lazy``, its ``{source}`` and ``{field}`` (and ``values``) filled in."""
        return MonographError(now(problem).format(source=self.source, field=f"{self.path}.{key}", **values))

    def fail_because(self, key: str, reason: str) -> MonographError:
        """The field is refused for ``reason``, a message already made (a GTIN's check digit)."""
        where = f"{self.path}.{key}"
        return MonographError(_("{source}: field “{field}” {reason}", source=self.source, field=where, reason=reason))

    def raw(self, key: str, kind: type[_T] | tuple[type[_T], ...]) -> _T:
        if key not in self.table:
            raise self.fail(key, lazy("{source}: field “{field}” is missing."))
        value = self.table[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, lazy("{source}: field “{field}” must be {names}, not {value}."), names=names, value=repr(value))
        return value

    def text(self, key: str) -> str:
        value = self.raw(key, str).strip()
        if not value:
            raise self.fail(key, lazy("{source}: field “{field}” is empty."))
        return value

    def flag(self, key: str) -> bool:
        return self.raw(key, bool)

    def number(self, key: str) -> float:
        return float(self.raw(key, (int, float)))

    def whole(self, key: str, minimum: int) -> int:
        value = self.raw(key, int)
        if value < minimum:
            raise self.fail(key, lazy("{source}: field “{field}” must be a whole number of at least {minimum}, not {value}."),
                            minimum=minimum, value=value)
        return value

    def quantity(self, key: str, dimension: UnitsContainer) -> Quantity:
        raw = self.text(key)
        try:
            value: Quantity = Q_(raw)
        except (pint.errors.PintError, ValueError, TypeError, AttributeError) as error:
            raise self.fail(key, lazy("{source}: field “{field}” “{raw}” is not a quantity ({error})."), raw=raw, error=error) from None
        if not isinstance(value, pint.Quantity) or value.dimensionality != dimension:
            raise self.fail(key, lazy("{source}: field “{field}” “{raw}” must be {dimension} with its unit."), raw=raw,
                            dimension=describe(dimension))
        if not (math.isfinite(float(value.magnitude)) and value.magnitude > 0):
            raise self.fail(key, lazy("{source}: field “{field}” “{raw}” must be a positive, finite number."), raw=raw)
        return value

    def gtins(self, key: str) -> tuple[str, ...]:
        values = self.raw(key, list)
        try:
            return tuple(normalize_gtin(str(v)) for v in values)
        except Exception as error:  # CheckDigitError: say which field
            raise self.fail_because(key, str(error)) from None

    def sub(self, key: str) -> _Fields:
        return _Fields(self.source, self.raw(key, dict), key if not self.path else f"{self.path}.{key}")


def _storage(f: _Fields) -> StorageRange:
    low, high = f.number("min_celsius"), f.number("max_celsius")
    if low >= high:
        raise f.fail("max_celsius", lazy("{source}: field “{field}” must be above min_celsius."))
    return StorageRange(low, high, f.flag("protect_from_light"), f.text("text"))


def _require_smpc(root: dict[str, object], source: str) -> None:
    for name, value in root.items():
        tables = [(name, value)] if not isinstance(value, list) else [(f"{name}[{i}]", t) for i, t in enumerate(value)]
        for where, table in tables:
            if isinstance(table, dict) and name != "label" and "smpc" not in table:
                raise MonographError(_("{source}: table “{where}” has no “smpc” field naming its SmPC section.",
                                       source=source, where=where))


def _same(a: Quantity, b: Quantity) -> bool:
    return math.isclose(a.to(b.units).magnitude, b.magnitude, rel_tol=1e-6)


def parse_monograph(data: dict[str, object], source: str, diluents: dict[str, Diluent]) -> Monograph:
    root = _Fields(source, data, "")
    _require_smpc(data, source)
    product, prep = root.sub("product"), root.sub("preparation")
    root_sub = {k: root.sub(k) for k in ("inspection", "vial_storage", "dose", "courses", "in_use", "infusion")}
    in_use, infusion, courses = root_sub["in_use"], root_sub["infusion"], root_sub["courses"]
    days = courses.raw("days_per_course", list)
    if not days or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in days):
        raise courses.fail("days_per_course", lazy("{source}: field “{field}” must be a list of positive whole numbers of days."))
    permitted = []
    for diluent in prep.raw("permitted_diluents", list):
        if diluent not in diluents:
            known = ", ".join(sorted(diluents)) or _("none")
            raise prep.fail("permitted_diluents", lazy("{source}: field “{field}” names the unknown diluent “{diluent}” (known: {known})."),
                            diluent=diluent, known=known)
        permitted.append(diluents[diluent])
    premeds = []
    for index, item in enumerate(root.raw("premedication", list) if "premedication" in data else []):
        p = _Fields(source, item, f"premedication[{index}]")
        premeds.append(Premedication(p.text("what"), tuple(p.raw("course_days", list)), p.flag("required")))
    label = root.sub("label")
    try:
        preparation_gtin = normalize_gtin(label.text("preparation_gtin"))
    except MonographError:
        raise
    except Exception as error:
        raise label.fail_because("preparation_gtin", str(error)) from None
    strength = product.quantity("strength", MASS)
    vial_volume = product.quantity("vial_volume", VOLUME)
    withdraw = prep.quantity("withdraw", VOLUME)
    if withdraw > vial_volume:
        raise prep.fail("withdraw", lazy("{source}: field “{field}” ({withdraw}) is more than the vial holds ({vial_volume})."),
                        withdraw=format(withdraw, "~P"), vial_volume=format(vial_volume, "~P"))
    duration, observation = infusion.quantity("duration", TIME), infusion.quantity("observation", TIME)
    concentration, dose = product.quantity("concentration", CONCENTRATION), root_sub["dose"].quantity("amount", MASS)
    if not _same(strength / vial_volume, concentration):
        raise product.fail("concentration", lazy("{source}: field “{field}” ({concentration}) is not strength / vial_volume ({ratio})."),
                           concentration=format(concentration, "~P"),
                           ratio=format((strength / vial_volume).to(concentration.units), "~P"))
    if not _same(dose / concentration, withdraw):
        raise prep.fail("withdraw", lazy("{source}: field “{field}” ({withdraw}) does not hold the dose: {dose} at {concentration} "
                                         "is {volume}."), withdraw=format(withdraw, "~P"), dose=format(dose, "~P"),
                        concentration=format(concentration, "~P"), volume=format((dose / concentration).to(withdraw.units), "~P"))
    weigh = "none"
    photos: tuple[str, ...] = ()
    if "evidence" in data:
        evidence = root.sub("evidence")
        weigh = evidence.text("weigh")
        if weigh not in WEIGH_MODES:
            raise evidence.fail("weigh", lazy("{source}: field “{field}” must be one of {modes}, not “{weigh}”."),
                                modes=", ".join(WEIGH_MODES), weigh=weigh)
        photos = _photos(evidence)
    return Monograph(
        id=product.text("id"), brand=product.text("brand"), inn=product.text("inn"), form=product.text("form"),
        strength=strength, vial_volume=vial_volume,
        concentration=concentration,
        vial_gtins=product.gtins("vial_gtins"), serialised=product.flag("serialised"),
        appearance=root_sub["inspection"].text("appearance"), reject_if=root_sub["inspection"].text("reject_if"),
        vial_storage=_storage(root_sub["vial_storage"]), do_not_shake=root_sub["vial_storage"].flag("do_not_shake"),
        dose=dose,
        courses=CourseRules(
            days_per_course=tuple(days),
            months_between_courses=courses.whole("months_between_courses", minimum=0),
            max_doses_per_day=courses.whole("max_doses_per_day", minimum=1),
        ),
        withdraw=withdraw, withdraw_tolerance=prep.quantity("withdraw_tolerance", VOLUME),
        diluent_volume=prep.quantity("diluent_volume", VOLUME), permitted_diluents=tuple(permitted),
        mixing=prep.text("mixing"),
        in_use_limit=timedelta(seconds=in_use.quantity("limit", TIME).to("second").magnitude),
        in_use_storage=_storage(in_use),
        in_use_carton_text=in_use.text("carton_text") if "carton_text" in in_use.table else "",
        route=infusion.text("route"), route_text=infusion.text("route_text"),
        infusion_duration=duration, observation=observation,
        min_interval=infusion.quantity("min_interval", TIME) if "min_interval" in infusion.table else duration + observation,
        premedication=tuple(premeds), preparation_gtin=preparation_gtin, source=source, weigh=weigh,
        photos=photos, atc=product.text("atc") if "atc" in product.table else "",
    )


def _photos(evidence: _Fields) -> tuple[str, ...]:
    """``photos = ["syringe", "bag"]``: each a known kind (``domain.photos``), none twice."""
    if "photos" not in evidence.table:
        return ()
    names = evidence.raw("photos", list)
    for name in names:
        if not isinstance(name, str) or name not in PHOTO_KINDS:
            raise evidence.fail("photos", lazy("{source}: field “{field}” names the unknown photo “{name}” (known: {known})."), name=name,
                                known=", ".join(PHOTO_KINDS))
    if len(set(names)) != len(names):
        raise evidence.fail("photos", lazy("{source}: field “{field}” names a photo twice."))
    return tuple(names)


DENSITY = UnitsContainer({"[mass]": 1, "[length]": -3})
DENSITIES = "densities.toml"  # beside the monographs in a pharmacy's instance/catalog/


def parse_densities(data: dict[str, object], source: str) -> dict[str, Density]:
    """``[product_id]`` tables with ``density`` (e.g. "1.006 g/mL"), ``source`` (the validation it comes
    from) and optionally ``demo = true``. A density outside 0.8–1.5 g/mL is not an aqueous infusion
    concentrate: refused as a typing error."""
    result: dict[str, Density] = {}
    for product_id, table in data.items():
        if not isinstance(table, dict):
            raise MonographError(_("{source}: “{product}” must be a table [{product}] with density and source.",
                                   source=source, product=product_id))
        fields = _Fields(source, table, product_id)
        value = fields.quantity("density", DENSITY)
        grams_per_ml = value.to("g/mL").magnitude
        if not 0.8 <= grams_per_ml <= 1.5:
            raise fields.fail("density", lazy("{source}: field “{field}” ({density}) is not the density of an infusion concentrate "
                                              "(0.8–1.5 g/mL)."), density=format(value, "~P"))
        demo = fields.flag("demo") if "demo" in table else False
        result[product_id] = Density(value.to("g/mL"), fields.text("source"), demo)
    return result


def parse_diluents(data: dict[str, object], source: str) -> dict[str, Diluent]:
    result: dict[str, Diluent] = {}
    for index, item in enumerate(_Fields(source, data, "").raw("diluent", list)):
        f = _Fields(source, item, f"diluent[{index}]")
        diluent = Diluent(f.text("id"), f.text("name"), f.text("long_name"), f.quantity("volume", VOLUME), f.gtins("gtins"))
        if diluent.id in result:
            raise f.fail("id", lazy("{source}: field “{field}” “{id}” is defined twice."), id=diluent.id)
        result[diluent.id] = diluent
    return result


def _read(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise MonographError(_("{file}: is not valid TOML ({error}).", file=path.name, error=error)) from None


@dataclass(frozen=True)
class Catalog:
    products: dict[str, Monograph]
    diluents: dict[str, Diluent]

    def product_by_gtin(self, gtin: str) -> Monograph | None:
        return next((p for p in self.products.values() if gtin in p.vial_gtins), None)

    def diluent_by_gtin(self, gtin: str) -> Diluent | None:
        return next((d for d in self.diluents.values() if gtin in d.gtins), None)


def load_catalog(folders: Iterable[Path] = ()) -> Catalog:
    """The shipped monographs, then those in ``folders`` (a pharmacy's own); a later file with the
    same product id replaces an earlier one. ``diluents.toml`` files are merged first."""
    folders = [SHIPPED, *map(Path, folders)]
    diluents: dict[str, Diluent] = {}
    for folder in folders:
        path = folder / "diluents.toml"
        if path.exists():
            diluents.update(parse_diluents(_read(path), path.name))
    products: dict[str, Monograph] = {}
    densities: dict[str, Density] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.toml")):
            if path.name == DENSITIES:
                densities.update(parse_densities(_read(path), path.name))
            elif path.name != "diluents.toml":
                monograph = parse_monograph(_read(path), path.name, diluents)
                products[monograph.id] = monograph
    for product_id, density in densities.items():
        if product_id not in products:
            raise MonographError(_("{file}: “{product}” is not a product of the catalogue (known: {known}).",
                                   file=DENSITIES, product=product_id, known=", ".join(sorted(products))))
        products[product_id] = replace(products[product_id], density=density)
    _check_unique_gtins(products, diluents)
    return Catalog(products, diluents)


def _check_unique_gtins(products: dict[str, Monograph], diluents: dict[str, Diluent]) -> None:
    owner: dict[str, str] = {}
    items = [(p.source, g) for p in products.values() for g in p.vial_gtins]
    items += [(f"diluent {d.id}", g) for d in diluents.values() for g in d.gtins]
    for source, gtin in items:
        if gtin in owner and owner[gtin] != source:
            raise MonographError(_("{source}: GTIN {gtin} is already used by {owner}.", source=source, gtin=gtin,
                                   owner=owner[gtin]))
        owner[gtin] = source


