"""The command answers --help and --version without loading the application (issue 16): the services,
SQLAlchemy, pint and ReportLab are imported by the first command that needs the pharmacy. (How fast
that is, is measured by bench/cli_start.py, not here.)"""

from __future__ import annotations

import subprocess
import sys

from pharmacy import cli
from pharmacy.services import base, tokens, trace

HEAVY = ("sqlalchemy", "pint", "reportlab", "pharmacy.services.base", "flask")


def test_help_and_version_load_none_of_the_application():
    probe = ("import sys; from pharmacy import cli\n"
             "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
             f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert "Usage:" in loaded.stdout and loaded.stdout.strip().splitlines()[-1] == "loaded:"


def test_the_commands_choices_are_the_services_own():
    assert cli.ROLES == base.ROLES and cli.RECALL_KINDS == trace.KINDS
    assert tokens.DEFAULT_LIFETIME.days == 365


def test_a_command_that_needs_the_pharmacy_still_reaches_its_service(demo_cli):
    listing = demo_cli.ok("stock", "list").output
    assert "DEMO000000012" in listing
