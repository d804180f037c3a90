"""The audit trail anchored outside the database (issue 13): no schema change.

The verified checkpoints of ``pharmacy audit verify`` are kept signed in the anchor folder
(``<instance>/audit-checkpoints.jsonl``, ``db/anchor.py``), not in a table: a checkpoint is what lets a
run skip re-hashing the entries before it, so it must be out of reach of the very person the anchors
guard against. In the database a DBA could at least delete or replay an older signed row; in the
folder they cannot touch it. This revision stays in the chain (0011 → 0012 → 0013) and does nothing.

Revision ID: 0012
Revises: 0011
"""
from alembic import op  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
