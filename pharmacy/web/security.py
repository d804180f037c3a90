"""Who may open what. Every view declares one permission with ``@permission(...)``; a
``before_request`` guard refuses any endpoint that declares none (deny by default), sends anonymous
visitors (and those whose session has ended: web/sessions.py) to the sign-in page, and checks the role's permissions."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, UserMixin, current_user

from pharmacy.domain import permissions
from pharmacy.i18n import _, ngettext
from pharmacy.services import security_events, sessions

log = logging.getLogger(__name__)

PUBLIC = "public"          # no sign-in needed (sign-in page, health check, static files)
SIGNED_IN = "signed-in"    # any signed-in user, whatever the role
API = "api-token"          # no session: the view itself checks a bearer token and its role (web/api.py)

# Roles and permissions live in one table (domain/permissions.py), read here, by the services'
# ``actor`` checks and by the API's endpoint declarations.
PERMISSIONS = permissions.PERMISSIONS
# Flask's own endpoint for files in pharmacy/web/static; it cannot carry an attribute.
PUBLIC_ENDPOINTS = frozenset({"static"})
# all that an account whose password an admin set (new or reset) may open until its user changes it
WHILE_PASSWORD_MUST_CHANGE = frozenset({"accounts.change_password", "accounts.set_language", "auth.logout"})


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
        self.must_change_password = bool(getattr(user, "must_change_password", False))
        self.language = getattr(user, "language", None)  # the screens' language the user chose (web/i18n.py)

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


def _page_the_form_was_on() -> str | None:
    """The page a POST came from (its ``Referer``, only on this site; ``auth._safe_next`` checks it again)."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or not referrer.path:
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def count(number: int, unit: str) -> str:
    """“1 minute”, “15 minutes”: a number with its unit in the singular or plural."""
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def _ended_message(reason: str) -> str:
    """Why the session a cookie named has ended (web/sessions.py keeps sessions on the server, H21)."""
    settings = current_app.extensions["pharmacy"].settings
    if reason == sessions.IDLE:
        minutes = settings.idle_timeout_minutes
        return _("You were signed out after {duration} without activity. Sign in again.",
                 duration=ngettext("{count} minute", "{count} minutes", minutes))
    if reason == sessions.LIFETIME:
        hours = settings.session_lifetime_hours
        return _("You were signed out: a session lasts at most {duration} after sign-in. Sign in again.",
                 duration=ngettext("{count} hour", "{count} hours", hours))
    return _("Your session has ended ({reason}). Sign in again.", reason=reason)


def guard():
    """``before_request``: the one place where permissions are enforced."""
    if request.endpoint is None:  # no route matched: Flask answers 404/405 itself
        return None
    needed = required_permission(current_app, request.endpoint)
    if needed is None:
        log.error("endpoint %s declares no permission: refused", request.endpoint)
        abort(403, _("This page declares no permission, so nobody may open it."))
    if needed in (PUBLIC, API):
        return None
    # after sign-in, back to the page the user was on; a form sent after the session ended is not replayed
    next_url = request.full_path.rstrip("?") if request.method == "GET" else _page_the_form_was_on()
    if not current_user.is_authenticated:
        ended = getattr(session, "ended", None)
        if ended:  # idle timeout, lifetime, sign-out, lock or admin: ended on the server, never reopened
            flash(_ended_message(ended), "info")
        return redirect(url_for("auth.login", next=next_url))
    if current_user.must_change_password and request.endpoint not in WHILE_PASSWORD_MUST_CHANGE:
        return redirect(url_for("accounts.change_password"))  # an admin chose the password: the user must replace it
    if not current_user.can(needed):
        security_events.record(current_app.extensions["pharmacy"], security_events.ACCESS_DENIED, current_user.username,
                               path=request.path, permission=needed)
        abort(403, _("You are signed in as {role}. {refusal}", role=current_user.role,
                     refusal=permissions.refusal(current_user.role, needed)))
    return None
