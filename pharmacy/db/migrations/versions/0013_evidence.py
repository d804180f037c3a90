"""Evidence for the pharmacist's check (issue 14): balances with their calibration, weighings, how a volume
is known, and what was scanned or typed in a refused attempt.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("balances",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("serial_number", sa.String(length=40), nullable=False),
    sa.Column("model", sa.String(length=100), nullable=False),
    sa.Column("calibrated_on", sa.Date(), nullable=False),
    sa.Column("calibration_due", sa.Date(), nullable=False),
    sa.Column("certificate", sa.String(length=100), nullable=False),
    sa.Column("recorded_by", sa.Integer(), nullable=False),
    sa.Column("recorded_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_balances_recorded_by_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_balances")),
    sa.UniqueConstraint("serial_number", name=op.f("uq_balances_serial_number"))
    )
    op.create_table("weighings",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("preparation_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=10), nullable=False),
    sa.Column("grams", sa.String(length=20), nullable=False),
    sa.Column("raw", sa.String(length=80), nullable=False),
    sa.Column("balance_serial", sa.String(length=40), nullable=False),
    sa.Column("density_g_ml", sa.String(length=20), nullable=True),
    sa.Column("volume_ml", sa.String(length=20), nullable=True),
    sa.Column("accepted", sa.Boolean(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["preparation_id"], ["preparations.id"], name=op.f("fk_weighings_preparation_id_preparations")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_weighings_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_weighings"))
    )
    with op.batch_alter_table("weighings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_weighings_preparation_id"), ["preparation_id"], unique=False)
    with op.batch_alter_table("preparations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("volume_evidence", sa.String(length=10), nullable=True))
    with op.batch_alter_table("refusals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entered", sa.Text(), nullable=True))
    with op.batch_alter_table("bags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_confirmed_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("bags", schema=None) as batch_op:
        batch_op.drop_column("label_confirmed_at")
    with op.batch_alter_table("refusals", schema=None) as batch_op:
        batch_op.drop_column("entered")
    with op.batch_alter_table("preparations", schema=None) as batch_op:
        batch_op.drop_column("volume_evidence")
    with op.batch_alter_table("weighings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weighings_preparation_id"))
    op.drop_table("weighings")
    op.drop_table("balances")
