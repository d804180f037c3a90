"""Passwords are stored with a memory-hard hash (argon2id), never in clear."""

from pharmacy.services import users


def test_production_password_hashing_is_argon2id_with_a_memory_hard_cost(monkeypatch):
    monkeypatch.undo()  # the suite cheapens the hasher: put the module's own one back and look at it
    hasher = users._hasher
    digest = hasher.hash("correct horse battery staple")
    assert digest.startswith("$argon2id$") and "m=19456,t=2,p=1" in digest  # OWASP's argon2id floor
    assert hasher.verify(digest, "correct horse battery staple")


def test_a_password_under_twelve_characters_is_refused():
    import pytest

    with pytest.raises(users.WeakPassword, match="at least 12 characters"):
        users.check_password_policy("short-pass1")
    users.check_password_policy("long-enough-pass")
