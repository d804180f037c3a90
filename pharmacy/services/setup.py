"""Database set-up and copies: migrations to head, products from the catalogue, backup/restore."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import select

from pharmacy.db import audit, migrate
from pharmacy.db.database import Database, UnitOfWork
from pharmacy.db.models import Product
from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _
from pharmacy.services import audit_check
from pharmacy.services.base import Pharmacy


def init_db(pharmacy: Pharmacy) -> None:
    """Upgrade the schema to head and make sure every catalogue product has its row."""
    migrate.upgrade(pharmacy.db)
    with pharmacy.uow() as uow:
        known = set(uow.session.execute(select(Product.id)).scalars())
        for product in pharmacy.catalog.products.values():
            if product.id not in known:
                uow.session.add(Product(id=product.id, brand=product.brand, inn=product.inn))
                uow.session.flush()
                audit.append(uow.session, "system", "product.add", "product", product.id,
                             new={"brand": product.brand, "inn": product.inn, "source": product.source})
        uow.commit()


def verify_audit(pharmacy: Pharmacy) -> audit.Verification:
    with pharmacy.uow(readonly=True) as uow:
        return audit.verify(uow.session)


def _sqlite_path(pharmacy: Pharmacy) -> Path:
    if not pharmacy.db.is_sqlite:
        raise PharmacyError(_("Backup and restore here are for the embedded SQLite database; for PostgreSQL use "
                              "pg_dump and pg_restore (see the README)."))
    return Path(pharmacy.db.url.split("///", 1)[1])


def backup(pharmacy: Pharmacy, target: Path) -> int:
    """A consistent copy of the live database through SQLite's online backup API (writers may go on)."""
    source_path = _sqlite_path(pharmacy)
    target = Path(target)
    if target.exists():
        raise PharmacyError(_("{target} exists already; choose a new file name (a backup never overwrites).", target=target))
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(source_path)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        pages = copy.execute("PRAGMA page_count").fetchone()[0]
    finally:
        copy.close()
        source.close()
    return pages


def restore(pharmacy: Pharmacy, source: Path) -> audit.Verification:
    """Replace the database by a backup whose audit chain verifies. Stop the app first. The backup
    file itself is never opened for writing: a copy is checked, then moved into place."""
    source = Path(source)
    if not source.is_file():
        raise PharmacyError(_("No backup file {source}.", source=source))
    target = _sqlite_path(pharmacy)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, staged)
    candidate = Database(f"sqlite:///{staged}")
    try:
        with UnitOfWork(candidate, readonly=True) as uow:
            result = audit.verify(uow.session)
    except Exception as error:
        staged.unlink(missing_ok=True)
        raise PharmacyError(_("{source} is not a readable pharmacy backup ({name}).",
                              source=source, name=error.__class__.__name__)) from None
    finally:
        candidate.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(staged) + suffix).unlink(missing_ok=True)
    if not result.ok:
        staged.unlink(missing_ok=True)
        raise PharmacyError(_("The backup's audit chain is broken ({problem}); it was not restored.", problem=result.problem))
    pharmacy.db.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    staged.replace(target)
    audit_check.record_restore(pharmacy, result, source)  # the entries after the backup are gone on purpose (H15)
    return result
