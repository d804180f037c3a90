"""FHIR R4: the outbox of resources for the hospital's record (issue 17).

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("fhir_orders",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("order_id", sa.Integer(), nullable=False),
    sa.Column("identifier_system", sa.String(length=200), nullable=False),
    sa.Column("identifier", sa.String(length=200), nullable=False),
    sa.Column("status", sa.String(length=20), nullable=False),
    sa.Column("fingerprint", pharmacy.db.types.JSONText(), nullable=False),
    sa.Column("received_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("updated_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fhir_orders_order_id_orders")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_orders")),
    sa.UniqueConstraint("identifier_system", "identifier", name=op.f("uq_fhir_orders_identifier_system_identifier")),
    sa.UniqueConstraint("order_id", name=op.f("uq_fhir_orders_order_id"))
    )
    op.create_table("fhir_outbox",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("event", sa.String(length=40), nullable=False),
    sa.Column("resource_type", sa.String(length=40), nullable=False),
    sa.Column("resource_id", sa.String(length=64), nullable=False),
    sa.Column("search", sa.String(length=300), nullable=False),
    sa.Column("body", pharmacy.db.types.JSONText(), nullable=False),
    sa.Column("created_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(length=10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("lease_until", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("last_status", sa.Integer(), nullable=True),
    sa.Column("sent_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_outbox"))
    )
    with op.batch_alter_table("fhir_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_outbox_resource_id"), ["resource_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_outbox_state"), ["state"], unique=False)


def downgrade():
    op.drop_table("fhir_outbox")
    op.drop_table("fhir_orders")
