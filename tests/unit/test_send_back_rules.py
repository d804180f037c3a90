"""The pure rules of a send-back (issue 14 point 5, SAFETY.md H29): which recorded steps it makes void, and
how it reads as a deviation on the next check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pharmacy.domain import lifecycle, nearmiss
from pharmacy.domain.lifecycle import Event

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SENT_BACK = {"to": "volume", "redo": ["volume", "mixing", "sign"], "reason": "re-weigh the syringe",
             "photos_set_aside": ["aaa"]}


@pytest.mark.hazard("H29")
def test_a_send_back_voids_the_step_it_returns_to_every_later_one_its_tares_and_its_photos_but_nothing_before():
    steps = [(1, "vial", {}), (2, "diluent", {}), (3, "tare", {}), (4, "volume", {}), (5, "photo", {"sha256": "aaa"}),
             (6, "mixing", {}), (7, "photo", {"sha256": "bbb"}), (8, "sign", {}), (9, "send_back", SENT_BACK),
             (10, "tare", {}), (11, "volume", {}), (12, "photo", {"sha256": "ccc"}), (13, "mixing", {}), (14, "sign", {})]
    assert nearmiss.superseded(steps) == {3, 4, 5, 6, 8}  # photo bbb (the bag's) was not set aside by this one
    assert nearmiss.superseded([(1, "volume", {}), (2, "sign", {})]) == set()


@pytest.mark.hazard("H29")
def test_a_send_back_is_a_deviation_naming_the_step_the_reason_and_what_was_redone():
    found = nearmiss.deviations([(AT, "Petra Pharmacist", "send_back", SENT_BACK)])
    assert [(d.username, d.what) for d in found] == [
        ("Petra Pharmacist", "sent back to “volume” by the check: re-weigh the syringe (redone: volume, mixing, sign)")]


def test_a_photo_taken_before_a_step_belongs_to_that_step():
    assert lifecycle.step_of(Event.MIX) == "mixing" and lifecycle.step_of(Event.SIGN) == "sign"
    assert lifecycle.step_of(Event.RELEASE) == "check"
