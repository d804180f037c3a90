"""Print jobs: every label that goes to a printer is a job row, and a job is never lost (issue 15.5).

``bags.print_labels`` and ``preparation.in_process_label`` make the jobs in their own transaction
(numbered there, audited there); ``dispatch`` then sends each one *outside* any transaction (no lock
is held while a printer is slow) and records the outcome in a transaction of its own. A failed job
stays on the Print jobs screen with its error until someone retries it (it is rendered again from the
record, on the same printer) or cancels it with a reason.

The reprint counter (``LabelPrint``; REPRINT n) counts labels that came out *or may have*: a job is
counted when it is sent, or when it failed after bytes left (``transport.SendFailed.maybe_printed``,
or a job left queued by a stopped process). A job that failed before a byte reached the printer is
not counted, so its retry is the same label and the next real label is not a REPRINT. While a bag
has an unfinished job no second job is made for it: two owed labels could both print unmarked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import Bag, LabelPrint, PrintJob, User
from pharmacy.domain.errors import NotFound, PharmacyError
from pharmacy.domain.printjobs import OPEN, JobState, PrintJobRefused, move, seen_state
from pharmacy.i18n import _
from pharmacy.printing import label as label_pdf
from pharmacy.printing import zpl
from pharmacy.printing.in_process import InProcessLabel, render_in_process_label
from pharmacy.printing.label import LabelData
from pharmacy.printing.printers import Printer, find_printer, load_printers
from pharmacy.printing.stocks import LabelStock, load_stock
from pharmacy.printing.transport import SendFailed, send_lp, send_raw
from pharmacy.services.base import Pharmacy, actor, refusals_recorded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    id: int
    bag_serial: str
    number: int | None
    printer: str
    state: str
    error: str | None
    reply: str | None
    maybe_printed: bool = False

    @property
    def failed(self) -> bool:
        return self.state != JobState.SENT


# --- printers -----------------------------------------------------------------------------------
def configured(pharmacy: Pharmacy) -> list[Printer]:
    """The pharmacy's printers from ``<instance>/printers.toml`` (read on every call: an edit counts at once)."""
    return load_printers(pharmacy.settings.instance, pharmacy.settings.label_stock)


def printer_for(pharmacy: Pharmacy, name: str | None, stock: str | None = None) -> Printer:
    """The printer named (else ``PHARMACY_PRINTER``, else the first configured). A stock named for a real
    printer must be the one loaded in it; a PDF download takes whichever stock is asked for."""
    printer = find_printer(configured(pharmacy), name or pharmacy.settings.printer or None)
    if stock and stock != printer.stock:
        if not printer.downloads:
            raise PharmacyError(_("Printer “{name}” holds {stock} labels, not {stock_2}. Choose a printer "
                                  "loaded with {stock_2}, or print on {stock}. Nothing was printed.",
                                  name=printer.name, stock=printer.stock, stock_2=stock))
        load_stock(stock)
        printer = Printer(printer.name, printer.kind, printer.address, printer.dpi, stock, printer.language,
                          printer.timeout)
    return printer


# --- rendering for a printer ----------------------------------------------------------------------
def render_labels(printer: Printer, stock: LabelStock, items: list[LabelData]) -> bytes:
    """The labels in the printer's language at the printer's dots (``printing/zpl`` or ``printing/label``)."""
    if printer.language == "zpl":
        return zpl.labels(items, stock, printer.dpi)
    return label_pdf.render_labels(items, stock, dpi=printer.dpi)


def render_in_process(printer: Printer, stock: LabelStock, data: InProcessLabel) -> bytes:
    if printer.language == "zpl":
        return zpl.in_process_label(data, stock, printer.dpi)
    return render_in_process_label(data, stock, dpi=printer.dpi)


# --- numbering ------------------------------------------------------------------------------------
def labels_counted(session, bag_id: int) -> int:
    return session.execute(select(func.count()).select_from(LabelPrint).where(LabelPrint.bag_id == bag_id)).scalar_one()


def check_no_open_job(session, bag: Bag, except_job: int | None = None) -> None:
    """Refuse a new label for a bag whose last label is still owed (queued or failed)."""
    query = select(PrintJob).where(PrintJob.bag_id == bag.id, PrintJob.what == "label",
                                   PrintJob.state.in_([s.value for s in OPEN]))
    if except_job is not None:
        query = query.where(PrintJob.id != except_job)
    job = session.execute(query.order_by(PrintJob.id)).scalars().first()
    if job is None:
        return
    if job.state == JobState.FAILED:
        raise PrintJobRefused(
            _("Bag {serial}'s label did not print (print job {id} on {printer}: {error}). Retry that job "
              "or cancel it on the Print jobs screen before printing again. Nothing was printed.",
              serial=bag.serial, id=job.id, printer=job.printer, error=job.error), job=job.id)
    raise PrintJobRefused(_("Bag {serial}'s label is being sent to {printer} (print job {id}); wait for it "
                            "and look at the Print jobs screen. Nothing was printed.",
                            serial=bag.serial, printer=job.printer, id=job.id), job=job.id)


def next_number(session, bag: Bag) -> int:
    """The print number of the next label of this bag: labels counted + 1 (REPRINT from 2 on)."""
    check_no_open_job(session, bag)
    return labels_counted(session, bag.id) + 1


def _count(session, job: PrintJob, user_id: int, outcome: str) -> None:
    """Count the job's label in the reprint counter (``LabelPrint``) and audit it on the bag."""
    assert job.bag_id is not None and job.number is not None
    session.add(LabelPrint(bag_id=job.bag_id, number=job.number, stock=job.stock, destination=job.destination[:100],
                           job=f"job {job.id}" + (f" ({job.reply})" if job.reply else "")[:90], user_id=user_id,
                           at=clock.now()))
    new = {"number": job.number, "stock": job.stock, "printer": job.printer, "job": job.id}
    if outcome != "printed":
        new["outcome"] = outcome
    user = session.get(User, user_id)
    audit.append(session, user.username if user else "system", "label.reprint" if job.number > 1 else "label.print",
                 "bag", job.bag_id, new=new)


# --- making jobs (inside the caller's transaction) -------------------------------------------------
def add_job(session, user: User, printer: Printer, *, what: str, bag: Bag | None, serial: str,
            number: int | None, preparation_id: int | None) -> PrintJob:
    """A job for one label. A PDF download is sent at once (the PDF goes back in this response) and, for a
    bag's label, counted; a printer's job is queued for ``dispatch`` after the commit."""
    now = clock.now()
    job = PrintJob(what=what, bag_id=bag.id if bag else None, preparation_id=preparation_id, bag_serial=serial,
                   number=number, printer=printer.name, destination=printer.destination, language=printer.language,
                   stock=printer.stock, dpi=printer.dpi, state=JobState.QUEUED.value, attempts=0, maybe_printed=False,
                   created_by=user.id, created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    if printer.downloads:
        job.state, job.attempts, job.sent_at = JobState.SENT.value, 1, now
        if what == "label":
            _count(session, job, user.id, "printed")
    else:
        audit.append(session, user.username, "print_job.queue", "print_job", job.id,
                     new={"what": what, "bag": serial, "number": number, "printer": printer.name,
                          "destination": printer.destination})
    return job


# --- sending (outside any transaction) ---------------------------------------------------------------
def _send(printer: Printer, payload: bytes) -> str:
    if printer.kind == "zpl":
        host, port = printer.host_port
        return send_raw(host, port, payload, printer.timeout, status_query=printer.language == "zpl").reply
    if printer.kind == "cups":
        return send_lp(printer.address, payload, raw=printer.language == "zpl", timeout=max(printer.timeout, 10.0)).reply
    raise AssertionError("a PDF download is never dispatched")


def dispatch(pharmacy: Pharmacy, username: str, work: list[tuple[int, bytes]]) -> list[JobOutcome]:
    """Send each queued job (id, rendered bytes) to its printer and record what happened, one
    transaction per job. Never raises for a printer's fault: the job is failed, with the reason."""
    outcomes: list[JobOutcome] = []
    down: dict[str, JobOutcome] = {}  # printer → the job it did not take: a batch does not wait on it again
    for job_id, payload in work:
        outcome = _dispatch_one(pharmacy, username, job_id, payload, down)
        if outcome.failed and not outcome.maybe_printed:
            down.setdefault(outcome.printer, outcome)
        outcomes.append(outcome)
    return outcomes


def _dispatch_one(pharmacy: Pharmacy, username: str, job_id: int, payload: bytes,
                  down: dict[str, JobOutcome] | None = None) -> JobOutcome:
    with pharmacy.uow(readonly=True) as uow:
        job = uow.session.get(PrintJob, job_id)
        if job is None:
            raise NotFound(_("Print job {job_id} does not exist.", job_id=job_id))
        printer_name = job.printer
    error: SendFailed | None = None
    reply = ""
    earlier = (down or {}).get(printer_name)
    try:
        if earlier is not None:
            raise SendFailed(_("not sent: {printer} did not take job {id} just before ({error})", printer=printer_name,
                               id=earlier.id, error=earlier.error), maybe_printed=False)
        printer = find_printer(configured(pharmacy), printer_name)
        reply = _send(printer, payload)
    except SendFailed as failure:
        error = failure
    except PharmacyError as refusal:  # the printer left printers.toml, or the file broke, since the job was made
        error = SendFailed(refusal.message, maybe_printed=False)
    with pharmacy.uow() as uow:
        user = actor(uow.session, username)
        job = uow.session.execute(select(PrintJob).where(PrintJob.id == job_id).with_for_update()).scalar_one()
        now = clock.now()
        if job.state != JobState.QUEUED:  # settled as stale meanwhile (counted as may have printed): keep the word
            audit.append(uow.session, username, "print_job.late_outcome", "print_job", job.id,
                         new={"sent": error is None, "error": error.message if error else None, "state": job.state})
            outcome = _outcome(job)
            uow.commit()
            return outcome
        job.attempts, job.updated_at = job.attempts + 1, now
        if error is None:
            move(JobState(job.state), "send", job.id)
            job.state, job.sent_at, job.error, job.maybe_printed = JobState.SENT.value, now, None, False
            job.reply = reply[:200] or None
            if job.what == "label":
                _count(uow.session, job, user.id, "printed")
            else:
                audit.append(uow.session, username, "print_job.sent", "print_job", job.id,
                             new={"what": job.what, "bag": job.bag_serial, "printer": job.printer})
        else:
            move(JobState(job.state), "fail", job.id)
            job.state, job.error, job.maybe_printed = JobState.FAILED.value, error.message[:2000], error.maybe_printed
            audit.append(uow.session, username, "print_job.fail", "print_job", job.id,
                         new={"bag": job.bag_serial, "number": job.number, "printer": job.printer,
                              "error": job.error, "maybe_printed": error.maybe_printed})
            if error.maybe_printed and job.what == "label":
                _count(uow.session, job, user.id, "may have printed")
        outcome = _outcome(job)
        uow.commit()
    if error is not None:
        log.warning("print job %s failed: %s", job_id, error.message)
    return outcome


def _outcome(job: PrintJob) -> JobOutcome:
    return JobOutcome(job.id, job.bag_serial, job.number, job.printer, job.state, job.error, job.reply,
                      job.maybe_printed)


# --- the Print jobs screen -----------------------------------------------------------------------
@dataclass(frozen=True)
class JobRow:
    id: int
    what: str
    bag_serial: str
    number: int | None
    printer: str
    destination: str
    state: JobState  # as seen now (a stale queued job is seen as failed)
    attempts: int
    error: str | None
    maybe_printed: bool
    reply: str | None
    cancel_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def reprint(self) -> int:
        return (self.number or 1) - 1


# built once (issue 18: every bag page asks its jobs), with or without a bag's serial: plain rows
_JOBS = select(*PrintJob.__table__.c, User.username.label("created_by_name")).join(User, PrintJob.created_by == User.id)
_JOBS_OF = {False: _JOBS.order_by(PrintJob.id.desc()).limit(bindparam("limit")),
            True: _JOBS.where(PrintJob.bag_serial == bindparam("serial")).order_by(PrintJob.id.desc()).limit(bindparam("limit"))}


def jobs(pharmacy: Pharmacy, state: str | None = None, serial: str | None = None, limit: int = 200) -> list[JobRow]:
    """Jobs newest first; unfinished ones (failed, queued) before the rest."""
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        found = plain(uow.session, _JOBS_OF[bool(serial)], {"serial": (serial or "").strip(), "limit": limit}).all()
    rows = []
    for j in found:
        seen = seen_state(j.state, j.updated_at, now)
        stale = seen != JobState(j.state)
        rows.append(JobRow(j.id, j.what, j.bag_serial, j.number, j.printer, j.destination, seen, j.attempts,
                           j.error or (_("the process stopped while sending; it may have printed") if stale else None),
                           j.maybe_printed or stale, j.reply, j.cancel_reason, j.created_by_name, j.created_at,
                           j.updated_at))
    if state:
        rows = [row for row in rows if row.state == state]
    return sorted(rows, key=lambda row: (row.state not in OPEN, -row.id))


# --- retry and cancel ---------------------------------------------------------------------------
def _lock_job(session, job_id: int) -> PrintJob:
    job = session.execute(select(PrintJob).where(PrintJob.id == job_id).with_for_update()).scalar_one_or_none()
    if job is None:
        raise NotFound(_("Print job {job_id} does not exist.", job_id=job_id))
    return job


def _settle_stale(session, job: PrintJob, user: User) -> JobState:
    """A job left queued by a stopped process: failed, outcome unknown — counted if it is a bag's label."""
    state = seen_state(job.state, job.updated_at, clock.now())
    if state is JobState.FAILED and job.state == JobState.QUEUED:
        job.state, job.maybe_printed = JobState.FAILED.value, True
        job.error = job.error or "the process stopped while sending; it may have printed"
        audit.append(session, user.username, "print_job.fail", "print_job", job.id,
                     new={"bag": job.bag_serial, "number": job.number, "error": job.error, "maybe_printed": True})
        if job.what == "label" and not session.execute(select(LabelPrint.id).where(
                LabelPrint.bag_id == job.bag_id, LabelPrint.number == job.number)).first():
            _count(session, job, user.id, "may have printed")
    return state


def retry(pharmacy: Pharmacy, username: str, job_id: int) -> JobOutcome:
    """Send a failed job again, rendered afresh from the record on the same printer. Its number is the
    bag's next one: the same as before if it did not print, a REPRINT if it may have."""
    from pharmacy.domain.lifecycle import BAG, Event
    from pharmacy.services import bags, preparation, recalls

    with refusals_recorded(pharmacy, username, "print_job.retry", "print_job", job_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.label")
        job = _lock_job(uow.session, job_id)
        state = _settle_stale(uow.session, job, user)
        move(state, "retry", job.id)
        printer = find_printer(configured(pharmacy), job.printer)
        stock = load_stock(job.stock)
        previous = {"number": job.number, "error": job.error, "maybe_printed": job.maybe_printed}
        if job.what == "label":
            bag = bags.find_bag(uow.session, job.bag_serial, lock=True)
            recalls.check_not_recalled(uow.session, pharmacy.zone, preparation=bag.preparation)  # no label (H9)
            BAG.apply(bags.state_of(bag), Event.PRINT_LABEL, user.role, what=_("Bag {serial}", serial=bag.serial))  # H13
            check_no_open_job(uow.session, bag, except_job=job.id)
            job.number = labels_counted(uow.session, bag.id) + 1
            payload = render_labels(printer, stock, [bags.label_data(pharmacy, uow.session, bag, reprint=job.number - 1)])
        else:
            data = preparation.in_process_data(pharmacy, uow.session, job.preparation_id)
            payload = render_in_process(printer, stock, data)
        job.state, job.error, job.maybe_printed, job.updated_at = JobState.QUEUED.value, None, False, clock.now()
        audit.append(uow.session, username, "print_job.retry", "print_job", job.id,
                     old=previous, new={"number": job.number, "printer": job.printer})
        uow.commit()
    return dispatch(pharmacy, username, [(job_id, payload)])[0]


def cancel(pharmacy: Pharmacy, username: str, job_id: int, reason: str) -> JobOutcome:
    """Give up a failed job, with a reason (printed on another printer, bag destroyed …); kept, audited."""
    with refusals_recorded(pharmacy, username, "print_job.cancel", "print_job", job_id), pharmacy.uow() as uow:
        user = actor(uow.session, username, "bags.label")
        words = (reason or "").strip()
        if len(words) < 3:
            raise PharmacyError(_("Say why the job is cancelled (printed elsewhere, bag destroyed …). Nothing was changed."))
        job = _lock_job(uow.session, job_id)
        state = _settle_stale(uow.session, job, user)
        job.state = move(state, "cancel", job.id).value
        job.cancel_reason, job.updated_at = words[:2000], clock.now()
        audit.append(uow.session, username, "print_job.cancel", "print_job", job.id,
                     new={"bag": job.bag_serial, "number": job.number, "printer": job.printer}, reason=words)
        outcome = _outcome(job)
        uow.commit()
        return outcome
