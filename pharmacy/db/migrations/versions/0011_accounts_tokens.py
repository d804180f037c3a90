"""Account and token life-cycle: password change, disable, token expiry, scope and revocation (issue 13).

Existing user names are rewritten to the one spelling of ``pharmacy.services.accounts`` (NFKC, then
case-folded, surrounding spaces removed; the rule is repeated here so that this revision stays what it
was). Two existing accounts whose names become the same (``Tech`` and ``tech``) are NOT merged: the
upgrade stops, changes nothing, and names them, for an administrator to rename or retire one before
upgrading again (each signed what it signed under its own name).

Existing accounts keep their passwords without a forced change (they chose them themselves). Existing
API tokens get an expiry one year after the upgrade, so nothing stops working on the day of the upgrade
and no token stays valid for ever; their scope stays the whole of their user's role.

Revision ID: 0011
Revises: 0010
"""
import unicodedata
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import pharmacy.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

EXISTING_TOKENS_VALID_FOR = timedelta(days=365)


def _normalised(name):
    return unicodedata.normalize("NFKC", (name or "").strip()).casefold()


def _normalise_usernames():
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all()
    by_key = {}
    for user_id, username in rows:
        by_key.setdefault(_normalised(username), []).append((user_id, username))
    clashes = {key: found for key, found in by_key.items() if len(found) > 1}
    if clashes:
        listed = "; ".join(f"{key}: " + ", ".join(f"user {uid} “{name}”" for uid, name in found)
                           for key, found in sorted(clashes.items()))
        raise RuntimeError(
            "Upgrade stopped, nothing was changed: these user names differ only in case or in the form of "
            f"their letters, and user names are now compared without those differences ({listed}). An "
            "administrator must rename one of each pair (UPDATE users SET username = … WHERE id = …) before "
            "the upgrade can go on.")
    for key, [(user_id, username)] in by_key.items():
        if key != username:
            connection.execute(sa.text("UPDATE users SET username = :key WHERE id = :id"), {"key": key, "id": user_id})


def upgrade():
    _normalise_usernames()
    # plain ADD COLUMN, never a batch copy: a copy would have to DROP users, which every table references
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("password_changed_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("disabled_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", pharmacy.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_api_tokens_created_by_users"), "users", ["created_by"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_api_tokens_revoked_by_users"), "users", ["revoked_by"], ["id"])
    expires = sa.table("api_tokens", sa.column("expires_at", pharmacy.db.types.UTCDateTime(timezone=True)))
    op.get_bind().execute(expires.update().values(expires_at=datetime.now(UTC) + EXISTING_TOKENS_VALID_FOR))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=pharmacy.db.types.UTCDateTime(timezone=True),
                              nullable=False)


def downgrade():
    # user names stay normalised (the old spellings are not kept); only the columns go
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_revoked_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_created_by_users"), type_="foreignkey")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("scope")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("created_by")
    for column in ("disabled_reason", "password_changed_at", "must_change_password"):
        op.drop_column("users", column)  # SQLite ≥ 3.35 drops a plain column in place
