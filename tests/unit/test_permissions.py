"""The one permission table (domain/permissions.py): what each role holds, and how a refusal reads."""

from __future__ import annotations

import pytest

from pharmacy.domain.permissions import GRANTS, PERMISSIONS, Role, check_permission_name, may, refusal, roles_with


def test_a_refusal_names_the_role_what_it_may_not_do_and_who_may():
    assert refusal("nurse", "check.release") == "A nurse may not check and release bags; only a pharmacist may."
    assert refusal("auditor", "bags.handle") == ("A auditor may not store or dispose of bags; "
                                                 "only a technician or pharmacist or nurse may.")
    assert refusal(None, "orders.verify") == "A visitor may not verify orders; only a pharmacist may."


def test_an_unknown_or_missing_role_holds_nothing():
    for role in ("janitor", "", None, "Pharmacist"):
        assert not any(may(role, name) for name in PERMISSIONS)


def test_an_unknown_permission_is_a_programming_error_everywhere():
    for call in (lambda: may("pharmacist", "orders.verfy"), lambda: roles_with("orders.verfy"),
                 lambda: check_permission_name("orders.verfy")):
        with pytest.raises(ValueError, match="unknown permission"):
            call()
    assert check_permission_name("orders.verify") == "orders.verify"


def test_every_permission_is_held_by_a_role_and_every_grant_is_a_known_permission():
    assert all(roles_with(name) for name in PERMISSIONS)
    assert all(grants <= set(PERMISSIONS) for grants in GRANTS.values()) and set(GRANTS) == set(Role)


def test_the_auditor_reads_and_changes_nothing():
    changes = {"orders.enter", "orders.verify", "prep.work", "check.release", "bags.label", "bags.handle",
               "stock.receive", "trace.quarantine", "ward.bedside", "users.manage"}
    assert not any(may(Role.AUDITOR, name) for name in changes)
    assert may(Role.AUDITOR, "audit.verify") and may(Role.AUDITOR, "trace.history")
