"""A bag past its use-by (SmPC 6.3: at most 8 h after dilution) is expired wherever it is looked at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pharmacy.domain.inuse import effective_state

USE_BY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
# the states of a bag (domain.lifecycle.BagState): stock that can still be given, and the rest
LIVE_BAG_STATES = ("awaiting_check", "released", "stored")
NOT_LIVE = ("quarantined", "in_administration", "administered", "rejected", "destroyed", "expired")


@pytest.mark.parametrize("state", LIVE_BAG_STATES)
def test_a_live_bag_keeps_its_state_one_second_before_its_use_by_smpc_6_3(state):
    assert effective_state(state, USE_BY, USE_BY - SECOND) == state


@pytest.mark.parametrize("state", LIVE_BAG_STATES)
def test_a_live_bag_is_expired_at_its_use_by_and_after_smpc_6_3(state):
    assert effective_state(state, USE_BY, USE_BY) == "expired"
    assert effective_state(state, USE_BY, USE_BY + timedelta(days=3)) == "expired"


@pytest.mark.parametrize("state", NOT_LIVE)
def test_a_bag_that_is_no_longer_stock_keeps_its_state_after_use_by(state):
    """An administered or destroyed bag stays what it is in every history and report."""
    assert effective_state(state, USE_BY, USE_BY + timedelta(days=3)) == state
    assert effective_state(state, USE_BY, USE_BY - SECOND) == state


def test_the_use_by_is_an_instant_whatever_zone_now_is_given_in():
    brussels = ZoneInfo("Europe/Brussels")  # 16:00 UTC is 18:00 CEST
    assert effective_state("stored", USE_BY, datetime(2026, 6, 10, 17, 59, 59, tzinfo=brussels)) == "stored"
    assert effective_state("stored", USE_BY, datetime(2026, 6, 10, 18, 0, tzinfo=brussels)) == "expired"


def test_a_naive_now_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="must be an aware datetime"):
        effective_state("stored", USE_BY, datetime(2026, 6, 10, 18, 0))
