"""Normalised patient identifiers and confirmations of look-alike patients.

Existing identifiers are rewritten to the one spelling of ``pharmacy.domain.identity`` (NFKC, white
space removed, upper case; the rule is repeated here so that this revision stays what it was). Two
existing patients whose identifiers become the same (``h6-a`` and ``H6-A``) are NOT merged: the upgrade
stops, changes nothing, and names them, for a pharmacist to decide which record is right and to move
the orders by hand before upgrading again. Administrations record how the wristband came in
(scanned or typed, and why typed); rows from before this revision keep NULL (not known).

Revision ID: 0008
Revises: 0007
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FK = "fk_patients_lookalike_confirmed_by_users"


def _normalised(text):
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def _normalise_identifiers():
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, identifier FROM patients ORDER BY id")).all()
    by_key = {}
    for patient_id, identifier in rows:
        by_key.setdefault(_normalised(identifier), []).append((patient_id, identifier))
    clashes = {key: found for key, found in by_key.items() if len(found) > 1}
    if clashes:
        listed = "; ".join(f"{key}: " + ", ".join(f"patient {pid} “{ident}”" for pid, ident in found)
                           for key, found in sorted(clashes.items()))
        raise RuntimeError(
            "Upgrade stopped, nothing was changed: these patients' identifiers differ only in case or spaces, "
            f"so they are probably one patient recorded twice ({listed}). A pharmacist must decide which record "
            "is right and move the orders to it before the upgrade can go on.")
    for key, [(patient_id, identifier)] in by_key.items():
        if key != identifier:
            connection.execute(sa.text("UPDATE patients SET identifier = :key WHERE id = :id"),
                               {"key": key, "id": patient_id})


def upgrade():
    _normalise_identifiers()
    if op.get_bind().dialect.name == "sqlite":
        # the constraint inline: a batch copy would have to DROP patients, which orders reference
        op.execute(f"ALTER TABLE patients ADD COLUMN lookalike_confirmed_by INTEGER CONSTRAINT {_FK} REFERENCES users (id)")
    else:
        op.add_column("patients", sa.Column("lookalike_confirmed_by", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(_FK), "patients", "users", ["lookalike_confirmed_by"], ["id"])
    op.add_column("patients", sa.Column("lookalike_reason", sa.Text(), nullable=True))
    op.create_index(op.f("ix_patients_date_of_birth"), "patients", ["date_of_birth"], unique=False)
    op.add_column("administrations", sa.Column("patient_entry", sa.String(length=10), nullable=True))
    op.add_column("administrations", sa.Column("patient_entry_reason", sa.Text(), nullable=True))


def downgrade():
    # identifiers stay normalised (the old spellings are not kept); only the columns go
    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.drop_column("patient_entry_reason")
        batch_op.drop_column("patient_entry")
    op.drop_index(op.f("ix_patients_date_of_birth"), table_name="patients")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("lookalike_reason")
        batch_op.drop_constraint(batch_op.f(_FK), type_="foreignkey")
        batch_op.drop_column("lookalike_confirmed_by")
