"""Stock: receive vials and diluent bags by scanning them, and see what is in stock."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from pharmacy.domain.errors import PharmacyError
from pharmacy.services import stock as stock_service
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("stock", __name__, url_prefix="/stock")


def _index(error: PharmacyError | None = None, status: int = 200):
    return render_template("stock/index.html", rows=stock_service.list_stock(get_pharmacy()), error=error), status


@bp.get("/")
@permission("stock.view")
def index():
    """Vials and diluent lots, with the scan field to receive more."""
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
