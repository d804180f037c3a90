"""Revision 0011 (issue 13 point 4): existing user names take the one spelling (NFKC, case-folded);
two that become the same stop the upgrade, are named, and nothing is changed. Existing tokens get an
expiry a year ahead; existing accounts are not forced to change their passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from pharmacy.db import migrate
from pharmacy.services import base, tokens, users


@pytest.fixture
def at_0010(settings):
    pharmacy = base.build(settings)
    migrate.upgrade(pharmacy.db, "0010")
    yield pharmacy
    pharmacy.db.dispose()


def add_users(pharmacy, *names: str) -> None:
    with pharmacy.db.engine.begin() as connection:
        for name in names:
            connection.execute(text("INSERT INTO users (username, full_name, role, password_hash, active, failed_logins, "
                                    "created_at) VALUES (:u, 'Old User', 'nurse', 'x', :t, 0, '2026-01-01 00:00:00.000000')"),
                               {"u": name, "t": True})


def usernames(pharmacy) -> list[str]:
    with pharmacy.db.engine.connect() as connection:
        return list(connection.execute(text("SELECT username FROM users ORDER BY id")).scalars())


def test_the_upgrade_normalises_stored_user_names_and_keeps_tokens_working_for_a_year(at_0010, clock):
    add_users(at_0010, "Tech", " nurse ", "ＡＤＭＩＮ", "pharm")
    with at_0010.db.engine.begin() as connection:
        connection.execute(text("INSERT INTO api_tokens (user_id, name, token_hash, created_at, revoked) "
                                "VALUES (1, 'old scanner', :h, '2026-01-01 00:00:00.000000', :r)"),
                           {"h": tokens._digest("an-old-token"), "r": False})
    migrate.upgrade(at_0010.db)
    assert usernames(at_0010) == ["tech", "nurse", "admin", "pharm"]
    assert migrate.differences(at_0010.db) == []
    who = users.user_for_token(at_0010, "an-old-token")  # the clock fixture is the test's "now", the upgrade's is real
    assert who.username == "tech" and who.scope is None
    listed = tokens.list_tokens(at_0010)
    assert listed[0]["expires_at"] > datetime.now(UTC) + timedelta(days=364)
    with at_0010.db.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM users WHERE must_change_password = :t"), {"t": True}).scalar_one() == 0


def test_two_stored_names_that_become_one_stop_the_upgrade_and_nothing_is_changed(at_0010):
    add_users(at_0010, "Tech", "tech", "Nurse")
    with pytest.raises(RuntimeError, match=r"nothing was changed.*tech: user 1 “Tech”, user 2 “tech”"):
        migrate.upgrade(at_0010.db)
    assert usernames(at_0010) == ["Tech", "tech", "Nurse"]
    with at_0010.db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0010"
