"""Storage and the cold chain: put a released bag into a location, the locations and their readings,
temperatures by form or CSV, and the dashboard of every live bag with its countdown to use-by."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from pharmacy import clock
from pharmacy.domain.coldchain import reading
from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _
from pharmacy.services import administration, coldchain, fmd
from pharmacy.services import bags as bag_service
from pharmacy.services import dashboard as overview
from pharmacy.web import forms, inputs
from pharmacy.web.bags import disposal_context, dispose_from_form
from pharmacy.web.common import get_pharmacy, today, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("storage", __name__)
ERRORS_SHOWN = 200  # bad CSV rows listed on screen; the rest are counted


@bp.app_template_filter("duration")
def duration(value: timedelta) -> str:
    """A stretch of time as people say it: “2 h 55 min”, “45 min”."""
    hours, minutes = divmod(int(value.total_seconds()) // 60, 60)
    return _("{hours} h {minutes:02d} min", hours=hours, minutes=minutes) if hours else _("{minutes} min", minutes=minutes)


@bp.app_template_filter("local_iso")
def local_iso(value: datetime) -> str:
    """An instant as ISO 8601 with the pharmacy's offset, for the live countdowns (``data-use-by``)."""
    return value.astimezone(get_pharmacy().zone).isoformat(timespec="seconds")


def _interval() -> timedelta:
    return timedelta(minutes=get_pharmacy().settings.reading_interval_minutes)


# --- the dashboard -------------------------------------------------------------------------------

def _dashboard(error: PharmacyError | None = None, status: int = 200):
    pharmacy = get_pharmacy()
    return render_template(
        "storage/dashboard.html", bags=overview.live_bags(pharmacy), locations=overview.locations(pharmacy, _interval()),
        interval=_interval(), now=clock.now(), error=error, incidents=coldchain.incidents(pharmacy),
        suspect_packs=fmd.incidents(pharmacy) if current_user.can("fmd.view") else [],
        fmd_outcomes={code: words.now() for code, words in fmd.OUTCOMES.items()}, **disposal_context()), status


@bp.get("/dashboard")
@permission("dashboard.view")
def dashboard():
    """Every live bag with a live countdown to its use-by (the server decides the state at each load),
    the bags to discard, and the locations whose temperature record has a gap."""
    return _dashboard()


@bp.post("/dashboard/<serial>/discard")
@permission("bags.handle")
def discard(serial: str):
    """Record an expired or quarantined bag as destroyed: a reason from the list and the confirmation
    (quarantined: a pharmacist; a bag that could still be given: a pharmacist's signature too)."""
    try:
        dispose_from_form(serial)
    except PharmacyError as error:
        return _dashboard(error, http_status(error))
    flash(_("Bag {serial} recorded as destroyed. Put it in the cytotoxic waste.", serial=serial), "success")
    return redirect(url_for("storage.dashboard"))


@bp.post("/dashboard/suspect-packs/<int:incident_id>/resolve")
@permission("fmd.resolve")
def resolve_suspect_pack(incident_id: int):
    """A pharmacist resolves a suspected falsified pack (EU FMD): genuine or not, with what was checked."""
    try:
        fmd.resolve(get_pharmacy(), username(), incident_id, forms.text("outcome", _("The outcome"), required=False),
                    forms.text("note", _("The note"), required=False))
    except PharmacyError as error:
        return _dashboard(error, http_status(error))
    flash(_("Suspected falsified pack: incident {incident_id} resolved.", incident_id=incident_id), "success")
    return redirect(url_for("storage.dashboard"))


@bp.get("/dashboard/suspect-packs")
@permission("fmd.view")
def suspect_packs():
    """Every suspected falsified pack (EU FMD), open and resolved, newest first."""
    return render_template("storage/suspect_packs.html", suspect_packs=fmd.incidents(get_pharmacy(), open_only=False),
                           fmd_outcomes={code: words.now() for code, words in fmd.OUTCOMES.items()})


@bp.post("/dashboard/incidents/<int:incident_id>/acknowledge")
@permission("coldchain.review")
def acknowledge_incident(incident_id: int):
    """A pharmacist acknowledges a cold-chain incident (a late excursion over a bag already given), with a note."""
    try:
        coldchain.acknowledge(get_pharmacy(), username(), incident_id, forms.text("note", _("The note")))
    except PharmacyError as error:
        return _dashboard(error, http_status(error))
    flash(_("Incident {incident_id} acknowledged.", incident_id=incident_id), "success")
    return redirect(url_for("storage.dashboard"))


# --- storage -------------------------------------------------------------------------------------

def _index(error: PharmacyError | None = None, status: int = 200, form: dict | None = None):
    pharmacy = get_pharmacy()
    return render_template("storage/index.html", locations=overview.locations(pharmacy, _interval()),
                           moves=overview.moves(pharmacy), interval=_interval(), error=error,
                           form=form or {}), status


@bp.get("/storage/")
@permission("storage.view")
def index():
    """The locations with their range and last reading, the bag moves, and the form to store a bag."""
    return _index()


@bp.post("/storage/store")
@permission("bags.handle")
def store():
    """Put a released bag into a location: scan its label (or type its serial), pick or scan the location."""
    pharmacy = get_pharmacy()
    try:
        scan = forms.text("bag", _("The bag's label scan"))
        location = forms.text("location", _("The storage location"))
        bag = bag_service.store(pharmacy, username(), administration.bag_serial_from_scan(pharmacy, scan), location)
    except PharmacyError as error:
        return _index(error, http_status(error), {"location": request.form.get("location", "")})
    flash(_("Bag {serial} stored in {location}.", serial=bag.serial, location=location), "success")
    return redirect(url_for("storage.index"))


@bp.post("/storage/locations")
@permission("storage.locations")
def add_location():
    """A new storage location with its permitted range (2–8 °C unless said otherwise)."""
    try:
        name = forms.text("name", _("The location's name"))
        low, high = forms.number("min_celsius", _("The lowest temperature")), forms.number("max_celsius", _("The highest temperature"))
        bag_service.add_location(get_pharmacy(), username(), name, low, high)
    except PharmacyError as error:
        return _index(error, http_status(error), dict(request.form))
    flash(_("Location {name} added ({low:g}–{high:g} °C).", name=name, low=low, high=high), "success")
    return redirect(url_for("storage.index"))


def _day(value: str | None) -> date:
    return inputs.a_date(value, _("The day")) if value else today()


@bp.get("/storage/locations/<int:location_id>")
@permission("storage.view")
def location(location_id: int):
    """One location's readings of a day (local), its excursions with the bags they quarantined, its
    gaps over the last day and the bags moved in."""
    pharmacy = get_pharmacy()
    place = overview.location(pharmacy, location_id)
    day = _day(request.args.get("day"))
    start = datetime.combine(day, time(0), tzinfo=pharmacy.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=pharmacy.zone)
    readings = [r for r in coldchain.readings_for(pharmacy, place.name, start, end) if r.at < end]
    excursions = overview.excursions(pharmacy, location_id, start, end - timedelta(microseconds=1))
    status = next(s for s in overview.locations(pharmacy, _interval()) if s.id == location_id)
    return render_template("storage/location.html", place=place, status=status, day=day, readings=readings,
                           excursions=excursions, out_of_range={e.at for e in excursions}, interval=_interval(),
                           moves=overview.moves(pharmacy, location_id), previous=day - timedelta(days=1),
                           next=day + timedelta(days=1) if day < today() else None)


# --- temperatures --------------------------------------------------------------------------------

def _temperatures(error: PharmacyError | None = None, status: int = 200, result=None, form: dict | None = None):
    pharmacy = get_pharmacy()
    return render_template("storage/temperatures.html", locations=bag_service.locations(pharmacy), error=error,
                           result=result, errors_shown=ERRORS_SHOWN, form=form or {},
                           now_local=clock.now().astimezone(pharmacy.zone).strftime("%Y-%m-%d %H:%M")), status


@bp.get("/storage/temperatures")
@permission("temps.record")
def temperatures():
    """Record one reading, or upload a CSV of readings (the same import as ``pharmacy temps import``)."""
    return _temperatures()


@bp.post("/storage/temperatures")
@permission("temps.record")
def record_reading():
    """One reading by hand; out of range, it quarantines the bags that were stored there."""
    pharmacy = get_pharmacy()
    try:
        item = reading(forms.text("location", _("The location")), forms.local_datetime("time", _("The time"), pharmacy.zone),
                       forms.text("celsius", _("The temperature")), now=clock.now())
        result = coldchain.record(pharmacy, username(), [(1, item)], "form")
        if result.errors:
            message = result.errors[0][1]
            raise PharmacyError(message[:1].upper() + message[1:] + ".")
    except PharmacyError as error:
        return _temperatures(error, http_status(error), form=dict(request.form))
    if result.duplicates:
        flash(_("{location} already has a reading at that time: nothing was recorded twice.", location=item.location), "info")
    elif result.quarantined:
        flash(_("{celsius:g} °C is out of range for {location}. QUARANTINED: {quarantined}. "
                "A pharmacist reviews the excursion and discards them.",
                celsius=item.celsius, location=item.location, quarantined=', '.join(result.quarantined)), "warning")
    else:
        flash(_("Reading recorded: {location}, {celsius:g} °C.", location=item.location, celsius=item.celsius), "success")
    return redirect(url_for("storage.temperatures"))


@bp.post("/storage/temperatures/import")
@permission("temps.record")
def import_readings():
    """A CSV of readings (location,time,celsius; time with its UTC offset): good rows are kept, bad
    rows listed by line, nothing imported twice."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise forms.FormError(_("Choose the CSV file to upload."))
        try:
            content = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.FormError(_("{filename} is not UTF-8 text: save the log as CSV (UTF-8) and upload it again.",
                                    filename=upload.filename)) from None
        result = coldchain.import_csv(get_pharmacy(), username(), content)
    except PharmacyError as error:
        return _temperatures(error, http_status(error))
    return _temperatures(result=result)
