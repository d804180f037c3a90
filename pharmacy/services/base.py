"""What every use case needs: the database, the product catalogue, the settings — and the habits
they share: load the acting user and check the role, record refusals, keep forms fresh."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from pharmacy import clock
from pharmacy.config import ConfigError, Settings
from pharmacy.db.anchor import Anchorer
from pharmacy.db.database import Database, UnitOfWork
from pharmacy.db.models import Preparation, PreparationStep, Refusal, User
from pharmacy.domain.accounts import normalise_username
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError, StateConflict
from pharmacy.domain.permissions import Role, may, refusal
from pharmacy.i18n import _

if TYPE_CHECKING:
    from pharmacy.domain.monograph import Catalog, Monograph

log = logging.getLogger(__name__)

ROLES = tuple(role.value for role in Role)


@dataclass
class Pharmacy:
    """The running system as the services see it. One per process (the web app, the CLI, a test)."""

    db: Database
    catalog: Catalog
    settings: Settings

    def uow(self, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self.db, readonly=readonly)

    def product(self, product_id: str) -> Monograph:
        try:
            return self.catalog.products[product_id]
        except KeyError:
            raise NotFound(_("Product “{product_id}” is not in the catalogue.", product_id=product_id)) from None

    @property
    def zone(self):
        return self.settings.zone


def build(settings: Settings) -> Pharmacy:
    _label_fonts(settings)
    folders = [settings.instance / "catalog"] if (settings.instance / "catalog").is_dir() else []
    db = Database(settings.sqlalchemy_url)
    # every commit that appends audit entries anchors the head outside the database (db/anchor.py, H15)
    db.on_audit_commit = Anchorer(settings.instance, settings.audit_key, settings.audit_syslog).head
    return Pharmacy(db, cast("Catalog", LazyCatalog(folders)), settings)


class LazyCatalog:
    """The product catalogue, read when first asked for: parsing the monographs builds pint's unit registry
    (about 1 s), which a command such as ``pharmacy stock list`` never needs (issue 16). The web app asks
    for it at start (``web/app.create_app``), so a broken monograph still stops the server with its reason."""

    def __init__(self, folders: list[Path]) -> None:
        self._folders = folders
        self._catalog: Catalog | None = None

    def load(self) -> Catalog:
        if self._catalog is None:
            from pharmacy.domain.monograph import load_catalog

            self._catalog = load_catalog(self._folders)
        return self._catalog

    def __getattr__(self, name: str):
        return getattr(self.load(), name)


def _label_fonts(settings: Settings) -> None:
    """The label fonts' fallback chain (``PHARMACY_LABEL_FONTS``, printing/fonts.py); a file that cannot be
    used stops the start with its reason."""
    from pharmacy.printing import fonts

    try:
        fonts.use(settings.label_fonts)
    except fonts.FontError as error:
        raise ConfigError(str(error)) from None


_ACTOR = select(User).where(User.username == bindparam("username"))  # built once: every use case asks it (issue 18)


def actor(session: Session, username: str, permission: str | None = None) -> User:
    """The acting user, who must exist, be active and, if a ``permission`` is named, hold it through
    their role (``domain.permissions``: the table the web guard and the API read too)."""
    user = session.execute(_ACTOR, {"username": normalise_username(username)}).scalar_one_or_none()
    if user is None or not user.active:
        raise NotAllowed(_("User “{username}” is not an active user of this pharmacy.", username=username))
    if permission is not None and not may(user.role, permission):
        raise NotAllowed(_("{role} ({full_name} is signed in as {user_role}.)",
                           role=refusal(user.role, permission), full_name=user.full_name, user_role=user.role))
    return user


# a preparation's steps, in the relationship's order, by a statement built once: the selectin loader builds its
# statement anew at each load (issue 18: 1.5 ms of the 2.5 a bag page's bag took)
_STEPS = select(PreparationStep).where(PreparationStep.preparation_id == bindparam("prep_id")).order_by(PreparationStep.id)


def load_steps(session: Session, prep: Preparation) -> Preparation:
    """``prep.steps`` read from the database now, as if the ORM had loaded them."""
    set_committed_value(prep, "steps", list(session.execute(_STEPS, {"prep_id": prep.id}).scalars()))
    return prep


def check_version(current: int, expected: int | None, what: str) -> None:
    """A stale form (someone else moved the object on) or a double submit changes nothing."""
    if expected is not None and int(expected) != current:
        raise StateConflict(
            _("This {what} was changed since your screen was loaded (by you in another tab, or by a "
              "colleague). Nothing was recorded: reload and check before you go on.", what=what)
        )


@contextmanager
def refusals_recorded(pharmacy: Pharmacy, username: str | None, action: str, object_type: str | None = None,
                      object_id=None, entered: str | None = None):
    """Let a refusal propagate unchanged, but keep a note of it in its own transaction: near misses
    (wrong diluent, expired vial, self-check) are what a safety review asks for."""
    try:
        yield
    except PharmacyError as error:
        record_refusal(pharmacy, username, action, error, object_type, object_id, entered)
        raise


def record_refusal(pharmacy: Pharmacy, username: str | None, action: str, error: PharmacyError,
                   object_type: str | None = None, object_id=None, entered: str | None = None) -> None:
    """Keep a note of a refusal in its own transaction (``refusals_recorded``, or a use case that refuses
    part of its work, as a batch print refuses one bag and prints the others)."""
    try:
        with pharmacy.uow() as uow:
            uow.session.add(Refusal(
                at=clock.now(), username=username, action=action, code=error.code,
                message=error.message[:2000], object_type=object_type,
                # the column holds 40 characters: a raw label scan is longer (PostgreSQL refused it whole)
                object_id=None if object_id is None else str(object_id)[:40],
                # shown to the checking pharmacist: control characters made visible, bounded in length
                entered=None if entered is None else visible(entered)[:500],
            ))
            uow.commit()
    except Exception:  # the refusal itself must still reach the user
        log.exception("could not record refusal of %s", action)


def visible(text: str) -> str:
    """A scan or typed value as a person can read it: GS as ``<GS>``, other control characters as ``^X``."""
    return "".join("<GS>" if c == "\x1d" else f"^{chr(ord(c) + 64)}" if ord(c) < 32 else c for c in text)


def instance_path(settings: Settings, *parts: str) -> Path:
    return settings.instance.joinpath(*parts)
