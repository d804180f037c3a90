"""Traceability screens (SPEC 5): recall by lot or vial serial with the confirmed quarantine, a bag's
history from vial to vein, a patient's history, and the audit log with its export and chain check."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from pharmacy import clock, i18n
from pharmacy.domain.errors import PharmacyError, StateConflict
from pharmacy.i18n import _, lazy
from pharmacy.printing import exports
from pharmacy.services import recalls, reports, trace
from pharmacy.web import forms, inputs
from pharmacy.web.common import get_pharmacy, today, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("trace", __name__)
AUDIT_PAGE = 50
KIND_NAMES = {"vial": lazy("vial lot"), "diluent": lazy("diluent lot")}
OBJECT_TYPES = ("bag", "preparation", "order", "patient", "vial", "diluent_lot", "user", "product", "location",
                "readings")


def generated_by() -> str:
    return f"{current_user.full_name} ({current_user.username})"


def download(payload, filename: str, mimetype: str) -> Response:
    """A file to save, never kept by a cache (it names patients)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)
    response = Response(payload, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def arg_date(name: str, what: str) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    return inputs.a_date(value, what)


# --- lookups and recall ------------------------------------------------------------------------
@bp.get("/trace/")
@permission("trace.recall")
def index():
    """Where a recall or an inspection starts: a lot, a bag or a patient."""
    return render_template("trace/index.html")


@bp.get("/trace/bag")
@permission("trace.history")
def find_bag():
    """The bag lookup form's target (a scanned or typed serial)."""
    serial = (request.args.get("serial") or "").strip()
    return redirect(url_for("trace.bag", serial=serial) if serial else url_for("trace.index"))


@bp.get("/trace/patient")
@permission("trace.history")
def find_patient():
    """The patient lookup form's target."""
    identifier = (request.args.get("identifier") or "").strip()
    return redirect(url_for("trace.patient", identifier=identifier) if identifier else url_for("trace.index"))


def _query():
    kind = request.args.get("kind") or request.form.get("kind") or "vial"
    lot = (request.args.get("lot") or request.form.get("lot") or "").strip()
    serial = (request.args.get("serial") or "").strip() if kind == "vial" else ""
    return lot, kind, serial or None


def _query_text(lot: str, kind: str, serial: str | None) -> str:
    what = i18n.now(KIND_NAMES.get(kind, kind))
    if serial:
        return _("{kind} {lot}, vial serial {serial}", kind=what, lot=lot, serial=serial)
    return f"{what} {lot}"


def _recall_page(error: PharmacyError | None = None, status: int = 200, reason: str = ""):
    pharmacy = get_pharmacy()
    lot, kind, serial = _query()
    rows, preview, standing = None, None, None
    if lot:
        try:
            rows = trace.recall(pharmacy, lot, kind, serial)
            standing = recalls.now_active(pharmacy, trace.RECALL_KINDS.get(kind, ""), lot)
            if serial is None and current_user.can("trace.quarantine"):
                preview = trace.quarantine_preview(pharmacy, lot, kind)
        except PharmacyError as refused:
            if error is None:
                error, status = refused, http_status(refused)
    bag_rows = [r for r in rows or [] if r["bag_serial"]]
    return render_template("trace/recall.html", lot=lot, kind=kind, serial=serial, rows=None if rows is None else bag_rows,
                           under_way=[r for r in rows or [] if not r["bag_serial"]], preview=preview, standing=standing,
                           query=_query_text(lot, kind, serial), error=error, reason=reason,
                           summary=_summary(bag_rows)), status


def _summary(rows: list[dict]) -> dict:
    """How many bags and patients, bags by state, and the patients who received the lot."""
    rows = [r for r in rows if r["bag_serial"]]  # preparations under way have no bag yet
    given = {(r["patient_name"], r["patient_id"]) for r in rows if r["administration_started"] is not None}
    return {"bags": len(rows), "patients": len({r["patient_id"] for r in rows}),
            "states": sorted(Counter(r["state"] for r in rows).items()), "given_to": sorted(given, key=lambda p: p[1])}


@bp.get("/trace/recall")
@permission("trace.recall")
def recall():
    """Every bag made from a vial lot, one vial serial or a diluent lot: patient, state, label prints,
    administration."""
    return _recall_page()


@bp.get("/trace/recall.<any(csv, pdf):fmt>")
@permission("trace.recall")
def recall_file(fmt: str):
    """The same rows as the screen, as CSV (spreadsheets) or a PDF report."""
    pharmacy = get_pharmacy()
    lot, kind, serial = _query()
    rows = trace.recall(pharmacy, lot, kind, serial)
    name = f"recall-{kind}-{lot}" + (f"-{serial}" if serial else "")
    if fmt == "csv":
        return download(exports.to_csv(rows, trace.RECALL_COLUMNS, pharmacy.zone), f"{name}.csv", "text/csv")
    query = _query_text(lot, kind, serial)
    pdf = exports.report_pdf(_("Recall: {query}", query=query), query, trace.RECALL_COLUMNS, rows, generated_by=generated_by(),
                             generated_at=clock.now(), zone=pharmacy.zone)
    return download(pdf, f"{name}.pdf", "application/pdf")


@bp.post("/trace/recall/quarantine")
@permission("trace.quarantine")
def quarantine():
    """The recall action in two steps: the first shows what will be quarantined (count and bags) and
    asks for confirmation; the second, confirmed, quarantines every bag not yet given and the stock."""
    pharmacy = get_pharmacy()
    lot, kind, _product = _query()
    reason = (request.form.get("reason") or "").strip()
    try:
        preview = trace.quarantine_preview(pharmacy, lot, kind, reason)
    except PharmacyError as error:
        return _recall_page(error, http_status(error), reason)
    if request.form.get("confirm") != "yes":
        return render_template("trace/confirm.html", lot=lot, kind=kind, reason=reason, preview=preview,
                               query=_query_text(lot, kind, None))
    try:
        done = trace.quarantine_lot(pharmacy, username(), lot, kind, reason,
                                    expected_bags=forms.whole_number("expected_bags", _("The confirmed bag count")),
                                    expected_stock=forms.whole_number("expected_stock", _("The confirmed stock count")))
    except StateConflict as error:
        return render_template("trace/confirm.html", lot=lot, kind=kind, reason=reason, preview=preview,
                               query=_query_text(lot, kind, None), error=error), http_status(error)
    except PharmacyError as error:
        return _recall_page(error, http_status(error), reason)
    bags = ", ".join(done["bags"]) or "none"
    flash(_("Quarantined {count} bag(s) ({bags}) and {stock} stock item(s) of "
            "{lot}.", count=len(done['bags']), bags=bags, stock=done['stock'], lot=_query_text(lot, kind, None)), "success")
    return redirect(url_for("trace.recall", lot=lot, kind=kind))


# --- standing recalls -----------------------------------------------------------------------------
def _standing_page(error: PharmacyError | None = None, status: int = 200, form: dict | None = None):
    return render_template("trace/recalls.html", recalls=recalls.standing(get_pharmacy()), error=error,
                           form=form or {}, kinds={code: words.now() for code, words in recalls.KIND_NAMES.items()}), status


@bp.get("/trace/recalls")
@permission("trace.recall")
def standing():
    """Every recall, active or lifted: what, why, who recalled it and when, and who lifted it."""
    return _standing_page()


@bp.post("/trace/recalls")
@permission("trace.quarantine")
def record_recall():
    """A recall notice recorded as a standing recall (the lot need not have been received yet):
    everything of it is quarantined and refused at every step until a pharmacist lifts it."""
    form = {name: (request.form.get(name) or "").strip() for name in ("kind", "lot_or_serial", "gtin", "reason")}
    try:
        done = recalls.recall(get_pharmacy(), username(), form["kind"], form["lot_or_serial"], form["reason"],
                              form["gtin"] or None)
    except PharmacyError as error:
        return _standing_page(error, http_status(error), form)
    flash(_("Recall R{recall} recorded: {kind} {lot_or_serial}. Quarantined {bags} bag(s) and {stock} "
            "stock item(s); {preparations} preparation(s) under way stopped.",
            recall=done['recall'], kind=recalls.KIND_NAMES[form['kind']].now(), lot_or_serial=recalls.normalise(form['lot_or_serial']),
            bags=len(done['bags']), stock=done['stock'], preparations=len(done['preparations'])), "success")
    return redirect(url_for("trace.standing"))


@bp.post("/trace/recalls/<int:recall_id>/lift")
@permission("trace.quarantine")
def lift_recall(recall_id: int):
    """Lift a recall: the pharmacist's password (electronic signature) and a reason, audited."""
    try:
        row = recalls.lift(get_pharmacy(), username(), recall_id, request.form.get("password") or "",
                           request.form.get("reason") or "")
    except PharmacyError as error:
        return _standing_page(error, http_status(error))
    flash(_("Recall R{id} ({kind} {lot_or_serial}) lifted. What it quarantined stays quarantined.", id=row.id,
            kind=recalls.KIND_NAMES[row.kind].now(), lot_or_serial=row.lot_or_serial), "success")
    return redirect(url_for("trace.standing"))


# --- histories ------------------------------------------------------------------------------------
@bp.get("/trace/bags/<serial>")
@permission("trace.history")
def bag(serial: str):
    """One bag from vial to vein: ingredients, steps, signatures, labels, storage and temperatures,
    quarantine, administration, disposal."""
    pharmacy = get_pharmacy()
    return render_template("trace/bag.html", h=trace.bag_history(pharmacy, serial), diluents=pharmacy.catalog.diluents)


@bp.get("/trace/patients/<path:identifier>")
@permission("trace.history")
def patient(identifier: str):
    """Every order of a patient with course and day, overrides, preparations and administrations."""
    return render_template("trace/patient.html", h=trace.patient_history(get_pharmacy(), identifier))


# --- the audit log -------------------------------------------------------------------------------------
def _audit_filters() -> tuple[dict, dict]:
    """The form's values as typed, and the service's filters (local days turned into UTC bounds)."""
    values = {name: (request.args.get(name) or "").strip()
              for name in ("from", "to", "user", "action", "object_type", "object_id")}
    first, last = arg_date("from", _("The first day")), arg_date("to", _("The last day"))
    filters: dict[str, str | datetime | None] = {"username": values["user"] or None, "action": values["action"] or None,
               "object_type": values["object_type"] or None, "object_id": values["object_id"] or None}
    zone = get_pharmacy().zone
    if first:
        filters["start"] = reports.Period(first, first).bounds(zone)[0]
    if last:
        filters["end"] = reports.Period(last, last).bounds(zone)[1]
    if first and last and last < first:
        raise forms.FormError(_("The last day ({last}) is before the first ({first}).", last=last.isoformat(), first=first.isoformat()))
    return values, filters


@bp.get("/audit/")
@permission("audit.view")
def audit():
    """The audit log, newest first, filtered and paged, with the last verification of its chain."""
    pharmacy = get_pharmacy()
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < len(page) <= 6 and int(page) > 0 else 1  # 64-bit offsets
    error, entries, total = None, [], 0
    try:
        values, filters = _audit_filters()
        entries, total = trace.audit_log(pharmacy, page=page, per_page=AUDIT_PAGE, **filters)
    except PharmacyError as refused:
        values, error = {k: request.args.get(k, "") for k in ("from", "to", "user", "action", "object_type",
                                                             "object_id")}, refused
    pages = max(1, -(-total // AUDIT_PAGE))
    return render_template(
        "trace/audit.html", entries=entries, total=total, page=page, pages=pages, values=values, error=error,
        filters={k: v for k, v in values.items() if v}, usernames=reports.usernames(pharmacy),
        object_types=OBJECT_TYPES, verification=reports.last_verification(pharmacy)), 400 if error else 200


@bp.get("/audit/export.csv")
@permission("audit.view")
def audit_csv():
    """Every entry matching the filters (all pages), oldest first, streamed as it is read."""
    pharmacy = get_pharmacy()
    _, filters = _audit_filters()
    rows = reports.audit_export(pharmacy, **filters)
    return download(stream_with_context(exports.csv_chunks(rows, reports.AUDIT_COLUMNS, pharmacy.zone)),
                    f"audit-log-{today().isoformat()}.csv", "text/csv")


@bp.post("/audit/verify")
@permission("audit.verify")
def audit_verify():
    """Walk the whole chain now. Records nothing in the database; the result is kept to be shown."""
    result = reports.verify_audit_chain(get_pharmacy(), username())
    if result is None:
        abort(500)
    if result["ok"]:
        flash(_("The audit chain is intact: {checked} entries verified.", checked=result['checked']), "success")
    else:
        flash(_("The audit chain is BROKEN: {problem}.", problem=result['problem']), "warning")
    return redirect(url_for("trace.audit", **{k: v for k, v in request.form.items() if k != "csrf_token" and v}))
