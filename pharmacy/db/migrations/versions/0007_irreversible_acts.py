"""Disposal reasons and signatures; suspected falsified packs (EU FMD).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("disposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("signed_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_disposals_confirmed_by_users"), "users", ["confirmed_by"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_disposals_signed_by_users"), "users", ["signed_by"], ["id"])

    op.create_table("falsification_incidents",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("gtin", sa.String(length=14), nullable=False),
    sa.Column("serial", sa.String(length=20), nullable=False),
    sa.Column("lot", sa.String(length=20), nullable=True),
    sa.Column("seen_at", sa.String(length=20), nullable=False),
    sa.Column("username", sa.String(length=64), nullable=False),
    sa.Column("at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("vial_id", sa.Integer(), nullable=True),
    sa.Column("vial_state", sa.String(length=20), nullable=True),
    sa.Column("preparation_id", sa.Integer(), nullable=True),
    sa.Column("resolved_by", sa.Integer(), nullable=True),
    sa.Column("resolved_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column("outcome", sa.String(length=20), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["vial_id"], ["vials.id"], name=op.f("fk_falsification_incidents_vial_id_vials")),
    sa.ForeignKeyConstraint(["preparation_id"], ["preparations.id"],
                            name=op.f("fk_falsification_incidents_preparation_id_preparations")),
    sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name=op.f("fk_falsification_incidents_resolved_by_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_falsification_incidents"))
    )
    with op.batch_alter_table("falsification_incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_falsification_incidents_serial"), ["serial"], unique=False)
        batch_op.create_index(batch_op.f("ix_falsification_incidents_at"), ["at"], unique=False)


def downgrade():
    with op.batch_alter_table("falsification_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_falsification_incidents_at"))
        batch_op.drop_index(batch_op.f("ix_falsification_incidents_serial"))
    op.drop_table("falsification_incidents")
    with op.batch_alter_table("disposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_disposals_signed_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_disposals_confirmed_by_users"), type_="foreignkey")
        batch_op.drop_column("signed_by")
        batch_op.drop_column("confirmed_by")
        batch_op.drop_column("note")
        batch_op.drop_column("reason_code")
