"""Hospital pharmacy compounding and dose-preparation system."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: dict[str, object] | None = None) -> Flask:
    """The Flask application factory (imported lazily so the domain stays Flask-free)."""
    from pharmacy.web.app import create_app as _create_app

    return _create_app(config)
