"""Label printers as data: ``<instance>/printers.toml``, validated on every load.

One ``[[printer]]`` table per printer::

    [[printer]]
    name = "Ward 5 Zebra"        # what the label screen offers; unique
    kind = "zpl"                 # "pdf" (download), "cups" (a CUPS queue, ``lp -d``), "zpl" (raw TCP, port 9100)
    address = "10.0.5.31:9100"   # zpl: host[:port]; cups: the queue name; pdf: none
    dpi = 203                    # the printer's resolution: the renderer snaps modules to its dots
    stock = "thermal-4x6"        # the label stock loaded in it (a file in labels/)
    language = "zpl"             # what is sent: "zpl" (ZPL II) or "pdf"
    timeout = 5                  # seconds for each of connect, status query and send (0.1–20; default 5)

With no file, the pharmacy has one printer, "PDF download": the label comes back to the browser or the
CLI as a PDF, as before printers were configured. A wrong file is refused with a ``PrinterConfigError``
that names the file, the printer and the field; nothing is printed until it is fixed.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pharmacy.domain.errors import LabelStockError, PharmacyError
from pharmacy.i18n import _
from pharmacy.printing.stocks import available_stocks, load_stock
from pharmacy.printing.symbol_sizes import PRINTER_DPIS, check_resolution

FILE_NAME = "printers.toml"
KINDS = {"pdf": "PDF download", "cups": "CUPS queue (lp)", "zpl": "ZPL printer, raw TCP"}
LANGUAGES = ("pdf", "zpl")
SUPPORTED_DPI = PRINTER_DPIS  # the resolutions the renderers are tested at; others only if check_resolution agrees
DEFAULT_NAME = "PDF download"
RAW_PORT = 9100
# seconds for each wait (connect, status, send): a whole send stays under domain/printjobs.STALE_AFTER
MAX_TIMEOUT = 20
_FIELDS = {"name", "kind", "address", "dpi", "stock", "language", "timeout"}
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_QUEUE = re.compile(r"^[A-Za-z0-9_.-]{1,127}$")  # a CUPS destination name: no spaces, slashes or '#'
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


class PrinterConfigError(PharmacyError):
    """``printers.toml`` is wrong; the message names the file, the printer and the field."""

    code = "printer_config_invalid"


class UnknownPrinter(PharmacyError):
    code = "printer_unknown"


@dataclass(frozen=True)
class Printer:
    name: str
    kind: str  # one of KINDS
    address: str  # zpl: host:port; cups: the queue; pdf: ""
    dpi: int
    stock: str
    language: str  # "pdf" or "zpl"
    timeout: float = 5.0

    @property
    def kind_text(self) -> str:
        return KINDS[self.kind]

    @property
    def downloads(self) -> bool:
        """The label comes back as a PDF to whoever asked: nothing is queued, nothing can fail to arrive."""
        return self.kind == "pdf"

    @property
    def destination(self) -> str:
        """Where the job goes, as the print job and the label record keep it."""
        return "download" if self.kind == "pdf" else f"{self.kind}:{self.address}"

    @property
    def host_port(self) -> tuple[str, int]:
        """A ZPL printer's host and port (the address is kept as ``host:port`` or ``[v6]:port``)."""
        host, port = _split_host_port(self.address)
        return host or "", port or RAW_PORT


def default_printer(stock_name: str) -> Printer:
    stock = load_stock(stock_name)
    dpi = stock.dpi
    return Printer(DEFAULT_NAME, "pdf", "", dpi, stock.name, "pdf")


def printers_file(instance: Path) -> Path:
    return Path(instance) / FILE_NAME


# the file's text with the stocks there were, and the printers it named (issue 18)
_READ: dict[Path, tuple[tuple[str, tuple[str, ...]], tuple[Printer, ...]]] = {}


def load_printers(instance: Path, default_stock: str) -> list[Printer]:
    """The configured printers, in the file's order; the one "PDF download" printer when there is no file.
    The file is read every time (an edit counts at the next page) and parsed again only when its text, or the
    label stocks there are, changed."""
    path = printers_file(instance)
    if not path.is_file():
        return [default_printer(default_stock)]
    try:
        said = path.read_text(encoding="utf-8"), tuple(available_stocks())  # a printer names one of the stocks
        kept = _READ.get(path)
        if kept is not None and kept[0] == said:
            return list(kept[1])
        raw = tomllib.loads(said[0])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PrinterConfigError(_("{path}: cannot be read ({error}). Fix the file; nothing is printed until then.",
                                   path=path, error=error),
                                 file=str(path)) from None
    unknown = set(raw) - {"printer"}
    if unknown:
        raise PrinterConfigError(_("{path}: unknown table or key {keys}; write one [[printer]] table per printer.",
                                   path=path, keys=", ".join(sorted(unknown))), file=str(path))
    tables = raw.get("printer")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise PrinterConfigError(_("{path}: no printer; write one [[printer]] table per printer (or delete the file "
                                   "to print PDF downloads only).", path=path), file=str(path))
    printers: list[Printer] = []
    for index, table in enumerate(tables, start=1):
        printer = _Reader(path, index, table).printer()
        if any(p.name.casefold() == printer.name.casefold() for p in printers):
            raise PrinterConfigError(_("{path}, printer {index}: the name “{name}” is used twice; each printer needs "
                                       "its own name.", path=path, index=index, name=printer.name), file=str(path), field="name")
        printers.append(printer)
    _READ[path] = said, tuple(printers)
    return printers


def find_printer(printers: list[Printer], name: str | None) -> Printer:
    """The printer of this name; the first configured one when no name is given."""
    if not name:
        return printers[0]
    for printer in printers:
        if printer.name == name:
            return printer
    raise UnknownPrinter(_("There is no printer “{name}” (configured: {configured}). Nothing was printed.", name=name,
                           configured=", ".join(p.name for p in printers)))


class _Reader:
    def __init__(self, path: Path, index: int, raw: dict) -> None:
        self.path, self.index, self.raw = path, index, raw
        name = raw.get("name")
        self.where = f"printer {index}" + (f" (“{name}”)" if isinstance(name, str) and name.strip() else "")

    def fail(self, field: str, problem: str) -> PrinterConfigError:
        return PrinterConfigError(_("{path}, {where}, field “{field}”: {problem}", path=self.path, where=self.where,
                                    field=field, problem=problem), file=str(self.path),
                                  printer=self.index, field=field)

    def text(self, field: str, default: str | None = None) -> str:
        value = self.raw.get(field, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "missing or empty; it must be text.")
        return value.strip()

    def printer(self) -> Printer:
        unknown = set(self.raw) - _FIELDS
        if unknown:
            raise self.fail(sorted(unknown)[0], f"unknown field (known: {', '.join(sorted(_FIELDS))}).")
        name = self.text("name")
        if not _NAME.fullmatch(name):
            raise self.fail("name", "at most 64 characters, no control characters.")
        kind = self.text("kind")
        if kind not in KINDS:
            raise self.fail("kind", f"“{kind}” is not a kind of printer; use one of {', '.join(KINDS)} "
                                    "(pdf: a download, cups: a CUPS queue, zpl: raw TCP port 9100).")
        language = self.text("language", "zpl" if kind == "zpl" else "pdf")
        if language not in LANGUAGES:
            raise self.fail("language", f"“{language}” is not a label language; use pdf or zpl.")
        if kind == "pdf" and language != "pdf":
            raise self.fail("language", "a PDF download is a PDF; write language = \"pdf\" or leave it out.")
        address = self.address(kind)
        given = self.raw.get("dpi")
        try:
            dpi = check_resolution(cast(int, given))  # the renderer's own rule: whole-dot modules inside GS1 table 6
        except PharmacyError as error:
            raise self.fail("dpi", f"{given!r} is not a resolution the label renderer supports ({error.message} "
                                   f"Label printers print at {', '.join(map(str, SUPPORTED_DPI))} dpi); write the "
                                   "printer's own.") from None
        stock = self.text("stock")
        try:
            load_stock(stock)
        except LabelStockError:
            raise self.fail("stock", f"there is no label stock “{stock}” (known: {', '.join(available_stocks())}).") from None
        timeout = self.raw.get("timeout", 5)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= MAX_TIMEOUT:
            raise self.fail("timeout", f"{timeout!r} must be a number of seconds from 0.1 to {MAX_TIMEOUT}.")
        return Printer(name, kind, address, dpi, stock, language, float(timeout))

    def address(self, kind: str) -> str:
        value = self.raw.get("address")
        if kind == "pdf":
            if value not in (None, ""):
                raise self.fail("address", "a PDF download has no address; leave it out.")
            return ""
        if not isinstance(value, str) or not value.strip():
            example = "a host and port such as \"10.0.5.31:9100\"" if kind == "zpl" else "the CUPS queue name (lpstat -p)"
            raise self.fail("address", f"missing; write {example}.")
        value = value.strip()
        if kind == "cups":
            if not _QUEUE.fullmatch(value):
                raise self.fail("address", f"“{value}” is not a CUPS queue name (letters, digits, '_', '-', '.'; "
                                           "no spaces, '/' or '#').")
            return value
        host, port = _split_host_port(value)
        if host is None or not _valid_host(host):
            raise self.fail("address", f"“{value}” is not a host name or IP address with an optional port "
                                       "(\"10.0.5.31\", \"zebra-ward5.example.org:9100\", \"[fe80::1]:9100\").")
        if port is None or not 1 <= port <= 65535:
            raise self.fail("address", f"“{value}”: the port must be a number from 1 to 65535 (Zebra raw printing: 9100).")
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_host_port(value: str) -> tuple[str | None, int | None]:
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            return None, None
        if not rest:
            return host, RAW_PORT
        return (host, int(rest[1:])) if rest.startswith(":") and rest[1:].isdigit() else (host, None)
    if value.count(":") > 1:  # a bare IPv6 address
        return value, RAW_PORT
    host, sep, port = value.partition(":")
    if not sep:
        return host, RAW_PORT
    return host, int(port) if port.isdigit() else None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return ":" not in host and bool(_HOST.fullmatch(host)) and not host.replace(".", "").isdigit()
