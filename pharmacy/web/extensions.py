"""Flask extensions, created without an app and wired up in ``create_app`` by ``register_extensions``."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
