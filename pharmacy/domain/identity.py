"""Who the patient is (SAFETY.md H7, H16): one spelling of a patient identifier, names compared the way
a person reads them, and a wristband typed by hand told apart from one scanned.

The identifier rule (stored, looked up, migrated the same way): Unicode NFKC (full-width letters and
digits become plain ones), every white-space character removed (also inside: ``H6 A`` is ``H6A``),
upper case. So ``h6-a``, `` H6-A `` and ``Ｈ６-Ａ`` are the one identifier ``H6-A``. Punctuation is kept
(``H6-A`` and ``H6A`` stay two identifiers: a hospital may use both).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.gs1 import GS1_SYMBOLOGIES
from pharmacy.i18n import _, lazy

SCANNED = "scanned"
TYPED = "typed"
ENTRY_METHODS = (SCANNED, TYPED)

# Why a wristband was typed instead of scanned: the short list the bedside offers (shown: i18n.now(words);
# recorded: the English words, ``typed_reason``).
TYPED_REASONS: dict[str, str] = {
    "wristband_unreadable": lazy("Wristband unreadable"),
    "scanner_broken": lazy("Scanner broken"),
    "other": lazy("Other"),
}
OTHER = "other"
MIN_OTHER_REASON = 5


NEEDS_REASON = lazy("TYPED: the wristband was typed by hand, not scanned. Scan the wristband, or say why it was typed "
                     "(wristband unreadable, scanner broken, other). Nothing was recorded.")


class TypedWithoutReason(PharmacyError):
    """A patient identifier typed by hand at the bedside, with no reason given."""

    code = "typed_wristband_needs_reason"


class LookalikePatient(PharmacyError):
    """A new patient with the name and date of birth of a patient known under another identifier."""

    code = "lookalike_patient"


class WristbandNumberTaken(PharmacyError):
    """A wristband number (GSRN) that belongs to another patient already."""

    code = "gsrn_of_another_patient"


def normalise_identifier(text: str | None) -> str:
    """The one spelling of a patient identifier (see the module's rule)."""
    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(folded.split()).upper()


def name_key(name: str | None) -> str:
    """A name as compared for look-alikes: NFKC, case folded, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def has_symbology_identifier(raw: str | None) -> bool:
    """The value begins with the GS1 symbology identifier a scanner sends (``]d2``, ``]C1``, ``]Q3``…):
    a person typing at a keyboard does not type that."""
    return (raw or "").lstrip("\r\n\t ")[:3] in GS1_SYMBOLOGIES


@dataclass(frozen=True)
class Entry:
    """How a patient identifier came in at the bedside; ``reason`` (text) only when typed."""

    method: str
    reason: str | None = None

    @property
    def typed(self) -> bool:
        return self.method == TYPED


def entry_method(raw: str | None, said: str | None) -> str:
    """Scanned when the value carries a symbology identifier or the screen's timing said so;
    anything else (nothing said, a word we do not know) is typed: fail safe."""
    if has_symbology_identifier(raw) or said == SCANNED:
        return SCANNED
    return TYPED


def typed_reason(code: str | None, other: str | None = None) -> str:
    """The reason for a typed wristband as recorded, from the short list (``other`` needs its words)."""
    code = (code or "").strip()
    if not code:
        raise TypedWithoutReason(NEEDS_REASON)
    if code not in TYPED_REASONS:
        raise TypedWithoutReason(_("“{code}” is not a reason for a typed wristband: choose one of {codes}.",
                                   code=code, codes=", ".join(TYPED_REASONS)))
    if code == OTHER:
        words = " ".join((other or "").split())
        if len(words) < MIN_OTHER_REASON:
            raise TypedWithoutReason(_("TYPED: say in a few words why the wristband was typed by hand "
                                       "(at least {count} characters). Nothing was recorded.", count=MIN_OTHER_REASON))
        return f"{str.__str__(TYPED_REASONS[OTHER])}: {words}"
    return str.__str__(TYPED_REASONS[code])  # recorded: the English words


def entry(raw: str | None, said: str | None, reason_code: str | None = None, other: str | None = None,
          *, require_reason: bool = True) -> Entry:
    """How the wristband came in; a typed one needs its reason (``require_reason``) or is refused."""
    method = entry_method(raw, said)
    if method == SCANNED:
        return Entry(SCANNED)
    if not require_reason and not (reason_code or "").strip():
        return Entry(TYPED)
    return Entry(TYPED, typed_reason(reason_code, other))
