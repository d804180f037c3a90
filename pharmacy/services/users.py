"""Users, roles, passwords (argon2id) and the electronic signature."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import ApiToken, User
from pharmacy.domain.errors import AuthenticationFailed, NotAllowed, PharmacyError
from pharmacy.services.base import ROLES, Pharmacy, actor

MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# argon2id at OWASP's recommended floor (19 MiB, 2 passes, 1 lane): memory-hard, ~30 ms a hash on one
# core. The library's default (64 MiB, 4 lanes) took both cores of a ward server for every signature.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class WeakPassword(PharmacyError):
    code = "weak_password"


def check_password_policy(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise WeakPassword(f"A password must have at least {MIN_PASSWORD} characters.")


def add_user(pharmacy: Pharmacy, by: str | None, username: str, full_name: str, role: str, password: str) -> int:
    """Create a user. ``by`` is the admin doing it (``None`` only for the command line on the server)."""
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace(".", "").replace("-", "").isalnum():
        raise PharmacyError("A user name is 1–64 letters or digits (with . or -).")
    if role not in ROLES:
        raise PharmacyError(f"Role must be one of: {', '.join(ROLES)}.")
    check_password_policy(password)
    with pharmacy.uow() as uow:
        admin = actor(uow.session, by, "users.manage").username if by else "system"
        if uow.session.execute(select(User.id).where(User.username == username)).first():
            raise PharmacyError(f"User “{username}” exists already.")
        user = User(username=username, full_name=(full_name or username).strip(), role=role,
                    password_hash=_hasher.hash(password), created_at=clock.now())
        uow.session.add(user)
        uow.session.flush()
        audit.append(uow.session, admin, "user.add", "user", user.id, new={"username": username, "role": role})
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
        return uow.session.execute(select(User).where(User.username == (username or "").strip())).scalar_one_or_none()


def authenticate(pharmacy: Pharmacy, username: str, password: str) -> User:
    """Sign in. After 5 failures in a row the account is locked for 15 minutes (audited).

    The password is checked outside any write transaction: argon2 is slow on purpose, and must not
    keep every other writer (a technician's scan, a nurse's start) waiting on the database lock."""
    now = clock.now()
    found = _find(pharmacy, username)
    if found is not None and found.locked_until and found.locked_until > now:
        raise AuthenticationFailed("This account is locked after repeated failed sign-ins. Try again later "
                                   "or ask an administrator.")
    accepted = _check(found, password) and found is not None and found.active
    if found is None:
        raise AuthenticationFailed("User name or password is wrong.")
    with pharmacy.uow() as uow:
        user = uow.session.get(User, found.id)
        if user is None:  # removed since it was read
            raise AuthenticationFailed("User name or password is wrong.")
        if not accepted:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until, user.failed_logins = now + LOCKOUT, 0
                audit.append(uow.session, user.username, "user.locked", "user", user.id,
                             reason=f"{MAX_FAILURES} failed sign-ins")
            uow.commit()
            raise AuthenticationFailed("User name or password is wrong.")
        if user.failed_logins or user.locked_until:
            user.failed_logins, user.locked_until = 0, None
            uow.commit()
    return found


def check_signature(pharmacy: Pharmacy, username: str, password: str, meaning: str) -> None:
    """Electronic signature: the signed-in user types the password again for this one act. Checked
    before the act's transaction opens (argon2 must not hold the database's write lock)."""
    if not _check(_find(pharmacy, username), password):
        raise AuthenticationFailed(f"Password not accepted: the {meaning} was not signed and nothing was recorded.")


def get_user(pharmacy: Pharmacy, user_id: int) -> User | None:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.get(User, user_id)


def create_token(pharmacy: Pharmacy, username: str, name: str) -> str:
    """A per-user or per-device API token; only its SHA-256 is stored. Shown once."""
    token = secrets.token_urlsafe(32)
    with pharmacy.uow() as uow:
        user = actor(uow.session, username)
        uow.session.add(ApiToken(user_id=user.id, name=name, token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                 created_at=clock.now()))
        audit.append(uow.session, "system", "token.create", "user", user.id, new={"name": name})
        uow.commit()
    return token


def user_for_token(pharmacy: Pharmacy, token: str) -> User:
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    with pharmacy.uow(readonly=True) as uow:
        row = uow.session.execute(
            select(User).join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == digest, ApiToken.revoked.is_(False), User.active.is_(True))
        ).scalar_one_or_none()
    if row is None:
        raise NotAllowed("Unknown or revoked API token.")
    return row
