"""Accounts: a user changes their own password (forced at the first sign-in of an account an admin
created or reset); the admin lists users, adds one, disables or enables one with a reason, resets a
password, and lists, creates (shown once) and revokes a user's API tokens. Every rule is in
``services/accounts``, ``services/users`` and ``services/tokens``; this module reads forms."""

from __future__ import annotations

from datetime import datetime, time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from pharmacy import i18n
from pharmacy.domain import permissions
from pharmacy.domain.errors import NotFound, PharmacyError
from pharmacy.domain.inuse import to_local
from pharmacy.i18n import _
from pharmacy.services import accounts, tokens, users
from pharmacy.services.base import ROLES
from pharmacy.web import forms
from pharmacy.web.auth import _safe_next
from pharmacy.web.common import get_pharmacy, username
from pharmacy.web.errors import http_status
from pharmacy.web.prg import renders_after_post
from pharmacy.web.security import SIGNED_IN, permission

bp = Blueprint("accounts", __name__)


def _raw(name: str) -> str:
    """A password exactly as typed (spaces count)."""
    return request.form.get(name) or ""


@bp.route("/account/password", methods=["GET", "POST"])
@permission(SIGNED_IN)
def change_password():
    """The signed-in user changes their own password: the current one, then the new one twice."""
    forced = current_user.must_change_password
    if request.method == "GET":
        return render_template("accounts/password.html", forced=forced)
    try:
        accounts.change_password(get_pharmacy(), username(), _raw("current"), _raw("new"), _raw("repeated"))
    except PharmacyError as error:
        return render_template("accounts/password.html", forced=forced, error=error), http_status(error)
    flash(_("Your password was changed."), "success")
    return redirect(url_for("home"))


@bp.post("/account/language")
@permission(SIGNED_IN)
def set_language():
    """The signed-in user picks the language of their screens (the menu of every page, their account page);
    back to the page they were on."""
    try:
        accounts.set_language(get_pharmacy(), username(), request.form.get("language"))
    except PharmacyError as error:
        flash(error.message, "error")
    back = _safe_next(request.form.get("next")) or _safe_next(_path_of(request.referrer)) or url_for("home")
    return redirect(back)


def _path_of(url: str | None) -> str | None:
    """The path (and query) of a page of this site the form was sent from."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- the admin's screens ---------------------------------------------------------------------------

def _users_page(error: PharmacyError | None = None, status: int = 200, form: dict | None = None):
    return render_template("accounts/users.html", accounts=accounts.list_users(get_pharmacy()), roles=ROLES,
                           error=error, form=form or {}), status


@bp.get("/admin/users")
@permission("users.manage")
def user_list():
    """Every account with its role and whether it is active, locked or must change its password."""
    return _users_page()


@bp.post("/admin/users")
@permission("users.manage")
def add_user():
    """Add a user; they must choose their own password at the first sign-in."""
    try:
        name = forms.text("username", _("User name"))
        users.add_user(get_pharmacy(), username(), name, forms.text("full_name", _("Full name")),
                       forms.choice("role", _("a role"), ROLES), _raw("password"))
    except PharmacyError as error:
        return _users_page(error, http_status(error), dict(request.form))
    flash(_("User {name} added: they must change the password at their first sign-in.", name=name), "success")
    return redirect(url_for("accounts.user_list"))


def _account(name: str) -> accounts.Account:
    found = next((a for a in accounts.list_users(get_pharmacy()) if a.username == name), None)
    if found is None:
        raise NotFound(_("There is no user “{name}”.", name=name))
    return found


def _user_page(name: str, error: PharmacyError | None = None, status: int = 200, new_token: str | None = None):
    pharmacy = get_pharmacy()
    account = _account(name)
    scopes = [p for p in permissions.PERMISSIONS if permissions.may(account.role, p)]
    return render_template("accounts/user.html", account=account, tokens=tokens.list_tokens(pharmacy, name),
                           scopes=scopes, permission_words=permissions.PERMISSIONS, error=error,
                           new_token=new_token, default_days=tokens.DEFAULT_LIFETIME.days), status


@bp.get("/admin/users/<name>")
@permission("users.manage")
def user_detail(name):
    """One account: disable/enable, reset the password, and its API tokens."""
    return _user_page(name)


def _act(name: str, action, done: str):
    try:
        action()
    except PharmacyError as error:
        return _user_page(name, error, http_status(error))
    flash(done, "success")
    return redirect(url_for("accounts.user_detail", name=name))


@bp.post("/admin/users/<name>/disable")
@permission("users.manage")
def disable(name):
    """Disable a leaver: no sign-in, no signature; their sessions end and their tokens are revoked."""
    return _act(name, lambda: accounts.disable_user(get_pharmacy(), username(), name, forms.text("reason", _("Reason"))),
                _("User {name} disabled: their sessions ended and their API tokens were revoked.", name=name))


@bp.post("/admin/users/<name>/enable")
@permission("users.manage")
def enable(name):
    return _act(name, lambda: accounts.enable_user(get_pharmacy(), username(), name, forms.text("reason", _("Reason"))),
                _("User {name} enabled again (their old API tokens stay revoked).", name=name))


@bp.post("/admin/users/<name>/password")
@permission("users.manage")
def reset_password(name):
    """Set a new password to tell the user; they must change it at their next sign-in."""
    return _act(name, lambda: accounts.reset_password(get_pharmacy(), username(), name, _raw("password")),
                _("Password of {name} reset: they must change it at their next sign-in.", name=name))


def _expiry() -> datetime | None:
    """The token's last day (a date in the pharmacy's zone; the token works until that day's end)."""
    if not (request.form.get("expires") or "").strip():
        return None
    day = forms.a_date("expires", _("Expiry"))
    zone = get_pharmacy().zone
    return datetime.combine(day, time(23, 59, 59), zone)


@bp.post("/admin/users/<name>/tokens")
@permission("users.manage")
@renders_after_post("the new token is shown on this one page only: it is never written anywhere, not even in the "
                    "session for the page after a redirect")
def create_token(name):
    """Create a token for this user; it is shown on this one page only (only its SHA-256 is kept)."""
    try:
        token = tokens.create_token(get_pharmacy(), name, forms.text("token_name", _("What the token is for")),
                                    by=username(), expires_at=_expiry(), scope=request.form.getlist("scope"))
    except PharmacyError as error:
        return _user_page(name, error, http_status(error))
    response = _user_page(name, new_token=token, status=201)
    page = current_app.make_response(response)
    page.headers["Cache-Control"] = "no-store"  # the token is on this page: no cache may keep a copy
    return page


@bp.post("/admin/users/<name>/tokens/<int:token_id>/revoke")
@permission("users.manage")
def revoke_token(name, token_id):
    if not any(row["id"] == token_id for row in tokens.list_tokens(get_pharmacy(), name)):
        return _user_page(name, NotFound(_("User {name} has no token number {token_id}.", name=name, token_id=token_id)), 404)
    return _act(name, lambda: tokens.revoke_token(get_pharmacy(), username(), token_id, request.form.get("reason") or ""),
                _("Token {token_id} revoked: it no longer works.", token_id=token_id))


@bp.app_template_filter("local_day")
def local_day(value: datetime) -> str:
    return i18n.format_moment(to_local(value, get_pharmacy().zone), "%d %b %Y")
