"""Every fact of the shipped LEMTRADA monograph is read from its file, and every wrong file is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from pharmacy.domain.errors import MonographError
from pharmacy.domain.monograph import SHIPPED, Premedication, StorageRange, _read, load_catalog, parse_diluents, parse_monograph
from pharmacy.domain.units import Q_

LEMTRADA_TOML = (SHIPPED / "lemtrada.toml").read_text(encoding="utf-8")


@pytest.fixture
def catalog():
    """Loaded for each test (the conftest's is shared by a module)."""
    return load_catalog()


@pytest.fixture
def lemtrada(catalog):
    return catalog.products["lemtrada"]


def copy_with(folder: Path, old: str, new: str, name: str = "copy.toml") -> Path:
    assert old in LEMTRADA_TOML, f"the shipped monograph no longer contains {old!r}"
    path = folder / name
    path.write_text(LEMTRADA_TOML.replace(old, new, 1), encoding="utf-8")
    return path


def refusal(folder: Path) -> str:
    with pytest.raises(MonographError) as caught:
        load_catalog([folder])
    return str(caught.value)


# --- what the shipped file says ----------------------------------------------------------------------------
def test_the_product_is_a_concentrate_of_12_mg_in_1_2_ml_smpc_2_6_5(lemtrada):
    assert lemtrada.form == "concentrate for solution for infusion"
    assert (lemtrada.strength, lemtrada.vial_volume, lemtrada.concentration) == (Q_(12, "mg"), Q_(1.2, "mL"),
                                                                                 Q_(10, "mg/mL"))
    assert lemtrada.vial_gtins == ("09506000134369",)


def test_the_inspection_before_use_smpc_6_6(lemtrada):
    assert lemtrada.appearance == "Clear, colourless to slightly yellow solution."
    assert lemtrada.reject_if == "Particulate matter present or the concentrate discoloured: do not use."


def test_the_vial_and_the_diluted_bag_are_kept_at_2_to_8_degrees_smpc_6_3_6_4(lemtrada):
    assert lemtrada.vial_storage == StorageRange(
        2.0, 8.0, True, "Store at 2–8 °C. Do not freeze. Keep the vial in the carton to protect from light. Do not shake."
    )
    assert lemtrada.in_use_storage == StorageRange(2.0, 8.0, True, "Store at 2–8 °C. Protect from light. Do not shake.")
    assert lemtrada.do_not_shake is True


def test_withdraw_1_2_ml_within_0_05_ml_and_mix_gently_smpc_6_6(lemtrada):
    assert (lemtrada.withdraw, lemtrada.withdraw_tolerance, lemtrada.diluent_volume) == (
        Q_(1.2, "mL"), Q_(0.05, "mL"), Q_(100, "mL"))
    assert lemtrada.mixing == "Invert the bag gently to mix. Do not shake."
    assert [d.id for d in lemtrada.permitted_diluents] == ["sodium-chloride-0.9-100ml", "glucose-5-100ml"]


def test_the_infusion_smpc_4_2(lemtrada):
    assert (lemtrada.route, lemtrada.route_text) == ("IV", "intravenous infusion")
    assert (lemtrada.infusion_duration, lemtrada.observation) == (Q_(4, "h"), Q_(2, "h"))
    assert lemtrada.in_use_carton_text == "Administer within 8 hours after dilution."
    assert lemtrada.preparation_gtin == "09506000134406"


def test_the_premedication_of_each_course_day_smpc_4_2(lemtrada):
    steroid, antihistamine, herpes = lemtrada.premedication
    assert steroid == Premedication(
        "Corticosteroid immediately before the infusion (1,000 mg methylprednisolone in trials)", (1, 2, 3), True)
    assert antihistamine == Premedication(
        "Antihistamine and/or antipyretic before the infusion may be considered", (), False)
    assert herpes.course_days == (1,) and herpes.required is True
    assert herpes.what.startswith("Oral herpes prophylaxis (aciclovir 200 mg twice daily or equivalent)")


def test_every_stocked_diluent_is_read_with_its_names_volume_and_gtins(catalog):
    assert {d.id: (d.name, d.long_name, d.volume, d.gtins) for d in catalog.diluents.values()} == {
        "sodium-chloride-0.9-100ml": ("Sodium chloride 0.9%", "Sodium chloride 9 mg/mL (0.9%) solution for infusion",
                                      Q_(100, "mL"), ("09506000134376",)),
        "glucose-5-100ml": ("Glucose 5%", "Glucose 5% solution for infusion", Q_(100, "mL"), ("09506000134383",)),
        "water-for-injections-100ml": ("Water for injections", "Water for injections", Q_(100, "mL"),
                                       ("09506000134390",)),
    }


# --- wrong files ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "old, new, message",
    [
        ("min_celsius = 2.0", 'min_celsius = "2"', "copy.toml: field “vial_storage.min_celsius” must be int or float, not '2'."),
        ("min_celsius = 2.0", "min_celsius = true", "copy.toml: field “vial_storage.min_celsius” must be int or float, not True."),
        ('diluent_volume = "100 mL"', 'diluent_volume = "0 mL"',
         "copy.toml: field “preparation.diluent_volume” “0 mL” must be a positive, finite number."),
        ("max_celsius = 8.0", "max_celsius = 2.0", "copy.toml: field “vial_storage.max_celsius” must be above min_celsius."),
        ('concentration = "10 mg/mL"', 'concentration = "10.0001 mg/mL"', "copy.toml: field “product.concentration”"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_field_and_why(tmp_path, old, new, message):
    copy_with(tmp_path, old, new)
    assert message in refusal(tmp_path)


def test_a_storage_range_of_one_degree_is_accepted(tmp_path):
    copy_with(tmp_path, "max_celsius = 8.0", "max_celsius = 3.0")
    assert load_catalog([tmp_path]).products["lemtrada"].vial_storage.max_celsius == 3.0


def test_figures_that_agree_to_one_part_in_a_million_are_the_same(tmp_path):
    """A concentration written as 10.000005 mg/mL is strength / volume for every practical purpose."""
    copy_with(tmp_path, 'concentration = "10 mg/mL"', 'concentration = "10.000005 mg/mL"')
    assert load_catalog([tmp_path]).products["lemtrada"].concentration == Q_(10.000005, "mg/mL")


def test_an_unknown_diluent_is_refused_listing_the_known_ones(tmp_path):
    copy_with(tmp_path, '"glucose-5-100ml"]', '"ringer-lactate"]')
    assert refusal(tmp_path).endswith(
        "names the unknown diluent “ringer-lactate” (known: glucose-5-100ml, sodium-chloride-0.9-100ml, "
        "water-for-injections-100ml)."
    )


def test_with_no_diluents_at_all_the_refusal_says_none_are_known():
    with pytest.raises(MonographError) as caught:
        parse_monograph(_read(SHIPPED / "lemtrada.toml"), "lemtrada.toml", {})
    assert str(caught.value).endswith("names the unknown diluent “sodium-chloride-0.9-100ml” (known: none).")


def test_a_premedication_entry_is_refused_naming_its_place_in_the_list(tmp_path):
    copy_with(tmp_path, "course_days = [1, 2, 3]", 'course_days = "1-3"')
    assert "copy.toml: field “premedication[0].course_days” must be list, not '1-3'." in refusal(tmp_path)


def test_a_monograph_without_premedication_has_none():
    data = _read(SHIPPED / "lemtrada.toml")
    del data["premedication"]
    catalog = load_catalog()
    assert parse_monograph(data, "lemtrada.toml", catalog.diluents).premedication == ()


def test_a_gtin_claimed_by_a_second_product_names_the_file_that_has_it(tmp_path):
    copy_with(tmp_path, 'id = "lemtrada"', 'id = "lemtrada-copy"')
    assert refusal(tmp_path) == "copy.toml: GTIN 09506000134369 is already used by lemtrada.toml."


def test_a_product_may_list_the_same_gtin_twice(tmp_path):
    copy_with(tmp_path, 'vial_gtins = ["09506000134369"]', 'vial_gtins = ["09506000134369", "9506000134369"]')
    assert load_catalog([tmp_path]).products["lemtrada"].vial_gtins == ("09506000134369", "09506000134369")


def test_a_diluent_gtin_claimed_by_a_product_is_refused(tmp_path):
    copy_with(tmp_path, 'vial_gtins = ["09506000134369"]', 'vial_gtins = ["09506000134376"]')
    assert "GTIN 09506000134376 is already used by" in refusal(tmp_path)


def test_two_doses_start_at_least_12_hours_apart_by_this_pharmacy_s_policy_smpc_4_2(lemtrada):
    assert lemtrada.min_interval == Q_(12, "h")


def test_without_a_policy_two_doses_are_at_least_the_infusion_and_its_observation_apart_smpc_4_2_4_4(tmp_path):
    copy_with(tmp_path, 'min_interval = "12 h"\n', "")
    assert load_catalog([tmp_path]).products["lemtrada"].min_interval == Q_(4, "h") + Q_(2, "h")


def test_a_diluents_file_without_diluents_is_refused_naming_the_file():
    with pytest.raises(MonographError) as caught:
        parse_diluents({}, "diluents.toml")
    assert str(caught.value).startswith("diluents.toml: field")
    assert str(caught.value).endswith("diluent” is missing.")
