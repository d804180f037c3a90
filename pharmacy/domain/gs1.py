"""GS1 element strings: check digits, building (for our labels) and parsing (of what scanners send).

Parsing wraps biip, the maintained GS1 parser; building is ours because it must follow the
separator rule exactly (SPEC appendix): after an element string whose AI has no predefined length
comes FNC1 (transmitted as GS, ASCII 29) unless it is the last one. Nothing here returns a half-parsed
result: a scan is read completely or refused with a ``ScanError``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeAlias

import biip
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from pharmacy.domain.errors import CheckDigitError, ScanError
from pharmacy.i18n import _, lazy, now

GS = "\x1d"
SYMBOLOGY_DATAMATRIX = "]d2"
SYMBOLOGY_GS1_128 = "]C1"
# Symbology identifiers of symbols that carry GS1 element strings (ISO/IEC 15424 + GS1 GenSpecs).
GS1_SYMBOLOGIES = {"]d2": "GS1 DataMatrix", "]C1": "GS1-128", "]Q3": "GS1 QR Code", "]e0": "GS1 DataBar"}

# First two digits of the AIs whose length is predefined: no separator after them (GenSpecs 7.8.5).
_PREDEFINED_PREFIXES = {f"{n:02d}" for n in [*range(0, 5), *range(11, 21), *range(31, 37), 41]}
# GS1 AI encodable character set 82 (GenSpecs 7.11, figure 7.11-1).
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*$")

_FORMATS: dict[str, tuple[str, int, int]] = {
    # ai: (kind, min length, max length); kind N = digits, X = character set 82
    "01": ("N", 14, 14), "17": ("N", 6, 6), "10": ("X", 1, 20), "21": ("X", 1, 20),
    "7003": ("N", 10, 10), "8018": ("N", 18, 18),
    **{str(ai): ("X", 1, 20) for ai in range(710, 715)},
    **{str(ai): ("X", 1, 90) for ai in range(91, 100)},
}
_SCANNABLE = {GS, *map(chr, range(32, 127))}
# The national healthcare reimbursement numbers (GenSpecs 3.9.13), by AI (the country: shown i18n.now(text)).
NATIONAL_NUMBER_AIS = {"710": lazy("Germany (PZN)"), "711": lazy("France (CIP)"), "712": lazy("Spain (Código Nacional)"),
                       "713": lazy("Brazil (ANVISA)"), "714": lazy("Portugal (AIM)")}

# (AI, value) pairs, as a mapping or a sequence (the order is the symbol's).
Pairs: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
_NEEDS_GTIN = {"10", "17", "21", "7003", *(str(ai) for ai in range(710, 715))}
# What a pharmacist calls the field biip could not read (its own message quotes a regex).
_AI_NAMES = {"01": lazy("product code"), "10": lazy("batch"), "17": lazy("expiry date"), "21": lazy("serial number"),
             "7003": lazy("use-by date and time"), "8018": lazy("patient number (GSRN)")}
_BIIP_AI = re.compile(r"GS1 AI \((\d+)\)")


def _is_digits(text: str) -> bool:
    """0–9 only: ``str.isdigit`` also accepts other scripts' digits and superscripts."""
    return text.isascii() and text.isdigit()


def mod10_check_digit(payload: str) -> int:
    """GS1 mod-10: weights 3, 1, 3, … from the right of the digits before the check digit."""
    if not _is_digits(payload):
        raise CheckDigitError(_("“{payload}” must be digits only.", payload=payload))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def with_check_digit(payload: str) -> str:
    return payload + str(mod10_check_digit(payload))


def validate_mod10(number: str, what: str, lengths: Iterable[int]) -> str:
    lengths = tuple(lengths)
    if not _is_digits(number) or len(number) not in lengths:
        allowed = str(lengths[0]) if lengths else ""
        for length in lengths[1:]:
            allowed = _("{either} or {other}", either=allowed, other=length)
        raise CheckDigitError(_("{what} “{number}” must be {allowed} digits.", what=what, number=number, allowed=allowed))
    expected = mod10_check_digit(number[:-1])
    if int(number[-1]) != expected:
        raise CheckDigitError(
            _("{what} “{number}” has a wrong check digit (the last digit should be {expected}): the code is mistyped "
              "or damaged.", what=what, number=number, expected=expected)
        )
    return number


def normalize_gtin(gtin: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as 14 digits (the form AI 01 carries)."""
    return validate_mod10(str(gtin).strip(), "GTIN", (8, 12, 13, 14)).zfill(14)


def validate_gsrn(gsrn: str) -> str:
    return validate_mod10(str(gsrn).strip(), "GSRN", (18,))


def separator_needed(ai: str) -> bool:
    return ai[:2] not in _PREDEFINED_PREFIXES


def _check_value(ai: str, value: str) -> None:
    if ai not in _FORMATS:
        raise ScanError(_("AI ({ai}) is not one this system writes.", ai=ai))
    kind, low, high = _FORMATS[ai]
    if not low <= len(value) <= high:
        size = str(low) if low == high else _("{low} to {high}", low=low, high=high)
        raise ScanError(_("({ai}) must have {size} characters, not {length}: “{value}”.", ai=ai, size=size,
                          length=len(value), value=value))
    if kind == "N" and not _is_digits(value):
        raise ScanError(_("({ai}) must be digits only: “{value}”.", ai=ai, value=value))
    if kind == "X" and not _CSET82.match(value):
        bad = "".join(dict.fromkeys(c for c in value if not _CSET82.match(c)))
        shown = ", ".join(_("a space") if c == " " else f"“{c}”" for c in bad)
        raise ScanError(_("({ai}) “{value}” has characters a GS1 barcode cannot carry ({shown}): GS1 character "
                          "set 82 allows A–Z, a–z, 0–9 and ! \" % & ' ( ) * + , - . / : ; < = > ? _ only.", ai=ai,
                          value=value, shown=shown))
    if ai == "01":
        normalize_gtin(value)
    elif ai == "8018":
        validate_gsrn(value)
    elif ai == "7003":
        _datetime_from_7003(value)
    elif ai == "17":
        expiry_from_yymmdd(value)


def check_element(ai: str, value: str) -> None:
    """Refuse (``ScanError``) a value that AI ``ai`` cannot carry: the rule ``element_string`` applies."""
    _check_value(ai, value)


def _checked_pairs(pairs: Pairs) -> list[tuple[str, str]]:
    items = list(pairs.items() if isinstance(pairs, Mapping) else pairs)
    ais = [ai for ai, _ in items]
    if len(set(ais)) != len(ais):
        raise ScanError(_("An AI may appear only once in an element string."))
    if _NEEDS_GTIN & set(ais) and "01" not in ais:
        raise ScanError(_("GS1 allows (10), (17), (21), (7003) and (710)–(714) only together with (01)."))
    for ai, value in items:
        _check_value(ai, value)
    return items


def element_string(pairs: Pairs) -> str:
    """The data of a GS1 symbol, as transmitted: GS after each variable-length field but the last.

    ``pairs`` is a mapping or a sequence of (AI, value). The leading FNC1 is the symbol's business
    (the barcode encoders add it); parentheses are never part of the data.
    """
    items = _checked_pairs(pairs)
    out = []
    for index, (ai, value) in enumerate(items):
        out.append(ai + value)
        if separator_needed(ai) and index < len(items) - 1:
            out.append(GS)
    return "".join(out)


def human_readable(pairs: Pairs, separator: str = "") -> str:
    """The human-readable interpretation printed under a barcode: ``(01)09506000134406(10)B1``;
    ``separator`` goes between the fields (``"\\n"``: one field a line, as under a DataMatrix)."""
    return separator.join(f"({ai}){value}" for ai, value in _checked_pairs(pairs))


def expiry_from_yymmdd(yymmdd: str, *, today: date | None = None) -> date:
    """The last day a GS1 date (AI 17) allows: day ``00`` means the last day of that month.

    The century follows GS1 GenSpecs 7.12: the year lies from 49 years before to 50 after today.
    """
    if not re.fullmatch(r"[0-9]{6}", yymmdd or ""):
        raise ScanError(_("Expiry “{yymmdd}” must be six digits YYMMDD.", yymmdd=yymmdd))
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    this_year = (today or date.today()).year
    year = this_year - this_year % 100 + yy
    if year - this_year > 50:
        year -= 100
    elif this_year - year >= 50:
        year += 100
    if not 1 <= mm <= 12:
        raise ScanError(_("Expiry “{yymmdd}” has month {month}, which does not exist.", yymmdd=yymmdd, month=format(mm, "02d")))
    last = calendar.monthrange(year, mm)[1]
    if dd == 0:
        dd = last
    if dd > last:
        raise ScanError(_("Expiry “{yymmdd}” has day {day}, which month {month} of {year} does not have.", yymmdd=yymmdd,
                          day=format(dd, "02d"), month=format(mm, "02d"), year=year))
    return date(year, mm, dd)


def _datetime_from_7003(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%y%m%d%H%M")
    except ValueError:
        raise ScanError(_("(7003) “{value}” is not a date and time YYMMDDhhmm.", value=value)) from None


def format_7003(local: datetime) -> str:
    """AI 7003 carries the use-by date and time as YYMMDDhhmm in local time (no zone)."""
    return local.strftime("%y%m%d%H%M")


@dataclass(frozen=True)
class Scan:
    """A completely parsed GS1 scan. ``elements`` keeps every AI in the order scanned."""

    raw: str
    symbology: str | None
    elements: dict[str, str] = field(default_factory=dict)
    expiry: date | None = None
    expiry_yymmdd: str | None = None
    use_by_local: datetime | None = None  # AI 7003, naive local time as printed
    digital_link: bool = False  # read from a GS1 Digital Link URI

    @property
    def gtin(self) -> str | None:
        return self.elements.get("01")

    @property
    def serial(self) -> str | None:
        return self.elements.get("21")

    @property
    def lot(self) -> str | None:
        return self.elements.get("10")

    @property
    def national_number(self) -> str | None:
        return next((self.elements[ai] for ai in NATIONAL_NUMBER_AIS if ai in self.elements), None)

    @property
    def national_number_ai(self) -> str | None:
        """Which of (710)–(714) carried the national number: the AI says the country (NATIONAL_NUMBER_AIS)."""
        return next((ai for ai in NATIONAL_NUMBER_AIS if ai in self.elements), None)

    @property
    def gsrn(self) -> str | None:
        return self.elements.get("8018")


def _clean(raw: str, substitutes: Iterable[str]) -> str:
    text = raw.strip("\r\n\t ")
    for substitute in sorted(substitutes, key=len, reverse=True):
        if substitute:
            text = text.replace(substitute, GS)
    return text


# --- refusals that say what to do (issue 15, point 7) ------------------------------------------------------
# What the key a US scanner presses for "]" types on other keyboard layouts (the symbology identifier's first
# character), and the layouts that do it.
_BRACKET_ON_LAYOUT = {
    "+": lazy("German, Italian or Spanish"), "$": lazy("French or Belgian (AZERTY)"), "¨": lazy("Swiss or Nordic"),
    "´": lazy("Portuguese"), "ü": lazy("Turkish"), ")": lazy("Czech"), "ú": lazy("Hungarian"),
    "}": lazy("US with Shift held"), "å": lazy("Nordic"),
}
# AZERTY types the digit row unshifted: 1 & 2 é 3 " 4 ' 5 ( 6 - or § 7 è 8 _ or ! 9 ç 0 à.
_AZERTY_DIGITS = set("&é\"'(§è_çà")
# Non-GS1 modes of QR Code and DataMatrix: what a scanner sends before a GS1 Digital Link URI.
DIGITAL_LINK_SYMBOLOGIES = {"]Q1": "QR Code", "]d1": "Data Matrix"}
_URI = re.compile(r"^https?://", re.IGNORECASE)


def _keyboard_refusal(text: str) -> ScanError | None:
    """A scan typed by a scanner whose keyboard settings do not match the computer's: Caps Lock (``]D2``),
    or another keyboard country (``+d2`` on a German layout, ``$dé`` on AZERTY)."""
    head = text[:3]
    # ]E0 is EAN-13's own identifier: only ]D2, ]c1 and ]q3 are no symbology's (ISO/IEC 15424)
    if len(head) == 3 and head[0] == "]" and head.swapcase() in ("]d2", "]C1", "]Q3"):
        return ScanError(
            _("The scan begins with “{head}”, not “{expected}”: its letters came in the wrong case, so Caps Lock is "
              "on or the scanner is set to change the case (the letters of a lot or serial would be wrong too). Turn "
              "Caps Lock off. Check the scanner's settings (the setup barcodes in its manual) and the computer's "
              "keyboard layout, then scan again.", head=head, expected=head.swapcase()), hint="caps_lock")
    if head[:1] in _BRACKET_ON_LAYOUT and len(head) == 3 and head[1] in "dCQe":
        layout = now(_BRACKET_ON_LAYOUT[head[0]])
        return ScanError(
            _("The scan begins with “{head}” where a scanner sends “]{letter}…”: the scanner types for another "
              "keyboard country than this computer's ({layout} layouts turn “]” into “{bracket}”), so other "
              "characters may be wrong too. Check the scanner's settings (the setup barcodes in its manual) and the "
              "computer's keyboard layout, then scan again.", head=head, letter=head[1], layout=layout,
              bracket=head[0]), hint="keyboard_layout")
    if set(text[:4]) & _AZERTY_DIGITS and set(text) & set("éèçà"):
        return ScanError(
            _("The scan has “é”, “è”, “ç” or “à” where a GS1 code has digits: the scanner types as on a French or "
              "Belgian (AZERTY) keyboard, without Shift for the digits. Check the scanner's settings (the setup "
              "barcodes in its manual) and the computer's keyboard layout, then scan again."), hint="keyboard_layout")
    return None


def _field_refusal(text: str) -> ScanError | None:
    """Walk the element string through the AIs this system reads and name the first field that is wrong the
    way a damaged or cut-short scan is: a lot, serial or national number over 20 characters (a lost separator
    joins two fields), or a space in one. An AI it does not know stops the walk (biip reads the rest)."""
    position = 0
    while position < len(text):
        ai = next((a for a in ("7003", "8018", *(str(n) for n in range(710, 715)), "01", "17", "10", "21")
                   if text.startswith(a, position)), None)
        if ai is None:
            return None
        kind, _low, high = _FORMATS[ai]
        start = position + len(ai)
        if kind == "N" and ai != "7003" and ai != "8018" and not separator_needed(ai):
            position = start + high  # predefined length: no separator follows
            continue
        end = text.find(GS, start)
        end = len(text) if end < 0 else end
        value = text[start:end]
        name = now(_AI_NAMES.get(ai) or (_("national product number") if ai.startswith("71") else _("field")))
        if kind == "X" and len(value) > high:
            return ScanError(
                _("The scan's ({ai}) {name} has {length} characters, more than the {high} GS1 allows (“{value}”): the "
                  "separator after it may be lost — damaged or cut short? Scan it again.", ai=ai, name=name,
                  length=len(value), high=high, value=value), field=ai)
        if kind == "X" and " " in value:
            return ScanError(_("The scan's ({ai}) {name} “{value}” has a space, which no GS1 barcode carries: "
                               "damaged or cut short? Scan it again.", ai=ai, name=name, value=value), field=ai)
        position = end + 1
    return None


def _read_elements(element_strings: Iterable[GS1ElementString], *, raw: str, symbology: str | None, today: date | None,
                   digital_link: bool = False) -> Scan:
    elements: dict[str, str] = {}
    for element in element_strings:
        ai = element.ai.ai
        if ai in elements:
            raise ScanError(_("The scan holds ({ai}) twice: scan it again.", ai=ai))
        if element.gtin_error or element.gln_error or element.sscc_error:
            name = now(_AI_NAMES.get(ai) or _("number"))
            raise CheckDigitError(
                _("The scanned ({ai}) {value} has a wrong check digit: the code is damaged or cut short? Scan it again; "
                  "if its {name} is refused again, the pack may not be genuine: set it aside and tell the pharmacist.",
                  ai=ai, value=element.value, name=name), field=ai)
        elements[ai] = element.value
    if "01" in elements:
        normalize_gtin(elements["01"])
    if "8018" in elements:
        validate_gsrn(elements["8018"])
    expiry = expiry_from_yymmdd(elements["17"], today=today) if "17" in elements else None
    use_by = _datetime_from_7003(elements["7003"]) if "7003" in elements else None
    if _NEEDS_GTIN & set(elements) and "01" not in elements:
        raise ScanError(_("The scan has no product code (01): scan the GS1 code of the pack."))
    return Scan(raw=raw, symbology=symbology, elements=elements, expiry=expiry, expiry_yymmdd=elements.get("17"),
                use_by_local=use_by, digital_link=digital_link)


def _parse_digital_link(text: str, *, raw: str, symbology: str | None, today: date | None) -> Scan:
    """A GS1 Digital Link URI (``https://id.gs1.org/01/…/10/…?17=…``): its AIs read by biip, then checked as
    a scanned element string is; a URI that is not a Digital Link is refused as such."""
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    if any(c.isspace() for c in text):
        raise ScanError(_("The scan is a web address with a space in it, not a GS1 Digital Link: damaged or cut short? Scan it again."))
    try:
        link = GS1DigitalLinkURI.parse(text)
    except (biip.ParseError, ValueError) as error:
        raise ScanError(_(
            "The scan is a web address, not a GS1 Digital Link this system can read (a Digital Link carries the "
            "product code (01) in its path, such as https://id.gs1.org/01/…/10/LOT/21/SERIAL?17=YYMMDD): "
            "damaged or cut short? Scan it again, or scan the pack's GS1 DataMatrix."), detail=str(error)) from None
    return _read_elements(link.element_strings, raw=raw, symbology=symbology, today=today, digital_link=True)


def parse_scan(raw: str, *, gs_substitutes: Iterable[str] = (), today: date | None = None,
               require_symbology: bool = False) -> Scan:
    """Read a scanned GS1 string (DataMatrix or GS1-128, with or without the symbology identifier, with GS
    as ASCII 29 or one of ``gs_substitutes``; or a GS1 Digital Link URI) completely, or refuse it saying what
    to do. ``require_symbology`` (``PHARMACY_REQUIRE_SYMBOLOGY_ID``): a scan without a GS1 symbology identifier
    (``]d2``, ``]C1``, ``]Q3``, ``]e0``; ``]Q1``/``]d1`` before a Digital Link) is refused — it was typed or garbled."""
    if raw is None or not str(raw).strip():
        raise ScanError(_("Nothing was scanned."))
    text = _clean(str(raw), gs_substitutes)
    keyboard = _keyboard_refusal(text)
    if keyboard is not None:
        raise keyboard
    symbology = None
    if text[:3] in DIGITAL_LINK_SYMBOLOGIES and _URI.match(text[3:]):
        return _parse_digital_link(text[3:], raw=str(raw), symbology=text[:3], today=today)
    if _URI.match(text):
        if require_symbology:
            raise _no_symbology()
        return _parse_digital_link(text, raw=str(raw), symbology=None, today=today)
    if text.startswith("]"):
        symbology = text[:3]
        if symbology not in GS1_SYMBOLOGIES:
            raise ScanError(_("The barcode ({symbology}) is not a GS1 barcode: scan the GS1 DataMatrix or GS1-128.",
                              symbology=symbology))
        text = text[3:]
    elif require_symbology:
        raise _no_symbology()
    text = text.lstrip(GS)  # some scanners transmit the leading FNC1 as GS
    if set(text) - _SCANNABLE:
        raise ScanError(_("The scan contains characters no GS1 barcode carries: scan it again."))
    if symbology is None and text.isdigit() and len(text) in (8, 12, 13):
        raise ScanError(_(
            "This is a plain product barcode (EAN/UPC), not a GS1 code with lot and expiry: "
            "scan the pack's 2D DataMatrix (or the bag's GS1-128)."
        ))
    if not text[:2].isdigit() or len(text) < 4:
        raise ScanError(_("The scan is not a GS1 element string."))
    field = _field_refusal(text)
    if field is not None:
        raise field
    try:
        message = GS1Message.parse(text, config=biip.ParseConfig(separator_chars=(GS,)))
    except biip.ParseError as error:
        found = _BIIP_AI.search(str(error))
        if found:
            text = _("The scan could not be read as GS1 data: its ({ai}) {name} is not valid (damaged or cut short?). "
                     "Scan it again.", ai=found[1], name=now(_AI_NAMES.get(found[1]) or _("field")))
        else:
            text = _("The scan could not be read as GS1 data (damaged or cut short?). Scan it again.")
        raise ScanError(text, detail=str(error)) from None
    return _read_elements(message.element_strings, raw=str(raw), symbology=symbology, today=today)


def _no_symbology() -> ScanError:
    return ScanError(_(
        "The scan has no symbology identifier (]d2, ]C1 or ]Q3) at its start, so it was typed, garbled, or the "
        "scanner does not send one; this pharmacy accepts scanned codes only (PHARMACY_REQUIRE_SYMBOLOGY_ID). "
        "Scan the barcode again; if it is refused again, set the scanner to send the AIM symbology identifier "
        "(its setup barcodes)."), hint="symbology_required")
