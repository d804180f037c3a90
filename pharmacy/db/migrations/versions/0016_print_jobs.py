"""Printers and print jobs (issue 15 point 5).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("print_jobs",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("what", sa.String(length=20), nullable=False),
    sa.Column("bag_id", sa.Integer(), nullable=True),
    sa.Column("preparation_id", sa.Integer(), nullable=True),
    sa.Column("bag_serial", sa.String(length=20), nullable=False),
    sa.Column("number", sa.Integer(), nullable=True),
    sa.Column("printer", sa.String(length=64), nullable=False),
    sa.Column("destination", sa.String(length=200), nullable=False),
    sa.Column("language", sa.String(length=10), nullable=False),
    sa.Column("stock", sa.String(length=64), nullable=False),
    sa.Column("dpi", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=20), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("maybe_printed", sa.Boolean(), nullable=False),
    sa.Column("reply", sa.String(length=200), nullable=True),
    sa.Column("cancel_reason", sa.Text(), nullable=True),
    sa.Column("created_by", sa.Integer(), nullable=False),
    sa.Column("created_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("updated_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("sent_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["bag_id"], ["bags.id"], name=op.f("fk_print_jobs_bag_id_bags")),
    sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_print_jobs_created_by_users")),
    sa.ForeignKeyConstraint(["preparation_id"], ["preparations.id"], name=op.f("fk_print_jobs_preparation_id_preparations")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs"))
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_print_jobs_bag_id"), ["bag_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_print_jobs_state"), ["state"], unique=False)


def downgrade():
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_print_jobs_bag_id"))
    op.drop_table("print_jobs")
