"""Check and release: a pharmacist who did not prepare the bag reviews every recorded step, signs
with the password and releases or rejects it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from pharmacy.domain import nearmiss
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.lifecycle import BagState
from pharmacy.i18n import _
from pharmacy.services import preparation, release, screens
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, local, username
from pharmacy.web.errors import http_status
from pharmacy.web.prep import photo_context, photo_response, product_facts
from pharmacy.web.security import permission

bp = Blueprint("check", __name__, url_prefix="/check")


def awaiting_rows(pharmacy) -> list[dict]:
    """Signed preparations waiting for their check (oldest signature first), with bag and preparer."""
    awaiting = preparation.awaiting_check(pharmacy)
    bags = screens.bags_by_preparation(pharmacy, [p.id for p in awaiting])
    names = screens.user_names(pharmacy, [p.prepared_by for p in awaiting])
    return [{"prep": p, "bag": bags.get(p.id), "preparer": names.get(p.prepared_by, "")} for p in awaiting]


@bp.get("/")
@permission("check.view")
def index():
    """Bags waiting for their check, oldest signature first."""
    return render_template("check/index.html", rows=awaiting_rows(get_pharmacy()))


def _review(prep_id: int, error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    prep = preparation.get(pharmacy, prep_id)
    monograph = pharmacy.product(prep.order.product_id)
    names = screens.user_names(pharmacy, [prep.prepared_by, prep.checked_by, *(s.user_id for s in prep.steps)])
    return render_template(
        "check/review.html", prep=prep, order=prep.order, patient=prep.order.patient, monograph=monograph,
        facts=product_facts(monograph), bag=screens.bags_by_preparation(pharmacy, [prep.id]).get(prep.id),
        names=names, diluents=pharmacy.catalog.diluents, error=error,
        own_preparation=prep.prepared_by == current_user.id, weighings=preparation.weighings(pharmacy, prep.id),
        volume_detail=next((s.detail or {} for s in reversed(prep.steps) if s.step == "volume"), {}),
        near_misses=release.near_misses(pharmacy, prep.id), deviations=release.deviations(pharmacy, prep, names),
        # issue 14 point 5: the send-back form's steps, and what earlier send-backs made void
        send_back_choices=release.send_back_choices(prep.state, current_user.role, monograph.photos),
        superseded=nearmiss.superseded((s.id, s.step, s.detail or {}) for s in prep.steps),
        void_weighings=preparation.superseded_step_weighings(prep),
        sent_back=preparation.sent_back(prep),  # sent back, not signed again: it may still be rejected (H29)
        **photo_context(pharmacy, prep, monograph)), status  # issue 14 point 4: the photos, beside what to expect


@bp.get("/<int:prep_id>/photos/<int:photo_id>")
@permission("check.view")
def photo_image(prep_id: int, photo_id: int):
    """One photo of the preparation at full size, its SHA-256 verified; never cached."""
    return photo_response(prep_id, photo_id)


@bp.get("/<int:prep_id>")
@permission("check.view")
def review(prep_id: int):
    """Every recorded step, scan, user and time of one preparation, and the release form."""
    return _review(prep_id)


def _acknowledged() -> set[int]:
    """The near misses the checker ticked (refusal ids); anything that is not an id is ignored."""
    return {int(v) for v in request.form.getlist("acknowledge") if v.isascii() and v.isdigit() and len(v) < 19}


@bp.post("/<int:prep_id>")
@permission("check.release")
def decide(prep_id: int):
    """Release or reject under the pharmacist's electronic signature (password again)."""
    try:
        decision = forms.choice("decision", _("release or reject"), release.DECISIONS)
        bag = release.decide(get_pharmacy(), username(), prep_id, forms.version(), forms.raw("password"), decision,
                             forms.text("reason", _("Reason"), required=False), acknowledged=_acknowledged(),
                             bag_scan=forms.raw("bag_scan"))
    except PharmacyError as error:
        return _review(prep_id, error, http_status(error))
    if bag.state == BagState.RELEASED:
        flash(_("Bag {serial} released. Use by {use_by}.", serial=bag.serial, use_by=local(bag.use_by)), "success")
    else:
        flash(_("Bag {serial} rejected. It must be disposed of.", serial=bag.serial), "warning")
    return redirect(url_for("bags.show", serial=bag.serial))


@bp.post("/<int:prep_id>/reject")
@permission("check.release")
def reject_sent_back(prep_id: int):
    """Reject a preparation sent back that cannot be redone (the bag damaged), before it is signed again: with
    a reason, under the pharmacist's electronic signature (issue 14 point 5, H29)."""
    try:
        bag = release.decide(get_pharmacy(), username(), prep_id, forms.version(), forms.raw("password"),
                             BagState.REJECTED, forms.text("reason", _("Reason"), required=False))
    except PharmacyError as error:
        return _review(prep_id, error, http_status(error))
    flash(_("Bag {serial} rejected. It must be disposed of.", serial=bag.serial), "warning")
    return redirect(url_for("bags.show", serial=bag.serial))


@bp.post("/<int:prep_id>/send-back")
@permission("check.release")
def send_back(prep_id: int):
    """Send the preparation back to a step, with a reason, under the pharmacist's electronic signature."""
    try:
        step = forms.text("step", _("The step to redo"), required=False)
        prep = release.send_back(get_pharmacy(), username(), prep_id, forms.version(), forms.raw("password"), step,
                                 forms.text("reason", _("The reason"), required=False))
    except PharmacyError as error:
        return _review(prep_id, error, http_status(error))
    flash(_("Preparation {id} sent back to “{step}” ({label}): it waits for its "
            "preparer to redo the step and sign again, then for a check.", id=prep.id, step=step, label=prep.state.label), "warning")
    return redirect(url_for("check.review", prep_id=prep_id))
