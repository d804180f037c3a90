"""Who may open what. Every view declares one permission with ``@permission(...)``; a
``before_request`` guard refuses any endpoint that declares none (deny by default), sends anonymous
visitors to the sign-in page, signs out an idle session, and checks the role's permissions."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, UserMixin, current_user, logout_user

from pharmacy import clock

log = logging.getLogger(__name__)

PUBLIC = "public"          # no sign-in needed (sign-in page, health check, static files)
SIGNED_IN = "signed-in"    # any signed-in user, whatever the role
API = "api-token"          # no session: the view itself checks a bearer token and its role (web/api.py)

# What each permission lets a user do, in words for the refusal page.
PERMISSIONS = {
    "worklist.view": "see the worklist",
    "orders.view": "see orders",
    "orders.enter": "enter orders",
    "orders.verify": "verify orders",
    "prep.work": "prepare doses",
    "check.view": "see preparation records",
    "check.release": "check and release bags",
    "bags.view": "see bags",
    "bags.label": "print bag labels",
    "bags.handle": "store or dispose of bags",
    "stock.view": "see stock",
    "stock.receive": "receive stock",
    "dashboard.view": "see the bag dashboard",
    "storage.view": "see storage locations and temperatures",
    "storage.locations": "add storage locations",
    "temps.record": "record temperature readings",
    "ward.bedside": "check and give bags at the bedside",
}
_READ = {"worklist.view", "orders.view", "check.view", "bags.view", "stock.view"}
_TECHNICIAN = _READ - {"check.view"} | {"orders.enter", "prep.work", "bags.label", "bags.handle", "stock.receive"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "technician": frozenset(_TECHNICIAN),
    "pharmacist": frozenset(_TECHNICIAN | {"check.view", "orders.verify", "check.release"}),
    "nurse": frozenset({"bags.view", "bags.handle"}),
    "auditor": frozenset(_READ),  # reads everything, changes nothing
    "admin": frozenset({"bags.view", "stock.view", "stock.receive"}),
}
# Cold chain and ward (web/storage.py, web/ward.py). Recording readings: the roles of
# services.coldchain.RECORDERS; the bedside: those of services.administration.NURSES.
_COLD_CHAIN = {
    "technician": {"dashboard.view", "storage.view", "temps.record"},
    "pharmacist": {"dashboard.view", "storage.view", "temps.record", "ward.bedside"},
    "nurse": {"dashboard.view", "storage.view", "temps.record", "ward.bedside"},
    "auditor": {"dashboard.view", "storage.view"},
    "admin": {"storage.view", "storage.locations", "temps.record"},
}
for _role, _extra in _COLD_CHAIN.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _extra
# Traceability (web/trace.py, web/reports.py): pharmacists and auditors read and verify the audit
# chain (which records nothing); only a pharmacist quarantines a recalled lot. Technicians, nurses and
# admins see none of it: histories, recalls and the audit log name patients across the whole pharmacy.
PERMISSIONS.update({
    "trace.recall": "look up what was made from a lot",
    "trace.quarantine": "quarantine a recalled lot",
    "trace.history": "see bag and patient histories",
    "audit.view": "read the audit log",
    "audit.verify": "verify the audit chain",
    "reports.view": "see the work, safety and waste reports",
})
_TRACE_READ = frozenset({"trace.recall", "trace.history", "audit.view", "audit.verify", "reports.view"})
ROLE_PERMISSIONS["pharmacist"] = ROLE_PERMISSIONS["pharmacist"] | _TRACE_READ | {"trace.quarantine"}
ROLE_PERMISSIONS["auditor"] = ROLE_PERMISSIONS["auditor"] | _TRACE_READ
# Flask's own endpoint for files in pharmacy/web/static; it cannot carry an attribute.
PUBLIC_ENDPOINTS = frozenset({"static"})


def permission(name: str):
    """Declare what a view needs: a key of ``PERMISSIONS``, ``PUBLIC``, ``SIGNED_IN`` or ``API``."""
    if name not in PERMISSIONS and name not in (PUBLIC, SIGNED_IN, API):
        raise ValueError(f"unknown permission {name!r}")

    def declare(view):
        view.permission = name
        return view

    return declare


def required_permission(app, endpoint: str) -> str | None:
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    return getattr(app.view_functions.get(endpoint), "permission", None)


class WebUser(UserMixin):
    """The signed-in user as the screens see it (a plain copy of the database row)."""

    def __init__(self, user) -> None:
        self.id = user.id
        self.username = user.username
        self.full_name = user.full_name
        self.role = user.role
        self.active = bool(user.active)

    @property
    def is_active(self) -> bool:
        return self.active

    def can(self, name: str) -> bool:
        return name == SIGNED_IN or name in ROLE_PERMISSIONS.get(self.role, frozenset())


class Anonymous(AnonymousUserMixin):
    role = None
    full_name = ""

    def can(self, name: str) -> bool:
        return name == PUBLIC


def mark_active() -> None:
    session["last_seen"] = clock.now().timestamp()


def _idle_too_long() -> bool:
    minutes = current_app.extensions["pharmacy"].settings.idle_timeout_minutes
    last = session.get("last_seen")
    return last is None or clock.now().timestamp() - float(last) > minutes * 60


def guard():
    """``before_request``: the one place where permissions are enforced."""
    if request.endpoint is None:  # no route matched: Flask answers 404/405 itself
        return None
    needed = required_permission(current_app, request.endpoint)
    if needed is None:
        log.error("endpoint %s declares no permission: refused", request.endpoint)
        abort(403, "This page declares no permission, so nobody may open it.")
    if needed in (PUBLIC, API):
        return None
    next_url = request.full_path.rstrip("?") if request.method == "GET" else None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=next_url))
    if _idle_too_long():
        minutes = current_app.extensions["pharmacy"].settings.idle_timeout_minutes
        logout_user()
        session.clear()
        flash(f"You were signed out after {minutes} minutes without activity. Sign in again.", "info")
        return redirect(url_for("auth.login", next=next_url))
    mark_active()
    if not current_user.can(needed):
        abort(403, f"You are signed in as {current_user.role}: a {current_user.role} may not "
                   f"{PERMISSIONS[needed]}.")
    return None
