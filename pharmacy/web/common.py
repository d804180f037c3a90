"""What every view needs: the running pharmacy, the signed-in user's name, and times as the
pharmacy reads them."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_login import current_user

from pharmacy import clock
from pharmacy.domain.dilution import display_mass, display_volume
from pharmacy.domain.inuse import format_local, is_expired, to_local
from pharmacy.services.base import Pharmacy


def get_pharmacy() -> Pharmacy:
    return current_app.extensions["pharmacy"]


def username() -> str:
    return current_user.username


def today():
    return to_local(clock.now(), get_pharmacy().zone).date()


def _moment(value) -> datetime | None:
    if value is None or value == "":
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def local(value, fmt: str = "%d %b %Y %H:%M") -> str:
    """Jinja filter: an aware time (or its ISO text) in the pharmacy's zone, with the zone's name."""
    moment = _moment(value)
    return "" if moment is None else format_local(moment, get_pharmacy().zone, fmt)


def seconds_left(value) -> int:
    moment = _moment(value)
    return int((moment - clock.now()).total_seconds())


def countdown(value) -> str:
    """Jinja filter: time left until ``value``, as the bench reads it (“3 h 05 min left”)."""
    if is_expired(_moment(value), clock.now()):
        return "EXPIRED"
    hours, minutes = divmod(seconds_left(value) // 60, 60)
    return f"{hours} h {minutes:02d} min left" if hours else f"{minutes} min left"


# The main menu: (endpoint, permission, label). An area adds its own line; the menu shows a line only
# to the roles whose permissions include it.
NAV = [
    ("orders.worklist", "worklist.view", "Worklist"),
    ("orders.new", "orders.enter", "New order"),
    ("orders.pending", "orders.view", "Orders to verify"),
    ("check.index", "check.view", "Check & release"),
    ("bags.index", "bags.view", "Bags"),
    ("stock.index", "stock.view", "Stock"),
    ("storage.dashboard", "dashboard.view", "Dashboard"),
    ("storage.index", "storage.locations", "Storage"),  # the others reach it from the dashboard
    ("ward.index", "ward.bedside", "Bedside"),
    ("trace.index", "trace.recall", "Recall & trace"),
    ("trace.audit", "audit.view", "Audit log"),
    ("reports.index", "reports.view", "Reports"),
]


def register_template_helpers(app) -> None:
    app.add_template_filter(local, "local")
    app.add_template_filter(countdown, "countdown")
    app.add_template_filter(seconds_left, "seconds_left")
    app.add_template_filter(display_volume, "volume")
    app.add_template_filter(display_mass, "mass")

    @app.context_processor
    def pharmacy_context():
        pharmacy = get_pharmacy()
        return {"nav_items": NAV, "pharmacy_name": pharmacy.settings.pharmacy_name, "timezone": pharmacy.settings.timezone,
                "catalog": pharmacy.catalog,
                "gs_substitute": (pharmacy.settings.gs_substitutes or ("\x1d",))[0]}
