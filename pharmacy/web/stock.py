"""Stock: receive vials and diluent bags by scanning them, and see what is in stock."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.lifecycle import LotState, VialState
from pharmacy.services import stock as stock_service
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("stock", __name__, url_prefix="/stock")


LATEST_VIALS = 50  # the receipts someone at the receiving bench looks back on; every vial is one click away


def _index(error: PharmacyError | None = None, status: int = 200):
    show_all = request.args.get("all") == "1"
    screen = stock_service.stock_screen(get_pharmacy(), None if show_all else LATEST_VIALS)
    states = {state.value: state.label for kind in (VialState, LotState) for state in kind}  # in the reader's words
    return render_template("stock/index.html", screen=screen, states=states, error=error), status


@bp.get("/")
@permission("stock.view")
def index():
    """The stock by lot and the latest vials received (``?all=1``: every vial), with the scan field to receive more."""
    return _index()


@bp.post("/receive")
@permission("stock.receive")
def receive():
    """Receive one scanned pack or diluent bag."""
    try:
        receipt = stock_service.receive(get_pharmacy(), username(), forms.raw("scan"))
    except PharmacyError as error:
        return _index(error, http_status(error))
    flash(receipt.message, "success")
    return redirect(url_for("stock.index"))
