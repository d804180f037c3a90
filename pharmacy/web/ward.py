"""The bedside (SPEC 2.7), for a tablet or a ward PC with a scanner: scan the bag label, then the
patient's wristband; the verdict fills the screen. Start is checked again by the service, so a bag
that expired between the scan and the touch on Start is refused. Then the infusions under way, their
end or interruption, and the observation period that follows (the product's monograph says how long)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, url_for

from pharmacy import clock
from pharmacy.domain.errors import AdministrationRefused, PharmacyError
from pharmacy.services import administration
from pharmacy.services import bags as bag_service
from pharmacy.services import dashboard as overview
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, local, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("ward", __name__, url_prefix="/ward")
ENDED_SHOWN = timedelta(hours=24)  # ended infusions stay on the list this long


def _bag_page(error: PharmacyError | None = None, status: int = 200):
    return render_template("ward/bag.html", error=error), status


@bp.get("/")
@permission("ward.bedside")
def index():
    """Step 1: scan the bag label."""
    return _bag_page()


def _wristband_page(serial: str, error: PharmacyError | None = None, status: int = 200):
    bag = bag_service.get_bag(get_pharmacy(), serial)
    return render_template("ward/wristband.html", bag=bag, patient=bag.preparation.order.patient, error=error), status


@bp.post("/bag")
@permission("ward.bedside")
def scan_bag():
    """The bag label read (DataMatrix, GS1-128 or the serial typed): step 2, the wristband."""
    pharmacy = get_pharmacy()
    try:
        serial = administration.bag_serial_from_scan(pharmacy, forms.text("bag", "The bag label scan"))
        return _wristband_page(serial)
    except PharmacyError as error:
        return _bag_page(error, http_status(error))


def _verdict(verdict: administration.Verdict, status: int = 200, at_start: bool = False):
    bag = bag_service.get_bag(get_pharmacy(), verdict.serial)
    return render_template("ward/verdict.html", verdict=verdict, bag=bag, patient=bag.preparation.order.patient,
                           wristband=forms.raw("wristband").strip(), state=bag_service.state_of(bag),
                           now=clock.now(), at_start=at_start), status


@bp.post("/check")
@permission("ward.bedside")
def check():
    """Both scans: give this bag to this patient now, or every reason not to."""
    pharmacy = get_pharmacy()
    serial = forms.text("bag", "The bag")
    try:
        verdict = administration.bedside_check(pharmacy, username(), serial, forms.text("wristband", "The wristband scan"))
    except PharmacyError as error:
        return _wristband_page(serial, error, http_status(error))
    return _verdict(verdict)


@bp.post("/start")
@permission("ward.bedside")
def start():
    """Record the start of the infusion; the service checks everything again now."""
    pharmacy = get_pharmacy()
    serial, wristband = forms.text("bag", "The bag"), forms.text("wristband", "The wristband scan")
    try:
        record = administration.start(pharmacy, username(), serial, wristband)
    except AdministrationRefused as refused:
        verdict = administration.Verdict(False, serial, reasons=list(refused.reasons))
        return _verdict(verdict, http_status(refused), at_start=True)
    except PharmacyError as error:
        return _wristband_page(serial, error, http_status(error))
    flash(f"Infusion of bag {serial} started at {local(record.started_at, '%H:%M')}. "
          "End it here when the bag is empty.", "success")
    return redirect(url_for("ward.infusions"))


def _infusions(error: PharmacyError | None = None, status: int = 200):
    now = clock.now()
    return render_template("ward/infusions.html", infusions=overview.infusions(get_pharmacy(), now - ENDED_SHOWN),
                           now=now, error=error), status


@bp.get("/infusions")
@permission("ward.bedside")
def infusions():
    """Infusions under way (End / Interrupt), and those ended with the observation period after them."""
    return _infusions()


def _ended(serial: str, reason: str | None):
    pharmacy = get_pharmacy()
    try:
        record = administration.end(pharmacy, username(), serial, reason)
    except PharmacyError as error:
        return _infusions(error, http_status(error))
    what = "interrupted" if reason else "ended"
    flash(f"Infusion of bag {serial} {what} at {local(record.ended_at, '%H:%M')}. Observe the patient until "
          f"{administration.observation_until(pharmacy, record)}.", "success")
    return redirect(url_for("ward.infusions"))


@bp.post("/infusions/<serial>/end")
@permission("ward.bedside")
def end(serial: str):
    """The bag has run through."""
    return _ended(serial, None)


@bp.post("/infusions/<serial>/interrupt")
@permission("ward.bedside")
def interrupt(serial: str):
    """The infusion was stopped before the bag ran through, with the reason (reaction, line problem …)."""
    try:
        reason = forms.text("reason", "The reason for the interruption")
    except PharmacyError as error:
        return _infusions(error, http_status(error))
    return _ended(serial, reason)
