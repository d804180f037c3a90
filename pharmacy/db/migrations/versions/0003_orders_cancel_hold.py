"""Orders can be cancelled or held (who, when, why).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every column is nullable: existing orders upgrade as never cancelled nor held.
_USERS = ("cancelled_by", "held_by")  # point at users.id
_OTHERS = (("cancelled_at", "time"), ("cancel_reason", "text"), ("held_at", "time"), ("hold_reason", "text"))


def _type(kind):
    return pharmacy.db.types.UTCDateTime(timezone=True) if kind == "time" else sa.Text()


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in _USERS:
        fk = f"fk_orders_{name}_users"
        if sqlite:
            # ADD COLUMN with its constraint inline: a batch copy of the table would have to DROP
            # orders, which preparations reference, and foreign keys are on (the drop is refused).
            op.execute(f"ALTER TABLE orders ADD COLUMN {name} INTEGER CONSTRAINT {fk} REFERENCES users (id)")
        else:
            op.add_column("orders", sa.Column(name, sa.Integer(), nullable=True))
            op.create_foreign_key(op.f(fk), "orders", "users", [name], ["id"])
    for name, kind in _OTHERS:
        op.add_column("orders", sa.Column(name, _type(kind), nullable=True))


def downgrade():
    # On SQLite the batch copy needs no preparation to reference an order (foreign keys are on).
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name, _kind in reversed(_OTHERS):
            batch_op.drop_column(name)
        for name in reversed(_USERS):
            batch_op.drop_constraint(batch_op.f(f"fk_orders_{name}_users"), type_="foreignkey")
            batch_op.drop_column(name)
