"""``pharmacy outbox list | run | retry`` (issue 17, H38): what waits for the hospital's FHIR server is visible, a
failing row says why and makes ``list`` exit 1, and ``run --once`` sends it when the server is back."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

from pharmacy.cli import main
from tests import factories
from tests.fhir_servers import StandIn
from tests.integration.test_fhir_outbox import closed_port_url


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.stop()


def command(pharmacy, url: str):
    runner = CliRunner(env={"PHARMACY_INSTANCE": str(pharmacy.settings.instance), "PHARMACY_TIMEZONE": "Europe/Brussels",
                            "PHARMACY_DATABASE_URL": pharmacy.settings.database_url, "PHARMACY_FHIR_OUTBOUND_URL": url})

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.mark.hazard("H38")
def test_the_outbox_is_listed_with_its_errors_and_sent_once_the_server_answers(pharmacy, stand_in, clock):
    down = closed_port_url()
    pharmacy.settings = replace(pharmacy.settings, fhir_outbound_url=down)
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    run = command(pharmacy, down)
    listed = run("outbox", "list")
    assert listed.exit_code == 0 and f"MedicationDispense/{bag.serial}" in listed.stdout and "pending" in listed.stdout
    for _ in range(3):
        tried = run("outbox", "run", "--once")
        assert tried.exit_code == 1 and "failed 1" in tried.stdout
        clock.advance(minutes=5)
    failing = run("outbox", "list", "--format", "json")
    assert failing.exit_code == 1 and '"state": "failing"' in failing.stdout and "not reached" in failing.stdout
    up = command(pharmacy, stand_in.base)
    assert "1 row(s) due now" in up("outbox", "retry").stdout
    sent = up("outbox", "run", "--once")
    assert sent.exit_code == 0 and "sent 1, failed 0, waiting 0" in sent.stdout
    assert "(none)" in up("outbox", "list").stdout and "sent" in up("outbox", "list", "--all").stdout
    assert len(stand_in.stored) == 1


def test_run_without_a_fhir_server_says_what_to_set(pharmacy):
    result = command(pharmacy, "")("outbox", "run", "--once")
    assert result.exit_code != 0 and "PHARMACY_FHIR_OUTBOUND_URL" in result.output
