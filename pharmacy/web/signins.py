"""Sign-ins for the admin (issue 13): the open sessions of each user with an "End sessions" button, and
the record of failed sign-ins, failed signatures, locks and refused pages. The rules are in
``services/sessions`` and ``services/security_events``; this module reads forms."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, flash, redirect, render_template, request, url_for

from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import ngettext
from pharmacy.services import security_events, sessions
from pharmacy.web.common import get_pharmacy, username
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission

bp = Blueprint("signins", __name__)
MAX_PAGE = 10**6  # beyond any real number of pages; a larger number is read as the last one asked


def _sessions_page(error: PharmacyError | None = None, status: int = 200):
    found = sessions.open_sessions(get_pharmacy(), username())
    by_user = [(name, list(rows)) for name, rows in groupby(found, key=lambda s: s.username)]
    settings = get_pharmacy().settings
    return render_template("signins/sessions.html", by_user=by_user, error=error,
                           idle_minutes=ngettext("{count} minute", "{count} minutes", settings.idle_timeout_minutes),
                           lifetime_hours=ngettext("{count} hour", "{count} hours", settings.session_lifetime_hours)), status


@bp.get("/admin/sessions")
@permission("users.manage")
def open_sessions():
    """Who is signed in where, since when, last seen when."""
    return _sessions_page()


@bp.post("/admin/sessions/<name>/end")
@permission("users.manage")
def end_sessions(name):
    """End every session of one user (audited with the acting admin): their next request goes to sign-in."""
    try:
        count = sessions.end_sessions_of(get_pharmacy(), username(), name)
    except PharmacyError as error:
        return _sessions_page(error, http_status(error))
    flash(ngettext("{count} session of {name} ended: they must sign in again.",
                   "{count} sessions of {name} ended: they must sign in again.", count, name=name), "success")
    return redirect(url_for("signins.open_sessions"))


def _page_number() -> int:
    raw = (request.args.get("page") or "1").strip()
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


@bp.get("/admin/security-events")
@permission("users.manage")
def events():
    """Failed sign-ins (the name as typed), failed signatures, locks and refused pages, newest first."""
    name = (request.args.get("name") or "").strip()[:64]
    kind = request.args.get("kind") or ""
    if kind not in security_events.KINDS:
        kind = ""
    page = _page_number()
    rows, total = security_events.events(get_pharmacy(), username(), name=name or None, kind=kind or None, page=page)
    pages = max(1, -(-total // security_events.PER_PAGE))
    return render_template("signins/events.html", rows=rows, total=total, page=page, pages=pages, name=name,
                           kind=kind, kinds={code: words.now() for code, words in security_events.KINDS.items()})
