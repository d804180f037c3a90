"""The bedside (SPEC 2.7), for a tablet or a ward PC with a scanner: scan the bag label, then the
patient's wristband; the verdict fills the screen. Start is checked again by the service, so a bag
that expired between the scan and the touch on Start is refused. Then the infusions under way, their
end or interruption, and the observation period that follows (the product's monograph says how long)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for

from pharmacy import clock
from pharmacy.domain import dilution, identity
from pharmacy.domain import infusions as infusion_rules
from pharmacy.domain.errors import AdministrationRefused, PharmacyError
from pharmacy.i18n import _
from pharmacy.services import administration, coldchain
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
        serial = administration.bag_serial_from_scan(pharmacy, forms.text("bag", _("The bag label scan")))
        return _wristband_page(serial)
    except PharmacyError as error:
        return _bag_page(error, http_status(error))


def _verdict(verdict: administration.Verdict, status: int = 200, at_start: bool = False,
             typed_error: PharmacyError | None = None, premed_error: PharmacyError | None = None):
    pharmacy = get_pharmacy()
    bag = bag_service.get_bag(pharmacy, verdict.serial)
    return render_template("ward/verdict.html", verdict=verdict, bag=bag, patient=bag.preparation.order.patient,
                           **_pump_context(pharmacy, bag),
                           wristband=forms.raw("wristband").strip(), state=bag_service.state_of(bag),
                           now=clock.now(), at_start=at_start, typed_reasons=identity.TYPED_REASONS,
                           typed_error=typed_error, values=request.form, premed_error=premed_error,
                           cold=coldchain.fridge_status(get_pharmacy(), verdict.serial)), status


def _pump_context(pharmacy, bag) -> dict:
    """What the nurse sets and watches (large on the verdict): the pump settings from the one
    computation the label uses, and the observation after the infusion, with when it would end if
    the infusion started now."""
    monograph = pharmacy.product(bag.preparation.order.product_id)
    now = clock.now()
    return {"pump": bag_service.pump_settings_of(pharmacy, bag), "observation": dilution.display_duration(monograph.observation),
            "observe_until_if_now": administration.observation_end(
                pharmacy, bag.preparation.order.product_id, now + monograph.infusion_time)}


def _entry(wristband: str) -> identity.Entry:
    """How the wristband came in (H7): scanned when it carries a symbology identifier or the page's
    timing script said ``entry=scanned``; otherwise typed (no script, no field: typed). A typed one
    keeps the reason chosen, if any (Start refuses it without)."""
    return identity.entry(wristband, forms.raw("entry").strip(), forms.raw("typed_reason").strip(),
                          forms.raw("typed_other"), require_reason=False)


@bp.post("/check")
@permission("ward.bedside")
def check():
    """Both scans: give this bag to this patient now, or every reason not to."""
    pharmacy = get_pharmacy()
    serial = forms.text("bag", _("The bag"))
    try:
        wristband = forms.text("wristband", _("The wristband scan"))
        verdict = administration.bedside_check(pharmacy, username(), serial, wristband, _entry(wristband))
    except PharmacyError as error:
        return _wristband_page(serial, error, http_status(error))
    return _verdict(verdict)


def _premedication() -> list[infusion_rules.GivenPremedication]:
    """The pre-medication ticked as given on the verdict, each with its time (``premed_what_N``,
    ``premed_given_N``, ``premed_at_N`` as a local date and time)."""
    given, number = [], 0
    while f"premed_what_{number}" in request.form:
        what = forms.raw(f"premed_what_{number}").strip()
        if forms.checked(f"premed_given_{number}"):
            at = forms.local_datetime(f"premed_at_{number}", _("The time “{what}” was given", what=what), get_pharmacy().zone)
            given.append(infusion_rules.GivenPremedication(what, at))
        number += 1
    return given


@bp.post("/start")
@permission("ward.bedside")
def start():
    """Record the start of the infusion; the service checks everything again now."""
    pharmacy = get_pharmacy()
    serial, wristband = forms.text("bag", _("The bag")), forms.text("wristband", _("The wristband scan"))
    try:
        record = administration.start(pharmacy, username(), serial, wristband, _entry(wristband), _premedication())
    except (infusion_rules.PremedicationRequired, infusion_rules.PremedicationTimeInvalid, forms.FormError) as premed:
        try:  # the verdict again, with the pre-medication to confirm (H17)
            again = administration.bedside_check(pharmacy, username(), serial, wristband, _entry(wristband))
        except PharmacyError as error:
            return _wristband_page(serial, error, http_status(error))
        return _verdict(again, http_status(premed), premed_error=premed)
    except identity.TypedWithoutReason as typed:  # the verdict again, asking for the reason
        try:
            again = administration.bedside_check(pharmacy, username(), serial, wristband, identity.Entry(identity.TYPED))
        except PharmacyError as error:
            return _wristband_page(serial, error, http_status(error))
        return _verdict(again, http_status(typed), typed_error=typed)
    except AdministrationRefused as refused:
        verdict = administration.Verdict(False, serial, reasons=list(refused.reasons),
                                         entry=identity.Entry(identity.entry_method(wristband, forms.raw("entry").strip())))
        return _verdict(verdict, http_status(refused), at_start=True)
    except PharmacyError as error:
        return _wristband_page(serial, error, http_status(error))
    if record.interruptions:  # the bag's interrupted infusion goes on
        flash(_("Infusion of bag {serial} resumed at {resumed_at}. "
                "End it here when the bag is empty.",
                serial=serial, resumed_at=local(record.interruptions[-1]['resumed_at'], '%H:%M')), "success")
    else:
        flash(_("Infusion of bag {serial} started at {started_at}. "
                "End it here when the bag is empty.", serial=serial, started_at=local(record.started_at, '%H:%M')), "success")
    return redirect(url_for("ward.infusions"))


def _infusions(error: PharmacyError | None = None, status: int = 200, early: str | None = None):
    """``early``: the bag whose early-end reasons are shown open (its end was refused without one)."""
    now = clock.now()
    rows = overview.infusions(get_pharmacy(), now - ENDED_SHOWN)
    return render_template("ward/infusions.html", infusions=rows, now=now, error=error, early=early,
                           end_reasons=infusion_rules.END_REASONS,
                           early_fraction=infusion_rules.EARLY_END_FRACTION), status


@bp.get("/infusions")
@permission("ward.bedside")
def infusions():
    """Infusions under way (End / Interrupt), and those ended with the observation period after them."""
    return _infusions()


def _ended(serial: str, reason: str | None, detail: str | None = None):
    pharmacy = get_pharmacy()
    try:
        record = administration.end(pharmacy, username(), serial, reason, detail)
    except PharmacyError as error:
        return _infusions(error, http_status(error), early=serial)
    ended_at, until = local(record.ended_at, '%H:%M'), administration.observation_until(pharmacy, record)
    if not record.end_reason:
        flash(_("Infusion of bag {serial} ended at {ended_at}. Observe the patient until {until}.",
                serial=serial, ended_at=ended_at, until=until), "success")
    elif record.end_reason == infusion_rules.RESUMABLE_REASON:
        flash(_("Infusion of bag {serial} stopped early ({reason}) at {ended_at}. Observe the patient until {until}. "
                "It may be resumed with the same bag: scan it again.", serial=serial, reason=record.interrupted_reason,
                ended_at=ended_at, until=until), "success")
    else:
        flash(_("Infusion of bag {serial} stopped early ({reason}) at {ended_at}. Observe the patient until {until}.",
                serial=serial, reason=record.interrupted_reason, ended_at=ended_at, until=until), "success")
    return redirect(url_for("ward.infusions"))


@bp.post("/infusions/<serial>/end")
@permission("ward.bedside")
def end(serial: str):
    """The bag has run through."""
    return _ended(serial, None)


@bp.post("/infusions/<serial>/interrupt")
@permission("ward.bedside")
def interrupt(serial: str):
    """The infusion was stopped before the bag ran through, with its reason from the fixed list
    (``domain.infusions.END_REASONS``; "other" says what): an interruption leaves the bag to be resumed."""
    try:
        reason = forms.choice("reason", _("why the infusion ended early"), infusion_rules.END_REASONS)
    except PharmacyError as error:
        return _infusions(error, http_status(error), early=serial)
    return _ended(serial, reason, forms.raw("detail"))
