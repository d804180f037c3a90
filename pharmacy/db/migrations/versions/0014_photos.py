"""Photographs of the preparation (issue 14 point 4): one row per photo taken (which preparation, what
it shows, the SHA-256 of its bytes, the figures it passed with, who, when, replaced by a retake), and on
PostgreSQL the bytes themselves, keyed by their SHA-256 (on SQLite they are files in the instance folder).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("photos",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("preparation_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=20), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("media_type", sa.String(length=20), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("sharpness", sa.Float(), nullable=False),
    sa.Column("brightness", sa.Float(), nullable=False),
    sa.Column("prep_version", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("replaced_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["preparation_id"], ["preparations.id"], name=op.f("fk_photos_preparation_id_preparations")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_photos_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_photos"))
    )
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photos_preparation_id"), ["preparation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_photos_sha256"), ["sha256"], unique=False)
    op.create_table("photo_blobs",
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("sha256", name=op.f("pk_photo_blobs"))
    )


def downgrade():
    op.drop_table("photo_blobs")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photos_sha256"))
        batch_op.drop_index(batch_op.f("ix_photos_preparation_id"))
    op.drop_table("photos")
