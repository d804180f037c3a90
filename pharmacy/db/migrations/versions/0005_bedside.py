"""Infusion intervals, early ends with a reason, resumption, pre-medication given at the bedside, wristband typed or scanned.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("end_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("premedication", pharmacy.db.types.JSONText(), nullable=True))
        batch_op.add_column(sa.Column("interruptions", pharmacy.db.types.JSONText(), nullable=True))


def downgrade():
    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.drop_column("interruptions")
        batch_op.drop_column("premedication")
        batch_op.drop_column("end_reason")
