"""API tokens: create (shown once, only its SHA-256 kept), list, revoke, and the check of every API call.

A token belongs to one user and acts with that user's role, narrowed by an optional *scope* (a set of
permission names from ``domain/permissions.py`` that the role holds: a fridge monitor's token may only
``temps.record``). Every token expires (365 days unless the admin says otherwise); a revoked or expired
token, or one whose user is disabled, is refused with a message that says which. Creating and revoking
are audited with the acting admin's name (``system``: the operator on the server's command line).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.database import plain
from pharmacy.db.models import ApiToken, User
from pharmacy.domain import permissions
from pharmacy.domain.accounts import TOKEN_LIFETIME, check_scope, normalise_username, parse_scope
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError
from pharmacy.i18n import _, lazy
from pharmacy.services.base import Pharmacy, actor

DEFAULT_LIFETIME = TOKEN_LIFETIME
MAX_LIFETIME = timedelta(days=3 * 365)
SYSTEM = "system"  # the server's operator, at the command line (no account of their own)


class TokenRefused(NotAllowed):
    """An API call with a token that is unknown, revoked, expired, of a disabled user, or out of scope."""

    code = "token_refused"


@dataclass(frozen=True)
class TokenUser:
    """Who an API call acts as: the user, their role, and the token's scope (``None``: the whole role)."""

    username: str
    role: str
    scope: frozenset[str] | None
    token_name: str

    def may(self, permission: str) -> bool:
        return permissions.may(self.role, permission) and (self.scope is None or permission in self.scope)


def _digest(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _admin(session, by: str | None) -> User | None:
    return actor(session, by, "users.manage") if by else None


def _owner(session, username: str) -> User:
    user = session.execute(select(User).where(User.username == normalise_username(username))).scalar_one_or_none()
    if user is None:
        raise NotFound(_("There is no user “{username}”. Check the user name (pharmacy users list).", username=username))
    return user


def create_token(pharmacy: Pharmacy, username: str, name: str, *, by: str | None = None,
                 expires_at: datetime | None = None, scope=None) -> str:
    """A per-user or per-device token, shown once. ``by``: the admin (``None``: the operator, ``system``);
    ``expires_at``: default one year; ``scope``: permission names narrower than the role (default: all)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise PharmacyError(_("A token needs a name of 1–100 characters that says what it is for (device or system)."))
    now = clock.now()
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now:
        raise PharmacyError(_("A token's expiry must be in the future. Give a later date."))
    if expires_at > now + MAX_LIFETIME:
        raise PharmacyError(_("A token may be valid for at most 3 years. Give an earlier expiry."))
    wanted = parse_scope(scope)
    token = secrets.token_urlsafe(32)
    with pharmacy.uow() as uow:
        admin = _admin(uow.session, by)
        user = _owner(uow.session, username)
        if not user.active:
            raise NotAllowed(_("User “{username}” is disabled: a disabled user gets no token. Enable the user first.",
                               username=user.username))
        check_scope(wanted, permissions.GRANTS[permissions.Role(user.role)], permissions.PERMISSIONS, user.role)
        row = ApiToken(user_id=user.id, name=name, token_hash=_digest(token), created_at=now,
                       created_by=admin.id if admin else None, expires_at=expires_at,
                       scope=" ".join(sorted(wanted)) or None)
        uow.session.add(row)
        uow.session.flush()
        audit.append(uow.session, admin.username if admin else SYSTEM, "token.create", "user", user.id,
                     new={"token": row.id, "name": name, "expires_at": expires_at.isoformat(),
                          "scope": sorted(wanted) or "role"})
        uow.commit()
    return token


# a token's state as the screens say it (the state itself stays the English code: screens and the API compare it)
TOKEN_STATE_WORDS = {"active": lazy("active"), "revoked": lazy("revoked"), "expired": lazy("expired"),
                     "user disabled": lazy("user disabled")}


def list_tokens(pharmacy: Pharmacy, username: str | None = None) -> list[dict]:
    """Every token (or one user's), newest first, with its state as of now; never the token itself."""
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        query = select(ApiToken, User).join(User, ApiToken.user_id == User.id).order_by(ApiToken.id.desc())
        if username is not None:
            query = query.where(User.id == _owner(uow.session, username).id)
        names = {uid: name for uid, name in uow.session.execute(select(User.id, User.username)).all()}
        rows = []
        for token, user in uow.session.execute(query).all():
            state = ("revoked" if token.revoked else "expired" if token.expires_at <= now
                     else "user disabled" if not user.active else "active")
            rows.append({"id": token.id, "user": user.username, "role": user.role, "name": token.name,
                         "scope": token.scope or "whole role", "created_at": token.created_at,
                         "created_by": names[token.created_by] if token.created_by else SYSTEM, "expires_at": token.expires_at,
                         "revoked_at": token.revoked_at, "revoked_by": names.get(token.revoked_by) if token.revoked_by
                         else (SYSTEM if token.revoked else None), "state": state,
                         "state_text": i18n.now(TOKEN_STATE_WORDS[state])})
    return rows


def revoke_token(pharmacy: Pharmacy, by: str | None, token_id: int, reason: str = "") -> None:
    """Revoke one token for good (audited with the admin's name, ``system`` at the command line)."""
    with pharmacy.uow() as uow:
        admin = _admin(uow.session, by)
        row = uow.session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(_("There is no API token number {token_id}. Check the number (pharmacy tokens list).", token_id=token_id))
        if row.revoked:
            raise PharmacyError(_("Token {token_id} (“{name}”) was revoked already; nothing was changed.",
                                  token_id=token_id, name=row.name))
        row.revoked, row.revoked_at, row.revoked_by = True, clock.now(), admin.id if admin else None
        audit.append(uow.session, admin.username if admin else SYSTEM, "token.revoke", "user", row.user_id,
                     new={"token": row.id, "name": row.name}, reason=(reason or "").strip() or None)
        uow.commit()


def revoke_user_tokens(session, user_id: int, by: User | None) -> list[int]:
    """Inside the caller's transaction: revoke every live token of a user (a disabled user's)."""
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False))
                           .with_for_update()).scalars().all()
    now = clock.now()
    for row in rows:
        row.revoked, row.revoked_at, row.revoked_by = True, now, by.id if by else None
    return [row.id for row in rows]


_TOKEN_USER = (select(ApiToken.name, ApiToken.revoked, ApiToken.expires_at, ApiToken.scope, User.username, User.role,
                      User.active).join(User, ApiToken.user_id == User.id)
               .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(pharmacy: Pharmacy, token: str) -> TokenUser:
    """Who a bearer token acts as; refused, saying why, when it is unknown, revoked, expired or its user disabled."""
    with pharmacy.uow(readonly=True) as uow:  # plain columns of a statement built once: every API call asks this (issue 18)
        found = plain(uow.session, _TOKEN_USER, {"token_hash": _digest(token)}).first()
    if found is None:
        raise TokenRefused(_("Unknown API token. Check the token, or ask an administrator for a new one."))
    row = user = found
    if row.revoked:
        raise TokenRefused(_("This API token (“{name}”) was revoked. Ask an administrator for a new one.", name=row.name))
    if row.expires_at <= clock.now():
        raise TokenRefused(_("This API token (“{name}”) expired on {expires_at:%Y-%m-%d %H:%M} UTC. "
                             "Ask an administrator for a new one.", name=row.name, expires_at=row.expires_at))
    if not user.active:
        raise TokenRefused(_("This API token belongs to user “{username}”, who is disabled. Ask an administrator.", username=user.username))
    return TokenUser(user.username, user.role, frozenset(row.scope.split()) if row.scope else None, row.name)
