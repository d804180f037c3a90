"""Balances: the calibration record of each balance, and which one this workstation uses."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from pharmacy.devices.balance import BalanceConfig
from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _
from pharmacy.services import balances
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, today, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("devices", __name__, url_prefix="/devices")


def _page(error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    configured = BalanceConfig.parse(pharmacy.settings.balance) if pharmacy.settings.balance else None
    return render_template("devices/balances.html", rows=balances.calibrations(pharmacy), configured=configured,
                           today=today(), error=error), status


@bp.get("/balances")
@permission("devices.view")
def index():
    """Every balance with its calibration and due date; the one this workstation is configured with."""
    return _page()


@bp.post("/balances")
@permission("devices.calibrate")
def calibrate():
    """A pharmacist records a balance's calibration (a new record replaces the last; both audited)."""
    try:
        record = balances.record_calibration(
            get_pharmacy(), username(), forms.text("serial_number", _("The balance's serial number")),
            forms.text("model", _("The model")), forms.a_date("calibrated_on", _("The calibration date")),
            forms.a_date("calibration_due", _("The next calibration date")),
            forms.text("certificate", _("The certificate")))
    except PharmacyError as error:
        return _page(error, http_status(error))
    flash(_("Calibration of balance {serial_number} recorded: due {calibration_due:%d %b %Y}.",
            serial_number=record.serial_number, calibration_due=record.calibration_due), "success")
    return redirect(url_for("devices.index"))
