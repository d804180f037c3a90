"""Each user's own language of the screens (issue 16 point 8): empty for the pharmacy's (PHARMACY_LANGUAGE).

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMN, never a batch copy: a copy would have to DROP users, which every table references
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    op.drop_column("users", "language")  # SQLite ≥ 3.35 drops a plain column in place
