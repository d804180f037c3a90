"""Label stocks (the paper on the printer) as data: one TOML file per stock in ``labels/``.

A pharmacy adds a stock by adding a file; every file is validated on load and a wrong one is
refused with a ``LabelStockError`` that names the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

from reportlab.lib.units import mm

from pharmacy.domain.errors import LabelStockError
from pharmacy.i18n import _

from .symbol_sizes import check_resolution

LAYOUTS = ("landscape", "portrait")  # drawn by pharmacy.printing.layouts
_LENGTH = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>mm|cm|in)\s*$")
_MM_PER = {"mm": 1.0, "cm": 10.0, "in": 25.4}
_SIDES = ("top", "right", "bottom", "left")


@dataclass(frozen=True)
class LabelStock:
    name: str
    title: str
    width_mm: float
    height_mm: float
    margins_mm: tuple[float, float, float, float]  # top, right, bottom, left
    dpi: int  # the resolution the stock is printed at unless a printer says its own (``on_printer``)
    layout: str

    def on_printer(self, dpi: int | None) -> LabelStock:
        """This stock loaded in a printer of ``dpi`` dots per inch (None: the stock's own ``dpi``): the
        renderers size and snap every barcode module to that printer's dots."""
        if dpi is None or dpi == self.dpi:
            return self
        return replace(self, dpi=check_resolution(dpi))

    @property
    def pagesize(self) -> tuple[float, float]:
        """Page size in PDF points."""
        return self.width_mm * mm, self.height_mm * mm

    @property
    def dot_mm(self) -> float:
        """One printer dot: barcode modules are whole numbers of dots."""
        return 25.4 / self.dpi

    @property
    def content_mm(self) -> tuple[float, float, float, float]:
        """The printable box inside the margins as (x0, y0, x1, y1) in mm from the bottom left."""
        top, right, bottom, left = self.margins_mm
        return left, bottom, self.width_mm - right, self.height_mm - top


def labels_dir() -> Path:
    installed = files("pharmacy") / "labels"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).parents[2] / "labels"


def available_stocks() -> list[str]:
    return sorted(path.stem for path in labels_dir().glob("*.toml"))


def load_stock(name: str) -> LabelStock:
    path = labels_dir() / f"{name}.toml"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or "") or not path.is_file():
        known = ", ".join(available_stocks()) or "none"
        raise LabelStockError(_("There is no label stock “{name}” (known: {known}).", name=name, known=known), stock=name)
    return read_stock(path)


_READ: dict[Path, tuple[str, LabelStock]] = {}  # a stock file's text and what it said (issue 18: every page with a print)


def read_stock(path: Path) -> LabelStock:
    """The stock the file says now: read every time, parsed again only when its text changed."""
    try:
        text = path.read_text(encoding="utf-8")
        kept = _READ.get(path)
        if kept is not None and kept[0] == text:
            return kept[1]
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise LabelStockError(_("Label stock {file}: cannot be read ({error}).", file=path.name, error=error), file=str(path)) from None
    stock = _Reader(path, raw).stock()
    _READ[path] = text, stock
    return stock


class _Reader:
    def __init__(self, path: Path, raw: dict) -> None:
        self.path, self.raw = path, raw

    def fail(self, field: str, problem: str) -> LabelStockError:
        return LabelStockError(
            _("Label stock {file}, field “{field}”: {problem}", file=self.path.name, field=field, problem=problem),
            file=str(self.path), field=field
        )

    def text(self, field: str) -> str:
        value = self.raw.get(field)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "missing or empty; it must be text.")
        return value.strip()

    def length(self, field: str, value: object, low: float, high: float) -> float:
        match = _LENGTH.match(value) if isinstance(value, str) else None
        if not match:
            raise self.fail(field, f"{value!r} is not a length such as \"100 mm\" or \"4 in\".")
        millimetres = round(float(match["number"]) * _MM_PER[match["unit"]], 4)
        if not low <= millimetres <= high:
            raise self.fail(field, f"{value} is outside {low:g}–{high:g} mm.")
        return millimetres

    def margins(self) -> tuple[float, float, float, float]:
        value = self.raw.get("margins")
        if isinstance(value, str):
            return (self.length("margins", value, 0, 30),) * 4
        if not isinstance(value, dict):
            raise self.fail("margins", 'missing; write "3 mm" or a table with top, right, bottom and left.')
        top, right, bottom, left = (self.length(f"margins.{side}", value.get(side), 0, 30) for side in _SIDES)
        return top, right, bottom, left

    def stock(self) -> LabelStock:
        name = self.text("name")
        if name != self.path.stem:
            raise self.fail("name", f"“{name}” must be the file name without .toml (“{self.path.stem}”).")
        dpi = self.raw.get("dpi")
        if not isinstance(dpi, int) or isinstance(dpi, bool) or not 100 <= dpi <= 1200:
            raise self.fail("dpi", f"{dpi!r} must be the printer's resolution, a whole number 100–1200.")
        layout = self.text("layout")
        if layout not in LAYOUTS:
            raise self.fail("layout", f"“{layout}” is not one of {', '.join(LAYOUTS)}.")
        stock = LabelStock(
            name=name, title=self.text("title"),
            width_mm=self.length("width", self.raw.get("width"), 40, 300),
            height_mm=self.length("height", self.raw.get("height"), 40, 400),
            margins_mm=self.margins(), dpi=dpi, layout=layout,
        )
        x0, y0, x1, y1 = stock.content_mm
        if x1 - x0 < 30 or y1 - y0 < 30:
            raise self.fail("margins", "leave less than 30 × 30 mm to print on.")
        return stock
