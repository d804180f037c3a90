"""Recalls as a standing status of a lot or serial; lifting a recall is signed.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "recalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("lot_or_serial", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recalled_by", sa.Integer(), nullable=False),
        sa.Column("recalled_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lifted_by", sa.Integer(), nullable=True),
        sa.Column("lifted_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["recalled_by"], ["users.id"], name=op.f("fk_recalls_recalled_by_users")),
        sa.ForeignKeyConstraint(["lifted_by"], ["users.id"], name=op.f("fk_recalls_lifted_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recalls")),
    )
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recalls_lot_or_serial"), ["lot_or_serial"], unique=False)


def downgrade():
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recalls_lot_or_serial"))
    op.drop_table("recalls")
