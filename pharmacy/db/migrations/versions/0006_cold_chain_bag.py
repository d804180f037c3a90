"""Time out of refrigeration per bag, pharmacist decisions, excursion incidents.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cold_chain_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bag_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('out_minutes', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bag_id'], ['bags.id'], name=op.f('fk_cold_chain_decisions_bag_id_bags')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_cold_chain_decisions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cold_chain_decisions'))
    )
    with op.batch_alter_table('cold_chain_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cold_chain_decisions_bag_id'), ['bag_id'], unique=False)

    op.create_table('excursion_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bag_id', sa.Integer(), nullable=False),
    sa.Column('reading_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('bag_state', sa.String(length=20), nullable=False),
    sa.Column('created_at', pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], name=op.f('fk_excursion_incidents_acknowledged_by_users')),
    sa.ForeignKeyConstraint(['bag_id'], ['bags.id'], name=op.f('fk_excursion_incidents_bag_id_bags')),
    sa.ForeignKeyConstraint(['location_id'], ['storage_locations.id'], name=op.f('fk_excursion_incidents_location_id_storage_locations')),
    sa.ForeignKeyConstraint(['reading_id'], ['temperature_readings.id'],
                            name=op.f('fk_excursion_incidents_reading_id_temperature_readings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_excursion_incidents')),
    sa.UniqueConstraint('bag_id', 'reading_id', name=op.f('uq_excursion_incidents_bag_id_reading_id'))
    )
    with op.batch_alter_table('excursion_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_excursion_incidents_bag_id'), ['bag_id'], unique=False)


def downgrade():
    with op.batch_alter_table('excursion_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_excursion_incidents_bag_id'))
    op.drop_table('excursion_incidents')
    with op.batch_alter_table('cold_chain_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cold_chain_decisions_bag_id'))
    op.drop_table('cold_chain_decisions')
