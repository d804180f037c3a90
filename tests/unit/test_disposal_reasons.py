"""Why a bag is destroyed: a reason from the one list, "other" only with words, and which bags need a signature."""

from __future__ import annotations

import pytest

from pharmacy.domain.disposal import BY_CODE, REASONS, DisposalRefused, reason_for, still_usable, suggested, words
from pharmacy.domain.lifecycle import BagState


def test_the_list_of_reasons_ends_with_other_the_only_one_that_needs_words():
    assert REASONS[-1].code == "other" and {"damaged", "quarantine_reviewed", "rejected_at_check"} <= set(BY_CODE)
    assert [r.code for r in REASONS if r.needs_note] == ["other"]
    assert list(BY_CODE) == [r.code for r in REASONS]
    assert BY_CODE["damaged"].label == "Damaged or leaking"


@pytest.mark.parametrize("code", ["damaged", " damaged "])
def test_a_listed_reason_is_accepted_with_or_without_a_note(code):
    assert reason_for(code, "") is BY_CODE["damaged"]
    assert reason_for(code, "port cracked") is BY_CODE["damaged"]


@pytest.mark.parametrize("code", ["", None, "broken", "Damaged"])
def test_a_reason_not_on_the_list_is_refused_and_nothing_is_recorded(code):
    with pytest.raises(DisposalRefused) as caught:
        reason_for(code, "a long enough note")
    assert caught.value.message.startswith("Choose why the bag is destroyed from the list")
    assert caught.value.message.endswith("Nothing was recorded.")
    assert caught.value.code == "disposal_refused"


@pytest.mark.parametrize("note", ["", None, "    ", "leak", " leak "])
def test_other_needs_at_least_five_characters_of_words(note):
    with pytest.raises(DisposalRefused) as caught:
        reason_for("other", note)
    assert str(caught.value) == "“Other”: say why the bag is destroyed, in a few words. Nothing was recorded."


def test_other_with_five_characters_of_words_is_accepted():
    assert reason_for("other", " leaks ").code == "other"


def test_the_reason_is_shown_with_its_note_and_other_as_the_words_given():
    assert words(BY_CODE["damaged"], " port cracked ") == "Damaged or leaking: port cracked"
    assert words(BY_CODE["damaged"], None) == "Damaged or leaking"
    assert words(BY_CODE["damaged"], "  ") == "Damaged or leaking"
    assert words(BY_CODE["other"], " fell behind the fridge ") == "fell behind the fridge"


@pytest.mark.parametrize("state, usable", [(BagState.AWAITING_CHECK, True), (BagState.RELEASED, True),
                                           (BagState.STORED, True), (BagState.EXPIRED, False),
                                           (BagState.QUARANTINED, False), (BagState.REJECTED, False)])
def test_destroying_a_bag_that_could_still_be_given_needs_a_pharmacist(state, usable):
    assert still_usable(state) is usable


@pytest.mark.parametrize("state, code", [(BagState.QUARANTINED, "quarantine_reviewed"),
                                         (BagState.REJECTED, "rejected_at_check"), (BagState.STORED, None),
                                         (BagState.RELEASED, None)])
def test_the_form_preselects_the_reason_the_state_gives_none_for_a_live_bag(state, code):
    assert suggested(state) == code


def test_an_expired_bag_gets_a_listed_reason_preselected():
    code = suggested(BagState.EXPIRED)
    assert code in BY_CODE and not BY_CODE[code].needs_note
