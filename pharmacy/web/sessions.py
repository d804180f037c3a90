"""Flask's session kept on the server (issue 13, H21): the cookie carries only a random id, the data
(the signed-in user, the CSRF token, flash messages) lives in ``user_sessions`` through
``services/sessions.py``, so a session ends for good at sign-out, idle timeout, absolute lifetime, a lock
or an admin's "End sessions", and a copied cookie opens nothing afterwards.

Writes are kept off the hot path: a request that changes nothing in the session writes nothing, except
``last_seen_at`` once every ``sessions.LAST_SEEN_EVERY``. Nor does the page that shows what is shown once (the
flash messages, the page a POST rendered: web/prg.py) write the session to take them out (issue 18: half the
sessions' writes): the data that holds them carries a random mark (``_once``), and the page that shows them sends
that mark back in a second cookie (``…_seen``); the next request that brings it opens the session without them,
and the next write of the session leaves them out for good. The mark opens nothing: without the session cookie it
is nothing, and a wrong or missing mark only shows the messages again. With ``SESSION_COOKIE_SECURE`` the cookie is
named ``__Host-…`` (the browser then insists on Secure, Path=/ and no Domain, so no sibling host can set it)."""

from __future__ import annotations

import copy
import secrets
from datetime import datetime

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin, session_json_serializer
from werkzeug.datastructures import CallbackDict

from pharmacy import clock
from pharmacy.services import security_events, sessions
from pharmacy.web import prg

MAX_SID = 100  # a longer cookie value is no id of ours: not even looked up
ONCE = ("_flashes", prg.KEY)  # what the first page that shows it takes out: Flask's flashes, the page a POST rendered
MARK = "_once"  # the random mark of the data holding them


def _shown(data: dict, seen: str | None) -> dict:
    """The session's data without what was shown once, when the browser says (``seen``) it showed it."""
    if seen is None or not data.get(MARK) or seen != data[MARK]:
        return data
    return {key: value for key, value in data.items() if key not in ONCE and key != MARK}


class ServerSession(CallbackDict, SessionMixin):
    """The session of one request. ``ended``: why the session the cookie named has ended (for the sign-in
    page's message); ``rotate``/``finish``: set by ``begin_new_session``/``end_session`` below."""

    def __init__(self, initial=None, sid: str | None = None, last_seen: datetime | None = None,
                 ended: str | None = None, user=None) -> None:
        def changed(_self) -> None:
            self.modified = True

        super().__init__(initial, changed)
        self.sid = sid
        self.last_seen = last_seen
        self.ended = ended
        self.user = user  # the user row read with the session (web/app.load_user reads it: no second query)
        self.loaded = copy.deepcopy(dict(initial or {}))  # as opened (a flash appends to its list in place)
        self.modified = False
        self.rotate = False
        self.finish: str | None = None


def begin_new_session(session) -> None:
    """At sign-in: the old id is ended and the data moves to a new random id (no session fixation)."""
    session.rotate = True


def end_session(session, reason: str = sessions.SIGNED_OUT) -> None:
    """At sign-out: the session ends on the server; its cookie is deleted."""
    session.clear()
    session.finish = reason


def _user_id(data: dict) -> int | None:
    raw = data.get("_user_id")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


class ServerSessionInterface(SessionInterface):
    serializer = session_json_serializer

    def get_cookie_name(self, app: Flask) -> str:
        name = app.config["SESSION_COOKIE_NAME"]
        if self.get_cookie_secure(app) and not name.startswith("__Host-"):
            return "__Host-" + name
        return name

    def get_cookie_domain(self, app: Flask) -> str | None:
        return None  # host-only (``__Host-`` forbids a Domain)

    def get_cookie_path(self, app: Flask) -> str:
        return "/"

    def seen_cookie_name(self, app: Flask) -> str:
        return self.get_cookie_name(app) + "_seen"

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        security_events.set_client(request.remote_addr, request.user_agent.string)
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > MAX_SID:
            return ServerSession()
        if app.static_url_path and request.path.startswith(app.static_url_path + "/"):
            return ServerSession()  # a stylesheet needs no session (opened before the URL is matched)
        loaded = sessions.load(app.extensions["pharmacy"], sid)
        if loaded is None:
            return ServerSession()
        if loaded.ended is not None:
            return ServerSession(ended=loaded.ended if loaded.user_id is not None else None)
        try:
            data = self.serializer.loads(loaded.data or "{}")
        except ValueError:
            data = {}
        data = _shown(data if isinstance(data, dict) else {}, request.cookies.get(self.seen_cookie_name(app)))
        return ServerSession(data, sid=sid, last_seen=loaded.last_seen_at, user=loaded.user)

    def save_session(self, app: Flask, session, response: Response) -> None:  # type: ignore[override]
        pharmacy = app.extensions["pharmacy"]
        name = self.get_cookie_name(app)
        if session.sid is not None and (session.finish or session.rotate or (not session and session.modified)):
            sessions.end(pharmacy, session.sid, session.finish or (sessions.REPLACED if session.rotate
                                                                    else sessions.SIGNED_OUT))
            session.sid = None
        if not session:
            if session.finish or session.ended or session.modified:
                for cookie in (name, self.seen_cookie_name(app)):
                    response.delete_cookie(cookie, path="/", secure=self.get_cookie_secure(app),
                                           httponly=True, samesite=self.get_cookie_samesite(app))
            return
        response.vary.add("Cookie")
        if session.sid is not None and session.modified and self._only_shown(session):
            # this page showed what was kept to show once, and changed nothing else: the browser keeps the mark
            response.set_cookie(self.seen_cookie_name(app), session.loaded[MARK], path="/",
                                secure=self.get_cookie_secure(app), httponly=True,
                                samesite=self.get_cookie_samesite(app))
            session.modified = False
        if session.modified or session.sid is None:
            self._mark(session)
        if session.sid is None:
            from flask import request  # the client of this response's request

            sid = sessions.create(pharmacy, self.serializer.dumps(dict(session)), _user_id(session),
                                  request.remote_addr, request.user_agent.string)
            response.set_cookie(name, sid, path="/", secure=self.get_cookie_secure(app), httponly=True,
                                samesite=self.get_cookie_samesite(app))
        elif session.modified:
            sessions.save(pharmacy, session.sid, self.serializer.dumps(dict(session)), _user_id(session))
        elif session.last_seen is None or clock.now() - session.last_seen >= sessions.LAST_SEEN_EVERY:
            sessions.save(pharmacy, session.sid, None, None)

    @staticmethod
    def _only_shown(session: ServerSession) -> bool:
        """The request only took out what was shown once (all of it), under the mark the data carries."""
        before, now = session.loaded, dict(session)
        if not before.get(MARK) or any(key in now for key in ONCE):
            return False
        kept = {key: value for key, value in before.items() if key not in ONCE}
        return now == kept

    @staticmethod
    def _mark(session: ServerSession) -> None:
        """Data about to be written that holds something to show once gets a new random mark (none else)."""
        if any(key in session for key in ONCE):
            dict.__setitem__(session, MARK, secrets.token_urlsafe(12))
        elif MARK in session:
            dict.__delitem__(session, MARK)
