"""The screens' languages (issue 16 point 8): one catalogue per language, one current language per request.

Every text a person reads — a screen, a message, a refusal — is written in English in the code and marked
for translation; the shipped translations are ``pharmacy/translations/<lang>/LC_MESSAGES/messages.po``
(read as they are, no compiled ``.mo`` to keep in step). Pure Python (Babel only): the domain and the
services mark their refusals with ``_`` and never know who reads them.

Python code: ``_("Vial {serial} expired on {date}.", serial=serial, date=day)`` — named ``{}`` fields
(str.format), the English text is the message id, the values are filled in after translation.
Templates: Jinja's i18n (``{{ _("…") }}``, ``{% trans %}…{% endtrans %}``, ``%(name)s`` fields), given by
``web/i18n.py`` the same catalogues.

The current language is a context variable: ``web/i18n.py`` sets it per request (the user's choice, else
the pharmacy's ``PHARMACY_LANGUAGE``); everything else (the CLI, the FHIR worker, tests) reads English
unless it says otherwise with ``using(lang)``. ``lazy`` marks a text in a module-level table, translated
when it is shown.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

SOURCE_LANGUAGE = "en"
# The shipped languages, in the order the language menu shows them, each in its own words.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "nl": "Nederlands", "de": "Deutsch"}
# Where a decimal comma is written (and accepted in typed quantities: domain/units.parse_quantity).
DECIMAL_COMMA = frozenset({"fr", "nl", "de"})
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("pharmacy_language", default=SOURCE_LANGUAGE)


def normalise(lang: str | None) -> str:
    """``fr_BE``, ``FR-be`` or ``fr`` → ``fr``; a language not shipped → English."""
    code = (lang or "").replace("-", "_").split("_", 1)[0].strip().lower()
    return code if code in LANGUAGES else SOURCE_LANGUAGE


def current() -> str:
    return _current.get()


def set_current(lang: str | None) -> contextvars.Token[str]:
    return _current.set(normalise(lang))


def reset(token: contextvars.Token[str]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Texts made inside this block are in ``lang`` (a label in the pharmacy's label language, a test)."""
    token = set_current(lang)
    try:
        yield current()
    finally:
        _current.reset(token)


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """English text → this language's text, for the entries the translators have filled in (fuzzy ones left out)."""
    if lang == SOURCE_LANGUAGE:
        return {}
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    from babel.messages.pofile import read_po  # only when a language other than English is first used

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    table: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        forms = tuple(message.string) if isinstance(message.string, (tuple, list)) else (message.string,)
        if isinstance(message.id, (tuple, list)):  # plural: the id and its plural, each with its form
            for number, text in enumerate(forms):
                if text:
                    table[f"{message.id[0]}\x00{message.id[1]}\x00{number}"] = str(text)
        elif forms[0]:
            table[str(message.id)] = str(forms[0])
    return table


def translate(text: str, lang: str | None = None) -> str:
    """``text`` in ``lang`` (the current language by default); English where no translation is shipped."""
    return catalogue(lang or current()).get(text, text)


def gettext(text: str, /, **values: object) -> str:
    """The marked text in the current language, its ``{name}`` fields filled with ``values``."""
    translated = translate(text)
    return translated.format(**values) if values else translated


_ = gettext


def translate_plural(singular: str, plural: str, count: int, lang: str | None = None) -> str:
    """The form of ``singular``/``plural`` for ``count`` in ``lang`` (the current language by default)."""
    lang = lang or current()
    fallback = singular if count == 1 else plural
    if lang == SOURCE_LANGUAGE:
        return fallback
    return catalogue(lang).get(f"{singular}\x00{plural}\x00{_plural_form(lang, count)}", fallback)


def ngettext(singular: str, plural: str, count: int, /, **values: object) -> str:
    """``"{count} minute"`` / ``"{count} minutes"`` by the language's plural rule; ``count`` is a field too."""
    return translate_plural(singular, plural, count).format(count=count, **values)


def _plural_form(lang: str, count: int) -> int:
    # English, French, Dutch and German have two forms; French puts 0 and 1 in the first
    if lang == "fr":
        return 0 if count in (0, 1) else 1
    return 0 if count == 1 else 1


class lazy(str):  # noqa: N801 - reads like a function where the text is marked
    """A text marked in a module-level table, translated each time it is shown (``str(text)`` or ``text.now()``).

    It is a ``str`` (its English text) so tables, sorting and tests keep working; templates and messages
    call ``now()`` (or the ``t`` template filter) where they show it.
    """

    __slots__ = ()

    def now(self) -> str:
        return translate(str.__str__(self))


def now(text: object) -> str:
    """Any text, translated if it was marked ``lazy``; anything else as it is."""
    return text.now() if isinstance(text, lazy) else str(text)


# --- numbers and dates in the reader's language ---------------------------------------------------------------------
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")


def decimal_comma(lang: str | None = None) -> bool:
    """Whether ``lang`` (the current language by default) writes a decimal comma (1,2 mL)."""
    return (lang or current()) in DECIMAL_COMMA


def decimal(text: str, lang: str | None = None) -> str:
    """The figures of a shown text (“1.2 mL”, “25.3 mL/h”) with the decimal mark of ``lang`` (the current language);
    never a thousands separator (SAFETY.md H40: a number read in the wrong locale)."""
    return _DECIMAL_POINT.sub(",", text) if decimal_comma(lang) else text


# strftime's directives and CLDR's patterns for the same fields: "%d %b %Y %H:%M" is "dd MMM yyyy HH:mm",
# which Babel writes in each language ("02 Dec 2026 18:45", "02 déc. 2026 18:45"); in English exactly as strftime.
_CLDR = {"d": "dd", "b": "MMM", "B": "MMMM", "m": "MM", "Y": "yyyy", "y": "yy", "H": "HH", "M": "mm", "S": "ss",
         "a": "EEE", "A": "EEEE", "%": "%"}
_DIRECTIVE = re.compile(r"%(.)")


@functools.cache
def cldr_pattern(fmt: str) -> str:
    """The CLDR pattern of a strftime format (letters outside the directives quoted, as CLDR wants them)."""
    parts: list[str] = []
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        parts.append(_quoted(fmt[position:match.start()]))
        if match[1] not in _CLDR:
            raise ValueError(f"strftime directive %{match[1]} has no CLDR pattern here")
        parts.append("'%'" if match[1] == "%" else _CLDR[match[1]])
        position = match.end()
    parts.append(_quoted(fmt[position:]))
    return "".join(parts)


def _quoted(literal: str) -> str:
    if not literal:
        return ""
    if not re.search(r"[A-Za-z']", literal):
        return literal
    return "'" + literal.replace("'", "''") + "'"


def format_moment(moment: datetime | date, fmt: str, lang: str | None = None) -> str:
    """A time or a day (already in the zone it is shown in) by a strftime format, in ``lang``'s words and order
    of month and day names (the current language by default)."""
    from babel.dates import format_date, format_datetime  # the first time one is shown

    locale = lang or current()
    if locale == "en":  # CLDR's English is strftime's (the C locale's names): the fast way, on every screen (issue 18)
        return moment.strftime(fmt)
    if isinstance(moment, datetime):
        return format_datetime(moment, cldr_pattern(fmt), tzinfo=moment.tzinfo, locale=locale)
    return format_date(moment, cldr_pattern(fmt), locale=locale)
