"""The one validation layer at the edge, for the screens' forms and the JSON API alike.

Only the shape of a value is checked here (text is clean text that fits its column, a number is a
number in range, a date is a date in range, JSON has the declared types); every rule about its
meaning lives in the services. A bad value is refused with a 400 that names the field before any
service runs, so nothing is written and no database error (PostgreSQL's "value too long", an integer
overflow, a date that time arithmetic cannot move) can be reached.

* ``check_request`` (a ``before_request`` hook) looks at every form field, query argument and text
  part of the URL of every request: no control characters (a scan field keeps ASCII 29, GS, which
  scanners send; a reason typed in a text area keeps tabs and line breaks), no invalid UTF-8
  (werkzeug decodes it to U+FFFD), nothing longer than the column it is stored in.
* ``BoundedInt`` replaces Flask's ``<int:…>`` converter: an id beyond 64 bits is a 404, not a 500.
* ``whole_number``, ``a_date``, ``json_body``, ``string``, ``boolean``, ``integer`` are what
  ``web/forms`` and ``web/api`` read values with.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from urllib.parse import unquote_to_bytes

import flask
from flask import request
from werkzeug.routing import IntegerConverter

from pharmacy.db import models as m
from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _


class FormError(PharmacyError):
    """A form field of the wrong shape (``web.forms``)."""

    code = "form_invalid"


class BadRequest(PharmacyError):
    """A JSON API request body of the wrong shape (``web.api``)."""

    code = "bad_request"


MAX_INT = 2**63 - 1  # the database's BIGINT; SQLite and PostgreSQL both stop here
TEXT_MAX = 2000  # a reason, note or other Text column: a paragraph, not a document
URL_PART_MAX = 200  # a serial, lot or identifier in the URL
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)  # the years a pharmacy date can fall in
JSON_DEPTH_MAX = 10  # the deepest body any endpoint declares is 3 (administrations: premedication items)

GS = "\x1d"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 (but tab, LF, CR), DEL, C1
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def limit(column) -> int:
    """The longest text a model column holds (``String(n)``), or ``TEXT_MAX`` for ``Text``."""
    length = getattr(column.property.columns[0].type, "length", None)
    return int(length) if length else TEXT_MAX


# Where a form field or API field is stored, so its length is the column's. A name not listed is held to
# TEXT_MAX (passwords, filters, scans that the services parse into GTIN/serial/lot, which are checked there).
FIELD_COLUMNS = {
    "identifier": m.Patient.identifier, "name": m.Patient.name, "ward": m.Patient.ward, "gsrn": m.Patient.gsrn,
    "username": m.User.username, "full_name": m.User.full_name, "signer": m.User.username,
    "location": m.StorageLocation.name, "destination": m.StorageLocation.name,  # where a bag taken out goes (audited)
    "serial_number": m.Balance.serial_number, "model": m.Balance.model, "certificate": m.Balance.certificate,
    "lot_or_serial": m.Recall.lot_or_serial, "gtin": m.Recall.gtin, "volume": m.Preparation.withdrawn_entered,
    "token_name": m.ApiToken.name,
    "outcome": m.FalsificationIncident.outcome, "decision": m.ColdChainDecision.decision,
}
# the same field name stored elsewhere on one screen (endpoint, field) → column
ENDPOINT_COLUMNS = {("storage.add_location", "name"): m.StorageLocation.name}
# fields a scanner types into: they keep GS (ASCII 29) between GS1 element strings
SCAN_FIELDS = frozenset({"scan", "bag_scan", "bag", "wristband", "patient_scan"})
# text areas and free-text reasons: they keep tabs and line breaks
MULTILINE_FIELDS = frozenset({"reason", "override_reason", "note", "detail", "new_patient_reason", "typed_other",
                              "patient_entry_other", "lookalike_reason"})


def max_length(field: str, endpoint: str | None = None) -> int:
    column = ENDPOINT_COLUMNS.get((endpoint or "", field)) or FIELD_COLUMNS.get(field.rsplit(".", 1)[-1])
    return limit(column) if column is not None else TEXT_MAX


def clean(value: str, what: str, field: str, *, error: type[PharmacyError] = FormError,
          endpoint: str | None = None, longest: int | None = None) -> str:
    """``value`` unchanged if it is clean text that fits; else a refusal naming ``what``."""
    name = field.rsplit(".", 1)[-1]
    if "\ufffd" in value:
        raise error(_("{what} is not valid text (it holds bytes that are not UTF-8): type it again.", what=what))
    bad = _CONTROL.search(value.replace(GS, "") if name in SCAN_FIELDS else value)
    if bad is None and name not in MULTILINE_FIELDS:
        bad = _LINE_BREAKS.search(value)
    if bad is not None:
        raise error(_("{what} holds a control character (code {bad:#04x}), which a name, scan or "
                      "reason cannot contain: type it again.", what=what, bad=ord(bad.group())))
    most = longest if longest is not None else max_length(field, endpoint)
    if len(value) > most:
        raise error(_("{what} is too long ({count:,} characters; at most {most:,}).", what=what, count=len(value), most=most))
    return value


class Request(flask.Request):
    """Keeps a URL-encoded form's bytes (``check_request`` reads them): werkzeug turns bytes that are not
    UTF-8 into ``%XX`` text, which would otherwise be stored as if it had been typed."""

    def _load_form_data(self) -> None:
        if self.mimetype == "application/x-www-form-urlencoded":
            self.get_data(cache=True, parse_form_data=False)
        super()._load_form_data()


def _not_utf8(encoded: bytes) -> str | None:
    """The name of the first field of a URL-encoded string whose name or value is not UTF-8."""
    for pair in encoded.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")[:40]
    return None


def check_request() -> None:
    """Every text value of the request, before the guard and the view: a refusal is a 400 naming it."""
    endpoint = request.endpoint
    sources = [request.query_string]
    if request.mimetype == "application/x-www-form-urlencoded":
        _form = request.form  # parsed by the Request above, which keeps the bytes
        sources.append(request.get_data(cache=True))
    for encoded in sources:
        name = _not_utf8(encoded)
        if name is not None:
            raise FormError(_("The field “{name}” is not valid text (it holds bytes that are not UTF-8): type it again.", name=name))
    for key, value in (request.view_args or {}).items():
        if isinstance(value, str):
            clean(value, _("The {key} in the address", key=key), key, longest=URL_PART_MAX)
    for source in (request.args, request.form):
        for key in source:
            for value in source.getlist(key):
                clean(value, _("The field “{key}”", key=key[:40]), key, endpoint=endpoint)


class BoundedInt(IntegerConverter):
    """``<int:…>`` limited to what the database holds: a larger id is simply not found (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def whole_number(value: str, what: str, low: int = 0, high: int = MAX_INT, error: type[PharmacyError] = FormError) -> int:
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19 or not low <= int(value) <= high:
        raise error(_("{what} must be a whole number from {low:,} to {high:,}, not “{value}”.",
                      what=what, low=low, high=high, value=value[:40]))
    return int(value)


def in_range(day: date, what: str, error: type[PharmacyError] = FormError) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise error(_("{what} ({day}) must lie between {first} and {last}.",
                      what=what, day=day.isoformat(), first=FIRST_DAY.year, last=LAST_DAY.year))
    return day


def a_date(value: str, what: str, error: type[PharmacyError] = FormError) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise error(_("{what} must be a date (YYYY-MM-DD), not “{value}”.", what=what, value=value[:40])) from None
    return in_range(day, what, error)


def a_moment(moment: datetime, what: str, error: type[PharmacyError] = FormError) -> datetime:
    in_range(moment.date(), what, error)
    return moment


# --- the JSON API -------------------------------------------------------------------------------------


def json_body(types: tuple[str, ...] = ("application/json",)) -> dict:
    """The request's JSON object. A body that is not JSON, not sent as ``application/json`` (or another of
    ``types``: FHIR's ``application/fhir+json``), nested too deep, or not an object is refused: never read as
    an empty object."""
    if request.mimetype not in types:
        raise BadRequest(_("Send the request body as JSON with “Content-Type: {types}”.", types=types[-1]))
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
        if _depth(text) > JSON_DEPTH_MAX:
            raise BadRequest(_("The request body is nested deeper than {JSON_DEPTH_MAX} levels.", JSON_DEPTH_MAX=JSON_DEPTH_MAX))
        data = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest(_("The request body is not valid JSON (UTF-8): nothing was recorded.")) from None
    if not isinstance(data, dict):
        raise BadRequest(_("The request body must be a JSON object."))
    return data


def _no_constant(name: str):
    raise ValueError(name)  # NaN, Infinity: not JSON


def _depth(text: str) -> int:
    """How deeply brackets nest, outside strings (so ``json.loads`` never recurses into a bomb)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def string(data: dict, name: str, required: bool = False, field: str | None = None) -> str:
    """A JSON string field (``""`` when absent and not required), clean and no longer than its column."""
    value = data.get(name)
    field = field or name
    if value is None:
        if required:
            raise BadRequest(_("{field} is required.", field=field))
        return ""
    if not isinstance(value, str):
        raise BadRequest(_("{field} must be a string, not {value}.", field=field, value=_kind(value)))
    if required and not value.strip():
        raise BadRequest(_("{field} is required.", field=field))
    return clean(value, field, field, error=BadRequest)


def boolean(data: dict, name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(_("{name} must be true or false (a JSON boolean), not {value}.", name=name, value=_kind(value)))
    return value


def integer(data: dict, name: str, low: int = 0, high: int = MAX_INT) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(_("{name} must be a whole number from {low:,} to {high:,}.", name=name, low=low, high=high))
    return value


def json_date(data: dict, name: str, field: str | None = None) -> date:
    value = data.get(name)
    field = field or name
    if not isinstance(value, str):
        raise BadRequest(_("{field} must be a date like 2026-11-20 (a string), not {value}.", field=field, value=_kind(value)))
    return a_date(value, field, BadRequest)


def _kind(value) -> str:
    return {bool: _("a boolean"), int: _("a number"), float: _("a number"), str: _("a string"), list: _("an array"),
            dict: _("an object"), type(None): "null"}.get(type(value), type(value).__name__)
