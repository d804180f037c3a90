"""HL7 FHIR R4 under ``/fhir/r4`` (issue 17; docs/fhir.md): the hospital's record sends orders and reads what the
pharmacy made and gave.

Thin: the token is checked as for ``/api/v1`` (``api.bearer_user``, with the ``fhir.orders`` or ``fhir.read``
permission, which an integration token's scope names), the body is read through ``web/inputs`` (JSON, depth,
clean text), the services decide. Every answer is ``application/fhir+json``; every error an ``OperationOutcome``
with the refusal's own words (never a page, never a bare 500: ``web/errors`` answers ``/fhir/`` paths so too).
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, request

from pharmacy import __version__, clock
from pharmacy.domain import fhir as mapping
from pharmacy.domain import permissions
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError
from pharmacy.i18n import _
from pharmacy.services import fhir, orders, users
from pharmacy.services.tokens import TokenRefused
from pharmacy.web import inputs
from pharmacy.web.api import bearer_user
from pharmacy.web.common import get_pharmacy
from pharmacy.web.errors import http_status
from pharmacy.web.extensions import csrf
from pharmacy.web.security import API, PUBLIC, permission

bp = Blueprint("fhir", __name__, url_prefix="/fhir/r4")
csrf.exempt(bp)

BODY_TYPES = ("application/json", mapping.FHIR_JSON)
# OperationOutcome.issue.code for each status
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 409: "conflict",
               412: "conflict", 415: "not-supported", 422: "processing", 500: "exception", 503: "transient"}


INTERACTIONS: list[tuple[str, str, str]] = []  # (rule, method, permission): what /metadata and the tests read


def interaction(rule: str, method: str, needed: str):
    """A FHIR interaction: its route, and the bearer token's check for ``needed`` (role and scope, H24)."""
    permissions.check_permission_name(needed)

    def wrap(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            _authenticated()
            bearer_user(needed)
            return view(*args, **kwargs)

        guarded.permission = API  # no session: the token is checked here
        INTERACTIONS.append((rule, method, needed))
        bp.add_url_rule(rule, view.__name__, guarded, methods=[method])
        return guarded

    return wrap


class Unauthenticated(NotAllowed):
    """No bearer token, or one that is unknown, revoked, expired or of a disabled user: a 401."""

    code = "unauthenticated"


def _authenticated() -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthenticated(_("Send an API token as “Authorization: Bearer …” (pharmacy tokens create)."))
    try:
        users.user_for_token(get_pharmacy(), header[7:].strip())
    except TokenRefused as error:
        raise Unauthenticated(error.message) from None


def answer(resource: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(resource, ensure_ascii=False), status=status, mimetype=mapping.FHIR_JSON,
                        headers=headers or {})
    response.headers["Cache-Control"] = "no-store"  # patients and doses: no cache keeps a copy
    return response


def outcome(status: int, message: str, code: str | None = None) -> Response:
    return answer(mapping.operation_outcome(message, ISSUE_CODES.get(status, "processing"), details=code), status)


def _status(error: PharmacyError) -> int:
    if isinstance(error, Unauthenticated):
        return 401
    if isinstance(error, mapping.FhirInvalid | inputs.BadRequest | inputs.FormError):
        return 400
    return http_status(error)


@bp.errorhandler(PharmacyError)
def refused(error: PharmacyError):
    response = outcome(_status(error), error.message, error.code)
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pharmacy"'
    return response


def _resource() -> dict[str, Any]:
    """The body: FHIR JSON (``application/fhir+json`` or ``application/json``), each string clean text (H25)."""
    data = inputs.json_body(BODY_TYPES)
    _clean(data, data.get("resourceType") or "body")
    return data


# free text where a line break is fine: a narrative (XHTML ``div``, read by nobody here, bounded by the request size)
# and the ``text`` of a CodeableConcept, Annotation or narrative
_MULTILINE = {"div": ("note", 1024 * 1024), "text": ("note", inputs.TEXT_MAX)}


def _clean(value: Any, path: str) -> None:
    if isinstance(value, str):
        field, longest = _MULTILINE.get(path.rsplit(".", 1)[-1], ("fhir", inputs.TEXT_MAX))
        inputs.clean(value, path, field, error=mapping.FhirInvalid, longest=longest)
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean(item, f"{path}.{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _clean(item, f"{path}[{number}]")


def _base() -> str:
    return request.host_url.rstrip("/") + (bp.url_prefix or "")


def _request_resource(received: fhir.Received) -> dict[str, Any]:
    order = received.order
    monograph = get_pharmacy().product(order.product_id)
    return mapping.medication_request(
        order.id, received.identifier, order.state.value, order.patient.identifier, order.patient.name,
        get_pharmacy().settings.fhir_patient_system,
        mapping.codes_of(order.product_id, monograph.atc, monograph.preparation_gtin, ()), monograph.name,
        monograph.dose, order.scheduled_on, order.course, order.course_day, order.patient.ward, order.urgent,
        [v.get("message", "") for v in order.violations or []])


def _created(received: fhir.Received) -> tuple[int, dict[str, str]]:
    location = f"{_base()}/MedicationRequest/{received.order.id}"
    return (201 if received.created else 200), {"Location": location}


@bp.get("/metadata")
@permission(PUBLIC)  # FHIR: the CapabilityStatement is read before authenticating
def metadata():
    return answer(mapping.capability_statement(__version__, "Pharmacy compounding system", clock.now()))


@interaction("/MedicationRequest", "POST", "fhir.orders")
def create_medication_request():
    received = fhir.receive_order(get_pharmacy(), g.api_user, _resource())
    status, headers = _created(received)
    return answer(_request_resource(received), status, headers)


@interaction("/MedicationRequest/<int:order_id>", "PUT", "fhir.orders")
def update_medication_request(order_id: int):
    received = fhir.update_order(get_pharmacy(), g.api_user, _resource(), order_id)
    return answer(_request_resource(received))


@interaction("/MedicationRequest", "PUT", "fhir.orders")
def conditional_update_medication_request():
    """``PUT MedicationRequest?identifier=system|value``: the update by the hospital's own identifier."""
    resource = _resource()
    wanted = request.args.get("identifier", "")
    sent = (resource.get("identifier") or [{}])[0] if isinstance(resource.get("identifier"), list) else {}
    if not wanted or wanted != f"{sent.get('system')}|{sent.get('value')}":
        raise mapping.FhirInvalid(_("PUT MedicationRequest?identifier=system|value must name the identifier the resource "
                                    "carries. Nothing was recorded."))
    return answer(_request_resource(fhir.update_order(get_pharmacy(), g.api_user, resource)))


@interaction("/MedicationRequest/<int:order_id>", "GET", "fhir.orders")
def read_medication_request(order_id: int):
    identifier = fhir.order_resource_id(get_pharmacy(), order_id)
    return answer(_request_resource(fhir.Received(orders.get_order(get_pharmacy(), order_id), False, identifier)))


@interaction("", "POST", "fhir.orders")
def transaction():
    """A transaction Bundle: the Patient and one MedicationRequest (POST), all or nothing."""
    by_url, requests = mapping.read_transaction(_resource())
    if len(requests) != 1 or requests[0][0] != "POST":
        raise mapping.FhirUnprocessable(_("A transaction Bundle here holds one MedicationRequest (request.method POST) "
                                          "with its Patient: one order is one transaction. Nothing was recorded."))
    received = fhir.receive_order(get_pharmacy(), g.api_user, requests[0][1], by_url)
    status, headers = _created(received)
    return answer({"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"resource": _request_resource(received),
         "response": {"status": "201 Created" if status == 201 else "200 OK", "location": headers["Location"]}}]})


def _patient_param() -> str:
    token = request.args.get("patient", "") or request.args.get("patient:identifier", "")
    if not token.strip():
        raise mapping.FhirInvalid(_("Search by patient: ?patient=system|value (or the hospital's identifier alone)."))
    return token.strip()


@interaction("/MedicationDispense", "GET", "fhir.read")
def search_dispenses():
    return answer(mapping.searchset(fhir.dispenses_of(get_pharmacy(), _patient_param()), _base()))


@interaction("/MedicationAdministration", "GET", "fhir.read")
def search_administrations():
    return answer(mapping.searchset(fhir.administrations_of(get_pharmacy(), _patient_param()), _base()))


@interaction("/Medication/<serial>", "GET", "fhir.read")
def read_medication(serial: str):
    return answer(fhir.medication_of(get_pharmacy(), serial))


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@permission(PUBLIC)
def not_supported(anything: str):
    raise NotFound(_("/fhir/r4/{anything} is not an interaction this server supports (GET /fhir/r4/metadata lists them).",
                     anything=anything[:80]))



# --- the admin's screen of the outbox (HTML, not FHIR) -------------------------------------------------

screens = Blueprint("fhir_outbox", __name__)


@screens.get("/admin/fhir-outbox")
@permission("users.manage")
def outbox_screen():
    """What waits for the hospital's FHIR server and why, and what was sent (no patient is shown)."""
    from flask import render_template

    from pharmacy.services import outbox

    pharmacy = get_pharmacy()
    rows = outbox.rows(pharmacy, include_sent=request.args.get("all") == "1")
    return render_template("fhir/outbox.html", rows=rows, configured=bool(pharmacy.settings.fhir_outbound_url),
                           url=pharmacy.settings.fhir_outbound_url, failing_after=outbox.FAILING_AFTER,
                           show_all=request.args.get("all") == "1")
