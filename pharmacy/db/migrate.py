"""Schema migrations with Alembic, driven from code (no alembic.ini: the scripts ship in the wheel)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from pharmacy.db.database import Database
from pharmacy.db.models import Base


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "pharmacy.db:migrations")
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    with db.engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def revision(db: Database, message: str) -> None:  # pragma: no cover - developer tool
    with db.engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)


def differences(db: Database) -> list[object]:
    """What the models have that the migrated database has not (empty when they agree)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs: list[object] = compare_metadata(context, Base.metadata)  # alembic types it as Any
        return diffs
