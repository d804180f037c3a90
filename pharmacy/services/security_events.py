"""Attempts at unauthorised use, recorded (21 CFR 11.300(d), issue 13, H22): a failed sign-in with the
name as it was typed, a failed electronic signature, a lock, a page refused by the guard. Each is
written in its own transaction, like ``base.refusals_recorded``: the refusal that follows must not
roll it back, and a failure to record must never hide the refusal from the user.

The client's address and user agent come from the web request (``set_client``, called by the session
interface at the start of every request); on the command line they are empty."""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from pharmacy import clock
from pharmacy.db.models import SecurityEvent
from pharmacy.i18n import lazy
from pharmacy.services.base import Pharmacy, actor, visible

log = logging.getLogger(__name__)

SIGN_IN_FAILED = "sign_in_failed"
SIGNATURE_FAILED = "signature_failed"
LOCKED = "locked"
ACCESS_DENIED = "access_denied"
KINDS = {SIGN_IN_FAILED: lazy("failed sign-in"), SIGNATURE_FAILED: lazy("failed signature"), LOCKED: lazy("account locked"),
         ACCESS_DENIED: lazy("page refused")}
PER_PAGE = 50

_client: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar("client", default=(None, None))


def set_client(address: str | None, user_agent: str | None) -> None:
    """The client of the request being served (the address at most 45 characters: an IPv6 text form)."""
    _client.set(((address or "")[:45] or None, visible(user_agent or "")[:300] or None))


def _bounded(text: str | None, width: int) -> str | None:
    return None if text is None else visible(text)[:width]


def record(pharmacy: Pharmacy, kind: str, username: str | None, *, path: str | None = None,
           permission: str | None = None, detail: str | None = None) -> None:
    """Note one event in its own transaction. ``username`` as typed (control characters made visible)."""
    address, user_agent = _client.get()
    try:
        with pharmacy.uow() as uow:
            uow.session.add(SecurityEvent(at=clock.now(), kind=kind, username=_bounded(username, 64), address=address,
                                          user_agent=user_agent, path=_bounded(path, 300),
                                          permission=_bounded(permission, 40), detail=_bounded(detail, 500)))
            uow.commit()
    except Exception:  # the refusal itself must still reach the user
        log.exception("could not record security event %s for %r", kind, username)


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    username: str | None
    address: str | None
    user_agent: str | None
    path: str | None
    permission: str | None
    detail: str | None

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


def events(pharmacy: Pharmacy, by: str, *, name: str | None = None, kind: str | None = None,
           page: int = 1) -> tuple[list[Event], int]:
    """Newest first, ``PER_PAGE`` a page; ``name`` matches the name tried (part of it, any case). Returns the
    page and the number of events matching."""
    query = select(SecurityEvent)
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    if name:
        escaped = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(SecurityEvent.username).like(f"%{escaped}%", escape="\\"))
    with pharmacy.uow(readonly=True) as uow:
        actor(uow.session, by, "users.manage")
        total = uow.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = uow.session.execute(query.order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
                                   .offset((max(page, 1) - 1) * PER_PAGE).limit(PER_PAGE)).scalars().all()
    return [Event(r.at, r.kind, r.username, r.address, r.user_agent, r.path, r.permission, r.detail)
            for r in rows], int(total)
