"""`pharmacy users list|passwd|disable|enable|reset-password` and `pharmacy tokens list|create|revoke`
(issue 13 point 4): the same services as the screens, audited with the admin named by --by, or
"system" for the operator at the server."""

from __future__ import annotations

import json

import pytest

from pharmacy import config
from pharmacy.domain.errors import PharmacyError
from pharmacy.services import base, tokens, users
from tests.factories import PASSWORDS
from tests.integration.records import audit_entries

NEW_PASSWORD = "violet-harbour-lantern"


@pytest.fixture
def pharmacy_of(demo_cli):
    """The demo instance's pharmacy, to check what the commands did (opened and closed per look)."""
    def open_it():
        return base.build(config.load({"instance": demo_cli.instance, "timezone": "Europe/Brussels", "database_url": ""},
                                      environ={}))
    return open_it


def look(pharmacy_of, read):
    pharmacy = pharmacy_of()
    try:
        return read(pharmacy)
    finally:
        pharmacy.db.dispose()


def test_users_add_by_the_operator_forces_a_change_unless_told_not_to(cli):
    cli.ok("init-db")
    forced = cli.ok("users", "add", "Nadia", "--role", "nurse", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert "user nadia added as nurse (must change the password at the first sign-in)" in forced.stdout
    own = cli.ok("users", "add", "root-admin", "--role", "admin", "--no-forced-change", "--password-stdin",
                 input="operator-own-secret-9\n")
    assert "must change" not in own.stdout
    rows = {row["username"]: row for row in json.loads(cli.ok("users", "list", "--format", "json").stdout)}
    assert rows["nadia"]["must_change_password"] is True and rows["root-admin"]["must_change_password"] is False


def test_users_add_refuses_a_common_password_and_a_look_alike_name(demo_cli):
    common = demo_cli.run("users", "add", "nadia", "--role", "nurse", "--password-stdin", input="password1234\n")
    assert common.exit_code == 1 and "common passwords" in common.stderr
    look_alike = demo_cli.run("users", "add", "tеch", "--role", "nurse", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert look_alike.exit_code == 1 and "looks like the existing user “tech”" in look_alike.stderr


def test_users_passwd_changes_the_users_own_password(demo_cli, pharmacy_of):
    wrong = demo_cli.run("users", "passwd", "nurse", "--password-stdin", input=f"nope-nope-nope\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert wrong.exit_code == 1 and "Password not accepted" in wrong.stderr
    demo_cli.ok("users", "passwd", "NURSE", "--password-stdin", input=f"{PASSWORDS['nurse']}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert look(pharmacy_of, lambda p: users.authenticate(p, "nurse", NEW_PASSWORD).username) == "nurse"
    assert look(pharmacy_of, lambda p: audit_entries(p, "user.password_change")[-1].username) == "nurse"


def test_reset_password_names_the_admin_and_forces_a_change(demo_cli, pharmacy_of):
    demo_cli.ok("users", "reset-password", "tech", "--by", "admin", "--password-stdin", input=NEW_PASSWORD + "\n")
    rows = {row["username"]: row for row in json.loads(demo_cli.ok("users", "list", "--format", "json").stdout)}
    assert rows["tech"]["must_change_password"] is True
    assert look(pharmacy_of, lambda p: audit_entries(p, "user.password_reset")[-1].username) == "admin"
    not_admin = demo_cli.run("users", "reset-password", "tech", "--by", "pharm", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert not_admin.exit_code == 1 and "only a admin may" in not_admin.stderr


def test_disable_revokes_the_tokens_and_enable_does_not_bring_them_back(demo_cli, pharmacy_of):
    token = demo_cli.ok("tokens", "create", "nurse", "--name", "ward 5 scanner").stdout.strip()
    result = demo_cli.ok("users", "disable", "nurse", "--reason", "left the hospital", "--by", "admin")
    assert "1 API token(s) revoked" in result.stdout
    with pytest.raises(PharmacyError, match="was revoked"):
        look(pharmacy_of, lambda p: users.user_for_token(p, token))
    entry = look(pharmacy_of, lambda p: audit_entries(p, "user.disable")[-1])
    assert entry.username == "admin" and entry.reason == "left the hospital"
    rows = {row["username"]: row for row in json.loads(demo_cli.ok("users", "list", "--format", "json").stdout)}
    assert rows["nurse"]["active"] is False and rows["nurse"]["disabled_reason"] == "left the hospital"
    with pytest.raises(PharmacyError):
        look(pharmacy_of, lambda p: users.authenticate(p, "nurse", PASSWORDS["nurse"]))
    refused = demo_cli.run("tokens", "create", "nurse", "--name", "again")
    assert refused.exit_code == 1 and "disabled" in refused.stderr

    demo_cli.ok("users", "enable", "nurse", "--reason", "new contract")
    assert look(pharmacy_of, lambda p: users.authenticate(p, "nurse", PASSWORDS["nurse"]).username) == "nurse"
    assert look(pharmacy_of, lambda p: audit_entries(p, "user.enable")[-1].username) == "system"
    listed = json.loads(demo_cli.ok("tokens", "list", "nurse", "--format", "json").stdout)
    assert [row["state"] for row in listed] == ["revoked"] and listed[0]["revoked_by"] == "admin"


def test_the_last_active_admin_cannot_be_disabled_nor_an_admin_disable_themselves(demo_cli):
    last = demo_cli.run("users", "disable", "admin", "--reason", "testing the rule")
    assert last.exit_code == 1 and "last active administrator" in last.stderr
    demo_cli.ok("users", "add", "admin2", "--role", "admin", "--password-stdin", input=NEW_PASSWORD + "\n")
    themselves = demo_cli.run("users", "disable", "admin", "--reason", "testing the rule", "--by", "admin")
    assert themselves.exit_code == 1 and "your own account" in themselves.stderr
    demo_cli.ok("users", "disable", "admin", "--reason", "testing the rule", "--by", "admin2")


@pytest.mark.hazard("H24")
def test_tokens_create_with_scope_expiry_and_the_admin_then_list_and_revoke(demo_cli, pharmacy_of, clock):
    token = demo_cli.ok("tokens", "create", "tech", "--name", "fridge 1 monitor", "--scope", "temps.record",
                        "--expires", "30d", "--by", "admin").stdout.strip()
    who = look(pharmacy_of, lambda p: users.user_for_token(p, token))
    assert who.scope == frozenset({"temps.record"}) and who.may("temps.record") and not who.may("bags.view")
    created = look(pharmacy_of, lambda p: audit_entries(p, "token.create")[-1])
    assert created.username == "admin" and json.loads(created.new_json)["scope"] == ["temps.record"]

    listed = json.loads(demo_cli.ok("tokens", "list", "--format", "json").stdout)
    assert listed[0]["name"] == "fridge 1 monitor" and listed[0]["created_by"] == "admin"
    assert listed[0]["expires_at"].startswith("2026-12-20") and listed[0]["state"] == "active"
    assert token not in demo_cli.ok("tokens", "list").stdout

    demo_cli.ok("tokens", "revoke", str(listed[0]["id"]), "--by", "admin", "--reason", "monitor replaced")
    again = demo_cli.run("tokens", "revoke", str(listed[0]["id"]))
    assert again.exit_code == 1 and "revoked already" in again.stderr
    revoked = look(pharmacy_of, lambda p: audit_entries(p, "token.revoke")[-1])
    assert revoked.username == "admin" and revoked.reason == "monitor replaced"


def test_tokens_create_refuses_a_scope_beyond_the_role_and_a_bad_expiry(demo_cli):
    beyond = demo_cli.run("tokens", "create", "nurse", "--name", "x", "--scope", "check.release")
    assert beyond.exit_code == 1 and "cannot go beyond its user's role" in beyond.stderr
    unknown = demo_cli.run("tokens", "create", "nurse", "--name", "x", "--scope", "fridge.everything")
    assert unknown.exit_code == 1 and "Unknown permission(s)" in unknown.stderr
    bad = demo_cli.run("tokens", "create", "nurse", "--name", "x", "--expires", "next week")
    assert bad.exit_code == 2 and "neither a date" in bad.stderr
    too_long = demo_cli.run("tokens", "create", "nurse", "--name", "x", "--expires", "2035-01-01")
    assert too_long.exit_code == 1 and "at most 3 years" in too_long.stderr


def test_tokens_made_by_the_operator_are_audited_as_system(demo_cli, pharmacy_of):
    demo_cli.ok("tokens", "create", "nurse", "--name", "ward 5 scanner")
    entry = look(pharmacy_of, lambda p: audit_entries(p, "token.create")[-1])
    assert entry.username == tokens.SYSTEM == "system"
