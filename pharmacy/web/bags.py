"""Bags: the list, one bag with its use-by, the label PDF, storage and disposal."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from pharmacy import clock
from pharmacy.domain import disposal
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.printjobs import OPEN
from pharmacy.i18n import _
from pharmacy.services import bags as bag_service
from pharmacy.services import coldchain, screens
from pharmacy.services import printjobs as printjob_service
from pharmacy.web import forms, printjobs
from pharmacy.web.common import get_pharmacy, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("bags", __name__, url_prefix="/bags")


LATEST_BAGS = 100  # a list that grows with every bag made shows its newest; every bag is one click away


@bp.get("/")
@permission("bags.view")
def index():
    """The bags made last, newest first (``?all=1``: every bag), with their state (expired is decided from the clock
    at each look) and use-by."""
    state = request.args.get("state") or None
    every = bag_service.list_bags(get_pharmacy(), state)[::-1]
    rows = every if request.args.get("all") == "1" else every[:LATEST_BAGS]
    if not current_user.can("patients.view"):  # an admin sees stock and fridges, never patients
        rows = [{**row, "patient_id": None} for row in rows]
    return render_template("bags/index.html", rows=rows, total=len(every), state=state,
                           show_patients=current_user.can("patients.view"))


def _show(serial: str, error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    bag = bag_service.get_bag(pharmacy, serial)
    prep = bag.preparation
    locations = bag_service.locations(pharmacy)
    return render_template(
        "bags/show.html", bag=bag, prep=prep, order=prep.order,
        patient=prep.order.patient if current_user.can("patients.view") else None,  # an admin sees no patient
        state=bag_service.state_of(bag, clock.now()),
        names=screens.user_names(pharmacy, [prep.prepared_by, prep.checked_by]), locations=locations,
        location=next((loc.name for loc in locations if loc.id == bag.location_id), None),
        product=pharmacy.product(prep.order.product_id), diluents=pharmacy.catalog.diluents, error=error,
        cold=coldchain.fridge_status(pharmacy, bag), incidents=coldchain.incidents(pharmacy, open_only=False, serial=serial),
        decisions=coldchain.DECISIONS, labels_printed=bag_service.labels_printed(pharmacy, serial), **disposal_context(),
        **label_printers(pharmacy, serial), label_confirmation=bag_service.label_status(pharmacy, bag)), status


def label_printers(pharmacy, serial: str) -> dict:
    """What the print form needs: the printers, this workstation's last choice, and the bag's jobs not printed."""
    rows, chosen, problem = printjobs.printer_choice(pharmacy)
    owed = [job for job in printjob_service.jobs(pharmacy, serial=serial) if job.state in OPEN and job.what == "label"]
    return {"printers": rows, "printer_chosen": chosen, "printer_problem": problem, "jobs_owed": owed}


def disposal_context() -> dict:
    """What the disposal form (templates/bags/_dispose.html) needs: the one list of reasons."""
    return {"disposal_reasons": disposal.REASONS, "disposal_suggested": disposal.suggested,
            "disposal_confirmation": disposal.CONFIRMATION}


@bp.get("/<serial>")
@permission("bags.view")
def show(serial: str):
    """One bag: its use-by (prominent), ingredients, and what can be done with it now."""
    return _show(serial)


@bp.post("/<serial>/label.pdf")
@permission("bags.label")
def label(serial: str):
    """The bag label as a PDF. Every print is recorded and the second says REPRINT, so printing is a
    POST with its CSRF token: a prefetch, a crawler or a link from another site cannot print one."""
    chosen = forms.text("printer", _("The printer"), required=False) or None  # none: this workstation's choice
    if chosen is None:
        chosen = printjobs.printer_choice(get_pharmacy())[1]
    printed = bag_service.print_labels(get_pharmacy(), username(), [serial], printer=chosen)
    response: WerkzeugResponse
    if not printed.jobs:  # a PDF download: the label comes back in this response
        response = send_file(BytesIO(printed.pdf), mimetype="application/pdf", as_attachment=True,
                             download_name=f"{serial}-label-{printed.prints[0][1]}.pdf", max_age=0)
        response.headers["Cache-Control"] = "no-store"
    else:  # sent to a printer (print jobs): say what happened on the bag's page
        for outcome in printed.jobs:
            printjobs.flash_outcome(outcome)
        response = redirect(url_for("bags.show", serial=serial), code=303)
    return printjobs.remember(response, printed.printer)


@bp.post("/<serial>/confirm-label")
@permission("bags.label")
def confirm_label(serial: str):
    """The printed label, stuck on the bag, scanned back: label and bag must match (H27)."""
    try:
        bag_service.confirm_label(get_pharmacy(), username(), serial, forms.raw("scan"))
    except PharmacyError as error:
        return _show(serial, error, http_status(error))
    flash(_("Label and bag {serial} match.", serial=serial), "success")
    return redirect(url_for("bags.show", serial=serial))


@bp.post("/<serial>/store")
@permission("bags.handle")
def store(serial: str):
    """Put a released bag into a storage location."""
    try:
        location = forms.text("location", _("The storage location"))
        bag_service.store(get_pharmacy(), username(), serial, location)
    except PharmacyError as error:
        return _show(serial, error, http_status(error))
    flash(_("Bag {serial} stored in {location}.", serial=serial, location=location), "success")
    return redirect(url_for("bags.show", serial=serial))


def dispose_from_form(serial: str) -> None:
    """The disposal form of the bag page and of the dashboard: a reason from the list, a note, the
    confirmation box and, for a bag that could still be given, a pharmacist's user name and password."""
    bag_service.dispose_bag(
        get_pharmacy(), username(), serial, forms.text("reason", _("The reason"), required=False),
        forms.text("note", _("The note"), required=False), confirmed=forms.checked("confirm"),
        signer=forms.text("signer", _("The pharmacist"), required=False) or None, password=forms.raw("password") or None)


@bp.post("/<serial>/take-out")
@permission("bags.handle")
def take_out(serial: str):
    """Take a stored bag out of its location (to the ward, in transit): its time out of the fridge counts."""
    try:
        destination = forms.text("destination", _("Where the bag goes"))
        bag_service.take_out(get_pharmacy(), username(), serial, destination)
    except PharmacyError as error:
        return _show(serial, error, http_status(error))
    flash(_("Bag {serial} taken out of storage ({destination}): its time out of the fridge counts from now.",
            serial=serial, destination=destination), "success")
    return redirect(url_for("bags.show", serial=serial))


@bp.post("/<serial>/cold-chain-decision")
@permission("coldchain.review")
def decide(serial: str):
    """A pharmacist's signed decision on a bag out of the fridge beyond the allowance: use or discard."""
    try:
        decision = forms.text("decision", _("The decision"))
        coldchain.decide(get_pharmacy(), username(), serial, decision, forms.text("reason", _("The reason")),
                         forms.raw("password"))
    except PharmacyError as error:
        return _show(serial, error, http_status(error))
    flash(_("Bag {serial}: may be used (decision recorded).", serial=serial) if decision == "use"
          else _("Bag {serial} discarded (decision recorded). Put it in the cytotoxic waste.", serial=serial), "success")
    return redirect(url_for("bags.show", serial=serial))


@bp.post("/<serial>/dispose")
@permission("bags.handle")
def dispose(serial: str):
    """Record a bag as destroyed: a reason from the list, confirmed, signed by a pharmacist when the
    bag could still be given."""
    try:
        dispose_from_form(serial)
    except PharmacyError as error:
        return _show(serial, error, http_status(error))
    flash(_("Bag {serial} recorded as destroyed.", serial=serial), "success")
    return redirect(url_for("bags.show", serial=serial))
