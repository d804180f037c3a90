"""Server-side sessions (issue 13, H21): kept in ``user_sessions`` so that every app worker, and a
second server on the same PostgreSQL, sees the same sessions, and so that a session can END: at
sign-out, after the idle timeout, at its absolute lifetime, when its account is locked or disabled,
or when an admin ends it. An ended session is never reopened, so a cookie copied before any of these
opens nothing afterwards.

The cookie carries a random id (256 bits); the table keeps only its SHA-256, so a copy of the table
(a backup, a report) opens no session.

Cost per request: one indexed SELECT (the session's user comes with it). ``last_seen_at`` is written at most every ``LAST_SEEN_EVERY``
(not at every GET) and the data only when it changed. The idle timeout is measured from the stored
``last_seen_at``, so a session ends between ``idle_timeout - LAST_SEEN_EVERY`` and ``idle_timeout``
after its last request — never later than the setting."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import User, UserSession
from pharmacy.domain.accounts import normalise_username
from pharmacy.domain.errors import NotFound
from pharmacy.i18n import _
from pharmacy.services.base import Pharmacy, actor

LAST_SEEN_EVERY = timedelta(seconds=30)
# anonymous sessions (a sign-in page's CSRF token, a flash message) are forgotten this long after their last use
ANONYMOUS_KEPT = timedelta(hours=1)

# end reasons, as stored and shown to the admin
SIGNED_OUT = "signed out"
IDLE = "idle timeout"
LIFETIME = "absolute lifetime"
REPLACED = "new sign-in"
BY_ADMIN = "ended by an admin"
LOCKED = "account locked"
DISABLED = "account disabled"


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogateescape")).hexdigest()


def new_sid() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Loaded:
    """What a cookie opens: the data of a live session, or why it opens nothing (``ended``)."""

    data: str | None
    user_id: int | None
    last_seen_at: datetime | None
    ended: str | None  # None: live
    user: SessionUser | None = None  # the session's user, read in the same statement (web/app.load_user: issue 18)


def end_user_sessions(db_session: Session, user_id: int, reason: str) -> int:
    """End every open session of a user inside the caller's transaction (an admin disables the user, a lock,
    an admin's "End sessions"). Returns how many were open."""
    result = db_session.execute(
        update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason[:40]))
    return int(getattr(result, "rowcount", 0) or 0)


def _expiry(row: Any, now: datetime, idle: timedelta, lifetime: timedelta) -> str | None:
    if now - row.last_seen_at > idle:
        return IDLE
    if row.user_id is not None and now - row.created_at > lifetime:
        return LIFETIME
    return None


# the statements of every request, built once (issue 18)
# the user's columns the screens keep (web/security.WebUser), as plain columns (``u_…``): no ORM objects a request
_USER_COLUMNS = ("id", "username", "full_name", "role", "active", "must_change_password", "language")
_LOAD = (select(UserSession.user_id, UserSession.data, UserSession.created_at, UserSession.last_seen_at,
                UserSession.ended_at, UserSession.end_reason,
                *(getattr(User, name).label("u_" + name) for name in _USER_COLUMNS))
         .outerjoin(User, User.id == UserSession.user_id).where(UserSession.sid_hash == bindparam("key")))


@dataclass(frozen=True)
class SessionUser:
    """The signed-in user's columns read with the session (what web/security.WebUser copies)."""

    id: int
    username: str
    full_name: str
    role: str
    active: bool
    must_change_password: bool
    language: str | None
_LIVE = (UserSession.sid_hash == bindparam("key")) & UserSession.ended_at.is_(None)
_SEEN = update(UserSession).where(_LIVE).values(last_seen_at=bindparam("seen_at"))
_SAVE = update(UserSession).where(_LIVE).values(last_seen_at=bindparam("seen_at"), data=bindparam("new_data"),
                                                user_id=bindparam("new_user_id"))


def load(pharmacy: Pharmacy, sid: str) -> Loaded | None:
    """The session a cookie names; ``None`` when no such session exists. A session found past its idle
    timeout or lifetime is ended here (and reported as ended)."""
    settings = pharmacy.settings
    idle = timedelta(minutes=settings.idle_timeout_minutes)
    lifetime = timedelta(hours=settings.session_lifetime_hours)
    now = clock.now()
    key = sid_hash(sid)
    with pharmacy.uow(readonly=True) as uow:
        row = plain(uow.session, _LOAD, {"key": key}).first()
    if row is None:
        return None
    user = (SessionUser(*(getattr(row, "u_" + name) for name in _USER_COLUMNS))
            if row.u_username is not None else None)
    if row.ended_at is not None:
        return Loaded(None, row.user_id, row.last_seen_at, row.end_reason or SIGNED_OUT)
    reason = _expiry(row, now, idle, lifetime)
    if reason is not None:
        with pharmacy.uow() as uow:
            uow.session.execute(update(UserSession).where(UserSession.sid_hash == key, UserSession.ended_at.is_(None))
                                .values(ended_at=now, end_reason=reason))
            uow.commit()
        return Loaded(None, row.user_id, row.last_seen_at, reason)
    return Loaded(row.data, row.user_id, row.last_seen_at, None, user)


def create(pharmacy: Pharmacy, data: str, user_id: int | None, address: str | None, user_agent: str | None) -> str:
    """A new session; returns its id (for the cookie only: the table keeps its hash)."""
    sid, now = new_sid(), clock.now()
    with pharmacy.uow() as uow:
        uow.session.add(UserSession(sid_hash=sid_hash(sid), user_id=user_id, created_at=now, last_seen_at=now,
                                    address=(address or "")[:45] or None, user_agent=(user_agent or "")[:300] or None,
                                    data=data))
        # forget anonymous sessions nobody used for a while (sign-in pages left open, probes)
        uow.session.execute(delete(UserSession).where(UserSession.user_id.is_(None),
                                                      UserSession.last_seen_at < now - ANONYMOUS_KEPT))
        uow.commit()
    return sid


def save(pharmacy: Pharmacy, sid: str, data: str | None, user_id: int | None) -> None:
    """Store changed data (``None``: unchanged) and the time of this request; only a live session."""
    with pharmacy.uow() as uow:
        if data is None:
            plain(uow.session, _SEEN, {"key": sid_hash(sid), "seen_at": clock.now()})
        else:
            plain(uow.session, _SAVE, {"key": sid_hash(sid), "seen_at": clock.now(), "new_data": data,
                                       "new_user_id": user_id})
        uow.commit()


def end(pharmacy: Pharmacy, sid: str, reason: str) -> None:
    with pharmacy.uow() as uow:
        uow.session.execute(update(UserSession).where(UserSession.sid_hash == sid_hash(sid),
                                                      UserSession.ended_at.is_(None))
                            .values(ended_at=clock.now(), end_reason=reason))
        uow.commit()


@dataclass(frozen=True)
class OpenSession:
    id: int
    username: str
    full_name: str
    role: str
    created_at: datetime
    last_seen_at: datetime
    address: str | None
    user_agent: str | None


def open_sessions(pharmacy: Pharmacy, by: str) -> list[OpenSession]:
    """Every signed-in session not ended and not past its idle timeout or lifetime, newest first (admin)."""
    settings = pharmacy.settings
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        actor(uow.session, by, "users.manage")
        rows = uow.session.execute(
            select(UserSession, User).join(User, User.id == UserSession.user_id)
            .where(UserSession.ended_at.is_(None)).order_by(User.username, UserSession.created_at.desc())).all()
    idle = timedelta(minutes=settings.idle_timeout_minutes)
    lifetime = timedelta(hours=settings.session_lifetime_hours)
    return [OpenSession(s.id, u.username, u.full_name, u.role, s.created_at, s.last_seen_at, s.address, s.user_agent)
            for s, u in rows if _expiry(s, now, idle, lifetime) is None]


def end_sessions_of(pharmacy: Pharmacy, by: str | None, username: str, reason: str = BY_ADMIN) -> int:
    """An admin (``by``; ``None``: the command line on the server) ends every session of ``username``:
    their next request goes to the sign-in page. Audited with the acting admin."""
    with pharmacy.uow() as uow:
        admin = actor(uow.session, by, "users.manage").username if by else "system"
        user = uow.session.execute(select(User).where(User.username == normalise_username(username))).scalar_one_or_none()
        if user is None:
            raise NotFound(_("User “{username}” does not exist. Check the user name.", username=username))
        count = end_user_sessions(uow.session, user.id, reason)
        audit.append(uow.session, admin, "user.sessions_ended", "user", user.id,
                     new={"username": user.username, "sessions": count}, reason=reason)
        uow.commit()
        return count
