"""Index the audit trail by object, for the audit-log screen's object filter and a bag's history.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_audit_entries_object", "audit_entries", ["object_type", "object_id"])


def downgrade():
    op.drop_index("ix_audit_entries_object", table_name="audit_entries")
