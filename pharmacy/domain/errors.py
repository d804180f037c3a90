"""Every refusal the system can make, as a named exception with a message a pharmacist understands.

Each class carries a stable ``code`` (for the JSON API and the audit of refusals) and the web maps
every ``PharmacyError`` to a 4xx page (the statuses are the web's business: ``web.errors.http_status``);
nothing here is ever shown as a stack trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from pharmacy.i18n import now


class Explained(Protocol):
    """One reason of a refusal that lists several (a course rule, a bedside check)."""

    @property
    def code(self) -> str: ...

    @property
    def message(self) -> str: ...


class PharmacyError(Exception):
    """Base of every refusal. ``message`` is for the person at the bench, in the current language: a text
    marked ``lazy`` (a module-level constant) is translated when the refusal is made."""

    code = "refused"

    def __init__(self, message: str, **details: object) -> None:
        message = now(message)
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


# --- data files -------------------------------------------------------------------------------
class MonographError(PharmacyError):
    """A product monograph file is wrong; the message names the file and the field."""

    code = "monograph_invalid"


class LabelStockError(PharmacyError):
    """A label stock file is wrong; the message names the file and the field."""

    code = "label_stock_invalid"


# --- user input --------------------------------------------------------------------------------
class QuantityError(PharmacyError):
    """A typed quantity is missing its unit, has the wrong dimension, or is out of range."""

    code = "quantity_invalid"


class ScanError(PharmacyError):
    """A scanned barcode could not be read as the GS1 data it must be."""

    code = "scan_malformed"


class CheckDigitError(ScanError):
    code = "check_digit_invalid"


class VolumeOutOfTolerance(PharmacyError):
    code = "volume_out_of_tolerance"


class WrongDiluent(PharmacyError):
    code = "wrong_diluent"


class WrongProduct(PharmacyError):
    code = "wrong_product"


class Expired(PharmacyError):
    code = "expired"


class UnknownProduct(PharmacyError):
    code = "unknown_gtin"


class NotFound(PharmacyError):
    code = "not_found"


class DuplicateSerial(PharmacyError):
    """A serial number seen before: for a single-use vial this is a falsification alert (FMD)."""

    code = "serial_already_known"


class Recalled(PharmacyError):
    """A vial lot, vial serial or diluent lot is under an active recall: it is refused at every step
    (receipt, scans, signature, release, label, bedside) until a pharmacist lifts the recall."""

    code = "recalled"


class StateConflict(PharmacyError):
    """The object is not in the state this step needs (double submit, stale form, wrong order)."""

    code = "state_conflict"


class CourseRuleBreach(PharmacyError):
    """An order breaks SmPC 4.2 course rules; a pharmacist may override with a written reason."""

    code = "course_rule_breach"

    def __init__(self, violations: Iterable[Explained]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(v.message for v in self.violations), violations=self.violations)


class SeparationOfDuties(PharmacyError):
    code = "separation_of_duties"


class NotAllowed(PharmacyError):
    code = "forbidden"


class AuthenticationFailed(PharmacyError):
    code = "authentication_failed"


class AdministrationRefused(PharmacyError):
    """The bedside check failed; ``reasons`` lists every reason, each plain enough to read aloud."""

    code = "administration_refused"

    def __init__(self, reasons: Iterable[Explained]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(r.message for r in self.reasons), reasons=self.reasons)
