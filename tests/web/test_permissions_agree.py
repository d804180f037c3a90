"""The screens' guard, the services' ``actor`` checks and the API read one permission table
(``domain/permissions.py``): for every role, what each refuses is what the table says, so none of
the three can drift from the others."""

from __future__ import annotations

import re

import pytest

from pharmacy.domain import permissions
from pharmacy.domain.errors import NotAllowed, PharmacyError
from pharmacy.domain.permissions import Role
from pharmacy.services import administration, bags, balances, coldchain, orders, preparation, recalls, release, reports, stock, trace, users
from pharmacy.services import printjobs as print_jobs
from pharmacy.web.security import API, PUBLIC, SIGNED_IN, required_permission
from tests import factories
from tests.factories import PASSWORDS, vial_scan

ONE_USER_OF = {Role.TECHNICIAN: "tech", Role.PHARMACIST: "pharm", Role.NURSE: "nurse", Role.AUDITOR: "auditor",
               Role.ADMIN: "admin"}


def _url(rule) -> str:
    """A URL for ``rule`` with placeholder arguments (the objects need not exist: a 404 is not a 403)."""
    def placeholder(match):
        converter, name = match[1] or "", match[2]
        if converter.startswith("int"):
            return "999999"
        if converter.startswith("any"):
            return re.search(r"any\(([^,)]+)", converter)[1].strip()
        return "csv" if name == "fmt" else "NOSUCH"
    return re.sub(r"<(?:([^:>]+):)?(\w+)>", placeholder, rule.rule)


def test_every_screen_and_api_route_names_a_permission_of_the_one_table(app):
    for rule in app.url_map.iter_rules():
        needed = required_permission(app, rule.endpoint)
        assert needed in permissions.PERMISSIONS or needed in (PUBLIC, SIGNED_IN, API), rule.rule


def test_every_permission_is_held_by_some_role_and_used_somewhere(app):
    from pharmacy.web import api, fhir
    used = {required_permission(app, rule.endpoint) for rule in app.url_map.iter_rules()}
    used |= {e.permission for e in api.ENDPOINTS}
    used |= {needed for _rule, _method, needed in fhir.INTERACTIONS}  # the FHIR interactions' token check
    used |= {"bags.discard_quarantined", "users.manage"}  # asked by the lifecycle table and the admin's CLI
    used |= {"bags.destroy_usable"}  # asked of the pharmacist who signs a usable bag's destruction (bags.dispose_bag)
    used |= {"patients.view"}  # asked by the bag screens and the API before they show who a bag is for
    assert set(permissions.PERMISSIONS) <= used
    assert all(permissions.roles_with(name) for name in permissions.PERMISSIONS)


@pytest.mark.parametrize("role", list(Role))
def test_the_guard_opens_to_each_role_exactly_the_screens_the_table_grants(signed_in, app, role):
    browser = signed_in(ONE_USER_OF[role])
    checked = 0
    for rule in app.url_map.iter_rules():
        needed = required_permission(app, rule.endpoint)
        if needed not in permissions.PERMISSIONS or "GET" not in rule.methods:
            continue
        status = browser.get(_url(rule)).status_code
        if permissions.may(role, needed):
            assert status != 403, f"{role} refused {rule.rule} although the table grants {needed}"
        else:
            assert status == 403, f"{role} opened {rule.rule} ({status}) without {needed}"
        checked += 1
    assert checked >= 29


@pytest.mark.parametrize("role", list(Role))
def test_posting_a_form_is_refused_by_the_guard_exactly_when_the_table_refuses(signed_in, app, role):
    browser = signed_in(ONE_USER_OF[role])
    for rule in app.url_map.iter_rules():
        needed = required_permission(app, rule.endpoint)
        if needed not in permissions.PERMISSIONS or "POST" not in rule.methods:
            continue
        status = browser.post(_url(rule), {}).status_code
        assert (status == 403) == (not permissions.may(role, needed)), (role, rule.rule, status)
        assert status < 500, (role, rule.rule, status)  # an empty form is refused, never a server error


# The service each screen calls, called directly as a user of every role with arguments that need
# no data: a refusal for the role (NotAllowed) must come exactly when the screen's guard refuses.
def _service_calls(today):
    return {
        "orders.new": lambda p, u: orders.create_order(p, u, factories.patient(), "lemtrada", 1, 1, today),
        "orders.verify": lambda p, u: orders.verify_order(p, u, 999999, True),
        "orders.cancel": lambda p, u: orders.cancel_order(p, u, 999999, "a duplicate entered by mistake"),
        "orders.hold": lambda p, u: orders.hold_order(p, u, 999999, "waiting for the blood count"),
        "orders.lift_hold": lambda p, u: orders.lift_hold(p, u, 999999, "the blood count is normal"),
        "prep.start": lambda p, u: preparation.start(p, u, 999999),
        "prep.record": lambda p, u: preparation.scan_vial(p, u, 999999, None, vial_scan("NOSUCH")),
        "check.decide": lambda p, u: release.decide(p, u, 999999, None, PASSWORDS[u], "released",
                                                    bag_scan=factories.in_process_scan(999999)),
        "check.send_back": lambda p, u: release.send_back(p, u, 999999, None, PASSWORDS[u], "volume",
                                                          "re-weigh the syringe"),
        "bags.label": lambda p, u: bags.print_labels(p, u, ["NOSUCH"]),
        "bags.confirm_label": lambda p, u: bags.confirm_label(p, u, "NOSUCH", "]d2010950600013437621NOSUCH"),
        "prep.in_process_label": lambda p, u: preparation.in_process_label(p, u, 999999),
        "devices.calibrate": lambda p, u: balances.record_calibration(p, u, "B1", "XPR", today, today.replace(year=today.year + 1), "C1"),
        "bags.store": lambda p, u: bags.store(p, u, "NOSUCH", factories.FRIDGE),
        "bags.dispose": lambda p, u: bags.dispose_bag(p, u, "NOSUCH", "damaged", "port cracked", confirmed=True),
        "stock.receive": lambda p, u: stock.receive(p, u, vial_scan(f"AGREE{u.upper()}")),
        "storage.add_location": lambda p, u: bags.add_location(p, u, f"Fridge of {u}", 2, 8),
        "storage.record_reading": lambda p, u: coldchain.record(p, u, [], "form"),
        "bags.take_out": lambda p, u: bags.take_out(p, u, "NOSUCH", "Ward 5"),
        "bags.decide": lambda p, u: coldchain.decide(p, u, "NOSUCH", "use", "stability data", PASSWORDS[u]),
        "storage.acknowledge_incident": lambda p, u: coldchain.acknowledge(p, u, 999999, "patient reviewed"),
        "ward.start": lambda p, u: administration.start(p, u, "NOSUCH", "P-1"),
        "ward.end": lambda p, u: administration.end(p, u, "NOSUCH"),
        "ward.check": lambda p, u: administration.bedside_check(p, u, "NOSUCH", "P-1"),
        "trace.quarantine": lambda p, u: trace.quarantine_lot(p, u, "NOSUCH", "vial", "supplier recall notice"),
        "trace.record_recall": lambda p, u: recalls.recall(p, u, "vial_lot", f"NOSUCH-{u}", "supplier recall notice"),
        "trace.lift_recall": lambda p, u: recalls.lift(p, u, 999999, PASSWORDS[u], "supplier withdrew the notice"),
        "trace.audit_verify": lambda p, u: reports.verify_audit_chain(p, u),
        "printjobs.retry": lambda p, u: print_jobs.retry(p, u, 999999),
        "printjobs.cancel": lambda p, u: print_jobs.cancel(p, u, 999999, "printed on another printer"),
    }


def _refused_for_the_role(call) -> bool:
    try:
        call()
    except NotAllowed as error:
        return "may not" in error.message
    except PharmacyError:
        return False  # refused for another reason (no such object): the role itself was accepted
    return False


@pytest.mark.parametrize("role", list(Role))
def test_each_service_refuses_a_role_exactly_when_its_screen_does(app, pharmacy, role):
    calls = _service_calls(factories.today(pharmacy))
    for endpoint, call in calls.items():
        needed = required_permission(app, endpoint)
        refused = _refused_for_the_role(lambda call=call: call(pharmacy, ONE_USER_OF[role]))
        assert refused == (not permissions.may(role, needed)), (role, endpoint, needed)


def test_the_admin_permission_to_add_users_is_the_services_too(pharmacy):
    for role, username in ONE_USER_OF.items():
        refused = _refused_for_the_role(lambda username=username: users.add_user(
            pharmacy, username, f"new-{username}", "New Person", "nurse", "a-long-enough-password-1"))
        assert refused == (not permissions.may(role, "users.manage")), role


@pytest.fixture
def tokens(pharmacy):
    return {role: users.create_token(pharmacy, username, f"{username} device") for role, username in ONE_USER_OF.items()}


def test_the_api_refuses_each_role_exactly_as_its_openapi_document_and_the_table_say(app, tokens):
    client = app.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) == 9
    for path, method, op in operations:
        assert op["x-roles"] == list(permissions.roles_with(op["x-permission"])), path
        url = re.sub(r"\{\w+\}", "NOSUCH", path)
        for role, token in tokens.items():
            response = client.open(url, method=method.upper(), headers={"Authorization": f"Bearer {token}"}, json={})
            refused = response.status_code == 403
            assert refused == (role not in op["x-roles"]), (role, method, path, response.get_json())


def test_a_screen_and_the_api_route_for_the_same_act_need_the_same_permission(app):
    from pharmacy.web import api
    same_act = {"receive_stock": "stock.receive", "create_order": "orders.new", "cancel_order": "orders.cancel", "bag_status": "bags.show",
                "bedside_check": "ward.check", "administration_start": "ward.start", "administration_end": "ward.end",
                "temperatures": "storage.record_reading", "recall": "trace.recall"}
    declared = {e.rule: e.permission for e in api.ENDPOINTS}
    by_view = {rule.endpoint.removeprefix("api."): declared[rule.rule.removeprefix("/api/v1")]
               for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.") and rule.rule.removeprefix("/api/v1") in declared}
    assert set(by_view) == set(same_act)
    for view, screen in same_act.items():
        assert by_view[view] == required_permission(app, screen), view
