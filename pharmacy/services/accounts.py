"""The account life-cycle after ``users.add_user``: a user changes their own password, an admin resets
one (the user must change it at the next sign-in), disables a leaver (with a reason; their sessions end
and their tokens are revoked) or enables them again. Every act is audited with the acting admin's name,
or ``system`` for the operator at the server's command line.

An admin cannot disable themselves, nor the last active admin: someone must be left who can enable
accounts again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.models import User
from pharmacy.domain.accounts import check_password_policy, normalise_username
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError
from pharmacy.i18n import _, lazy
from pharmacy.services import tokens, users
from pharmacy.services.base import Pharmacy, actor

SYSTEM = tokens.SYSTEM
MIN_REASON = 5


@dataclass(frozen=True)
class Account:
    """A user as the admin's list shows it."""

    id: int
    username: str
    full_name: str
    role: str
    active: bool
    locked: bool
    must_change_password: bool
    created_at: datetime
    password_changed_at: datetime | None
    disabled_reason: str | None


def list_users(pharmacy: Pharmacy) -> list[Account]:
    now = clock.now()
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(select(User).order_by(User.username)).scalars().all()
        return [Account(u.id, u.username, u.full_name, u.role, bool(u.active),
                        bool(u.locked_until and u.locked_until > now), bool(u.must_change_password),
                        u.created_at, u.password_changed_at, u.disabled_reason) for u in rows]


def _user(session, username: str) -> User:
    user = session.execute(select(User).where(User.username == normalise_username(username))
                           .with_for_update()).scalar_one_or_none()
    if user is None:
        raise NotFound(_("There is no user “{username}”. Check the user name.", username=username))
    return user


def _admin(session, by: str | None) -> User | None:
    return actor(session, by, "users.manage") if by else None


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise PharmacyError(_("Give the reason in a few words (at least {MIN_REASON} characters): it goes into the audit trail.",
                              MIN_REASON=MIN_REASON))
    return reason


def _check_new(new: str, repeated: str, username: str) -> None:
    if new != repeated:
        raise PharmacyError(_("The new password and its repetition differ. Type the new password twice, the same."))
    check_password_policy(new, username)


def change_password(pharmacy: Pharmacy, username: str, current: str, new: str, repeated: str) -> None:
    """The user changes their own password: the current one, then the new one twice. Ends a forced change."""
    found = users._find(pharmacy, username)
    if found is None or not found.active:
        raise NotAllowed(_("User “{username}” is not an active user of this pharmacy.", username=username))
    # the current password is checked as a signature is: outside the write transaction, and a wrong one
    # counts toward the same lockout (a stolen session cannot guess the password here without limit)
    users.check_signature(pharmacy, found.username, current, lazy("password change"))
    _check_new(new, repeated, found.username)
    if users._check(found, new):
        raise PharmacyError(_("The new password is the current one. Choose a new password."))
    digest = users._hasher.hash(new)
    with pharmacy.uow() as uow:
        user = _user(uow.session, found.username)
        user.password_hash, user.password_changed_at, user.must_change_password = digest, clock.now(), False
        audit.append(uow.session, user.username, "user.password_change", "user", user.id)
        uow.commit()


def set_language(pharmacy: Pharmacy, username: str, language: str | None) -> str | None:
    """The user chooses the language of their own screens (issue 16 point 8); none (an empty choice): the
    pharmacy's ``PHARMACY_LANGUAGE``. Audited with the old and the new choice; returns the new one."""
    chosen = (language or "").strip() or None
    if chosen is not None and chosen not in i18n.LANGUAGES:
        raise PharmacyError(_("“{language}” is not a language of these screens: choose one of {languages}.",
                              language=chosen[:20], languages=", ".join(i18n.LANGUAGES.values())))
    with pharmacy.uow() as uow:
        user = _user(uow.session, username)
        if not user.active:
            raise NotAllowed(_("User “{username}” is not an active user of this pharmacy.", username=username))
        if user.language != chosen:
            audit.append(uow.session, user.username, "user.language", "user", user.id,
                         old={"language": user.language}, new={"language": chosen})
            user.language = chosen
        uow.commit()
    return chosen


def reset_password(pharmacy: Pharmacy, by: str | None, username: str, new: str) -> None:
    """An admin sets a new password (told to the user by a safe channel); the user must change it at the
    next sign-in. A lockout ends with it."""
    check_password_policy(new, normalise_username(username))
    digest = users._hasher.hash(new)
    with pharmacy.uow() as uow:
        admin = _admin(uow.session, by)
        user = _user(uow.session, username)
        user.password_hash, user.password_changed_at = digest, clock.now()
        user.must_change_password, user.failed_logins, user.locked_until = True, 0, None
        audit.append(uow.session, admin.username if admin else SYSTEM, "user.password_reset", "user", user.id,
                     new={"must_change_password": True})
        uow.commit()


def _active_admins(session) -> int:
    return session.execute(select(func.count()).select_from(User)
                           .where(User.role == "admin", User.active.is_(True))).scalar_one()


def end_sessions(session, user_id: int, reason: str) -> None:
    """End every open screen session of a user, inside the caller's transaction. Sessions are helper
    code of ``services/sessions.end_user_sessions``; until it exists, a disabled user's session ends
    anyway at their next request (the login manager loads only active users)."""
    try:
        from pharmacy.services.sessions import end_user_sessions  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - server-side sessions not installed yet
        return
    end_user_sessions(session, user_id, reason)


def disable_user(pharmacy: Pharmacy, by: str | None, username: str, reason: str) -> list[int]:
    """Disable a leaver's account: no sign-in, no signature, sessions ended, tokens revoked. Returns the
    revoked tokens' numbers."""
    reason = _reason(reason)
    with pharmacy.uow() as uow:
        admin = _admin(uow.session, by)
        user = _user(uow.session, username)
        if admin is not None and admin.id == user.id:
            raise NotAllowed(_("You cannot disable your own account. Ask another administrator."))
        if not user.active:
            raise PharmacyError(_("User “{username}” is disabled already; nothing was changed.", username=user.username))
        if user.role == "admin" and _active_admins(uow.session) <= 1:
            raise NotAllowed(_("“{username}” is the last active administrator: nobody could enable accounts "
                               "again. Add or enable another administrator first.", username=user.username))
        user.active, user.disabled_reason = False, reason
        revoked = tokens.revoke_user_tokens(uow.session, user.id, admin)
        end_sessions(uow.session, user.id, f"account disabled: {reason}")
        audit.append(uow.session, admin.username if admin else SYSTEM, "user.disable", "user", user.id,
                     old={"active": True}, new={"active": False, "tokens_revoked": revoked}, reason=reason)
        uow.commit()
        return revoked


def enable_user(pharmacy: Pharmacy, by: str | None, username: str, reason: str) -> None:
    """Enable an account again. Its old tokens stay revoked (an admin creates new ones if needed)."""
    reason = _reason(reason)
    with pharmacy.uow() as uow:
        admin = _admin(uow.session, by)
        user = _user(uow.session, username)
        if user.active:
            raise PharmacyError(_("User “{username}” is enabled already; nothing was changed.", username=user.username))
        user.active, user.disabled_reason, user.failed_logins, user.locked_until = True, None, 0, None
        audit.append(uow.session, admin.username if admin else SYSTEM, "user.enable", "user", user.id,
                     old={"active": False}, new={"active": True}, reason=reason)
        uow.commit()
