"""Post/Redirect/Get for every screen (issue 16): a form's POST never answers with a page, so Back never
asks to send the form again and a reload never records a step, a scan or a refusal twice.

One ``after_request`` hook, for every view (a new view cannot forget it): a POST that answers with a
page (a refusal shown on its screen, with its message, the fields it highlights and what the user typed;
or the next screen of a flow, such as the bedside's wristband step) is turned into a ``303 See Other``.
The page, as it was rendered, travels in the server-side session (web/sessions.py: never in the cookie)
and is shown ONCE, with its status, by the GET that follows; a reload of that GET shows the screen
afresh. The 303 goes to the page the form was on: the same URL when a GET answers there (``/login``,
``/check/5``), else the page that sent the form (its ``Referer``, only a path on this site), else home.

Not redirected, each for a reason the test of every POST route names (tests/web/test_post_redirect_get.py):
files (a label PDF, whose download leaves the screen where it is), the JSON API (other systems, not a
browser), a server fault (5xx: the database may be what failed, so nothing can be kept in the session), a POST
that ended its own session (nothing can be kept in it), and the accepted answer of a view marked
``@renders_after_post(reason)``."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, make_response, redirect, request, session, url_for

from pharmacy import clock

KEY = "_shown_once"
KEPT = timedelta(minutes=2)  # a page not fetched by then (the browser went elsewhere) is not shown later


def renders_after_post(reason: str):
    """Mark a view whose POST must answer with the page itself; ``reason`` says why (listed by the test)."""

    def mark(view):
        view.renders_after_post = reason
        return view

    return mark


def _here(path: str, query: bytes | str) -> str:
    query = query.decode("latin-1") if isinstance(query, bytes) else query
    return path + ("?" + query if query else "")


def _target() -> str:
    """Where the browser goes after the POST: the page the form was on."""
    from pharmacy.web.auth import _safe_next  # the one rule for an on-site path (no open redirect)

    adapter = current_app.create_url_adapter(request)
    try:
        adapter.match(request.path, method="GET")  # type: ignore[union-attr]
        return _safe_next(_here(request.script_root + request.path, request.query_string)) or url_for("home")
    except Exception:  # noqa: BLE001 - werkzeug raises NotFound / MethodNotAllowed / RequestRedirect
        pass
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        target = _safe_next(_here(referrer.path, referrer.query))
        if target:
            return target
    return url_for("home")


def _ended_during_this_request() -> bool:
    """The POST ended its own session (a lock after wrong signatures ends the account's sessions): the page
    cannot travel in it, and the next GET goes to the sign-in page. A reload of that page is refused by the
    guard before any service is reached, so it records nothing."""
    sid = getattr(session, "sid", None)
    if sid is None:
        return False
    from pharmacy.services import sessions

    loaded = sessions.load(current_app.extensions["pharmacy"], sid)
    return loaded is None or loaded.ended is not None


def _same(a: str, b: str) -> bool:
    return unquote(a) == unquote(b)


def redirect_after_post(response):
    """``after_request``: a page answering a POST becomes a 303 to the page the form was on."""
    if request.method != "POST" or request.endpoint is None or not 200 <= response.status_code < 500:
        return response
    if 300 <= response.status_code < 400 or response.mimetype != "text/html" or request.blueprint == "api":
        return response  # already a redirect; a file or JSON
    if response.status_code < 400 and getattr(current_app.view_functions.get(request.endpoint), "renders_after_post", None):
        return response  # its refusals are redirected like any other
    if _ended_during_this_request():
        return response  # the refusal explains it (the fifth wrong signature locked the account); nothing is kept
    target = _target()
    session[KEY] = {"path": target, "status": response.status_code, "page": response.get_data(as_text=True),
                    "at": clock.now().isoformat()}
    return redirect(target, 303)


def show_once():
    """``before_request``: the GET after the 303 shows the page the POST rendered, once."""
    if request.method != "GET" or KEY not in session:
        return None
    pending = session.pop(KEY)
    try:
        fresh = clock.now() - datetime.fromisoformat(pending["at"]) <= KEPT
        if not fresh or not _same(pending["path"], _here(request.script_root + request.path, request.query_string)):
            return None
        response = make_response(pending["page"], int(pending["status"]))
    except (KeyError, TypeError, ValueError):
        return None  # not a page we kept: the screen is shown afresh
    response.mimetype = "text/html"
    return response


def register(app: Flask) -> None:
    app.before_request(show_once)  # after the guard: the page is shown only to whom may open its URL
    app.after_request(redirect_after_post)
