"""Balances: the workstation's configured balance, and the calibration a pharmacist records for each.

A reading counts only from a balance the pharmacy knows by its serial number (as the balance itself
reports it) and whose calibration is not past due. Talking to the balance happens outside any
database transaction: a balance that takes its time to settle must not hold the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Balance, User
from pharmacy.devices import balance as device
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.inuse import to_local
from pharmacy.domain.monograph import Monograph
from pharmacy.i18n import _
from pharmacy.services.base import Pharmacy, actor, refusals_recorded


class NoBalance(PharmacyError):
    code = "no_balance"


class BalanceNotCalibrated(PharmacyError):
    code = "balance_not_calibrated"


@dataclass(frozen=True)
class Calibration:
    serial_number: str
    model: str
    calibrated_on: date
    calibration_due: date
    certificate: str
    recorded_by: str

    def due_in_days(self, today: date) -> int:
        return (self.calibration_due - today).days


def weighs(pharmacy: Pharmacy, monograph: Monograph) -> bool:
    """Whether this product's volume is weighed here: the monograph asks for it, the pharmacy has a
    validated density for it, and this installation has a balance. Otherwise the volume is typed and
    shown as unweighed."""
    return monograph.weigh != "none" and monograph.density is not None and bool(pharmacy.settings.balance)


def why_unweighed(pharmacy: Pharmacy, monograph: Monograph) -> str:
    """In words, for the volume screen and the check screen: why a typed volume was accepted."""
    if monograph.weigh == "none":
        return _("the {brand} monograph does not ask for weighing", brand=monograph.brand)
    if monograph.density is None:
        return _("no validated density for {brand} in the pharmacy's densities.toml", brand=monograph.brand)
    if not pharmacy.settings.balance:
        return _("no balance is configured at this workstation (PHARMACY_BALANCE)")
    return ""


def connect(pharmacy: Pharmacy) -> device.Balance:
    if not pharmacy.settings.balance:
        raise NoBalance(_("No balance is configured at this workstation (PHARMACY_BALANCE)."))
    return device.connect(pharmacy.settings.balance)


def _today(pharmacy: Pharmacy) -> date:
    return to_local(clock.now(), pharmacy.zone).date()


def check_calibrated(session, pharmacy: Pharmacy, serial_number: str) -> Balance:
    """The balance must be known and within its calibration; the refusal says what to do."""
    row = session.execute(select(Balance).where(Balance.serial_number == serial_number)).scalar_one_or_none()
    if row is None:
        raise BalanceNotCalibrated(_("Balance {serial_number} has no calibration record: its readings cannot count. "
                                     "A pharmacist records its calibration (Balances screen) before it is used.",
                                     serial_number=serial_number))
    today = _today(pharmacy)
    if row.calibration_due < today:
        raise BalanceNotCalibrated(_("Balance {serial_number} was due for calibration on {calibration_due:%d %b %Y}: "
                                     "its readings cannot count. Use a calibrated balance, or have this one "
                                     "calibrated and recorded by a pharmacist.",
                                     serial_number=serial_number, calibration_due=row.calibration_due))
    return row


def record_calibration(pharmacy: Pharmacy, username: str, serial_number: str, model: str, calibrated_on: date,
                       calibration_due: date, certificate: str) -> Calibration:
    """A pharmacist records a balance's calibration (a new one replaces the last; both are audited)."""
    serial_number, model, certificate = (serial_number or "").strip(), (model or "").strip(), (certificate or "").strip()
    with refusals_recorded(pharmacy, username, "balance.calibrate", "balance", serial_number[:40]), pharmacy.uow() as uow:
        user = actor(uow.session, username, "devices.calibrate")
        if not serial_number or len(serial_number) > 40:
            raise PharmacyError(_("The balance's serial number is 1–40 characters, as the balance reports it."))
        if not model or len(model) > 100:
            raise PharmacyError(_("Give the balance's model (1–100 characters)."))
        if not certificate or len(certificate) > 100:
            raise PharmacyError(_("Give the calibration certificate's number or reference (1–100 characters)."))
        today = _today(pharmacy)
        if calibrated_on > today:
            raise PharmacyError(_("The calibration date cannot be in the future."))
        if calibration_due <= calibrated_on:
            raise PharmacyError(_("The next calibration must be due after the calibration date."))
        if calibration_due < today:
            raise PharmacyError(_("A calibration due on {calibration_due:%d %b %Y} has already run out: record the "
                                  "balance's latest calibration.", calibration_due=calibration_due))
        if (calibration_due - calibrated_on).days > 400:
            raise PharmacyError(_("A balance is calibrated at least once a year: the due date is more than 400 days "
                                  "after the calibration."))
        row = uow.session.execute(select(Balance).where(Balance.serial_number == serial_number)
                                  .with_for_update()).scalar_one_or_none()
        old = None
        if row is None:
            row = Balance(serial_number=serial_number)
            uow.session.add(row)
        else:
            old = {"calibrated_on": row.calibrated_on, "calibration_due": row.calibration_due,
                   "certificate": row.certificate}
        row.model, row.calibrated_on, row.calibration_due, row.certificate = model, calibrated_on, calibration_due, certificate
        row.recorded_by, row.recorded_at = user.id, clock.now()
        uow.session.flush()
        audit.append(uow.session, username, "balance.calibrate", "balance", row.id, old=old, new={
            "serial_number": serial_number, "model": model, "calibrated_on": calibrated_on,
            "calibration_due": calibration_due, "certificate": certificate})
        uow.commit()
        return Calibration(serial_number, model, calibrated_on, calibration_due, certificate, user.full_name)


def calibrations(pharmacy: Pharmacy) -> list[Calibration]:
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(select(Balance, User.full_name).join(User, Balance.recorded_by == User.id)
                                   .order_by(Balance.serial_number)).all()
        return [Calibration(b.serial_number, b.model, b.calibrated_on, b.calibration_due, b.certificate, name)
                for b, name in rows]
