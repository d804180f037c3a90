"""Server-side sessions and the record of failed sign-ins and denials (issue 13).

``user_sessions``: one row per browser session; the cookie carries a random id, the row its SHA-256.
``security_events``: failed sign-ins (the name as typed), failed signatures, locks and denied pages
(21 CFR 11.300(d)). Two new tables: nothing existing is rewritten. Sessions signed before the upgrade
(signed cookies) open nothing afterwards: everyone signs in again once.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("ended_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("sid_hash", name=op.f("uq_user_sessions_sid_hash")),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("path", sa.String(length=300), nullable=True),
        sa.Column("permission", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    op.create_index(op.f("ix_security_events_at"), "security_events", ["at"], unique=False)
    op.create_index(op.f("ix_security_events_kind"), "security_events", ["kind"], unique=False)
    op.create_index(op.f("ix_security_events_username"), "security_events", ["username"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_security_events_username"), table_name="security_events")
    op.drop_index(op.f("ix_security_events_kind"), table_name="security_events")
    op.drop_index(op.f("ix_security_events_at"), table_name="security_events")
    op.drop_table("security_events")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
