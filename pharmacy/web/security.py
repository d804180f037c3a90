"""Who may open what. Every view declares one permission with ``@permission(...)``; a
``before_request`` guard refuses any endpoint that declares none (deny by default), sends anonymous
visitors to the sign-in page, signs out an idle session, and checks the role's permissions."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, UserMixin, current_user, logout_user

from pharmacy import clock
from pharmacy.domain import permissions

log = logging.getLogger(__name__)

PUBLIC = "public"          # no sign-in needed (sign-in page, health check, static files)
SIGNED_IN = "signed-in"    # any signed-in user, whatever the role
API = "api-token"          # no session: the view itself checks a bearer token and its role (web/api.py)

# Roles and permissions live in one table (domain/permissions.py), read here, by the services'
# ``actor`` checks and by the API's endpoint declarations.
PERMISSIONS = permissions.PERMISSIONS
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
        return name == SIGNED_IN or permissions.may(self.role, name)


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
        abort(403, f"You are signed in as {current_user.role}. {permissions.refusal(current_user.role, needed)}")
    return None
