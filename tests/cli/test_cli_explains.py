"""The command explains itself instead of showing a traceback (issue 16, point 7): a database never
initialised, a port in use; and `stock list` starts without what listing does not need (how fast is
measured by bench/cli_start.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

# the stock list reads plain rows (services/stock_list, db/tables): no ORM, no models, no services (issue 16 point 7)
SKIPPED_BY_LISTING = ("pint", "pharmacy.domain.units", "pharmacy.domain.monograph", "biip", "flask", "sqlalchemy.orm",
                      "pharmacy.db.models", "pharmacy.services.base", "reportlab")


@pytest.mark.parametrize("command", [("stock", "list"), ("users", "list"), ("bags",), ("audit", "verify"),
                                     ("backup", "copy.sqlite3")])
def test_a_command_run_where_no_database_was_initialised_says_so(cli, command):
    result = cli.run(*command)
    assert result.exit_code != 0
    assert "no database here — run `pharmacy init-db`" in result.stderr
    assert str(cli.database) in result.stderr  # where it looked
    assert "Traceback" not in result.output and "OperationalError" not in result.output
    assert not cli.database.exists()  # and no empty database file was left behind


def test_init_db_then_the_same_command_works(cli):
    cli.ok("init-db")
    assert cli.ok("stock", "list").exit_code == 0


def _env(instance) -> dict[str, str]:
    return {**os.environ, "PHARMACY_INSTANCE": str(instance), "PHARMACY_DATABASE_URL": "",
            "PHARMACY_TIMEZONE": "Europe/Brussels"}


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "pharmacy.cli", "serve", "--port", str(port)], env=_env(tmp_path),
                                capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "serving on" not in result.stdout
    [line] = [line for line in result.stderr.splitlines() if "in use" in line]
    assert f"port {port} on 127.0.0.1 is in use" in line and "--port" in line


def test_stock_list_loads_neither_the_unit_registry_nor_the_scan_parser_nor_the_orm(tmp_path):
    subprocess.run([sys.executable, "-m", "pharmacy.cli", "init-db"], env=_env(tmp_path), check=True,
                   capture_output=True, timeout=120)
    probe = ("import sys; from pharmacy import cli\n"
             "try:\n    cli.main(['stock', 'list'])\nexcept SystemExit:\n    pass\n"
             f"print('loaded:' + ','.join(m for m in {SKIPPED_BY_LISTING!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], env=_env(tmp_path), capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "loaded:", result.stdout
