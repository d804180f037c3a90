"""Print jobs (every label sent to a printer, its state and error; retry or cancel) and the printers
configured in ``<instance>/printers.toml`` (read-only: the file is the configuration)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.printjobs import OPEN, JobState
from pharmacy.i18n import _
from pharmacy.printing import printers as printer_config
from pharmacy.services import printjobs
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("printjobs", __name__)

COOKIE = "pharmacy_printer"  # the workstation's last choice of printer (a name; checked on every use)


def _page(error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    state = request.args.get("state") or None
    if state not in (None, *JobState):
        state = None
    rows = printjobs.jobs(pharmacy, state)
    return render_template("printjobs/index.html", rows=rows, state=state, states=list(JobState), OPEN=OPEN,
                           open_jobs=sum(1 for row in rows if row.state in OPEN), error=error), status


@bp.get("/print-jobs")
@permission("bags.view")
def index():
    """Every print job, unfinished ones first, with the error of each failed one."""
    return _page()


@bp.post("/print-jobs/<int:job_id>/retry")
@permission("bags.label")
def retry(job_id: int):
    """Send a failed job again on its printer (rendered afresh from the record)."""
    try:
        outcome = printjobs.retry(get_pharmacy(), username(), job_id)
    except PharmacyError as error:
        return _page(error, http_status(error))
    flash_outcome(outcome)
    return redirect(url_for("printjobs.index"), code=303)


@bp.post("/print-jobs/<int:job_id>/cancel")
@permission("bags.label")
def cancel(job_id: int):
    """Give up a failed job, with a reason; it stays listed as cancelled."""
    try:
        printjobs.cancel(get_pharmacy(), username(), job_id, forms.text("reason", _("The reason"), required=False))
    except PharmacyError as error:
        return _page(error, http_status(error))
    flash(_("Print job {job_id} cancelled.", job_id=job_id), "success")
    return redirect(url_for("printjobs.index"), code=303)


def sentence(words: str | None) -> str:
    """Words ending as a sentence ends (the printer's error may end in ".", "?" or nothing)."""
    words = (words or "").strip()
    return words if words.endswith((".", "?", "!")) else words + "."


def flash_outcome(outcome: printjobs.JobOutcome) -> None:
    what = (_("bag {serial}, print {number}", serial=outcome.bag_serial, number=outcome.number) if outcome.number
            else _("bag {serial} (in-process label)", serial=outcome.bag_serial))
    if outcome.failed:
        flash(_("The label of {what} did NOT print on {printer}: {error} The job (no. {id}) "
                "is kept on the Print jobs screen: fix the printer and retry it there.",
                what=what, printer=outcome.printer, error=sentence(outcome.error), id=outcome.id), "error")
    else:
        if outcome.reply and outcome.reply != "ready":
            flash(_("The label of {what} was sent to {printer} ({reply}).", what=what, printer=outcome.printer,
                    reply=outcome.reply), "success")
        else:
            flash(_("The label of {what} was sent to {printer}.", what=what, printer=outcome.printer), "success")


@bp.get("/printers")
@permission("devices.view")
def printers():
    """The configured printers, read from the file on every look; a wrong file is shown with its error."""
    pharmacy = get_pharmacy()
    path = printer_config.printers_file(pharmacy.settings.instance)
    try:
        rows, problem = printjobs.configured(pharmacy), None
    except PharmacyError as error:
        rows, problem = [], error
    return render_template("printjobs/printers.html", rows=rows, problem=problem, path=path,
                           exists=path.is_file(), kinds=printer_config.KINDS, dpis=printer_config.SUPPORTED_DPI)


def printer_choice(pharmacy) -> tuple[list, str | None, PharmacyError | None]:
    """The printers the label form offers and the one chosen before at this workstation (its cookie)."""
    try:
        rows = printjobs.configured(pharmacy)
    except PharmacyError as error:
        return [], None, error
    remembered = request.cookies.get(COOKIE, "")
    names = [p.name for p in rows]
    default = pharmacy.settings.printer if pharmacy.settings.printer in names else names[0]
    return rows, remembered if remembered in names else default, None


@bp.app_template_global()
def label_printer_choice() -> tuple[list, str | None]:
    """For a print form: the configured printers that are not a download, and this workstation's choice
    (a wrong printers file offers none; printing then says why)."""
    rows, chosen, _ = printer_choice(get_pharmacy())
    devices = [p for p in rows if not p.downloads]
    names = [p.name for p in devices]
    return devices, chosen if chosen in names else (names[0] if names else None)


def remember(response, name: str):
    """Keep the workstation's choice for a year: a name only, checked against the file on every use."""
    response.set_cookie(COOKIE, name, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=request.is_secure, path="/")
    return response
