"""The transactional outbox to the hospital's FHIR server (issue 17, H38).

A release, a bedside start or end, a destroyed bag: the use case that records it also writes the FHIR
resource that tells it (``MedicationDispense``, ``MedicationAdministration``) as a row of ``fhir_outbox`` in
the same transaction, so the event and its message are committed together or not at all. A worker sends
the rows in order (per resource: the start before the end), each as a conditional update
(``PUT MedicationDispense?identifier=urn:pharmacy:bag|BAG…``): sending one twice updates the same resource,
never a second one. A failure (server down, slow, 500, refused) keeps the row pending with its error and
tries again later (back-off doubling from ``FIRST_RETRY`` to ``LAST_RETRY``); nothing is ever dropped, and
``pharmacy outbox list`` shows what is waiting and why.

Nothing is queued while ``PHARMACY_FHIR_OUTBOUND_URL`` is unset (a pharmacy without a FHIR server).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db.models import Administration, Bag, FhirOutbox, User
from pharmacy.domain import fhir as mapping
from pharmacy.domain.accounts import normalise_username
from pharmacy.domain.errors import AdministrationRefused, NotFound
from pharmacy.i18n import _
from pharmacy.services import fhir
from pharmacy.services.base import Pharmacy

log = logging.getLogger(__name__)

PENDING, SENT = "pending", "sent"
FIRST_RETRY = timedelta(seconds=10)
LAST_RETRY = timedelta(hours=1)
LEASE = timedelta(minutes=2)  # a worker that died while sending: another sends the row after this
TIMEOUT_SECONDS = 10.0
BATCH = 50
FAILING_AFTER = 3  # attempts after which a row is shown as failing


# --- written by the use cases, inside their transaction ------------------------------------------------


def enqueue(pharmacy: Pharmacy, session: Session, event: str, resource: dict) -> None:
    """Queue ``resource`` in the caller's transaction (a no-op without a configured FHIR server)."""
    if not pharmacy.settings.fhir_outbound_url:
        return
    identifier = resource["identifier"][0]
    now = clock.now()
    session.add(FhirOutbox(event=event, resource_type=resource["resourceType"], resource_id=resource["id"],
                           search=f"identifier={identifier['system']}|{identifier['value']}", body=resource,
                           created_at=now, state=PENDING, attempts=0, next_attempt_at=now))


def bag_changed(pharmacy: Pharmacy, session: Session, bag: Bag, event: str, reason: str | None = None) -> None:
    """The bag was released, rejected or destroyed: its MedicationDispense (``services/fhir.DISPENSE_STATUS``)."""
    if not pharmacy.settings.fhir_outbound_url:
        return
    session.flush()
    if event == "dispose" and bag.released_at is None:
        return  # never dispensed: there is nothing to correct in the hospital's record
    enqueue(pharmacy, session, f"bag.{event}", fhir.dispense(pharmacy, session, bag, reason))


def administration_changed(pharmacy: Pharmacy, session: Session, record: Administration, bag: Bag, event: str) -> None:
    """The infusion started, was interrupted, resumed or ended: its MedicationAdministration."""
    if not pharmacy.settings.fhir_outbound_url:
        return
    session.flush()
    enqueue(pharmacy, session, f"administration.{event}", fhir.administration(pharmacy, session, record, bag))


@contextmanager
def refused_at_bedside(pharmacy: Pharmacy, username: str, bag_scan: str):
    """Around ``administration.start``, outside its transaction: a refused start (the bedside check's reasons) is
    sent as a MedicationAdministration ``not-done`` of its own, written in a transaction of its own (the start's
    was rolled back), like the refusal record itself."""
    try:
        yield
    except AdministrationRefused as refused:
        if pharmacy.settings.fhir_outbound_url:
            try:
                _bedside_refused(pharmacy, username, bag_scan, refused.message)
            except Exception:  # the refusal itself must still reach the nurse
                log.exception("FHIR outbox: could not queue the refused start of %s", bag_scan)
        raise


def _bedside_refused(pharmacy: Pharmacy, username: str, bag_scan: str, reason: str) -> None:
    from pharmacy.services.administration import bag_serial_from_scan  # administration imports this module
    from pharmacy.services.bags import find_bag

    with pharmacy.uow() as uow:
        nurse = uow.session.execute(select(User).where(User.username == normalise_username(username))).scalar_one_or_none()
        if nurse is None:
            return
        bag = find_bag(uow.session, bag_serial_from_scan(pharmacy, bag_scan))
        earlier = uow.session.execute(select(func.count()).select_from(FhirOutbox).where(
            FhirOutbox.resource_type == "MedicationAdministration",
            FhirOutbox.resource_id.like(f"{bag.serial}-R%"))).scalar_one()
        enqueue(pharmacy, uow.session, "administration.refused",
                fhir.refused_administration(pharmacy, uow.session, bag, nurse, clock.now(), reason, earlier + 1))
        uow.commit()


# --- sent by the worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str | None = None


Sender = Callable[[str, str, FhirOutbox], Outcome]


def http_send(base_url: str, token: str, row: FhirOutbox) -> Outcome:
    """A conditional update: ``PUT {base}/{type}?identifier=system|value`` (FHIR R4 3.1.0.4.3), the resource
    without our id (the server keeps its own; the identifier is the key)."""
    system, _, value = row.search.removeprefix("identifier=").partition("|")
    url = f"{base_url.rstrip('/')}/{row.resource_type}?identifier={quote(system, safe='')}|{quote(value, safe='')}"
    body = {k: v for k, v in row.body.items() if k != "id"}
    headers = {"Content-Type": mapping.FHIR_JSON, "Accept": mapping.FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - the configured server
            return Outcome(200 <= response.status < 300, response.status)
    except urllib.error.HTTPError as error:
        return Outcome(False, error.code, f"HTTP {error.code}: {_outcome_text(error.read())}")
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return Outcome(False, None, f"not reached: {getattr(error, 'reason', error)}")


def _outcome_text(raw: bytes) -> str:
    """The OperationOutcome's diagnostics or details, else the start of the body."""
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
        issues = data.get("issue") or []
        words = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code") for i in issues]
        text = "; ".join(w for w in words if w)
        if text:
            return text[:500]
    except (ValueError, AttributeError):
        pass
    return raw[:300].decode("utf-8", "replace")


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … at most an hour: a server down all night is tried hourly, and nothing is lost."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LAST_RETRY)


@dataclass(frozen=True)
class Round:
    sent: int
    failed: int
    waiting: int


def _claim(pharmacy: Pharmacy, now: datetime) -> list[int]:
    """The rows due now, the earliest pending one of each resource only (the start before the end), leased."""
    with pharmacy.uow() as uow:
        rows = uow.session.execute(select(FhirOutbox).where(FhirOutbox.state == PENDING).order_by(FhirOutbox.id)
                                   .limit(BATCH * 10).with_for_update()).scalars().all()
        seen: set[tuple[str, str]] = set()
        claimed = []
        for row in rows:
            key = (row.resource_type, row.resource_id)
            if key in seen:
                continue
            seen.add(key)
            if row.next_attempt_at > now or (row.lease_until is not None and row.lease_until > now):
                continue
            row.lease_until = now + LEASE
            claimed.append(row.id)
            if len(claimed) >= BATCH:
                break
        uow.commit()
    return claimed


def deliver(pharmacy: Pharmacy, send: Sender = http_send) -> Round:
    """One round: send what is due, record each outcome. Bounded: at most ``BATCH`` rows."""
    settings = pharmacy.settings
    if not settings.fhir_outbound_url:
        return Round(0, 0, 0)
    now = clock.now()
    sent = failed = 0
    for row_id in _claim(pharmacy, now):
        with pharmacy.uow(readonly=True) as uow:
            row = uow.session.get(FhirOutbox, row_id)
            assert row is not None
            uow.session.expunge(row)
        try:
            outcome = send(settings.fhir_outbound_url, settings.fhir_outbound_token, row)
        except Exception as error:  # a sender's bug must not stop the queue: the row stays, with the error
            log.exception("FHIR outbox: sending row %s failed", row_id)
            outcome = Outcome(False, None, f"{type(error).__name__}: {error}")
        with pharmacy.uow() as uow:
            stored = uow.session.get(FhirOutbox, row_id)
            assert stored is not None
            stored.lease_until, stored.last_status = None, outcome.status
            if outcome.ok:
                stored.state, stored.sent_at, stored.last_error = SENT, clock.now(), None
                sent += 1
            else:
                stored.attempts += 1
                stored.last_error = (outcome.error or f"HTTP {outcome.status}")[:2000]
                stored.next_attempt_at = clock.now() + retry_delay(stored.attempts)
                failed += 1
                log.warning("FHIR outbox: %s %s not delivered (attempt %s): %s", stored.resource_type,
                            stored.resource_id, stored.attempts, stored.last_error)
            uow.commit()
    return Round(sent, failed, waiting(pharmacy))


def waiting(pharmacy: Pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(FhirOutbox).where(FhirOutbox.state == PENDING)).scalar_one()


def rows(pharmacy: Pharmacy, include_sent: bool = False, limit: int = 200) -> list[dict]:
    """The outbox as a person reads it, oldest first: what waits, how often it was tried, the last error."""
    query = select(FhirOutbox).order_by(FhirOutbox.id)
    if not include_sent:
        query = query.where(FhirOutbox.state == PENDING)
    with pharmacy.uow(readonly=True) as uow:
        return [{"id": r.id, "event": r.event, "resource": f"{r.resource_type}/{r.resource_id}",
                 "status": r.body.get("status"), "state": "failing" if r.state == PENDING and r.attempts >= FAILING_AFTER
                 else r.state, "attempts": r.attempts, "created_at": r.created_at,
                 "next_attempt_at": r.next_attempt_at if r.state == PENDING else None, "sent_at": r.sent_at,
                 "last_error": r.last_error} for r in uow.session.execute(query.limit(limit)).scalars()]


def retry_now(pharmacy: Pharmacy, row_id: int | None = None) -> int:
    """Make pending rows due at once (after the FHIR server is mended); their order stays."""
    with pharmacy.uow() as uow:
        query = select(FhirOutbox).where(FhirOutbox.state == PENDING)
        if row_id is not None:
            query = query.where(FhirOutbox.id == row_id)
        found = uow.session.execute(query.with_for_update()).scalars().all()
        if row_id is not None and not found:
            raise NotFound(_("No pending outbox row {row_id} (pharmacy outbox list).", row_id=row_id))
        for row in found:
            row.next_attempt_at = clock.now()
        uow.commit()
        return len(found)


class Worker:
    """Sends the outbox every ``interval`` seconds until ``stop`` is set (or ``rounds`` are done)."""

    def __init__(self, pharmacy: Pharmacy, interval: float = 5.0, send: Sender = http_send) -> None:
        self.pharmacy, self.interval, self.send = pharmacy, interval, send
        self.stop = threading.Event()

    def run(self, rounds: int | None = None) -> None:
        done = 0
        while not self.stop.is_set() and (rounds is None or done < rounds):
            try:
                deliver(self.pharmacy, self.send)
            except Exception:  # the database away for a moment: try again next round
                log.exception("FHIR outbox round failed")
            done += 1
            if rounds is None or done < rounds:
                self.stop.wait(self.interval)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="fhir-outbox", daemon=True)
        thread.start()
        return thread


def run_until_empty(pharmacy: Pharmacy, send: Sender = http_send, rounds: int = 10, pause: float = 0.0) -> Round:
    """Rounds until nothing is due (or ``rounds`` are done): for ``pharmacy outbox run --once`` and tests. The
    counts are of all rounds, ``waiting`` of the last."""
    sent = failed = left = 0
    for _round in range(rounds):
        result = deliver(pharmacy, send)
        sent, failed, left = sent + result.sent, failed + result.failed, result.waiting
        if not result.sent and not result.failed:
            break
        if pause:
            time.sleep(pause)
    return Round(sent, failed, left)
