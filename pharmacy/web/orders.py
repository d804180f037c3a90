"""Dose orders: entry, pharmacist verification with the pre-medication plan, cancelling and holding an
order with a reason, and the day's worklist."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from pharmacy import i18n
from pharmacy.domain import bagid
from pharmacy.domain.errors import CourseRuleBreach, PharmacyError
from pharmacy.domain.identity import LookalikePatient
from pharmacy.domain.lifecycle import PREP_ACTIVE, OrderState, PrepState
from pharmacy.i18n import _, lazy
from pharmacy.services import orders, preparation, screens
from pharmacy.web import forms
from pharmacy.web.check import awaiting_rows
from pharmacy.web.common import get_pharmacy, today, username
from pharmacy.web.errors import http_status
from pharmacy.web.prep import SHORT as STEP_SHORT
from pharmacy.web.prep import TITLES as STEP_TITLES
from pharmacy.web.security import permission

bp = Blueprint("orders", __name__)
WORKLIST_TOP = 40  # rows a technician can take in at a glance; the rest is one click away


@bp.get("/worklist")
@permission("worklist.view")
def worklist():
    """Today's verified orders (under way first, then urgent, then oldest) and the bags waiting for their
    check. The top of the list is shown; ``?all=1`` shows every order of the day."""
    pharmacy = get_pharmacy()
    show_all = request.args.get("all") == "1"
    todo = orders.worklist(pharmacy, today(), None if show_all else WORKLIST_TOP)
    total = len(todo) if show_all or len(todo) < WORKLIST_TOP else orders.worklist_size(pharmacy, today())
    preps = screens.active_preparations(pharmacy, [o.id for o in todo])
    returned = screens.sent_back(pharmacy, [p.id for p in preps.values()])  # sent back by the check, to redo (H29)
    names = screens.user_names(pharmacy, [*(p.prepared_by for p in preps.values()), *(r["user_id"] for r in returned.values())])
    rows = []
    for order in todo:
        prep = preps.get(order.id)
        back = returned.get(prep.id) if prep else None
        rows.append({"order": order, "prep": prep, "step": preparation.NEXT_STEP.get(prep.state) if prep else None,
                     "use_by": screens.provisional_use_by(pharmacy, prep, order.product_id) if prep else None,
                     "preparer": names.get(prep.prepared_by) if prep else None,
                     "sent_back": back, "sent_back_by": names.get(back["user_id"], "") if back else None})
    return render_template("orders/worklist.html", rows=rows, total=total, checks=awaiting_rows(pharmacy), day=today(),
                           step_titles={k: i18n.now(v) for k, v in STEP_TITLES.items()},
                           step_short={k: i18n.now(v) for k, v in STEP_SHORT.items()})


@bp.post("/worklist/open")
@permission("prep.work")  # it may start a preparation: a change, refused (403) to a reader such as an auditor
def open_scanned():
    """Open from the worklist what was scanned or typed into its box: the patient's wristband or the
    order number opens (starts or resumes) that order's preparation; a bag's in-process label opens
    its preparation, or its check once signed. Anything else goes back to the worklist saying why."""
    pharmacy = get_pharmacy()
    code = forms.raw("code").strip()
    try:
        match = screens.worklist_lookup(pharmacy, today(), code)
    except PharmacyError as error:
        return _back_to_worklist(error.message)
    prep = match.prep
    if prep is not None:
        if prep.state == PrepState.SIGNED and current_user.can("check.view"):
            return redirect(url_for("check.review", prep_id=prep.id, bag_scan=code))
        if prep.state in PREP_ACTIVE and current_user.can("prep.work"):
            return redirect(url_for("prep.show", prep_id=prep.id))
        return _back_to_worklist(_("Bag {serial} is at “{state}”: nothing to open for it here.",
                                   serial=bagid.bag_serial(prep.id), state=prep.state.label))
    if not match.orders:
        return _back_to_worklist(_("“{code}” names no order on today's worklist: scan the patient's wristband or type "
                                   "the order number (#12) shown on the worklist.", code=code))
    if len(match.orders) > 1:
        numbers = ", ".join(f"#{o.id} ({o.patient.name})" for o in match.orders)
        return _back_to_worklist(_("“{code}” names more than one order today: {numbers}. Type the order number.",
                                   code=code, numbers=numbers))
    try:
        prep = preparation.start(pharmacy, username(), match.orders[0].id)
    except PharmacyError as error:
        return _back_to_worklist(error.message)
    return redirect(url_for("prep.show", prep_id=prep.id))


def _back_to_worklist(message: str):
    """A refusal of the worklist's box: said on the worklist after a redirect (Back and reload send nothing)."""
    flash(message, "error")
    return redirect(url_for("orders.worklist"))


def _products():
    return sorted(get_pharmacy().catalog.products.values(), key=lambda p: p.brand)


@bp.route("/orders/new", methods=["GET", "POST"])
@permission("orders.enter")
def new():
    """Enter a dose order. A broken course rule does not stop the entry: the order is blocked."""
    if request.method == "GET":
        return render_template("orders/new.html", products=_products(), values={"scheduled_on": today().isoformat(),
                                                                               "course": "1", "course_day": "1"})
    pharmacy = get_pharmacy()
    try:
        patient = orders.PatientDetails(
            identifier=forms.text("identifier", _("Patient identifier")), name=forms.text("name", _("Patient name")),
            date_of_birth=forms.a_date("date_of_birth", _("Date of birth")), ward=forms.text("ward", _("Ward")),
            gsrn=forms.text("gsrn", _("GSRN"), required=False) or None, confirm_new_patient=forms.checked("confirm_new_patient"),
            new_patient_reason=forms.text("new_patient_reason", _("Reason"), required=False) or None)
        product = forms.choice("product", _("a product"), tuple(pharmacy.catalog.products))
        order = orders.create_order(pharmacy, username(), patient, product, forms.whole_number("course", _("Course"), 1, 99),
                                    forms.whole_number("course_day", _("Course day"), 1, 31),
                                    forms.a_date("scheduled_on", _("Date of the dose")), forms.checked("urgent"))
    except PharmacyError as error:
        return render_template("orders/new.html", products=_products(), values=request.form, error=error,
                               lookalike=isinstance(error, LookalikePatient) or bool(request.form.get("confirm_new_patient"))), \
            http_status(error)
    if order.state == OrderState.BLOCKED:
        flash(_("Order {id} was entered but is BLOCKED by the course rules below: a pharmacist must "
                "review it and may override with a written reason.", id=order.id), "warning")
    else:
        flash(_("Order {id} entered. It now waits for a pharmacist's verification.", id=order.id), "success")
    return redirect(url_for("orders.show", order_id=order.id))


@bp.get("/orders/pending")
@permission("orders.view")
def pending():
    """Orders waiting for a pharmacist's verification."""
    return render_template("orders/pending.html", orders=orders.pending_verification(get_pharmacy()))


def _show(order_id: int, error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    order = orders.get_order(pharmacy, order_id)
    monograph = pharmacy.product(order.product_id)
    names = screens.user_names(pharmacy, [order.created_by, order.verified_by, order.override_by, order.cancelled_by,
                                          order.held_by])
    breach = error.violations if isinstance(error, CourseRuleBreach) else None
    return render_template(
        "orders/show.html", order=order, monograph=monograph, names=names, error=error,
        required_premedication=monograph.premedication_for_day(order.course_day),
        optional_premedication=[p for p in monograph.premedication if not p.required],
        needs_override=order.state == OrderState.BLOCKED or breach is not None, values=request.form,
        cancel_refused=orders.technician_cancel_refusal(order, current_user.id, current_user.role)), status


@bp.get("/orders/<int:order_id>")
@permission("orders.view")
def show(order_id: int):
    """One order; for a pharmacist, the verification form with the day's pre-medication plan."""
    return _show(order_id)


@bp.post("/orders/<int:order_id>/verify")
@permission("orders.verify")
def verify(order_id: int):
    """Verify: confirm the pre-medication; override a broken course rule with a written reason."""
    try:
        orders.verify_order(get_pharmacy(), username(), order_id, forms.checked("premedication_confirmed"),
                            forms.text("override_reason", _("Override reason"), required=False) or None)
    except PharmacyError as error:
        return _show(order_id, error, http_status(error))
    flash(_("Order {order_id} verified: it is on today's worklist when it is due.", order_id=order_id), "success")
    return redirect(url_for("orders.pending"))


def _set_aside(order_id: int, act, done: str):
    """Cancel, hold or lift a hold, with the reason typed in the form (the service checks who and when)."""
    try:
        act(get_pharmacy(), username(), order_id, forms.text("reason", _("The reason"), required=False))
    except PharmacyError as error:
        return _show(order_id, error, http_status(error))
    flash(i18n.now(done).format(order_id=order_id), "success")
    return redirect(url_for("orders.show", order_id=order_id))


@bp.post("/orders/<int:order_id>/cancel")
@permission("orders.cancel")
def cancel(order_id: int):
    """Cancel an order entered by mistake: it is never prepared and no longer counts in the course rules."""
    return _set_aside(order_id, orders.cancel_order,
                      lazy("Order {order_id} cancelled: it will not be prepared and no longer counts in the course rules."))


@bp.post("/orders/<int:order_id>/hold")
@permission("orders.hold")
def hold(order_id: int):
    """Put an order on hold: it leaves the worklist but still counts in the course rules."""
    return _set_aside(order_id, orders.hold_order,
                      lazy("Order {order_id} is on hold: it is not prepared until a pharmacist lifts the hold and verifies "
                           "it again."))


@bp.post("/orders/<int:order_id>/lift-hold")
@permission("orders.hold")
def lift_hold(order_id: int):
    """Lift a hold: the order goes back to verification (course rules checked again)."""
    return _set_aside(order_id, orders.lift_hold,
                      lazy("Order {order_id} is no longer on hold: it waits for a pharmacist's verification again."))
