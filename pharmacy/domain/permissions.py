"""Who may do what: the one table of roles and permissions.

The web guard (every screen declares one permission), the services (``base.actor`` checks the
acting user's role against a permission) and the JSON API (each endpoint declares one permission,
and its OpenAPI document lists the roles that hold it) all read this table, so they cannot drift.
The lifecycle tables (``domain.lifecycle``) name the permission each transition needs.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TECHNICIAN = "technician"
    PHARMACIST = "pharmacist"
    NURSE = "nurse"
    AUDITOR = "auditor"
    ADMIN = "admin"


# permission → what it lets a user do, in words for a refusal ("a nurse may not <words>")
PERMISSIONS: dict[str, str] = {
    "worklist.view": "see the worklist",
    "orders.view": "see orders",
    # who a bag or an order is for: everyone whose work is the patient's dose; an admin sees stock and
    # fridges, never patients (bag lists, a bag's page and the API leave them out)
    "patients.view": "see patients' names and identifiers",
    "orders.enter": "enter orders",
    "orders.verify": "verify orders",
    "orders.cancel": "cancel orders",  # a technician: only an order they entered, before verification (services/orders)
    "orders.hold": "put orders on hold or lift a hold",
    "prep.work": "prepare doses",
    "check.view": "see preparation records",
    "check.release": "check and release bags",
    "bags.view": "see bags",
    "bags.label": "print bag labels",
    "bags.handle": "store or dispose of bags",
    "bags.discard_quarantined": "discard a quarantined bag (they review why it was quarantined first)",
    "coldchain.review": "decide on a bag kept out of the fridge too long, or acknowledge a cold-chain incident",
    "bags.destroy_usable": "sign the destruction of a bag that could still be given",
    "stock.view": "see stock",
    "stock.receive": "receive stock",
    "fmd.view": "see suspected falsified packs (EU FMD)",
    "fmd.resolve": "resolve a suspected falsified pack (EU FMD)",
    "dashboard.view": "see the bag dashboard",
    "storage.view": "see storage locations and temperatures",
    "storage.locations": "add storage locations",
    "temps.record": "record temperature readings",
    "ward.bedside": "check and give bags at the bedside",
    "trace.recall": "look up what was made from a lot",
    "trace.quarantine": "quarantine a recalled lot",
    "trace.history": "see bag and patient histories",
    "audit.view": "read the audit log",
    "audit.verify": "verify the audit chain",
    "reports.view": "see the work, safety and waste reports",
    "users.manage": "manage users and API tokens",
    "devices.view": "see the balances and their calibration",
    "devices.calibrate": "record a balance's calibration",
    # the hospital's record over FHIR R4 (web/fhir.py): an integration's token is scoped to these
    "fhir.orders": "send orders and their changes from the hospital's record (FHIR)",
    "fhir.read": "read the dispenses and administrations over FHIR",
}

_READ = {"worklist.view", "orders.view", "check.view", "bags.view", "stock.view", "patients.view"}
_COLD_CHAIN = {"dashboard.view", "storage.view", "temps.record"}
# histories, recalls and the audit log name patients across the whole pharmacy: pharmacists and
# auditors only (verifying the chain records nothing)
_TRACE_READ = {"trace.recall", "trace.history", "audit.view", "audit.verify", "reports.view"}
_DEVICES = {"devices.view"}
_TECHNICIAN = (_READ - {"check.view"}) | _COLD_CHAIN | {
    "orders.enter", "orders.cancel", "prep.work", "bags.label", "bags.handle", "stock.receive",
    "fhir.orders", "fhir.read"} | _DEVICES

GRANTS: dict[Role, frozenset[str]] = {
    Role.TECHNICIAN: frozenset(_TECHNICIAN),
    Role.PHARMACIST: frozenset(_TECHNICIAN | _TRACE_READ | {
        "check.view", "orders.verify", "orders.hold", "check.release", "ward.bedside", "bags.discard_quarantined", "coldchain.review",
        "trace.quarantine", "bags.destroy_usable", "fmd.view", "fmd.resolve", "devices.calibrate"}),
    Role.NURSE: frozenset(_COLD_CHAIN | {"bags.view", "patients.view", "bags.handle", "ward.bedside", "fhir.read"}),
    Role.AUDITOR: frozenset(_READ | _TRACE_READ | _DEVICES | {  # reads, changes nothing
        "dashboard.view", "storage.view", "fmd.view", "fhir.read"}),
    Role.ADMIN: frozenset({"bags.view", "stock.view", "stock.receive", "storage.view", "storage.locations",
                           "temps.record", "users.manage", "devices.view"}),
}


def check_permission_name(permission: str) -> str:
    """A permission name that is not in the table is a programming error, refused at once."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission


def may(role: str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (an unknown role holds nothing)."""
    check_permission_name(permission)
    try:
        return role is not None and permission in GRANTS[Role(role)]
    except ValueError:
        return False


def roles_with(permission: str) -> tuple[Role, ...]:
    """The roles that hold ``permission``, in the table's order."""
    check_permission_name(permission)
    return tuple(role for role in Role if permission in GRANTS[role])


def refusal(role: str | None, permission: str) -> str:
    """Why ``role`` is refused ``permission``, in one sentence."""
    holders = " or ".join(roles_with(permission))
    return f"A {role or 'visitor'} may not {PERMISSIONS[permission]}; only a {holders} may."


def markdown() -> str:
    """The table as ARCHITECTURE.md shows it: one row per permission, a column per role."""
    lines = ["| permission | " + " | ".join(Role) + " |", "|---|" + "---|" * len(Role)]
    for name in PERMISSIONS:
        lines.append(f"| {name} | " + " | ".join("✔" if name in GRANTS[role] else "" for role in Role) + " |")
    return "\n".join(lines) + "\n"
