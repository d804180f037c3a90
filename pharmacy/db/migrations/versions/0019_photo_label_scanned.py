"""The in-process label scanned on the bag as its photo was taken (issue 16 point 1, SAFETY.md H27, H28).

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("photos", sa.Column("label_scanned", sa.String(length=20), nullable=True))


def downgrade():
    op.drop_column("photos", "label_scanned")
