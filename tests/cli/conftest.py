"""The ``pharmacy`` command run in-process with click's CliRunner, against an instance folder in
tmp_path (SQLite) and the frozen clock."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pharmacy.cli import main


class Pharmacy:
    """``run("stock", "list")`` → click's Result (``.exit_code``, ``.stdout``, ``.stderr``)."""

    def __init__(self, instance) -> None:
        self.instance = instance
        self.database = instance / "pharmacy.sqlite3"
        self.runner = CliRunner(env={"PHARMACY_INSTANCE": str(instance), "PHARMACY_TIMEZONE": "Europe/Brussels",
                                     "PHARMACY_DATABASE_URL": ""})

    def run(self, *args: str, input: str | None = None):
        return self.runner.invoke(main, list(args), input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None):
        result = self.run(*args, input=input)
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def cli(tmp_path, clock):
    return Pharmacy(tmp_path)


@pytest.fixture
def demo_cli(cli):
    cli.ok("demo")
    return cli
