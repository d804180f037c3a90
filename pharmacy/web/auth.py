"""Signing in and out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from pharmacy.domain.errors import PharmacyError
from pharmacy.services import users
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy
from pharmacy.web.errors import http_status
from pharmacy.web.security import PUBLIC, SIGNED_IN, WebUser, mark_active, permission

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never ``//elsewhere`` or ``https://…``): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@permission(PUBLIC)
def login():
    """Sign in. A new session starts at every sign-in (no session fixation)."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url)
    username = (request.form.get("username") or "").strip()
    try:
        user = users.authenticate(get_pharmacy(), username, forms.raw("password"))
    except PharmacyError as error:
        return render_template("auth/login.html", next_url=next_url, error=error, username=username), http_status(error)
    session.clear()
    login_user(WebUser(user))
    mark_active()
    return redirect(next_url or url_for("home"))


@bp.post("/logout")
@permission(SIGNED_IN)
def logout():
    """Sign out and forget the session."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
