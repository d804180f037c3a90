"""The bedside (SPEC 2.7): the nurse scans the bag label and the patient's wristband; the system
refuses, in plain words, a bag that must not be given, and records the start and end of the infusion."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import Administration, Bag, Order, Patient, Preparation
from pharmacy.domain import bagid
from pharmacy.domain.errors import AdministrationRefused, NotFound, PharmacyError, ScanError, StateConflict
from pharmacy.domain.identity import NEEDS_REASON, SCANNED, Entry, TypedWithoutReason, normalise_identifier
from pharmacy.domain.infusions import (
    EARLY_END_FRACTION,
    RESUMABLE_REASON,
    EarlierInfusion,
    GivenPremedication,
    check_premedication,
    end_reason,
    start_refusals,
)
from pharmacy.domain.inuse import TooLateToStart, check_administration_window, format_local, is_expired, to_local
from pharmacy.domain.lifecycle import BAG, BAG_GIVEN, BagState, Event
from pharmacy.i18n import _
from pharmacy.services import coldchain, outbox, recalls
from pharmacy.services.bags import find_bag, label_unconfirmed, start_by_of, state_of
from pharmacy.services.base import Pharmacy, actor, refusals_recorded
from pharmacy.services.stock import read_scan

_PLAIN_SERIAL = re.compile(r"^[A-Za-z0-9-]{1,20}$")
SCANNED_ENTRY = Entry(SCANNED)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass
class Verdict:
    ok: bool
    serial: str
    patient_name: str | None = None
    use_by: str | None = None
    reasons: list[Reason] = field(default_factory=list)
    start_by: str | None = None
    # a bag that may be given now but whose START BY is near (settings.start_by_warning_minutes)
    warnings: list[Reason] = field(default_factory=list)
    # the pre-medication to confirm before the start (SmPC 4.2; none when resuming an interrupted bag)
    premedication: list[str] = field(default_factory=list)
    resume: bool = False  # the bag's interrupted infusion is resumed, not a new one started
    entry: Entry = SCANNED_ENTRY  # how the wristband came in (H7: a typed one is shown TYPED)


def bag_serial_from_scan(pharmacy: Pharmacy, raw: str) -> str:
    """The bag serial from its label's DataMatrix or GS1-128, or typed by hand from the label."""
    text = (raw or "").strip()
    in_process = bagid.in_process_serial(text)
    if in_process is not None:  # H27: the in-process label is never a label for administration
        raise ScanError(_("This is the IN-PREPARATION label of bag {in_process}: NOT FOR ADMINISTRATION. The bag has "
                          "not been released by a pharmacist. Do not give it: send it back to the pharmacy.", in_process=in_process))
    if _PLAIN_SERIAL.match(text) and not text.isdigit():
        return text
    scan = read_scan(pharmacy, text)
    if not scan.serial:
        raise ScanError(_("This barcode is not a bag label (no serial (21)). Scan the bag's label."))
    if scan.gtin not in {p.preparation_gtin for p in pharmacy.catalog.products.values()}:
        raise ScanError(_("This barcode (GTIN {gtin}) is not one of this pharmacy's bag labels.", gtin=scan.gtin))
    return scan.serial


# the bedside's statements, built once (issue 18: every scan at every bed asks them)
_PATIENT_BY_GSRN = select(Patient).where(Patient.gsrn == bindparam("gsrn"))
_PATIENT_BY_IDENTIFIER = select(Patient).where(Patient.identifier == bindparam("identifier"))
_EARLIER_INFUSIONS = (select(Administration.started_at, Administration.ended_at)
                      .join(Bag, Administration.bag_id == Bag.id).join(Preparation, Bag.preparation_id == Preparation.id)
                      .join(Order, Preparation.order_id == Order.id)
                      .where(Administration.patient_id == bindparam("patient_id"), Order.product_id == bindparam("product_id"),
                             Administration.bag_id != bindparam("bag_id")))


def _patient_from_wristband(pharmacy: Pharmacy, session, raw: str) -> Patient | None:
    text = (raw or "").strip()
    if not text:
        raise ScanError(_("Scan the patient's wristband."))
    # a GS1 wristband: with its symbology identifier, or (8018) and the 18-digit GSRN; anything else is
    # the hospital's patient identifier (which may well contain the digits 8018)
    if text.startswith("]") or (text.startswith("8018") and text[4:22].isdigit() and len(text) >= 22):
        scan = read_scan(pharmacy, text)
        if scan.gsrn:
            return session.execute(_PATIENT_BY_GSRN, {"gsrn": scan.gsrn}).scalar_one_or_none()
    return session.execute(_PATIENT_BY_IDENTIFIER, {"identifier": normalise_identifier(text)}).scalar_one_or_none()


def _reasons(pharmacy: Pharmacy, session, bag: Bag, patient: Patient | None) -> list[Reason]:
    now = clock.now()
    order = bag.preparation.order
    monograph = pharmacy.product(order.product_id)
    reasons: list[Reason] = []
    state = state_of(bag, now)
    if state == BagState.QUARANTINED:
        reasons.append(Reason("quarantined", _("QUARANTINED: this bag was taken out of use. Do not give it; return it to pharmacy.")))
    elif state == BagState.INTERRUPTED:
        pass  # resumed with the same bag: the checks below apply again (the wrong patient is one of them)
    elif state in BAG_GIVEN:
        reasons.append(Reason("already_given", _("ALREADY GIVEN: this bag has been administered already.")))
    elif state == BagState.AWAITING_CHECK:
        reasons.append(Reason("not_released", _("NOT RELEASED: a pharmacist has not checked this bag yet.")))
    elif state != BagState.EXPIRED and not BAG.allows(state, Event.START_INFUSION):
        reasons.append(Reason("not_usable", _("{state}: this bag must not be given.", state=state.label.upper())))
    if BAG.allows(state, Event.START_INFUSION) or state == BagState.INTERRUPTED:
        # H27: the final label's latest print was scanned back on this bag in the pharmacy
        unconfirmed = label_unconfirmed(session, bag)
        if unconfirmed:
            reasons.append(Reason("label_not_confirmed", unconfirmed))
    reasons += [Reason(code, message) for code, message in coldchain.bedside_reasons(pharmacy, session, bag, now)]  # H6
    reasons += [Reason(code, message) for code, message in recalls.bedside_reasons(session, pharmacy.zone, bag)]  # H9
    try:
        check_administration_window(now, bag.use_by, monograph.infusion_time, pharmacy.settings.administration_policy,
                                    pharmacy.zone)
    except TooLateToStart as error:
        reasons.append(Reason("past_start_by", _("TOO LATE TO START: {reason}", reason=error.message)))
    except PharmacyError as error:
        reasons.append(Reason("expired", _("EXPIRED: {reason}", reason=error.message)))
    if patient is None:
        reasons.append(Reason("unknown_patient", _("UNKNOWN PATIENT: the wristband matches no patient. Scan it again.")))
    elif patient.id != order.patient_id:
        reasons.append(Reason("wrong_patient", _("WRONG PATIENT: this bag is for {name} ({identifier}), not {patient} "
                                                 "({patient_identifier}).", name=order.patient.name,
                                                 identifier=order.patient.identifier, patient=patient.name,
                                                 patient_identifier=patient.identifier)))
    reasons += [Reason(r.code, r.message) for r in start_refusals(
        _earlier_infusions(session, patient.id if patient is not None else order.patient_id, order.product_id, bag.id),
        now, pharmacy.zone, monograph)]
    today = to_local(now, pharmacy.zone).date()
    if order.scheduled_on != today and state != BagState.INTERRUPTED:  # a resumed dose keeps its day
        reasons.append(Reason("other_day", _("OTHER DAY: this dose is for {day:%d %b %Y}, not today.", day=order.scheduled_on)))
    return reasons


def _earlier_infusions(session, patient_id: int, product_id: str, bag_id: int) -> list[EarlierInfusion]:
    """The patient's infusions of the product, but for this bag's own (resumed) one."""
    rows = plain(session, _EARLIER_INFUSIONS, {"patient_id": patient_id, "product_id": product_id, "bag_id": bag_id})
    return [EarlierInfusion(row.started_at, row.ended_at) for row in rows]


def _premedication_due(pharmacy: Pharmacy, bag: Bag) -> list[str]:
    if state_of(bag) == BagState.INTERRUPTED:
        return []
    order = bag.preparation.order
    return [p.what for p in pharmacy.product(order.product_id).premedication_for_day(order.course_day)]


def bedside_check(pharmacy: Pharmacy, username: str, bag_scan: str, wristband: str,
                  entry: Entry = SCANNED_ENTRY) -> Verdict:
    """Everything that stands against giving this bag to this patient now (empty list: give it).
    ``entry``: how the wristband came in, as the screen or the API saw it (``domain/identity.entry``);
    a typed one is accepted here without its reason (Start asks for it) and shown TYPED."""
    with pharmacy.uow(readonly=True) as uow:
        actor(uow.session, username, "ward.bedside")
        bag = find_bag(uow.session, bag_serial_from_scan(pharmacy, bag_scan), steps=False)
        patient = _patient_from_wristband(pharmacy, uow.session, wristband)
        reasons = _reasons(pharmacy, uow.session, bag, patient)
        latest = start_by_of(pharmacy, bag)
        return Verdict(not reasons, bag.serial, bag.preparation.order.patient.name,
                       format_local(bag.use_by, pharmacy.zone), reasons, format_local(latest, pharmacy.zone),
                       [] if reasons else start_by_warnings(pharmacy, latest, bag.use_by), entry=entry,
                       premedication=_premedication_due(pharmacy, bag), resume=state_of(bag) == BagState.INTERRUPTED)


def start_by_warnings(pharmacy: Pharmacy, latest: datetime, use_by: datetime) -> list[Reason]:
    """A warning when START BY is within ``settings.start_by_warning_minutes`` (default 30): after it
    the start is refused, so the nurse knows to start now or call pharmacy."""
    now = clock.now()
    window = timedelta(minutes=pharmacy.settings.start_by_warning_minutes)
    if is_expired(latest, now) or not is_expired(latest, now + window):
        return []
    minutes = int((latest - now).total_seconds() // 60)
    left = _("{minutes} min left", minutes=minutes) if minutes else _("less than 1 min left")
    why = (_("it would not end before the bag's use-by time ({use_by})", use_by=format_local(use_by, pharmacy.zone))
           if latest < use_by else _("the bag expires then"))
    return [Reason("start_by_soon", _("START SOON: start this infusion by {latest} ({left}). After that it is refused: {why}.",
                                      latest=format_local(latest, pharmacy.zone), left=left, why=why))]


def start(pharmacy: Pharmacy, username: str, bag_scan: str, wristband: str,
          entry: Entry = SCANNED_ENTRY, premedication: Sequence[GivenPremedication] = ()) -> Administration:
    """``entry``: how the wristband came in; the screens and the API always say (a value they cannot
    tell was scanned is typed), the default is for in-process callers that read the scan themselves.
    A typed wristband without its reason is refused (H7).

    An interrupted bag is resumed (the same record goes on; the check applies again but for its own
    infusion). Otherwise, on the course days that need it, the nurse confirms each required
    pre-medication with the time it was given (SmPC 4.2, ``domain.infusions.check_premedication``)."""
    with refusals_recorded(pharmacy, username, "administration.start", "bag", bag_scan), \
            outbox.refused_at_bedside(pharmacy, username, bag_scan), pharmacy.uow() as uow:  # FHIR not-done (H38)
        nurse = actor(uow.session, username, "ward.bedside")
        bag = find_bag(uow.session, bag_serial_from_scan(pharmacy, bag_scan), lock=True)
        patient = _patient_from_wristband(pharmacy, uow.session, wristband)
        reasons = _reasons(pharmacy, uow.session, bag, patient)
        if reasons or patient is None:  # an unknown patient is one of the reasons
            raise AdministrationRefused(reasons)
        if entry.typed and not entry.reason:  # H7: the reasons against the bag first, then this
            raise TypedWithoutReason(i18n.now(NEEDS_REASON))
        now = clock.now()
        if state_of(bag) == BagState.INTERRUPTED:
            record = _resume(uow.session, bag, nurse, username, now)
            outbox.administration_changed(pharmacy, uow.session, record, bag, "resume")  # FHIR (H38)
            uow.commit()
            return record
        order = bag.preparation.order
        required = pharmacy.product(order.product_id).premedication_for_day(order.course_day)
        given = check_premedication(required, premedication, now, pharmacy.zone)
        confirmed = [{"what": g.what, "given_at": g.given_at.astimezone(UTC).isoformat()} for g in given]
        record = Administration(bag_id=bag.id, patient_id=patient.id, started_at=now, nurse_id=nurse.id,
                                patient_entry=entry.method, patient_entry_reason=entry.reason,
                                premedication=confirmed or None)
        uow.session.add(record)
        old = bag.state
        bag.state = BAG.apply(state_of(bag), Event.START_INFUSION, nurse.role, what=_("Bag {serial}", serial=bag.serial))
        uow.session.flush()
        audit.append(uow.session, username, "administration.start", "bag", bag.id, old={"state": old},
                     new={"state": bag.state, "patient": patient.identifier, "patient_entry": entry.method,
                          "patient_entry_reason": entry.reason, "premedication": confirmed,
                          "started_at": now.astimezone(UTC).isoformat()})  # replayed by audit verify
        outbox.administration_changed(pharmacy, uow.session, record, bag, "start")  # FHIR in-progress (H38)
        uow.commit()
        return record


def _resume(session, bag: Bag, nurse, username: str, now: datetime) -> Administration:
    """The interrupted infusion goes on with the same bag (the bedside check passed again)."""
    record = _record(session, bag)
    old = bag.state
    bag.state = BAG.apply(old, Event.RESUME, nurse.role, what=_("Bag {serial}", serial=bag.serial))
    stopped = {"stopped_at": (record.ended_at or now).astimezone(UTC).isoformat(),
               "resumed_at": now.astimezone(UTC).isoformat(), "reason": record.interrupted_reason or "",
               "resumed_by": username}
    record.interruptions = [*(record.interruptions or []), stopped]
    record.ended_at = record.end_reason = record.interrupted_reason = None
    audit.append(session, username, "administration.resume", "bag", bag.id, old={"state": old},
                 new={"state": bag.state, "interrupted_at": stopped["stopped_at"]})
    return record


def _record(session, bag: Bag) -> Administration:
    record = session.execute(select(Administration).where(Administration.bag_id == bag.id)).scalar_one_or_none()
    if record is None:
        raise NotFound(_("Bag {serial} has no administration to end.", serial=bag.serial))
    return record


def running_time(record: Administration, now: datetime) -> timedelta:
    """How long the bag has run: from its start, less the time it stood interrupted."""
    paused = sum((datetime.fromisoformat(i["resumed_at"]) - datetime.fromisoformat(i["stopped_at"])
                  for i in record.interruptions or []), timedelta())
    return now - record.started_at - paused


def end(pharmacy: Pharmacy, username: str, serial: str, reason: str | None = None,
        detail: str | None = None) -> Administration:
    """The end of the infusion. Before 90 % of its planned duration it needs a reason
    (``domain.infusions.END_REASONS``); the reason RESUMABLE_REASON leaves the bag to be resumed. An interrupted
    bag that is not resumed is ended here too (its infusion stays stopped when it was)."""
    with refusals_recorded(pharmacy, username, "administration.end", "bag", serial), pharmacy.uow() as uow:
        nurse = actor(uow.session, username, "ward.bedside")
        bag = find_bag(uow.session, serial, lock=True)
        record = _record(uow.session, bag)
        old, now = bag.state, clock.now()
        if old == BagState.INTERRUPTED:
            bag.state = BAG.apply(old, Event.END_INFUSION, nurse.role, what=_("Bag {serial}", serial=bag.serial))
            audit.append(uow.session, username, "administration.end", "bag", bag.id, old={"state": old},
                         new={"state": bag.state, "not_resumed": True}, reason=record.interrupted_reason)
            outbox.administration_changed(pharmacy, uow.session, record, bag, "end")  # FHIR stopped (H38)
            uow.commit()
            return record
        if record.ended_at is not None:
            raise StateConflict(_("The infusion of bag {serial} was already ended.", serial=bag.serial))
        BAG.apply(old, Event.END_INFUSION, nurse.role, what=_("Bag {serial}", serial=bag.serial))  # refused if not under way
        monograph = pharmacy.product(bag.preparation.order.product_id)
        ran_for = running_time(record, now)
        early = end_reason(ran_for, monograph, reason, detail)
        code, words = early if early else (None, None)
        event = Event.INTERRUPT if code == RESUMABLE_REASON else Event.END_INFUSION
        bag.state = BAG.apply(old, event, nurse.role, what=_("Bag {serial}", serial=bag.serial))
        record.ended_at, record.end_reason, record.interrupted_reason = now, code, words
        action = "administration.interrupt" if event == Event.INTERRUPT else "administration.end"
        audit.append(uow.session, username, action, "bag", bag.id, old={"state": old},
                     new={"state": bag.state, "end_reason": code, "ran_minutes": int(ran_for.total_seconds() // 60),
                          "ended_at": now.astimezone(UTC).isoformat()},  # replayed by audit verify
                     reason=words)
        outbox.administration_changed(pharmacy, uow.session, record, bag, event.value)  # FHIR (H38)
        uow.commit()
        return record


def early_end_before(pharmacy: Pharmacy, record: Administration, product_id: str) -> datetime:
    """The time before which ending this running infusion is an early end (``domain.infusions``)."""
    now = clock.now()
    return now - running_time(record, now) + pharmacy.product(product_id).infusion_time * EARLY_END_FRACTION


def observation_end(pharmacy: Pharmacy, product_id: str, ended_at: datetime) -> datetime:
    """When the observation after the infusion ends (the monograph's ``infusion.observation``)."""
    return ended_at + timedelta(seconds=pharmacy.product(product_id).observation.to("second").magnitude)


def observation_until(pharmacy: Pharmacy, record: Administration) -> str | None:
    if record.ended_at is None:
        return None
    with pharmacy.uow(readonly=True) as uow:
        bag = uow.session.get(Bag, record.bag_id)
        if bag is None:
            raise NotFound(_("Bag {bag_id} does not exist.", bag_id=record.bag_id))
        product_id = bag.preparation.order.product_id
    return format_local(observation_end(pharmacy, product_id, record.ended_at), pharmacy.zone)
