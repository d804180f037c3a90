"""Why a bag is destroyed: the one list of reasons the screens offer and the service accepts.

Destroying a bag cannot be undone. The person says why (a reason from this list; "other" needs
words), confirms they have the bag in hand, and — when the bag could still be given (awaiting check,
released or stored, and in date) — a pharmacist signs it (``services/bags.dispose_bag``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.lifecycle import BAG_LIVE, BagState
from pharmacy.i18n import _, lazy, now


@dataclass(frozen=True)
class Reason:
    code: str
    text: str  # marked ``lazy``: its English is what the record keeps (``words``)
    needs_note: bool = False

    @property
    def label(self) -> str:
        """The reason as the form shows it, in the reader's language."""
        return now(self.text)


REASONS: tuple[Reason, ...] = (
    Reason("use_by_passed", lazy("Expired (use-by passed)")),
    Reason("quarantine_reviewed", lazy("Quarantine reviewed")),
    Reason("damaged", lazy("Damaged or leaking")),
    Reason("rejected_at_check", lazy("Rejected at the check")),
    Reason("contaminated", lazy("Dropped or contaminated")),
    Reason("not_needed", lazy("Not needed (patient)")),
    Reason("other", lazy("Other"), needs_note=True),
)
BY_CODE: dict[str, Reason] = {reason.code: reason for reason in REASONS}
MIN_NOTE = 5
CONFIRMATION = lazy("I have the bag in hand and it will be destroyed.")  # shown: i18n.now(CONFIRMATION)


class DisposalRefused(PharmacyError):
    """A disposal without a listed reason, without its confirmation, or without a pharmacist's
    signature for a bag that could still be given."""

    code = "disposal_refused"


def reason_for(code: str, note: str) -> Reason:
    """The listed reason ``code`` names; "other" (and any reason that needs one) with its note."""
    reason = BY_CODE.get((code or "").strip())
    if reason is None:
        raise DisposalRefused(_("Choose why the bag is destroyed from the list (expired, quarantine reviewed, "
                                "damaged or leaking …). Nothing was recorded."))
    if reason.needs_note and len((note or "").strip()) < MIN_NOTE:
        raise DisposalRefused(_("“{reason}”: say why the bag is destroyed, in a few words. Nothing was recorded.",
                                reason=reason.label))
    return reason


def words(reason: Reason, note: str) -> str:
    """The reason as the waste report and the history show it: "Damaged or leaking: port cracked";
    for "other", the words given. Recorded data: the reason's English words, whatever the screen's language
    (the record, its audit entry and the hospital's FHIR record keep one wording; ``code`` names it too)."""
    note = (note or "").strip()
    if reason.needs_note:
        return note
    english = str.__str__(reason.text)
    return f"{english}: {note}" if note else english


def still_usable(state: BagState) -> bool:
    """Whether a bag in this (effective) state could still be given: its destruction needs a
    pharmacist's signature. An expired bag is seen as expired (``inuse.effective_state``), not live."""
    return state in BAG_LIVE


_SUGGESTED = {BagState.EXPIRED: "use_by_passed", BagState.QUARANTINED: "quarantine_reviewed",
              BagState.REJECTED: "rejected_at_check"}


def suggested(state: BagState) -> str | None:
    """The reason a form preselects for a bag in this state (expired → "use_by_passed"); none for a live bag:
    the person chooses."""
    return _SUGGESTED.get(state)
