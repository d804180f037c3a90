"""H19 from the command line: ``pharmacy orders cancel|hold|lift-hold ID --user U --reason R`` calls the
same services as the order screen, prints what it did, and exits 1 with the reason when refused."""

from __future__ import annotations

import pytest

REASON = "Entered twice by mistake: duplicate order"


@pytest.mark.hazard("H19")
def test_a_pharmacist_holds_lifts_and_cancels_a_demo_order_and_each_step_is_audited(demo_cli):
    held = demo_cli.ok("orders", "hold", "1", "--user", "pharm", "--reason", "Waiting for the blood count")
    assert "Order 1 is on hold: it is not prepared until a pharmacist lifts the hold" in held.stdout
    lifted = demo_cli.ok("orders", "lift-hold", "1", "--user", "pharm", "--reason", "Blood count is normal today")
    assert "Order 1 is no longer on hold" in lifted.stdout and "(now entered)" in lifted.stdout
    cancelled = demo_cli.ok("orders", "cancel", "1", "--user", "pharm", "--reason", REASON)
    assert "Order 1 cancelled: it will not be prepared" in cancelled.stdout
    assert "intact" in demo_cli.ok("audit", "verify").stdout.lower()


@pytest.mark.hazard("H19")
def test_the_command_refuses_with_exit_1_a_short_reason_or_an_order_already_being_prepared(demo_cli):
    short = demo_cli.run("orders", "cancel", "1", "--user", "pharm", "--reason", "oops")
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    under_way = demo_cli.run("orders", "cancel", "3", "--user", "pharm", "--reason", REASON)  # the demo made its bag
    assert under_way.exit_code == 1
    assert "Refused: Order 3 is prepared: only an order not yet in preparation is cancelled here" in under_way.stderr
