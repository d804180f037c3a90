"""Guided preparation: one screen per step (``preparation.NEXT_STEP``), each a hard stop.

Every form carries the preparation's ``version``: a double submit or a stale form is refused by
the service (``StateConflict``) and the screen shows why, with nothing changed. A refusal is shown
on the same step screen, with the scan field empty and focused again, ready for the next scan."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from pharmacy.domain import bagid, dilution
from pharmacy.domain import photos as photo_rules
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.monograph import Monograph
from pharmacy.i18n import _, lazy
from pharmacy.i18n import current as current_language
from pharmacy.services import balances, photos, preparation, screens
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy, local, storage_phrase, username
from pharmacy.web.errors import http_status, refused
from pharmacy.web.security import permission

bp = Blueprint("prep", __name__, url_prefix="/prep")

STEPS = ("vial", "inspection", "diluent", "volume", "mixing", "sign")
TITLES = {"vial": lazy("Scan the vial"), "inspection": lazy("Inspect the vial"), "diluent": lazy("Scan the diluent bag"),
          "volume": lazy("Record the withdrawn volume"), "mixing": lazy("Mix gently"), "sign": lazy("Sign the preparation"),
          "check": lazy("Waiting for the pharmacist's check")}
SHORT = {"vial": lazy("Vial"), "inspection": lazy("Inspection"), "diluent": lazy("Diluent"), "volume": lazy("Volume"),
         "mixing": lazy("Mixing"), "sign": lazy("Sign")}


def _shown(table: dict[str, lazy]) -> dict[str, str]:
    return {key: text.now() for key, text in table.items()}


_FACTS: dict[tuple[int, str], tuple[Monograph, list[dict]]] = {}
_FACTS_KEPT = 64  # products × languages of one pharmacy fit many times over


def product_facts(monograph: Monograph) -> list[dict]:
    """The monograph's facts as the bench reads them; ``steps`` says on which screens each matters most. Worked
    out once per monograph and language (issue 18: pint's conversions cost more than the rest of the step screen);
    the list is shared, never to be changed by its reader."""
    key = (id(monograph), current_language())
    kept = _FACTS.get(key)
    if kept is None or kept[0] is not monograph:  # the very monograph, not another one at the same address
        if len(_FACTS) >= _FACTS_KEPT:  # catalogues read again (a new pharmacy in one process) leave old keys
            _FACTS.clear()
        kept = _FACTS[key] = (monograph, _product_facts(monograph))
    return kept[1]


def _product_facts(monograph: Monograph) -> list[dict]:
    plan = dilution.plan(monograph)
    storage = monograph.in_use_storage
    hours = monograph.in_use_limit.total_seconds() / 3600
    return [
        {"label": _("Dose"), "value": dilution.display_mass(plan.dose), "steps": {"vial", "volume", "sign"}},
        {"label": _("Vial"), "value": _("{strength} in {volume} ({concentration}), single use",
                                        strength=dilution.display_mass(monograph.strength),
                                        volume=dilution.display_volume(monograph.vial_volume),
                                        concentration=dilution.display_concentration(monograph.concentration)),
         "steps": {"vial"}},
        {"label": _("Vial storage"), "value": monograph.vial_storage.text, "steps": {"vial"}},
        {"label": _("Appearance"), "value": f"{monograph.appearance} {monograph.reject_if}", "steps": {"inspection"}},
        {"label": _("Diluent"), "value": _("{names} only — no other diluent", names=dilution.permitted_names(monograph)),
         "steps": {"diluent"}},
        {"label": _("Withdraw"), "value": f"{dilution.display_volume(plan.withdraw)} "
                                       f"(± {dilution.display_volume(monograph.withdraw_tolerance, places=2)})",
         "steps": {"volume"}},
        {"label": _("Mixing"), "value": monograph.mixing, "steps": {"mixing"}},
        {"label": _("Final bag"), "value": _("approx. {volume}, {concentration}", volume=dilution.display_volume(plan.final_volume),
                                             concentration=dilution.display_concentration(plan.concentration)), "steps": {"sign"}},
        {"label": _("Infusion"), "value": f"{monograph.route} {dilution.pump_settings(monograph).infusion_text}",
         "steps": {"sign"}},
        {"label": _("Observation"), "value": _("{duration} after the infusion",
                                               duration=dilution.display_duration(monograph.observation)),
         "steps": {"sign"}},
        {"label": _("In use"), "value": _("at most {hours:g} h after dilution, {storage}", hours=hours,
                                          storage=storage_phrase(storage)),
         "steps": {"mixing", "sign"}},
    ]


@bp.post("/start/<int:order_id>")
@permission("prep.work")
def start(order_id: int):
    """Start the preparation of a verified order (or resume the one under way)."""
    prep = preparation.start(get_pharmacy(), username(), order_id)
    return redirect(url_for("prep.show", prep_id=prep.id))


def _screen(prep_id: int, error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    prep = preparation.get(pharmacy, prep_id)
    monograph = pharmacy.product(prep.order.product_id)
    step = preparation.NEXT_STEP.get(prep.state)
    template = f"prep/{step}.html" if step in STEPS else "prep/done.html"
    bag = screens.bags_by_preparation(pharmacy, [prep.id]).get(prep.id)
    names = screens.user_names(pharmacy, [prep.prepared_by, prep.checked_by, *(s.user_id for s in prep.steps)])
    weighing = _weighing_context(pharmacy, prep, monograph) if step == "volume" else {}
    first_print = step == "volume" and not screens.in_process_label_printed(pharmacy, prep.id)
    return render_template(
        template, prep=prep, order=prep.order, patient=prep.order.patient, step=step, steps=STEPS, titles=_shown(TITLES),
        short=_shown(SHORT),
        monograph=monograph, facts=product_facts(monograph), diluents=pharmacy.catalog.diluents, bag=bag,
        names=names, error=error, is_preparer=prep.prepared_by == current_user.id,
        use_by=screens.provisional_use_by(pharmacy, prep, prep.order.product_id), **weighing,
        **photo_context(pharmacy, prep, monograph),  # issue 14 point 4: the photos this step asks for
        in_process_states=preparation.IN_PROCESS_STATES, in_process_serial=bagid.bag_serial(prep.id),
        sent_back=preparation.sent_back(prep),  # the check's send-back being worked through (issue 14 point 5)
        # the in-process label is the next thing to do on the volume step until it is printed (focus lands on it)
        print_in_process_first=first_print,
        # where no label printer is at this workstation, the page starts that download by itself, once (issue 14 point 1)
        print_in_process_on_load=first_print and _label_printer(pharmacy) is None), status


def _label_printer(pharmacy) -> str | None:
    """The label printer this workstation prints on (its choice, else the pharmacy's), if it is a real printer
    rather than a PDF download; None without one (or with a wrong printers file: printing then says why)."""
    from pharmacy.web import printjobs

    rows, chosen, _problem = printjobs.printer_choice(pharmacy)
    found = next((p for p in rows if p.name == chosen), None)
    return found.name if found is not None and not found.downloads else None


def _weighing_context(pharmacy, prep, monograph) -> dict:
    """The volume step weighs (tare, then weigh) where the product is weighed here; else it is typed,
    and the screen says why it is not weighed."""
    weighs = balances.weighs(pharmacy, monograph)
    tares = [w for w in preparation.weighings(pharmacy, prep.id, current=True) if w.kind == "tare"] if weighs else []
    return {"weighs": weighs, "tare": tares[-1] if tares else None, "tares": len(tares),
            "density": monograph.density, "unweighed_because": balances.why_unweighed(pharmacy, monograph)}


@bp.get("/<int:prep_id>")
@permission("prep.work")
def show(prep_id: int):
    """The screen of the step that comes next."""
    return _screen(prep_id)


def _vial(pharmacy, user, prep_id, version):
    preparation.scan_vial(pharmacy, user, prep_id, version, forms.raw("scan"))
    return _("Vial accepted. Inspect it now."), "success"


def _inspection(pharmacy, user, prep_id, version):
    passed = forms.choice("result", _("pass or fail"), ("pass", "fail")) == "pass"
    preparation.inspect_vial(pharmacy, user, prep_id, version, passed, forms.text("note", _("Reason"), required=False))
    if passed:
        return _("Inspection passed."), "success"
    return _("Vial rejected and recorded. Put it aside for disposal, take another vial and scan it."), "warning"


def _diluent(pharmacy, user, prep_id, version):
    preparation.scan_diluent(pharmacy, user, prep_id, version, forms.raw("scan"))
    printer = _label_printer(pharmacy)
    if printer is None:  # the volume screen starts the PDF download by itself (data-print-on-load)
        return _("Diluent bag accepted. Its in-process label prints now (the button below prints it again): stick it "
                 "on the bag, the pharmacist's check starts by scanning it."), "success"
    from pharmacy.web import printjobs

    try:  # the bag has its identity from the filling (issue 14 point 1): the label is sent to the printer now
        outcome = preparation.in_process_label_to(pharmacy, user, prep_id, printer)[2]
    except PharmacyError as error:  # the diluent scan stands; the screen's print button is there to retry
        flash(error.message, "error")
    else:
        printjobs.flash_outcome(outcome)
    return _("Diluent bag accepted. Stick its in-process label on the bag: the pharmacist's check starts by "
             "scanning it."), "success"


def _volume(pharmacy, user, prep_id, version):
    preparation.record_volume(pharmacy, user, prep_id, version, forms.text("volume", _("The withdrawn volume")),
                              decimal_comma=forms.decimal_comma())
    return _("Volume recorded."), "success"


def _tare(pharmacy, user, prep_id, version):
    weighing = preparation.tare(pharmacy, user, prep_id, version)
    return _("Balance {serial} tared. Withdraw the dose, put the filled syringe on the balance "
             "and weigh it.", serial=weighing.balance_serial), "success"


def _weigh(pharmacy, user, prep_id, version):
    prep = preparation.weigh_volume(pharmacy, user, prep_id, version)
    photo_first = "syringe" in pharmacy.product(preparation.get(pharmacy, prep_id).order.product_id).photos
    then = (_("Photograph the syringe beside the vial label, then inject it into the bag.") if photo_first
            else _("Inject it into the bag now."))
    return _("Weighed: {entered} = {ml:.3f} mL, within the tolerance. {then}", entered=prep.withdrawn_entered,
             ml=prep.withdrawn_ml, then=then), "success"


def _mixing(pharmacy, user, prep_id, version):
    prep = preparation.confirm_mixing(pharmacy, user, prep_id, version)
    return _("Mixing confirmed. Dilution time stamped: {time}.", time=local(prep.dilution_time)), "success"


def _sign(pharmacy, user, prep_id, version):
    bag = preparation.sign(pharmacy, user, prep_id, version, forms.raw("password"))
    storage = pharmacy.product(preparation.get(pharmacy, prep_id).order.product_id).in_use_storage
    return _("Signed. Bag {serial} now waits for a pharmacist's check. Use by {use_by}; keep it {storage}.",
             serial=bag.serial, use_by=local(bag.use_by), storage=storage_phrase(storage)), "success"


ACTIONS = {"vial": _vial, "inspection": _inspection, "diluent": _diluent, "volume": _volume, "tare": _tare,
           "weigh": _weigh, "mixing": _mixing, "sign": _sign}


@bp.post("/<int:prep_id>/in-process-label.pdf")
@permission("prep.work")
def in_process_label(prep_id: int):
    """The bag's in-process label (IN PREPARATION — NOT FOR ADMINISTRATION), from the diluent scan on: a PDF,
    or a print job on the printer chosen (``web/printjobs``)."""
    chosen = forms.text("printer", _("The printer"), required=False)
    if chosen:
        from pharmacy.web import printjobs

        serial, pdf, outcome = preparation.in_process_label_to(get_pharmacy(), username(), prep_id, chosen)
        if outcome is not None:
            printjobs.flash_outcome(outcome)
            return printjobs.remember(redirect(url_for("prep.show", prep_id=prep_id), code=303), chosen)
    else:
        serial, pdf = preparation.in_process_label(get_pharmacy(), username(), prep_id)
    response = send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=f"{serial}-in-process.pdf", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:prep_id>/photo/<kind>")
@permission("prep.work")
def photo(prep_id: int, kind: str):
    """A photo from the screen's camera (``static/photos.js``: multipart with ``photo``, ``version`` and the
    CSRF token; ``label_scan`` when the photo was taken by scanning the bag's in-process label). The script
    asks for JSON: the screen to load next, or the refusal and what to do; any other
    sender gets the step screen (a refusal shown on it, after the redirect of web/prg)."""
    as_json = request.accept_mimetypes.best == "application/json"
    upload = request.files.get("photo")
    data = upload.stream.read(photo_rules.MAX_BYTES + 1) if upload is not None else b""
    try:
        taken = photos.take(get_pharmacy(), username(), prep_id, forms.version(), kind, data,
                            label_scan=forms.raw("label_scan") or None)
    except PharmacyError as error:
        if as_json:
            return jsonify({"error": error.message, "code": error.code}), http_status(error)
        return _screen(prep_id, error, http_status(error))
    what = photo_rules.PHOTO_KINDS[taken.kind]
    if taken.label_scanned:
        flash(_("{title} kept (sharpness {sharpness:.0f}, brightness {brightness:.0f}); the label on the bag is bag "
                "{serial}'s.", title=what.title, sharpness=taken.sharpness, brightness=taken.brightness,
                serial=taken.label_scanned), "success")
    else:
        flash(_("{title} kept (sharpness {sharpness:.0f}, brightness {brightness:.0f}).",
                title=what.title, sharpness=taken.sharpness, brightness=taken.brightness), "success")
    following = url_for("prep.show", prep_id=prep_id)
    if as_json:
        return jsonify({"photo": taken.id, "sha256": taken.sha256, "next": following}), 201
    return redirect(following)


@bp.get("/<int:prep_id>/photos/<int:photo_id>")
@permission("prep.work")
def photo_image(prep_id: int, photo_id: int):
    """One photo of the preparation, its SHA-256 verified (a changed photo is refused, never shown)."""
    return photo_response(prep_id, photo_id)


def photo_response(prep_id: int, photo_id: int):
    try:
        found, data = photos.read(get_pharmacy(), username(), prep_id, photo_id)
    except PharmacyError as error:
        return refused(error)
    response = send_file(BytesIO(data), mimetype=found.media_type, max_age=0,
                         download_name=f"preparation-{prep_id}-{found.kind}.{photos.EXTENSIONS[found.media_type]}")
    response.headers["Cache-Control"] = "no-store"  # patient evidence: never from a cache
    response.headers["Content-Disposition"] = "inline"
    return response


def photo_context(pharmacy, prep, monograph) -> dict:
    """The photos the monograph asks for, with the current one of each kind (verified), for the screens."""
    current = {e.photo.kind: e for e in photos.evidence(pharmacy, prep.id)} if monograph.photos else {}
    return {"photo_kinds": [photo_rules.PHOTO_KINDS[name] for name in monograph.photos], "photos_taken": current,
            "may_take_photo": photo_rules.may_take}


@bp.post("/<int:prep_id>/<step>")
@permission("prep.work")
def record(prep_id: int, step: str):
    """Record one step; a refusal re-shows the step screen with the reason and changes nothing."""
    action = ACTIONS.get(step)
    if action is None:
        abort(404)
    try:
        message, category = action(get_pharmacy(), username(), prep_id, forms.version())
    except PharmacyError as error:
        return _screen(prep_id, error, http_status(error))
    flash(message, category)
    return redirect(url_for("prep.show", prep_id=prep_id))
