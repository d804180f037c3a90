"""Reading form fields. Only the shape of the input is checked here (a number is a number, a date
is a date); every rule about its meaning lives in the services. The checks themselves (clean text
that fits its column, ranges of numbers and dates) are ``web/inputs``, shared with the JSON API;
``inputs.check_request`` has already looked at every field before a view reads one."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import request

from pharmacy import i18n
from pharmacy.domain.errors import QuantityError
from pharmacy.domain.units import parse_number
from pharmacy.i18n import _
from pharmacy.web import inputs
from pharmacy.web.inputs import BadRequest, FormError

__all__ = ["BadRequest", "FormError"]


def text(name: str, what: str, required: bool = True) -> str:
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise FormError(_("{what} is required.", what=what))
    return value


def raw(name: str) -> str:
    """A scan exactly as the scanner typed it (the services strip and read it)."""
    return request.form.get(name) or ""


def whole_number(name: str, what: str, low: int = 0, high: int = inputs.MAX_INT) -> int:
    return inputs.whole_number(text(name, what), what, low, high)


def a_date(name: str, what: str) -> date:
    return inputs.a_date(text(name, what), what)


def checked(name: str) -> bool:
    return request.form.get(name) in ("on", "yes", "1", "true")


def choice(name: str, what: str, allowed: Collection[str]) -> str:
    value = request.form.get(name) or ""
    if value not in allowed:
        raise FormError(_("Choose {what}.", what=what))
    return value


def version() -> int:
    """The version of the object the form was loaded with. Without it a stale form could not be told
    from a fresh one, so a form without it is refused."""
    value = request.form.get("version") or ""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise FormError(_("This form is incomplete (it does not say which version of the record it was loaded "
                          "with). Nothing was recorded: reload the page."))
    return int(value)


def decimal_comma() -> bool:
    """Whether the person filling the form writes a decimal comma (their screens' language: fr, nl, de), for
    ``units.parse_quantity``: ``1,2 mL`` is then 1.2 mL; in English a comma is refused (SAFETY.md H40)."""
    return i18n.decimal_comma()


def number(name: str, what: str) -> float:
    """A decimal number as the screen's language writes it (``domain/units.parse_number``: 2,5 where a decimal
    comma is written, 2.5 everywhere; never a number that may hold a thousands separator, H40)."""
    value = text(name, what)
    try:
        result = parse_number(value, what, decimal_comma=i18n.decimal_comma())
    except QuantityError as error:
        raise FormError(error.message) from None
    if abs(result) > 1e9:
        raise FormError(_("{what} must be a number, not “{value}”.", what=what, value=value))
    return result


def local_datetime(name: str, what: str, zone: ZoneInfo) -> datetime:
    """A time from a ``datetime-local`` field, read in the pharmacy's zone (or ISO text with its own
    offset). A wall time that the clock change makes happen twice, or not at all, is refused: only its
    UTC offset could say which instant was meant."""
    value = text(name, what)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FormError(_("{what} must be a date and time (YYYY-MM-DD HH:MM), not “{value}”.", what=what, value=value)) from None
    inputs.a_moment(moment, what)
    if moment.tzinfo is not None:
        return moment
    first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise FormError(_("{moment:%d %b %Y %H:%M} happens twice or not at all in {key} (the clocks change "
                          "that night): give the time with its UTC offset, e.g. 2026-10-25T02:30:00+01:00.", moment=moment, key=zone.key))
    return first
