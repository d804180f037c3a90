"""Who may do what: the one table of roles and permissions.

The web guard (every screen declares one permission), the services (``base.actor`` checks the
acting user's role against a permission) and the JSON API (each endpoint declares one permission,
and its OpenAPI document lists the roles that hold it) all read this table, so they cannot drift.
The lifecycle tables (``domain.lifecycle``) name the permission each transition needs.
"""

from __future__ import annotations

from enum import StrEnum

from pharmacy.i18n import _, lazy, now


class Role(StrEnum):
    TECHNICIAN = "technician"
    PHARMACIST = "pharmacist"
    NURSE = "nurse"
    AUDITOR = "auditor"
    ADMIN = "admin"


# permission → what it lets a user do, in words for a refusal ("a nurse may not <words>"); shown: i18n.now(words)
PERMISSIONS: dict[str, str] = {
    "worklist.view": lazy("see the worklist"),
    "orders.view": lazy("see orders"),
    # who a bag or an order is for: everyone whose work is the patient's dose; an admin sees stock and
    # fridges, never patients (bag lists, a bag's page and the API leave them out)
    "patients.view": lazy("see patients' names and identifiers"),
    "orders.enter": lazy("enter orders"),
    "orders.verify": lazy("verify orders"),
    "orders.cancel": lazy("cancel orders"),  # a technician: only an order they entered, before verification (services/orders)
    "orders.hold": lazy("put orders on hold or lift a hold"),
    "prep.work": lazy("prepare doses"),
    "check.view": lazy("see preparation records"),
    "check.release": lazy("check and release bags"),
    "bags.view": lazy("see bags"),
    "bags.label": lazy("print bag labels"),
    "bags.handle": lazy("store or dispose of bags"),
    "bags.discard_quarantined": lazy("discard a quarantined bag (they review why it was quarantined first)"),
    "coldchain.review": lazy("decide on a bag kept out of the fridge too long, or acknowledge a cold-chain incident"),
    "bags.destroy_usable": lazy("sign the destruction of a bag that could still be given"),
    "stock.view": lazy("see stock"),
    "stock.receive": lazy("receive stock"),
    "fmd.view": lazy("see suspected falsified packs (EU FMD)"),
    "fmd.resolve": lazy("resolve a suspected falsified pack (EU FMD)"),
    "dashboard.view": lazy("see the bag dashboard"),
    "storage.view": lazy("see storage locations and temperatures"),
    "storage.locations": lazy("add storage locations"),
    "temps.record": lazy("record temperature readings"),
    "ward.bedside": lazy("check and give bags at the bedside"),
    "trace.recall": lazy("look up what was made from a lot"),
    "trace.quarantine": lazy("quarantine a recalled lot"),
    "trace.history": lazy("see bag and patient histories"),
    "audit.view": lazy("read the audit log"),
    "audit.verify": lazy("verify the audit chain"),
    "reports.view": lazy("see the work, safety and waste reports"),
    "users.manage": lazy("manage users and API tokens"),
    "devices.view": lazy("see the balances and their calibration"),
    "devices.calibrate": lazy("record a balance's calibration"),
    # the hospital's record over FHIR R4 (web/fhir.py): an integration's token is scoped to these
    "fhir.orders": lazy("send orders and their changes from the hospital's record (FHIR)"),
    "fhir.read": lazy("read the dispenses and administrations over FHIR"),
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


# each role as a person reads it (``role_name``), marked for translation
ROLE_WORDS: dict[str, str] = {Role.TECHNICIAN: lazy("technician"), Role.PHARMACIST: lazy("pharmacist"),
                              Role.NURSE: lazy("nurse"), Role.AUDITOR: lazy("auditor"), Role.ADMIN: lazy("admin")}


def role_name(role: str | None) -> str:
    """A role in the current language ("pharmacist"); no role: a visitor; an unknown one as it is."""
    if not role:
        return _("visitor")
    return now(ROLE_WORDS.get(role, role))


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
    holders = ""
    for holder in roles_with(permission):
        holders = _("{either} or {other}", either=holders, other=role_name(holder)) if holders else role_name(holder)
    return _("A {role} may not {action}; only a {holders} may.", role=role_name(role), action=now(PERMISSIONS[permission]),
             holders=holders)


def markdown() -> str:
    """The table as ARCHITECTURE.md shows it: one row per permission, a column per role."""
    lines = ["| permission | " + " | ".join(Role) + " |", "|---|" + "---|" * len(Role)]
    for name in PERMISSIONS:
        lines.append(f"| {name} | " + " | ".join("✔" if name in GRANTS[role] else "" for role in Role) + " |")
    return "\n".join(lines) + "\n"
