"""Signing in and out."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from pharmacy.domain.errors import PharmacyError
from pharmacy.services import users
from pharmacy.web import forms
from pharmacy.web.common import get_pharmacy
from pharmacy.web.errors import http_status
from pharmacy.web.security import PUBLIC, SIGNED_IN, WebUser, permission
from pharmacy.web.sessions import begin_new_session, end_session

bp = Blueprint("auth", __name__)


_SLASHES = {"/", "\\"}
# characters a person (or a lenient URL parser) reads as "/" or "\\" that NFKC leaves alone
_SLASH_LIKE = frozenset("\u2044\u2215\u2216\u29f8\u29f9\ufe68")
_MAX_NEXT = 2000


def _refused_text(text: str) -> bool:
    """Anything that can make a browser leave the site or split a header: control characters (tab, CR, LF,
    NUL, DEL …), spaces, backslashes, a second slash at the start, a scheme or a host."""
    if any(unicodedata.category(c)[0] in "CZ" or c in _SLASH_LIKE for c in text) or "\\" in text:
        return True
    if not text.startswith("/") or text.startswith("//") or "//" in text.split("?", 1)[0]:
        return True
    parts = urlsplit(text)
    return bool(parts.scheme or parts.netloc)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site, never ``//elsewhere``, ``/\\elsewhere``, ``https://…`` or an encoded or
    look-alike form of them (``%2F%2F``, ``/%09/``, ``／／``): no open redirect (issue 13). The value is
    checked as given, after every round of percent-decoding and after NFKC; what is followed is its ASCII
    form (other characters percent-encoded), so no header can carry a CR or LF."""
    if not target or len(target) > _MAX_NEXT:
        return None
    seen, form = set(), target
    for _ in range(5):  # %25252F… : decoded until nothing changes (bounded)
        folded = unicodedata.normalize("NFKC", form)
        if _refused_text(form) or _refused_text(folded) or sum(c in _SLASHES for c in folded) != form.count("/"):
            return None
        seen.add(form)
        decoded = unquote(form)
        if decoded in seen:
            break
        form = decoded
    else:
        return None
    return quote(target, safe="/?&=#%+-._~!$'()*,;:@")


@bp.route("/login", methods=["GET", "POST"])
@permission(PUBLIC)
def login():
    """Sign in. A new session starts at every sign-in (no session fixation)."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url)
    username = (request.form.get("username") or "").strip()
    try:
        # the name as typed: a failed attempt is recorded with it (services/security_events)
        user = users.authenticate(get_pharmacy(), request.form.get("username") or "", forms.raw("password"))
    except PharmacyError as error:
        return render_template("auth/login.html", next_url=next_url, error=error, username=username), http_status(error)
    session.clear()
    begin_new_session(session)  # the old id ends; the signed-in session gets a new random one
    login_user(WebUser(user))
    return redirect(next_url or url_for("home"))


@bp.post("/logout")
@permission(SIGNED_IN)
def logout():
    """Sign out: the session ends on the server, so a copy of its cookie opens nothing afterwards."""
    logout_user()
    end_session(session)
    return redirect(url_for("auth.login"))
