"""The Flask application factory: settings, the running pharmacy, extensions, blueprints, guards."""

from __future__ import annotations

import importlib.resources
import os
import secrets
from dataclasses import fields
from pathlib import Path

from flask import Flask, redirect, session, url_for
from flask_login import current_user
from sqlalchemy import text

from pharmacy import config as pharmacy_config
from pharmacy.services import base, setup
from pharmacy.services.users import get_user
from pharmacy.web import (
    accounts,
    api,
    auth,
    bags,
    check,
    devices,
    i18n,
    inputs,
    orders,
    prep,
    prg,
    reports,
    signins,
    stock,
    storage,
    trace,
    ward,
)
from pharmacy.web import fhir as fhir_r4
from pharmacy.web.common import get_pharmacy, register_template_helpers
from pharmacy.web.errors import register_error_handlers
from pharmacy.web.extensions import csrf, login_manager
from pharmacy.web.logs import register_logging
from pharmacy.web.security import PUBLIC, SIGNED_IN, Anonymous, WebUser, guard, permission
from pharmacy.web.sessions import ServerSessionInterface

SETTINGS_FIELDS = {f.name for f in fields(pharmacy_config.Settings)}
HOME_BY_ROLE = {"technician": "orders.worklist", "pharmacist": "orders.worklist", "auditor": "orders.worklist",
                "nurse": "ward.index", "admin": "stock.index"}


def templates_folder() -> Path:
    """``pharmacy/templates`` in an installed wheel, the top-level ``templates/`` in a checkout."""
    installed = importlib.resources.files("pharmacy") / "templates"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[2] / "templates"


def create_app(config: dict | None = None, pharmacy: base.Pharmacy | None = None) -> Flask:
    """``config``: lower-case keys override pharmacy settings (``pharmacy.config.Settings``),
    upper-case keys are Flask settings (``TESTING``, ``SESSION_COOKIE_SECURE`` …)."""
    config = dict(config or {})
    if pharmacy is None:
        pharmacy = base.build(pharmacy_config.load({k: v for k, v in config.items() if k in SETTINGS_FIELDS}))
        setup.init_db(pharmacy)
    instance = Path(pharmacy.settings.instance).resolve()
    app = Flask(__name__, template_folder=str(templates_folder()), instance_path=str(instance))
    app.extensions["pharmacy"] = pharmacy
    pharmacy.catalog.products  # noqa: B018 - read now: a broken monograph stops the start with its reason
    app.request_class = inputs.Request  # keeps a form's bytes, to refuse those that are not UTF-8
    app.url_map.converters["int"] = inputs.BoundedInt  # an id beyond 64 bits is not found, not a 500
    app.config.update(
        SECRET_KEY=pharmacy.settings.secret_key or _persistent_secret(instance),
        SESSION_COOKIE_NAME="pharmacy_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("PHARMACY_SECURE_COOKIES", "") in ("1", "true", "yes"),
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session, which the idle timeout ends
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    app.session_interface = ServerSessionInterface()  # sessions kept on the server, so they can end (H21)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_security(app)
    register_logging(app)
    i18n.register(app)  # after the guard (register_security): the language is the signed-in user's
    prg.register(app)  # every POST answers with a redirect, refusals included (issue 16)
    _share_reads(app, pharmacy)
    return app


def _share_reads(app: Flask, pharmacy: base.Pharmacy) -> None:
    """One read session per request, from the session cookie's lookup to the page (db/database.shared_reads):
    a page's 5 to 10 reads no longer open and close a session, a connection and a transaction each (issue 18)."""
    inner = app.wsgi_app

    def wsgi_app(environ, start_response):
        with pharmacy.db.shared_reads():
            return inner(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]


def _persistent_secret(instance: Path) -> str:
    """One random key per installation, kept in the instance folder, so sessions survive a restart."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def register_extensions(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.anonymous_user = Anonymous
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(user_id: str):
        # the row read with the session in this request (web/sessions.py), else its own query (issue 18)
        read = getattr(session, "user", None)
        if not user_id.isdigit():
            user = None
        elif read is not None and read.id == int(user_id):
            user = read
        else:
            user = get_user(get_pharmacy(), int(user_id))
        return WebUser(user) if user is not None and user.active else None


def register_blueprints(app: Flask) -> None:
    for module in (auth, orders, prep, check, bags, stock, api):
        app.register_blueprint(module.bp)
    for module in (storage, ward):  # the cold chain and the ward
        app.register_blueprint(module.bp)
    app.register_blueprint(devices.bp)  # balances and their calibration
    from pharmacy.web import printjobs  # print jobs and the configured printers (issue 15.5)

    app.register_blueprint(printjobs.bp)
    for module in (trace, reports, accounts):  # recall, histories, audit log, reports; users and tokens
        app.register_blueprint(module.bp)
    app.register_blueprint(signins.bp)  # open sessions and the record of failed sign-ins (admin)
    app.register_blueprint(fhir_r4.bp)  # HL7 FHIR R4 for the hospital's record (issue 17)
    app.register_blueprint(fhir_r4.screens)  # the admin's view of the FHIR outbox

    @app.get("/")
    @permission(SIGNED_IN)
    def home():
        """Each role starts where its work is."""
        return redirect(url_for(HOME_BY_ROLE.get(current_user.role, "bags.index")))

    @app.get("/healthz")
    @permission(PUBLIC)  # explicit: monitoring probes it without signing in; it shows no data
    def healthz():
        """The app answers and the database is reachable."""
        with get_pharmacy().uow(readonly=True) as uow:
            uow.session.execute(text("SELECT 1"))
        return {"status": "ok"}


def register_security(app: Flask) -> None:
    # first, before the CSRF check: a form sent after the session ended (idle timeout) is answered with the
    # sign-in page and why, and back to the page it came from (issue 16), not with "token not valid"
    app.before_request_funcs.setdefault(None, []).insert(0, guard)
    app.before_request(inputs.check_request)  # every text value clean and fitting its column (web/inputs)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; "
                                    "form-action 'self'; base-uri 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":  # screens show patient data: never from a cache
            response.headers["Cache-Control"] = "no-store"
        return response
