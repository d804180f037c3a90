"""The final label's confirmation, print by print (issue 14 points 1 and 5, SAFETY.md H27): the bedside
gives a bag only when the latest print of its label was scanned back on it. Confirmations recorded before
(``bags.label_confirmed_at``) are carried over, for the prints made up to then. (The send-back itself needs
no schema: it is a preparation step and an audit entry.)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("label_confirmations",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("bag_id", sa.Integer(), nullable=False),
    sa.Column("print_number", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=True),
    sa.Column("at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["bag_id"], ["bags.id"], name=op.f("fk_label_confirmations_bag_id_bags")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_label_confirmations_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_label_confirmations"))
    )
    with op.batch_alter_table("label_confirmations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_confirmations_bag_id"), ["bag_id"], unique=False)
    op.execute(
        "INSERT INTO label_confirmations (bag_id, print_number, user_id, at) "
        "SELECT b.id, (SELECT COALESCE(MAX(p.number), 0) FROM label_prints p WHERE p.bag_id = b.id "
        "AND p.at <= b.label_confirmed_at), NULL, b.label_confirmed_at FROM bags b WHERE b.label_confirmed_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table("label_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_confirmations_bag_id"))
    op.drop_table("label_confirmations")
