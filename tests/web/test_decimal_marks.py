"""SAFETY.md H40, a number read in the wrong locale, through the preparation screen: the withdrawn volume typed
with a decimal comma is read as one where the technician's language writes one (French, Dutch, German), refused
with the way to write it in English, and a number that may hold a thousands separator is refused in every
language, never read as a thousand. The figures the screens show follow the same language."""

from __future__ import annotations

import pytest

from pharmacy.services import bags, preparation
from tests.web.conftest import text
from tests.web.test_preparation_screens import do, steps_of, up_to


@pytest.fixture
def tech(signed_in):
    return signed_in("tech")


def speaks(browser, language: str) -> None:
    browser.get("/account/password")
    assert browser.post("/account/language", {"language": language, "next": "/"}).status_code == 302


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("language", ["fr", "nl", "de"])
def test_a_technician_whose_language_writes_a_decimal_comma_types_1_2_ml_with_a_comma(tech, pharmacy, language):
    speaks(tech, language)
    prep_id = up_to(tech, pharmacy, "volume")
    assert do(tech, prep_id, "volume", volume="1,2 mL").status_code == 302
    prep = preparation.get(pharmacy, prep_id)
    assert prep.withdrawn_ml == pytest.approx(1.2) and prep.withdrawn_entered == "1,2 mL"
    assert steps_of(pharmacy, prep_id)[-1] == "volume"


@pytest.mark.hazard("H40")
def test_in_english_a_decimal_comma_is_refused_with_the_way_to_write_it_and_nothing_is_recorded(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "volume")
    response = do(tech, prep_id, "volume", volume="1,2 mL")
    assert response.status_code == 422
    assert ("“1,2 mL”: write the decimal mark as a point (1.2 mL): a comma is not read as a decimal mark in this "
            "language.") in text(response)
    assert preparation.get(pharmacy, prep_id).withdrawn_ml is None and steps_of(pharmacy, prep_id)[-1] == "diluent"


@pytest.mark.hazard("H40")
@pytest.mark.parametrize("language", ["en", "fr", "de"])
@pytest.mark.parametrize("typed", ["1.200 mL", "1,200 mL", "1.200,0 mL"])
def test_a_volume_that_may_hold_a_thousands_separator_is_refused_in_every_language(tech, pharmacy, language, typed):
    speaks(tech, language)
    prep_id = up_to(tech, pharmacy, "volume")
    response = do(tech, prep_id, "volume", volume=typed)
    assert response.status_code == 422
    assert preparation.get(pharmacy, prep_id).withdrawn_ml is None and steps_of(pharmacy, prep_id)[-1] == "diluent"
    if language == "en":
        assert "thousands separator" in text(response)


@pytest.mark.hazard("H40")
def test_a_decimal_point_is_still_read_as_one_on_a_french_screen(tech, pharmacy):
    speaks(tech, "fr")
    prep_id = up_to(tech, pharmacy, "volume")
    assert do(tech, prep_id, "volume", volume="1.2 mL").status_code == 302
    assert preparation.get(pharmacy, prep_id).withdrawn_ml == pytest.approx(1.2)


@pytest.mark.hazard("H40")
def test_the_volume_screen_shows_its_figures_with_the_decimal_mark_of_the_technicians_language(tech, pharmacy):
    prep_id = up_to(tech, pharmacy, "volume")
    english = text(tech.get(f"/prep/{prep_id}"))
    assert "1.2 mL" in english and "0.05 mL" in english and "1,2 mL" not in english
    speaks(tech, "fr")
    french = text(tech.get(f"/prep/{prep_id}"))
    assert "1,2 mL" in french and "0,05 mL" in french


@pytest.mark.hazard("H40")
@pytest.mark.parametrize(("language", "low", "high", "kept"), [
    ("fr", "2,5", "7,5", (2.5, 7.5)), ("de", "-20", "-15,5", (-20.0, -15.5)), ("en", "2.5", "7.5", (2.5, 7.5)),
    ("nl", "2.5", "8", (2.5, 8.0)),
])
def test_a_fridges_limits_are_read_as_the_admins_language_writes_them(signed_in, pharmacy, language, low, high, kept):
    admin = signed_in("admin")
    speaks(admin, language)
    response = admin.post("/storage/locations", {"name": "Ward 9 fridge", "min_celsius": low, "max_celsius": high})
    assert response.status_code == 302
    assert [(loc.min_celsius, loc.max_celsius) for loc in bags.locations(pharmacy) if loc.name == "Ward 9 fridge"] == [kept]


@pytest.mark.hazard("H40")
@pytest.mark.parametrize(("language", "low", "words"), [
    ("en", "2,5", "“2,5”: write the decimal mark as a point (2.5): a comma is not read as a decimal mark in this language."),
    ("en", "1,000", "“1,000” is ambiguous: a comma may be a decimal or a thousands separator."),
    ("fr", "1.000", "1.000"),  # in French too: never read as a thousand, nor as one
    ("en", "2..5", "must be a number, not “2..5”"),
    ("en", "nan", "must be a number, not “nan”"),
])
def test_a_fridge_limit_in_the_wrong_mark_or_ambiguous_is_refused_and_nothing_is_added(signed_in, pharmacy, language,
                                                                                    low, words):
    admin = signed_in("admin")
    speaks(admin, language)
    before = [loc.name for loc in bags.locations(pharmacy)]
    response = admin.post("/storage/locations", {"name": "Ward 9 fridge", "min_celsius": low, "max_celsius": "8"},
                          follow_redirects=True)
    assert words in text(response)
    assert [loc.name for loc in bags.locations(pharmacy)] == before and "Ward 9 fridge" not in before
