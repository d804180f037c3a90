"""Hospital pharmacy compounding and dose-preparation system."""

__version__ = "0.1.0"


def create_app(config=None):
    """The Flask application factory (imported lazily so the domain stays Flask-free)."""
    from pharmacy.web.app import create_app as _create_app

    return _create_app(config)
