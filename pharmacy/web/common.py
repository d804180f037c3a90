"""What every view needs: the running pharmacy, the signed-in user's name, and times as the
pharmacy reads them."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_login import current_user
from markupsafe import Markup

from pharmacy import clock, i18n
from pharmacy.domain import lifecycle
from pharmacy.domain.dilution import display_mass, display_volume
from pharmacy.domain.inuse import format_local, is_expired, to_local
from pharmacy.domain.monograph import StorageRange
from pharmacy.i18n import _, lazy
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


def _required_moment(value) -> datetime:
    moment = _moment(value)
    if moment is None:
        raise ValueError("a time is needed here, not nothing")
    return moment


def local(value, fmt: str = "%d %b %Y %H:%M") -> str:
    """Jinja filter: an aware time (or its ISO text) in the pharmacy's zone, with the zone's name."""
    moment = _moment(value)
    return "" if moment is None else format_local(moment, get_pharmacy().zone, fmt)


def seconds_left(value) -> int:
    moment = _required_moment(value)
    return int((moment - clock.now()).total_seconds())


def countdown(value) -> str:
    """Jinja filter: time left until ``value``, as the bench reads it (“3 h 05 min left”)."""
    if is_expired(_required_moment(value), clock.now()):
        return _("EXPIRED")
    hours, minutes = divmod(seconds_left(value) // 60, 60)
    return _("{hours} h {minutes:02d} min left", hours=hours, minutes=minutes) if hours else _("{minutes} min left", minutes=minutes)


def start_by(use_by: datetime, product_id: str) -> datetime:
    """Template global: START BY of a bag with this use-by under the active policy, the very time the
    bedside enforces (``services.bags.start_by_for``)."""
    from pharmacy.services.bags import start_by_for  # services import printing; keep this module light

    return start_by_for(get_pharmacy(), use_by, product_id)


def storage_phrase(storage: StorageRange) -> str:
    """Jinja filter: a monograph's storage range as a sentence says it (“at 2–8 °C, protected from light”)."""
    if storage.protect_from_light:
        return _("at {low:g}–{high:g} °C, protected from light", low=storage.min_celsius, high=storage.max_celsius)
    return _("at {low:g}–{high:g} °C", low=storage.min_celsius, high=storage.max_celsius)


# The main menu: (endpoint, permission, label). An area adds its own line; the menu shows a line only
# to the roles whose permissions include it.
NAV = [
    ("orders.worklist", "worklist.view", lazy("Worklist")),
    ("orders.new", "orders.enter", lazy("New order")),
    ("orders.pending", "orders.view", lazy("Orders to verify")),
    ("check.index", "check.view", lazy("Check & release")),
    ("bags.index", "bags.view", lazy("Bags")),
    ("stock.index", "stock.view", lazy("Stock")),
    ("storage.dashboard", "dashboard.view", lazy("Dashboard")),
    ("storage.index", "storage.locations", lazy("Storage")),  # the others reach it from the dashboard
    ("ward.index", "ward.bedside", lazy("Bedside")),
    ("trace.index", "trace.recall", lazy("Recall & trace")),
    ("trace.audit", "audit.view", lazy("Audit log")),
    ("reports.index", "reports.view", lazy("Reports")),
    ("devices.index", "devices.view", lazy("Balances")),
    ("printjobs.index", "bags.view", lazy("Print jobs")),
    ("printjobs.printers", "devices.view", lazy("Printers")),
    ("accounts.user_list", "users.manage", lazy("Users")),
    ("signins.open_sessions", "users.manage", lazy("Sign-ins")),
]


# The menu grouped by task once a role sees more lines than fit one row (the pharmacist's 12): the bench's
# lines stay in the bar, each other group is a drop-down (<details>, opened with Enter or Space; Escape
# closes it: pharmacy.js). A line no group names goes to "More".
MENU_GROUPS: list[tuple[str | None, tuple[str, ...]]] = [
    (None, ("orders.worklist", "orders.new", "orders.pending", "check.index")),
    (lazy("Bags & ward"), ("bags.index", "printjobs.index", "storage.dashboard", "storage.index", "ward.index")),
    (lazy("Stock & devices"), ("stock.index", "devices.index", "printjobs.printers")),
    (lazy("Quality"), ("trace.index", "trace.audit", "reports.index")),
    (lazy("Users"), ("accounts.user_list", "signins.open_sessions")),
]
FLAT_MENU_MAX = 8  # up to this many lines, the menu is one row of links (the nurse, the admin)


def menu_groups(user) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """The menu lines ``user`` may see, as (group or None for the bar itself, [(endpoint, label)])."""
    if not user.is_authenticated or user.must_change_password:
        return []
    visible: list[tuple[str, str]] = [(endpoint, label) for endpoint, perm, label in NAV if user.can(perm)]
    if len(visible) <= FLAT_MENU_MAX:
        return [(None, visible)]
    placed = {endpoint for _, endpoints in MENU_GROUPS for endpoint in endpoints}
    groups: list[tuple[str | None, list[tuple[str, str]]]] = []
    for name, endpoints in [*MENU_GROUPS, (lazy("More"), ())]:
        items = [(e, label) for e, label in visible if (e in endpoints if name != "More" else e not in placed)]
        if items:
            groups.append((None if len(items) == 1 else name, items))
    return groups


_MENUS_KEPT = 512


def main_menu() -> Markup:
    """The signed-in user's menu (templates/_menu.html) as markup: the same for every user of a role on a page in a
    language, so drawn once for each and kept (issue 18: the menu was a fifth of a page's rendering). Bounded."""
    from flask import render_template, request

    user = current_user
    here = request.endpoint or ""
    kept: dict[tuple[object, ...], Markup] = current_app.extensions.setdefault("pharmacy.menus", {})
    key = (user.role, bool(getattr(user, "must_change_password", False)), i18n.current(), here, request.script_root)
    menu = kept.get(key)
    if menu is None:
        if len(kept) >= _MENUS_KEPT:
            kept.clear()
        menu = kept[key] = Markup(render_template("_menu.html", groups=menu_groups(user), here=here))
    return menu


def register_template_helpers(app) -> None:
    app.add_template_filter(local, "local")
    # a day (a date of birth, an expiry) by a strftime format, with the month and day names of the current language
    app.add_template_filter(i18n.format_moment, "date")
    app.add_template_filter(countdown, "countdown")
    app.add_template_filter(seconds_left, "seconds_left")
    app.add_template_filter(display_volume, "volume")
    app.add_template_filter(display_mass, "mass")
    app.add_template_filter(storage_phrase, "storage")
    # templates name states and ask which actions a state allows through the lifecycle tables only
    app.jinja_env.globals.update(
        OrderState=lifecycle.OrderState, PrepState=lifecycle.PrepState, BagState=lifecycle.BagState,
        Event=lifecycle.Event, ORDER=lifecycle.ORDER, PREPARATION=lifecycle.PREPARATION, BAG=lifecycle.BAG,
        BAG_LIVE=lifecycle.BAG_LIVE, BAG_TO_DISCARD=lifecycle.BAG_TO_DISCARD, start_by=start_by)
    app.jinja_env.globals["main_menu"] = main_menu  # the menu of every page, drawn once per role, language and page

    @app.context_processor
    def pharmacy_context():
        pharmacy = get_pharmacy()
        return {"nav_items": NAV, "pharmacy_name": pharmacy.settings.pharmacy_name, "timezone": pharmacy.settings.timezone,
                "catalog": pharmacy.catalog,
                "gs_substitute": (pharmacy.settings.gs_substitutes or ("\x1d",))[0]}
