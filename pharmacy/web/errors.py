"""Refusals and errors as pages: a ``PharmacyError`` becomes a 4xx page with its message (the status
from ``HTTP_STATUS``), a missing CSRF token a 400 that says what to do, anything unexpected a plain 500.
Never a stack trace."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from pharmacy import i18n
from pharmacy.domain.errors import (
    AuthenticationFailed,
    DuplicateSerial,
    NotAllowed,
    NotFound,
    PharmacyError,
    SeparationOfDuties,
    StateConflict,
    UnknownProduct,
)
from pharmacy.i18n import _, lazy
from pharmacy.web.forms import BadRequest, FormError

log = logging.getLogger(__name__)

# The HTTP status of each kind of refusal, in one table. A class not listed here answers with the
# status of its nearest listed base class (``http_status`` walks the MRO): any other refusal is a 422.
HTTP_STATUS: dict[type, int] = {
    PharmacyError: 422,
    FormError: 400, BadRequest: 400,
    AuthenticationFailed: 401,
    SeparationOfDuties: 403, NotAllowed: 403,
    UnknownProduct: 404, NotFound: 404,
    DuplicateSerial: 409, StateConflict: 409,
}


def http_status(error: PharmacyError) -> int:
    """The status a refusal is answered with, on a page or in the JSON API."""
    return next(HTTP_STATUS[cls] for cls in type(error).__mro__ if cls in HTTP_STATUS)

TITLES = {400: lazy("Form not accepted"), 401: lazy("Not signed"), 403: lazy("Not allowed"), 404: lazy("Not found"),
          405: lazy("Not possible here"), 409: lazy("Already changed"), 422: lazy("Refused")}


def refused(error: PharmacyError):
    status = http_status(error)
    return render_template("errors/error.html", title=i18n.now(TITLES.get(status, lazy("Refused"))), error=error), status


def csrf_failed(error: CSRFError):
    message = _("This form could not be accepted: its security token is missing or no longer valid "
                "({description}). Nothing was recorded. Go back, reload the page and try again.", description=error.description)
    return render_template("errors/error.html", title=_("Form not accepted"), message=message), 400


def http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        log.error("unexpected error: %s", getattr(error, "original_exception", error))
        message: str | None = _("Something went wrong on the server. Nothing you typed was lost in the records: check the "
                                "screen you came from before you go on, and tell your IT support if it happens again.")
    else:
        message = error.description
    if request.path.startswith("/api/"):  # other systems get JSON with a stable code, never a page
        return jsonify({"code": error.name.lower().replace(" ", "_"), "message": message}), status
    if request.path.startswith("/fhir/"):  # FHIR: an OperationOutcome (web/fhir.py)
        from pharmacy.web import fhir

        return fhir.outcome(status, message or error.name, error.name.lower().replace(" ", "_"))
    return render_template("errors/error.html", title=i18n.now(TITLES.get(status, error.name)), message=message), status


STORAGE_FAILED = lazy("The record could not be written: the database is full or cannot be written (disk full, "
                       "read-only file or server unavailable). Nothing of this step was recorded. Do not go on with "
                       "the preparation: tell IT support, and repeat the step once they have fixed it.")


def database_failed(error: DBAPIError):
    """Disk full, read-only file, lost server: the transaction was rolled back whole; say so plainly."""
    log.error("database error: %s", error.orig if getattr(error, "orig", None) else error)
    if request.path.startswith("/api/"):
        return jsonify({"code": "storage_unavailable", "message": STORAGE_FAILED.now()}), 503
    if request.path.startswith("/fhir/"):
        from pharmacy.web import fhir

        return fhir.outcome(503, STORAGE_FAILED.now(), "storage_unavailable")
    return render_template("errors/error.html", title=_("Not recorded"), message=STORAGE_FAILED.now()), 503


def register_error_handlers(app) -> None:
    app.register_error_handler(PharmacyError, refused)
    app.register_error_handler(DBAPIError, database_failed)
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_error_handler(HTTPException, http_error)
