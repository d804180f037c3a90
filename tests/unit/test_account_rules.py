"""domain/accounts: one spelling of a user name, UTS #39 look-alikes, the password policy, token scopes."""

from __future__ import annotations

import pytest

from pharmacy.domain import accounts, permissions
from pharmacy.domain.accounts import ScopeRefused, UsernameRefused, WeakPassword


@pytest.mark.parametrize(("typed", "stored"), [("Tech", "tech"), (" nurse ", "nurse"), ("ＡＤＭＩＮ", "admin"),
                                               ("Straße", "strasse"), ("Ｎａｄｉａ.Ｋ", "nadia.k")])
def test_a_user_name_has_one_spelling(typed, stored):
    assert accounts.check_username(typed) == stored


@pytest.mark.parametrize("bad", ["", "a b", "tech\u200d", "x" * 65, "tech;drop", "<script>"])
def test_a_malformed_user_name_is_refused(bad):
    with pytest.raises(UsernameRefused, match="1–64 letters or digits"):
        accounts.check_username(bad)


@pytest.mark.hazard("H23")
@pytest.mark.parametrize(("new", "existing"), [
    ("tеch", "tech"),      # Cyrillic е (U+0435)
    ("рharm", "pharm"),    # Cyrillic р
    ("rnary", "mary"),     # r + n reads m
    ("adrnin", "admin"),
    ("тесн", "tech"),      # reads TECH in capitals
    ("nurse1", "nursel"),  # 1 and l
])
def test_look_alikes_of_an_existing_name_are_found(new, existing):
    assert accounts.look_alike(accounts.normalise_username(new), ["someone", existing]) == existing


@pytest.mark.parametrize("new", ["tech2", "teach", "nurses", "pharmacist"])
def test_different_names_are_not_look_alikes(new):
    assert accounts.look_alike(new, ["tech", "nurse", "pharm", "admin"]) is None


def test_the_skeleton_follows_uts39():
    assert accounts.skeleton("tеch") == accounts.skeleton("tech") == "tech"
    assert accounts.skeleton("m") == "rn"
    assert accounts.skeleton("é") == "e\u0301"  # NFD, then the prototype of each mark


@pytest.mark.parametrize("weak", ["password1234", "PASSWORD1234", "password2026!", "qwertyuiop12",
                                  "!!iloveyou!!2026", "aaaaaaaaaaaaaa", "abababababab"])
def test_common_and_repetitive_passwords_are_refused(weak):
    with pytest.raises(WeakPassword):
        accounts.check_password_policy(weak, "someone")


def test_a_password_built_on_the_user_name_is_refused_one_that_merely_contains_it_is_not():
    with pytest.raises(WeakPassword, match="without “nadia”"):
        accounts.check_password_policy("Nadia.K-2026-xyz", "nadia")
    with pytest.raises(WeakPassword, match="built on it"):
        accounts.check_password_policy("nadia.k-nadia.k", "Nadia.K")
    accounts.check_password_policy("nadia-walks-the-harbour", "nadia")


def test_short_passwords_are_refused_at_twelve_characters():
    assert accounts.MIN_PASSWORD == 12
    with pytest.raises(WeakPassword, match="at least 12 characters"):
        accounts.check_password_policy("short-pass1")
    accounts.check_password_policy("violet-lantern")


def test_the_shipped_list_is_djangos_twenty_thousand():
    listed = accounts.common_passwords()
    assert len(listed) > 19_000 and "password1234" in listed and "123456" in listed


def test_a_scope_may_only_narrow_the_role():
    role = permissions.GRANTS[permissions.Role.TECHNICIAN]
    accounts.check_scope(frozenset({"temps.record"}), role, permissions.PERMISSIONS, "technician")
    with pytest.raises(ScopeRefused, match="a technician may not check.release"):
        accounts.check_scope(frozenset({"temps.record", "check.release"}), role, permissions.PERMISSIONS, "technician")
    with pytest.raises(ScopeRefused, match="Unknown permission"):
        accounts.check_scope(frozenset({"fridge.all"}), role, permissions.PERMISSIONS, "technician")
    assert accounts.parse_scope("temps.record, bags.view") == {"temps.record", "bags.view"}
    assert accounts.parse_scope(["temps.record", " "]) == {"temps.record"}
