"""Suspected falsified packs (EU FMD): a vial serial seen again.

A pack's serial is unique. Seen a second time — at a receipt, or scanned at the vial step although
that vial is already used, in use or rejected — one of the two packs may be a falsification. The
receipt or the scan is refused; the incident is recorded in a transaction of its own (the refusal
rolls the act back, the incident must stay), the vial already known is set aside as suspect if it is
still in stock (one in use or used stays as it is: the incident names it), and the dashboard shows the
open incidents to pharmacists, who resolve them with a note.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.models import FalsificationIncident, User, Vial
from pharmacy.domain.errors import DuplicateSerial, NotFound, PharmacyError, StateConflict
from pharmacy.domain.lifecycle import VIAL, Event, VialState
from pharmacy.i18n import _, lazy
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

log = logging.getLogger(__name__)

RECEIPT, VIAL_STEP = "receipt", "vial step"
# how a pharmacist closes an incident: the pack already known returns to stock, or stays out of use
OUTCOMES = {"genuine": lazy("Checked: genuine, the vial returns to stock"),
            "falsified": lazy("Falsified or not verifiable: kept out of use, reported to the authority")}
MIN_NOTE = 10
# a vial in one of these states scanned again at the vial step: the serial is in two hands
SEEN_AGAIN = (VialState.IN_USE, VialState.USED, VialState.REJECTED)


@dataclass(frozen=True)
class Sighting:
    """A serial seen again: what the scan said, where and by whom."""

    gtin: str
    serial: str
    lot: str | None
    seen_at: str  # RECEIPT or VIAL_STEP
    username: str
    preparation_id: int | None = None


class SuspectedFalsification(DuplicateSerial):
    """At a receipt: the serial is known already. The refusal carries the sighting, recorded by
    ``recorded`` after the receipt's transaction is rolled back."""

    code = "suspected_falsification"

    def __init__(self, message: str, sighting: Sighting, **details: object) -> None:
        super().__init__(message, **details)
        self.sighting = sighting


class SuspectVialScanned(StateConflict):
    """At the vial step: a vial already used, in use or rejected is scanned again."""

    code = "suspected_falsification"

    def __init__(self, message: str, sighting: Sighting, **details: object) -> None:
        super().__init__(message, **details)
        self.sighting = sighting


ALERT = lazy("the pack is set aside as a suspected falsification: do not use it, put it in quarantine. A pharmacist "
             "was alerted on the dashboard and the incident is recorded (EU FMD).")


def record(pharmacy: Pharmacy, sighting: Sighting) -> int | None:
    """Record the incident, and set the known vial aside if it is still in stock, in a transaction
    of its own; audited. Never hides the refusal it comes with: a failure here is logged."""
    try:
        with pharmacy.uow() as uow:
            known = select(Vial).where(Vial.gtin == sighting.gtin, Vial.serial == sighting.serial)
            vial = uow.session.execute(known).scalar_one_or_none()
            # lock the vial only to set it aside: a vial in use is locked by its own preparation's steps, and
            # waiting for it while holding it (PostgreSQL) deadlocked a bench scanning at the same moment
            if vial is not None and VIAL.allows(vial.state, Event.SUSPECT):
                vial = uow.session.execute(known.with_for_update()).scalar_one()
            before = vial.state if vial is not None else None
            incident = FalsificationIncident(
                gtin=sighting.gtin, serial=sighting.serial, lot=sighting.lot, seen_at=sighting.seen_at,
                username=sighting.username, at=clock.now(), vial_id=vial.id if vial else None, vial_state=before,
                preparation_id=sighting.preparation_id)
            uow.session.add(incident)
            uow.session.flush()
            if vial is not None and VIAL.allows(vial.state, Event.SUSPECT):
                vial.state = VIAL.apply(vial.state, Event.SUSPECT)
                audit.append(uow.session, sighting.username, "vial.suspect", "vial", vial.id, old={"state": before},
                             new={"state": vial.state, "incident": incident.id},
                             reason=f"serial seen again at the {sighting.seen_at}")
            audit.append(uow.session, sighting.username, "fmd.incident", "fmd_incident", incident.id, new={
                "gtin": sighting.gtin, "serial": sighting.serial, "lot": sighting.lot, "seen_at": sighting.seen_at,
                "vial": vial.id if vial else None, "vial_state": before, "preparation": sighting.preparation_id})
            uow.commit()
            return incident.id
    except Exception:  # the refusal itself must still reach the person at the bench
        log.exception("could not record the falsification incident for serial %s", sighting.serial)
        return None


@dataclass(frozen=True)
class Incident:
    id: int
    at: datetime
    gtin: str
    serial: str
    lot: str | None
    seen_at: str
    username: str
    vial_state: VialState | None
    vial_state_now: VialState | None
    preparation_id: int | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: str | None
    note: str | None

    @property
    def outcome_words(self) -> str:
        return i18n.now(OUTCOMES.get(self.outcome or "", ""))


def incidents(pharmacy: Pharmacy, open_only: bool = True) -> list[Incident]:
    """The incidents, newest first (only the unresolved ones unless ``open_only`` is false)."""
    query = (select(FalsificationIncident, Vial.state, User.full_name)
             .outerjoin(Vial, Vial.id == FalsificationIncident.vial_id)
             .outerjoin(User, User.id == FalsificationIncident.resolved_by)
             .order_by(FalsificationIncident.at.desc(), FalsificationIncident.id.desc()))
    if open_only:
        query = query.where(FalsificationIncident.resolved_at.is_(None))
    with pharmacy.uow(readonly=True) as uow:
        return [Incident(i.id, i.at, i.gtin, i.serial, i.lot, i.seen_at, i.username, i.vial_state, state_now,
                         i.preparation_id, i.resolved_at, resolver, i.outcome, i.note)
                for i, state_now, resolver in uow.session.execute(query).all()]


def resolve(pharmacy: Pharmacy, username: str, incident_id: int, outcome: str, note: str) -> None:
    """A pharmacist closes an incident with a note: "genuine" returns a suspect vial to stock,
    "falsified" keeps it out of use. Audited."""
    with refusals_recorded(pharmacy, username, "fmd.resolve", "fmd_incident", incident_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "fmd.resolve")
        incident = uow.session.execute(select(FalsificationIncident).where(FalsificationIncident.id == incident_id)
                                       .with_for_update()).scalar_one_or_none()
        if incident is None:
            raise NotFound(_("No suspected falsification incident number {incident_id}.", incident_id=incident_id))
        if incident.resolved_at is not None:
            raise StateConflict(_("Incident {incident_id} was resolved already. Nothing was recorded.", incident_id=incident_id))
        if outcome not in OUTCOMES:
            raise PharmacyError(_("Choose the outcome: the pack is genuine, or falsified / not verifiable."))
        if len((note or "").strip()) < MIN_NOTE:
            raise PharmacyError(_("Say what was checked (national verification system, supplier, the two packs), "
                                  "in a sentence. Nothing was recorded."))
        vial = uow.session.get(Vial, incident.vial_id) if incident.vial_id else None
        if outcome == "genuine" and vial is not None and VIAL.allows(vial.state, Event.CLEAR_SUSPICION):
            old = vial.state
            vial.state = VIAL.apply(old, Event.CLEAR_SUSPICION, user.role, what=_("Vial serial {serial}", serial=vial.serial))
            audit.append(uow.session, username, "vial.clear_suspicion", "vial", vial.id, old={"state": old},
                         new={"state": vial.state, "incident": incident.id}, reason=note.strip())
        incident.resolved_by, incident.resolved_at = user.id, clock.now()
        incident.outcome, incident.note = outcome, note.strip()
        audit.append(uow.session, username, "fmd.resolve", "fmd_incident", incident.id,
                     new={"outcome": outcome}, reason=note.strip())
        uow.commit()
