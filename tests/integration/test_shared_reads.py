"""One web request's reads share one database session (db/database.shared_reads, issue 18), and that never hides
a change: a write inside the block ends the shared session, so the next read opens a fresh one and sees the write;
a read that fails leaves no broken transaction behind for the next."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from pharmacy.domain.errors import NotFound
from pharmacy.services import bags
from tests import factories

pytestmark = pytest.mark.hazard("H42")  # SAFETY.md: a screen never shows what was true before its own change


@pytest.fixture
def sessions_opened(pharmacy):
    """How many database transactions begin (one per session that reads)."""
    seen: list[str] = []

    def begun(_connection) -> None:
        seen.append("begin")

    event.listen(pharmacy.db.engine, "begin", begun)
    yield seen
    event.remove(pharmacy.db.engine, "begin", begun)


def test_the_reads_of_one_request_share_one_session(pharmacy, sessions_opened):
    serial = factories.released_bag(pharmacy, pharmacy.vial_serials[0]).serial
    sessions_opened.clear()
    with pharmacy.db.shared_reads():
        first = bags.get_bag(pharmacy, serial)
        second = bags.get_bag(pharmacy, serial)
        assert bags.label_status(pharmacy, first) == (None, 0)
    assert len(sessions_opened) == 1  # three reads, one transaction
    assert first is second  # the same row is the same object within the request
    sessions_opened.clear()
    bags.get_bag(pharmacy, serial), bags.get_bag(pharmacy, serial)
    assert len(sessions_opened) == 2  # outside a request each read has its own


def test_a_read_after_a_write_in_the_same_request_sees_the_write(pharmacy):
    serial = factories.released_bag(pharmacy, pharmacy.vial_serials[0]).serial
    with pharmacy.db.shared_reads():
        assert bags.state_of(bags.get_bag(pharmacy, serial)).value == "released"
        bags.store(pharmacy, "tech", serial, factories.FRIDGE)
        after = bags.get_bag(pharmacy, serial)
        assert bags.state_of(after).value == "stored"
        assert after.location_id is not None


def test_a_refused_read_does_not_spoil_the_next(pharmacy):
    serial = factories.released_bag(pharmacy, pharmacy.vial_serials[0]).serial
    with pharmacy.db.shared_reads():
        with pytest.raises(NotFound):
            bags.get_bag(pharmacy, "NO-SUCH-BAG")
        assert bags.get_bag(pharmacy, serial).serial == serial


def test_a_change_made_in_memory_on_a_read_is_never_written(pharmacy):
    """A page may change an object it read (to show it); the shared read session never flushes it to the database."""
    serial = factories.released_bag(pharmacy, pharmacy.vial_serials[0]).serial
    with pharmacy.db.shared_reads():
        bag = bags.get_bag(pharmacy, serial)
        bag.batch = "CHANGED-IN-MEMORY"
        assert bags.list_bags(pharmacy)[0]["batch"] != "CHANGED-IN-MEMORY"  # the next read flushed nothing
    assert bags.get_bag(pharmacy, serial).batch != "CHANGED-IN-MEMORY"
