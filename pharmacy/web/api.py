"""The JSON API under ``/api/v1`` for other systems: monitoring, wards, the hospital's order system.

Authenticated with per-user or per-device tokens (``pharmacy tokens create``) sent as
``Authorization: Bearer …``, role-checked like the screens. Errors are JSON with a stable ``code``
and a human ``message``. The OpenAPI document is built from the same declarations as the routes, so
the two cannot drift apart (and a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import Blueprint, g, jsonify, request

from pharmacy import __version__, clock, i18n
from pharmacy.domain import identity, permissions
from pharmacy.domain.coldchain import ReadingError, reading
from pharmacy.domain.errors import AdministrationRefused, NotAllowed, PharmacyError
from pharmacy.domain.infusions import EARLY_END_FRACTION, END_REASONS, GivenPremedication
from pharmacy.i18n import _
from pharmacy.printing.exports import cell
from pharmacy.services import administration, bags, coldchain, orders, stock, trace, users
from pharmacy.services.tokens import TokenRefused
from pharmacy.web import inputs
from pharmacy.web.common import get_pharmacy
from pharmacy.web.errors import http_status
from pharmacy.web.extensions import csrf
from pharmacy.web.inputs import BadRequest
from pharmacy.web.security import API, PUBLIC
from pharmacy.web.security import permission as view_permission  # `permission` is a declaration's field here

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@dataclass(frozen=True)
class Endpoint:
    rule: str
    method: str
    summary: str
    permission: str  # domain/permissions.py: the same table as the screens and the services
    body: dict | None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(permissions.roles_with(self.permission))


ENDPOINTS: list[Endpoint] = []


@bp.after_request
def never_cached(response):
    """API answers carry patients, bags and doses: no browser, proxy or client library may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def endpoint(rule: str, method: str, summary: str, permission: str, body: dict | None = None):
    """Declare a route: the permission it needs, its request body's fields (for OpenAPI) and its token check."""
    permissions.check_permission_name(permission)

    def wrap(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            bearer_user(permission)
            return view(*args, **kwargs)

        guarded.permission = API
        ENDPOINTS.append(Endpoint(rule, method, summary, permission, body))
        bp.add_url_rule(rule, view.__name__, guarded, methods=[method])
        return guarded

    return wrap


def bearer_user(permission: str):
    """The request's bearer token, checked (known, live, its role and scope hold ``permission``); sets ``g.api_*``.
    Also read by the FHIR endpoints (web/fhir.py)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise NotAllowed(_("Send an API token as “Authorization: Bearer …”."))
    user = users.user_for_token(get_pharmacy(), header[7:].strip())
    if not permissions.may(user.role, permission):
        raise NotAllowed(_("This token is a {role}'s. {permissions}",
                           role=user.role, permissions=permissions.refusal(user.role, permission)))
    if not user.may(permission):  # a token's scope narrows its user's role (services/tokens)
        raise TokenRefused(_("This token (“{token_name}”) is limited to {scope}; it may not {act} ({permission}). Use a token "
                             "whose scope includes it.", token_name=user.token_name, scope=', '.join(sorted(user.scope or ())),
                             act=i18n.now(permissions.PERMISSIONS[permission]), permission=permission))
    g.api_user, g.api_role, g.api_scope = user.username, user.role, user.scope
    return user


def _body(*required: str) -> dict:
    """The JSON object sent (``web/inputs.json_body``: malformed JSON is a 400, never an empty object)."""
    data = inputs.json_body()
    missing = [name for name in required if data.get(name) in (None, "")]
    if missing:
        raise BadRequest(_("Missing field(s): {missing}.", missing=', '.join(missing)))
    return data


def _json(value):
    zone = get_pharmacy().zone
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return cell(value, zone)
    return value


@endpoint("/stock/receive", "POST", "Receive a scanned pack or diluent bag", "stock.receive", {"scan": "string"})
def receive_stock():
    receipt = stock.receive(get_pharmacy(), g.api_user, inputs.string(_body("scan"), "scan", required=True))
    return jsonify({"kind": receipt.kind, "gtin": receipt.gtin, "serial": receipt.serial, "lot": receipt.lot,
                    "expiry": receipt.expiry, "message": receipt.message}), 201


@endpoint("/orders", "POST", "Create a dose order", "orders.enter", {
    "patient": "object: identifier, name, date_of_birth, ward, gsrn (optional); confirm_new_patient and "
               "new_patient_reason (a pharmacist, for a new patient with a known patient's name and date of birth)",
    "product": "string", "course": "integer",
    "course_day": "integer", "scheduled_on": "date", "urgent": "boolean"})
def create_order():
    data = _body("patient", "product", "course", "course_day", "scheduled_on")
    person = data["patient"]
    if not isinstance(person, dict):
        raise BadRequest(_("patient must be an object with identifier, name, date_of_birth and ward."))

    def field(name: str) -> str:
        return inputs.string(person, name, field=f"patient.{name}")
    details = orders.PatientDetails(field("identifier"), field("name"),
                                    inputs.json_date(person, "date_of_birth", "patient.date_of_birth"),
                                    field("ward"), field("gsrn") or None,
                                    inputs.boolean(person, "confirm_new_patient"), field("new_patient_reason"))
    order = orders.create_order(get_pharmacy(), g.api_user, details, inputs.string(data, "product", required=True),
                                inputs.integer(data, "course", 1, 99), inputs.integer(data, "course_day", 1, 31),
                                inputs.json_date(data, "scheduled_on"), inputs.boolean(data, "urgent"))
    return jsonify({"order": order.id, "state": order.state, "violations": order.violations or []}), 201


@endpoint("/orders/<order_id>/cancel", "POST", "Cancel an order entered by mistake, with the reason (a "
          "technician: only an order they entered, before verification)", "orders.cancel", {"reason": "string"})
def cancel_order(order_id):
    order = orders.cancel_order(get_pharmacy(), g.api_user, inputs.whole_number(order_id, _("The order number"), 1, error=BadRequest),
                                inputs.string(_body("reason"), "reason", required=True))
    return jsonify({"order": order.id, "state": order.state, "reason": order.cancel_reason})


@endpoint("/bags/<serial>", "GET", "Read a bag's status", "bags.view")
def bag_status(serial):
    row = bags.bag_status(get_pharmacy(), serial)
    if not permissions.may(g.api_role, "patients.view") or (g.api_scope is not None and "patients.view" not in g.api_scope):
        # an admin's token sees no patient, nor a token whose scope leaves patients out
        row.pop("patient_id")
    return jsonify(_json(row))


_PATIENT_ENTRY = {  # H7: a patient_scan without a GS1 symbology identifier (]d2, ]C1 …) was typed
    "patient_entry_reason": "string, needed to start when patient_scan was typed (no symbology identifier): "
                            + " | ".join(identity.TYPED_REASONS),
    "patient_entry_other": "string, the words with patient_entry_reason other"}


def _patient_entry(data: dict) -> identity.Entry:
    return identity.entry(inputs.string(data, "patient_scan", required=True), None,
                          inputs.string(data, "patient_entry_reason"), inputs.string(data, "patient_entry_other"),
                          require_reason=False)


@endpoint("/bedside/check", "POST", "Check a bag against a patient's wristband", "ward.bedside",
          {"bag_scan": "string", "patient_scan": "string", **_PATIENT_ENTRY})
def bedside_check():
    data = _body("bag_scan", "patient_scan")
    verdict = administration.bedside_check(get_pharmacy(), g.api_user, inputs.string(data, "bag_scan", required=True),
                                           inputs.string(data, "patient_scan", required=True), _patient_entry(data))
    return jsonify({"ok": verdict.ok, "serial": verdict.serial, "use_by": verdict.use_by, "start_by": verdict.start_by,
                    "patient_entry": verdict.entry.method,
                    "reasons": [{"code": r.code, "message": r.message} for r in verdict.reasons],
                    "warnings": [{"code": r.code, "message": r.message} for r in verdict.warnings],
                    "premedication_required": verdict.premedication, "resume": verdict.resume})


def _premedication(data: dict) -> list[GivenPremedication]:
    """``premedication``: [{"what": the monograph's words, "given_at": ISO 8601 with its UTC offset}]."""
    items = data.get("premedication") or []
    if not isinstance(items, list):
        raise BadRequest(_("premedication must be a list of {what, given_at}."))
    given = []
    for number, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("what"), str) or not item["what"].strip():
            raise BadRequest(_("premedication[{number}] must be an object with “what” and “given_at”.", number=number))
        inputs.string(item, "what", field=f"premedication[{number}].what")
        try:
            at = datetime.fromisoformat(inputs.string(item, "given_at", field=f"premedication[{number}].given_at"))
            inputs.a_moment(at, f"premedication[{number}].given_at", BadRequest)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None or at.utcoffset() is None:
            raise BadRequest(_("premedication[{number}].given_at must be a time like 2026-11-20T09:30:00+01:00 "
                               "(with its UTC offset).", number=number))
        given.append(GivenPremedication(str(item["what"]).strip(), at))
    return given


@endpoint("/administrations", "POST", "Start an administration at the bedside (or resume an interrupted bag)",
          "ward.bedside", {"bag_scan": "string", "patient_scan": "string", **_PATIENT_ENTRY,
                           "premedication": "array of {what, given_at (ISO 8601 with offset)}: required on the course "
                                            "days the monograph names (SmPC 4.2); else refused with premedication_required"})
def administration_start():
    data = _body("bag_scan", "patient_scan")
    record = administration.start(get_pharmacy(), g.api_user, inputs.string(data, "bag_scan", required=True),
                                  inputs.string(data, "patient_scan", required=True), _patient_entry(data),
                                  _premedication(data))
    return jsonify({"administration": record.id, "started_at": _json(record.started_at),
                    "patient_entry": record.patient_entry, "patient_entry_reason": record.patient_entry_reason}), 201


@endpoint("/administrations/<serial>/end", "POST", "End or interrupt an administration", "ward.bedside",
          {"reason": f"string, one of {', '.join(END_REASONS)}: required when the infusion ran for less than "
                     f"{EARLY_END_FRACTION:.0%} of its planned duration (else refused with early_end_reason_required); "
                     "interrupted leaves the bag to be resumed",
           "detail": "string: what happened (required for other)"})
def administration_end(serial):
    data = inputs.json_body() if request.get_data(cache=True) else {}  # no body: an end without a reason
    reason = inputs.string(data, "reason") or None
    detail = inputs.string(data, "detail") or None
    record = administration.end(get_pharmacy(), g.api_user, serial, reason, detail)
    return jsonify({"administration": record.id, "ended_at": _json(record.ended_at), "end_reason": record.end_reason,
                    "state": bags.get_bag(get_pharmacy(), serial).state,
                    "observe_until": administration.observation_until(get_pharmacy(), record)})


@endpoint("/temperatures", "POST", "Send temperature readings", "temps.record",
          {"readings": "array of {location, time (ISO 8601 with offset), celsius}"})
def temperatures():
    rows = _body("readings")["readings"]
    if not isinstance(rows, list) or not rows or len(rows) > 10_000:
        raise BadRequest(_("readings must be a list of 1 to 10,000 objects."))
    items, errors = [], []
    now = clock.now()
    for number, row in enumerate(rows):
        try:
            if not isinstance(row, dict):
                raise ReadingError(_("each reading must be an object"))
            items.append((number, reading(_text(row, "location", number), _text(row, "time", number),
                                          _celsius(row, number), now=now)))
        except ReadingError as error:
            errors.append((number, error.message))
    result = coldchain.record(get_pharmacy(), g.api_user, items, "api", errors)
    return jsonify({"imported": result.imported, "duplicates": result.duplicates, "quarantined": result.quarantined,
                    "errors": [{"index": n, "message": m} for n, m in result.errors]})


def _text(row: dict, name: str, number: int) -> str:
    """A reading's string field: a wrong type or unclean text refuses that reading (by its index)."""
    try:
        return inputs.string(row, name, field=f"readings[{number}].{name}")
    except BadRequest as error:
        raise ReadingError(error.message) from None


def _celsius(row: dict, number: int) -> float | str:
    value = row.get("celsius", "")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ReadingError(_("readings[{number}].celsius must be a number.", number=number))
    return _text(row, "celsius", number) if isinstance(value, str) else value


@endpoint("/recall/<lot>", "GET", "List every bag made from a lot", "trace.recall")
def recall(lot):
    kind = request.args.get("kind", "vial")
    return jsonify(_json(trace.recall(get_pharmacy(), lot, kind, request.args.get("serial"))))


def openapi() -> dict:
    paths: dict = {}
    for e in ENDPOINTS:
        path = "/api/v1" + e.rule.replace("<", "{").replace(">", "}")
        operation = {
            "summary": e.summary, "description": f"Permission {e.permission}: roles {', '.join(e.roles)}.",
            "x-permission": e.permission, "x-roles": list(e.roles), "security": [{"token": []}],
            "responses": {"200": {"description": "OK"}, "201": {"description": "Created"},
                          "4XX": {"description": "Refused", "content": {"application/json": {
                              "schema": {"$ref": "#/components/schemas/Error"}}}}},
        }
        params = [p[1:-1] for p in e.rule.split("/") if p.startswith("<")]
        if params:
            operation["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                       for p in params]
        if e.body:
            operation["requestBody"] = {"content": {"application/json": {"schema": {
                "type": "object", "properties": {k: {"description": v} for k, v in e.body.items()}}}}}
        paths.setdefault(path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.0.3", "info": {"title": "Pharmacy compounding API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["code", "message"],
                                  "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
        },
    }


@bp.get("/openapi.json")
@view_permission(PUBLIC)
def openapi_document():
    return jsonify(openapi())


@bp.errorhandler(PharmacyError)
def refused(error: PharmacyError):
    body: dict[str, object] = {"code": error.code, "message": error.message}
    if isinstance(error, AdministrationRefused):
        body["reasons"] = [{"code": r.code, "message": r.message} for r in error.reasons]
    return jsonify(body), http_status(error)
