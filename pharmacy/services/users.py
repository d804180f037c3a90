"""Users, roles, passwords (argon2id) and the electronic signature."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from pharmacy import clock, i18n
from pharmacy.db import audit
from pharmacy.db.models import User
from pharmacy.domain import accounts
from pharmacy.domain.accounts import MIN_PASSWORD, UsernameRefused, WeakPassword, normalise_username
from pharmacy.domain.errors import AuthenticationFailed, PharmacyError
from pharmacy.i18n import _, lazy
from pharmacy.services import security_events, sessions, tokens
from pharmacy.services.base import ROLES, Pharmacy, actor

__all__ = ["MIN_PASSWORD", "WeakPassword", "UsernameRefused"]
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# argon2id at OWASP's recommended floor (19 MiB, 2 passes, 1 lane): memory-hard, ~30 ms a hash on one
# core. The library's default (64 MiB, 4 lanes) took both cores of a ward server for every signature.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def check_password_policy(password: str, username: str | None = None) -> None:
    """The one password policy (``domain/accounts.check_password_policy``)."""
    accounts.check_password_policy(password, username)


def add_user(pharmacy: Pharmacy, by: str | None, username: str, full_name: str, role: str, password: str,
             must_change_password: bool | None = None) -> int:
    """Create a user. ``by`` is the admin doing it (``None`` only for the command line on the server).
    The name is normalised (NFKC, case-folded) and refused when it looks like an existing one (UTS #39).
    ``must_change_password``: the user must choose their own password at the first sign-in; by default
    when an admin creates the account (they chose the password)."""
    username = accounts.check_username(username)
    if role not in ROLES:
        raise PharmacyError(_("Role must be one of: {ROLES}.", ROLES=', '.join(ROLES)))
    check_password_policy(password, username)
    forced = by is not None if must_change_password is None else must_change_password
    with pharmacy.uow() as uow:
        admin = actor(uow.session, by, "users.manage").username if by else "system"
        existing = uow.session.execute(select(User.username)).scalars().all()
        if username in existing:
            raise UsernameRefused(_("User “{username}” exists already. Choose another user name.", username=username))
        similar = accounts.look_alike(username, existing)
        if similar is not None:
            raise UsernameRefused(_("User name “{username}” looks like the existing user “{similar}” (letters from "
                                    "another alphabet or look-alike characters): signatures must name one person "
                                    "beyond doubt. Choose a user name that looks different.", username=username, similar=similar))
        user = User(username=username, full_name=(full_name or username).strip(), role=role,
                    password_hash=_hasher.hash(password), created_at=clock.now(), must_change_password=forced)
        uow.session.add(user)
        uow.session.flush()
        audit.append(uow.session, admin, "user.add", "user", user.id,
                     new={"username": username, "role": role, "must_change_password": forced})
        uow.commit()
        return user.id


def _check(user: User | None, password: str) -> bool:
    if user is None:
        _hasher.hash("timing-equaliser")  # same cost whether or not the user exists
        return False
    try:
        return _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def _find(pharmacy: Pharmacy, username: str) -> User | None:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(User).where(User.username == normalise_username(username))).scalar_one_or_none()


# One text for a wrong name, a wrong password, a locked and a disabled account (OWASP ASVS 2.2.1, H22): the
# page must not tell an attacker which names exist or that a guess hit a locked account.
SIGN_IN_REFUSED = lazy("User name or password is wrong, or the account is locked after repeated failed attempts. "
                       "Check both and try again; after {failures} failures in a row the account stays locked for "
                       "{minutes} minutes (an administrator can help sooner).")


def _locked(user: User, now) -> bool:
    return bool(user.locked_until and user.locked_until > now)


def _count_failure(pharmacy: Pharmacy, user_id: int, what: str) -> None:
    """One more failure in a row for this account (a sign-in or a signature: the same count, H22). At
    ``MAX_FAILURES`` the account is locked for ``LOCKOUT`` (audited) and its open sessions end: a
    session opened before the attack must not go on signing."""
    now = clock.now()
    with pharmacy.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or _locked(user, now):  # removed since it was read, or locked meanwhile
            return
        user.failed_logins += 1
        locked = user.failed_logins >= MAX_FAILURES
        if locked:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
            sessions.end_user_sessions(uow.session, user.id, sessions.LOCKED)
            audit.append(uow.session, user.username, "user.locked", "user", user.id,
                         reason=f"{MAX_FAILURES} failed sign-ins or signatures in a row (the last: {what})")
        username = user.username
        uow.commit()
    if locked:
        security_events.record(pharmacy, security_events.LOCKED, username,
                               detail=f"locked for {int(LOCKOUT.total_seconds() // 60)} minutes after {what}")


def _clear_failures(pharmacy: Pharmacy, user: User) -> None:
    if user.failed_logins or user.locked_until:
        with pharmacy.uow() as uow:
            row = uow.session.get(User, user.id)
            if row is not None:
                row.failed_logins, row.locked_until = 0, None
                uow.commit()


def authenticate(pharmacy: Pharmacy, username: str, password: str) -> User:
    """Sign in. After 5 failures in a row (sign-ins and signatures together) the account is locked for
    15 minutes (audited). Every refusal has the same text and the same cost: argon2 runs for an unknown
    name and for a locked account too, and each failure is recorded (``security_events``, the name as typed).

    The password is checked outside any write transaction: argon2 is slow on purpose, and must not
    keep every other writer (a technician's scan, a nurse's start) waiting on the database lock."""
    now = clock.now()
    found = _find(pharmacy, username)
    accepted = _check(found, password)
    if found is not None and accepted and found.active and not _locked(found, now):
        _clear_failures(pharmacy, found)
        return found
    why = ("no such user" if found is None else "account locked" if _locked(found, now)
           else "account disabled" if not found.active else "wrong password")
    security_events.record(pharmacy, security_events.SIGN_IN_FAILED, username, detail=why)
    if why == "wrong password" and found is not None:
        _count_failure(pharmacy, found.id, "a sign-in")
    raise AuthenticationFailed(SIGN_IN_REFUSED.now().format(failures=MAX_FAILURES, minutes=int(LOCKOUT.total_seconds() // 60)))


def check_signature(pharmacy: Pharmacy, username: str, password: str, meaning: str) -> None:
    """Electronic signature: the signed-in user types the password again for this one act. Checked
    before the act's transaction opens (argon2 must not hold the database's write lock). A wrong
    password counts toward the sign-in lockout, and a locked or disabled account cannot sign (H22)."""
    now = clock.now()
    found = _find(pharmacy, username)
    accepted = _check(found, password)
    if found is not None and accepted and found.active and not _locked(found, now):
        _clear_failures(pharmacy, found)
        return
    why = ("no such user" if found is None else "account locked" if _locked(found, now)
           else "account disabled" if not found.active else "wrong password")
    security_events.record(pharmacy, security_events.SIGNATURE_FAILED, username, detail=f"{meaning}: {why}")
    if why == "wrong password" and found is not None:
        _count_failure(pharmacy, found.id, f"a signature ({meaning})")
    raise AuthenticationFailed(_("Password not accepted: the {meaning} was not signed and nothing was recorded. "
                                 "After {MAX_FAILURES} wrong passwords in a row (at sign-in or at a signature) "
                                 "the account is locked and signed out.", meaning=i18n.now(meaning), MAX_FAILURES=MAX_FAILURES))


def get_user(pharmacy: Pharmacy, user_id: int) -> User | None:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.get(User, user_id)


def create_token(pharmacy: Pharmacy, username: str, name: str, **options) -> str:
    """A per-user or per-device API token, shown once (``services/tokens.create_token``: by, expiry, scope)."""
    return tokens.create_token(pharmacy, username, name, **options)


def user_for_token(pharmacy: Pharmacy, token: str) -> tokens.TokenUser:
    """Who a bearer token acts as (``services/tokens.user_for_token``): user name, role and scope."""
    return tokens.user_for_token(pharmacy, token)
