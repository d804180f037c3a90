"""Near misses in front of the checking pharmacist (issue 14 point 2, SAFETY.md H26).

Every refused attempt on the way to a bag (a wrong diluent scanned, 1.4 mL weighed, an expired vial)
and every deviation (a vial rejected at inspection, the syringe tared again) is shown on the check
screen above the decision. A refusal of a safety kind — the wrong thing nearly went into the bag —
must be acknowledged one by one before the bag can be released: the checker looks at the bag knowing
what nearly happened. (A rejection needs no acknowledgement: nothing leaves the pharmacy.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from pharmacy.domain.errors import Expired, PharmacyError, Recalled, VolumeOutOfTolerance, WrongDiluent, WrongProduct
from pharmacy.i18n import _, ngettext

# the refusals that mean a wrong product, diluent, volume or an unusable item reached the bench
SAFETY_CODES: frozenset[str] = frozenset(
    {WrongDiluent.code, WrongProduct.code, VolumeOutOfTolerance.code, Expired.code, Recalled.code,
     "suspected_falsification",  # services/fmd: a vial serial seen twice
     "fhir_preparation_begun"})  # services/fhir: the hospital's record cancelled or held the order meanwhile (H37)


class NearMissNotAcknowledged(PharmacyError):
    code = "near_miss_not_acknowledged"


@dataclass(frozen=True)
class NearMiss:
    """One refused attempt on the way to this bag, as the refusals record kept it."""

    id: int
    at: datetime
    username: str
    action: str
    code: str
    message: str
    entered: str | None

    @property
    def safety(self) -> bool:
        return self.code in SAFETY_CODES


@dataclass(frozen=True)
class Deviation:
    at: datetime
    username: str
    what: str


def deviations(steps: Iterable[tuple[datetime, str, str, dict[str, object]]]) -> list[Deviation]:
    """Steps that were redone or departed from the straight path: ``(at, username, step, detail)``."""
    found: list[Deviation] = []
    tares = 0
    for at, username, step, detail in steps:
        if step == "inspection" and not detail.get("passed", True):
            found.append(Deviation(at, username, _("vial rejected at inspection: {note}", note=detail.get("note", ""))))
        if step == "tare":
            tares += 1
            if tares > 1:
                found.append(Deviation(at, username, _("balance tared again (tare {number})", number=tares)))
        if step == "photo" and detail.get("replaces"):
            found.append(Deviation(at, username, _("{kind} photo retaken: the earlier photo was replaced (both are kept)",
                                                   kind=detail.get("kind", ""))))
        if step == "send_back":  # issue 14 point 5: the check returned the preparation to a step (H29)
            redo = ", ".join(_names(detail.get("redo")))
            found.append(Deviation(at, username, _("sent back to “{step}” by the check: {reason} (redone: {redo})",
                                                   step=detail.get("to", ""), reason=detail.get("reason", ""), redo=redo)))
    return found


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def superseded(steps: Iterable[tuple[int, str, dict[str, object]]]) -> set[int]:
    """The recorded steps ``(id, step, detail)`` that a later send-back made void: the step it returned to
    and every later one (a volume's tares, and the photos it set aside, with them), recorded before the
    send-back. Kept, never counted."""
    void: set[int] = set()
    earlier: list[tuple[int, str, object]] = []
    for id_, step, detail in steps:
        if step == "send_back":
            redo = set(_names(detail.get("redo")))
            if "volume" in redo:
                redo.add("tare")
            set_aside = set(_names(detail.get("photos_set_aside")))  # the photos it asked to be taken again
            void |= {i for i, name, sha in earlier if name in redo or (name == "photo" and sha in set_aside)}
        earlier.append((id_, step, detail.get("sha256")))
    return void


def check_acknowledged(near_misses: Iterable[NearMiss], acknowledged: Collection[int]) -> list[int]:
    """The safety near misses, each of which the releasing pharmacist must have acknowledged; their ids."""
    needed = [miss for miss in near_misses if miss.safety]
    missing = [miss for miss in needed if miss.id not in acknowledged]
    if missing:
        listed = "; ".join(f"({n}) {miss.message.rstrip('.')}" for n, miss in enumerate(missing, 1))
        raise NearMissNotAcknowledged(ngettext(
            "{count} safety near miss on the way to this bag is not acknowledged: {listed}. Look at the bag with this "
            "in mind, tick each one, then sign again. Nothing was recorded.",
            "{count} safety near misses on the way to this bag are not acknowledged: {listed}. Look at the bag with "
            "this in mind, tick each one, then sign again. Nothing was recorded.", len(missing), listed=listed))
    return [miss.id for miss in needed]
