"""Product facts are data (SPEC section 1): the shipped LEMTRADA monograph, broken copies, and a second product."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pharmacy.domain.courses import CourseRules
from pharmacy.domain.dilution import display_concentration, display_rate, display_volume, plan
from pharmacy.domain.errors import MonographError
from pharmacy.domain.monograph import SHIPPED, load_catalog
from pharmacy.domain.units import Q_

LEMTRADA_TOML = (SHIPPED / "lemtrada.toml").read_text(encoding="utf-8")


# --- the shipped monograph states every fact of SPEC section 1 -------------------------------------------
def test_the_shipped_catalog_holds_lemtrada_alemtuzumab(lemtrada):
    assert (lemtrada.brand, lemtrada.inn, lemtrada.name) == ("LEMTRADA", "alemtuzumab", "LEMTRADA (alemtuzumab)")
    assert lemtrada.source == "lemtrada.toml"


def test_a_vial_holds_12_mg_in_1_2_ml_at_10_mg_per_ml_smpc_2_6_5(lemtrada):
    assert lemtrada.strength == Q_(12, "mg")
    assert lemtrada.vial_volume == Q_(1.2, "mL")
    assert lemtrada.concentration == Q_(10, "mg/mL")
    assert lemtrada.serialised


def test_the_vial_is_stored_at_2_to_8_degrees_protected_from_light_and_not_shaken_smpc_6_4(lemtrada):
    storage = lemtrada.vial_storage
    assert (storage.min_celsius, storage.max_celsius, storage.protect_from_light) == (2.0, 8.0, True)
    assert lemtrada.do_not_shake
    assert "Do not freeze" in storage.text


def test_the_concentrate_is_rejected_if_particulate_or_discoloured_smpc_6_6(lemtrada):
    assert "colourless to slightly yellow" in lemtrada.appearance
    assert "Particulate" in lemtrada.reject_if and "discoloured" in lemtrada.reject_if


def test_the_dose_is_12_mg_a_day_smpc_4_2(lemtrada):
    assert lemtrada.dose == Q_(12, "mg")


def test_courses_are_5_3_3_3_days_12_months_apart_with_one_dose_a_day_smpc_4_2(lemtrada):
    assert lemtrada.courses == CourseRules(days_per_course=(5, 3, 3, 3), months_between_courses=12, max_doses_per_day=1)


def test_withdraw_1_2_ml_into_100_ml_smpc_6_6(lemtrada):
    assert lemtrada.withdraw == Q_(1.2, "mL")
    assert lemtrada.diluent_volume == Q_(100, "mL")
    assert lemtrada.withdraw_tolerance == Q_(0.05, "mL")
    assert "Invert the bag gently" in lemtrada.mixing


def test_the_only_diluents_are_sodium_chloride_0_9_and_glucose_5_smpc_6_6(lemtrada):
    permitted = {d.id: d for d in lemtrada.permitted_diluents}
    assert set(permitted) == {"sodium-chloride-0.9-100ml", "glucose-5-100ml"}
    assert permitted["sodium-chloride-0.9-100ml"].long_name == "Sodium chloride 9 mg/mL (0.9%) solution for infusion"
    assert permitted["glucose-5-100ml"].name == "Glucose 5%"
    assert all(d.volume == Q_(100, "mL") for d in permitted.values())


def test_water_for_injections_is_stocked_but_not_permitted_smpc_6_6(catalog, lemtrada):
    assert "water-for-injections-100ml" in catalog.diluents
    assert "water-for-injections-100ml" not in {d.id for d in lemtrada.permitted_diluents}


def test_the_diluted_solution_keeps_8_hours_at_2_to_8_degrees_protected_from_light_smpc_6_3(lemtrada):
    assert lemtrada.in_use_limit == timedelta(hours=8)
    storage = lemtrada.in_use_storage
    assert (storage.min_celsius, storage.max_celsius, storage.protect_from_light) == (2.0, 8.0, True)
    assert lemtrada.in_use_carton_text == "Administer within 8 hours after dilution."


def test_the_infusion_takes_4_hours_and_the_patient_is_observed_2_hours_smpc_4_2_4_4(lemtrada):
    assert lemtrada.infusion_duration == Q_(4, "h")
    assert lemtrada.observation == Q_(2, "h")
    assert (lemtrada.route, lemtrada.route_text) == ("IV", "intravenous infusion")


def test_a_corticosteroid_is_required_on_course_days_1_to_3_smpc_4_2(lemtrada):
    for day in (1, 2, 3):
        assert any("Corticosteroid" in p.what for p in lemtrada.premedication_for_day(day)), day
    assert not any("Corticosteroid" in p.what for p in lemtrada.premedication_for_day(4))


def test_herpes_prophylaxis_starts_on_day_1_of_each_course_smpc_4_2(lemtrada):
    day_1 = [p.what for p in lemtrada.premedication_for_day(1)]
    assert any("herpes prophylaxis" in what and "aciclovir 200 mg twice daily" in what for what in day_1)
    assert not any("herpes" in p.what for p in lemtrada.premedication_for_day(2))


def test_antihistamine_is_listed_but_not_required_smpc_4_2(lemtrada):
    optional = [p for p in lemtrada.premedication if not p.required]
    assert len(optional) == 1 and "Antihistamine" in optional[0].what
    assert all(p.required for day in range(1, 6) for p in lemtrada.premedication_for_day(day))


def test_vials_diluents_and_the_preparation_are_found_by_their_gtin(catalog, lemtrada):
    assert catalog.product_by_gtin("09506000134369") is lemtrada
    assert catalog.diluent_by_gtin("09506000134376").id == "sodium-chloride-0.9-100ml"
    assert catalog.diluent_by_gtin("09506000134383").id == "glucose-5-100ml"
    assert catalog.product_by_gtin("09506000134376") is None
    assert catalog.diluent_by_gtin("09506000134369") is None
    assert lemtrada.preparation_gtin == "09506000134406"


# --- a broken copy is refused with the file and the field named -----------------------------------------
def write_broken(folder: Path, old: str, new: str, name: str = "broken.toml") -> Path:
    assert old in LEMTRADA_TOML, f"the shipped monograph no longer contains {old!r}"
    path = folder / name
    path.write_text(LEMTRADA_TOML.replace(old, new, 1), encoding="utf-8")
    return path


def refusal(folder: Path) -> str:
    with pytest.raises(MonographError) as caught:
        load_catalog([folder])
    return str(caught.value)


def test_an_unchanged_copy_in_a_pharmacy_folder_loads(tmp_path):
    write_broken(tmp_path, 'id = "lemtrada"', 'id = "lemtrada"')
    assert load_catalog([tmp_path]).products["lemtrada"].source == "broken.toml"


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('diluent_volume = "100 mL"\n', "", "broken.toml: field “preparation.diluent_volume” is missing."),
        ('strength = "12 mg"', 'strength = "12 mL"', "broken.toml: field “product.strength” “12 mL” must be a mass"),
        ('diluent_volume = "100 mL"', 'diluent_volume = "-100 mL"',
         "broken.toml: field “preparation.diluent_volume” “-100 mL” must be a positive, finite number."),
        ('diluent_volume = "100 mL"', 'diluent_volume = "inf mL"',
         "broken.toml: field “preparation.diluent_volume” “inf mL” must be a positive, finite number."),
        ('withdraw = "1.2 mL"', 'withdraw = "1.2"', "broken.toml: field “preparation.withdraw” “1.2” must be a volume"),
        ('limit = "8 h"', 'limit = "8 hourz"', "broken.toml: field “in_use.limit” “8 hourz” is not a quantity"),
        ('limit = "8 h"', 'limit = "8 furlongs"', "broken.toml: field “in_use.limit” “8 furlongs” must be a duration"),
        ('"glucose-5-100ml"]', '"ringer-lactate"]',
         "broken.toml: field “preparation.permitted_diluents” names the unknown diluent “ringer-lactate”"),
        ('vial_gtins = ["09506000134369"]', 'vial_gtins = ["09506000134360"]',
         "broken.toml: field “product.vial_gtins” GTIN “09506000134360” has a wrong check digit"),
        pytest.param('preparation_gtin = "09506000134406"', 'preparation_gtin = "09506000134400"',
                     "broken.toml: field “label.preparation_gtin” GTIN “09506000134400” has a wrong check digit",
                     id="preparation GTIN with a wrong check digit"),
        ('per = "day"\nsmpc = "4.2"', 'per = "day"',
         "broken.toml: table “dose” has no “smpc” field naming its SmPC section."),
        ('required = false\nsmpc = "4.2"', "required = false",
         "broken.toml: table “premedication[1]” has no “smpc” field"),
        ("serialised = true", 'serialised = "yes"', "broken.toml: field “product.serialised” must be bool, not 'yes'."),
        ("days_per_course = [5, 3, 3, 3]", "days_per_course = [5, 0]",
         "broken.toml: field “courses.days_per_course” must be a list of positive whole numbers"),
        ("max_doses_per_day = 1", "max_doses_per_day = 0",
         "broken.toml: field “courses.max_doses_per_day” must be a whole number of at least 1, not 0."),
        ("months_between_courses = 12", "months_between_courses = 12.5",
         "broken.toml: field “courses.months_between_courses” must be int, not 12.5."),
        ("max_celsius = 8.0", "max_celsius = 1.0", "broken.toml: field “vial_storage.max_celsius” must be above"),
        ('withdraw = "1.2 mL"', 'withdraw = "2 mL"',
         "broken.toml: field “preparation.withdraw” (2 ml) is more than the vial holds (1.2 ml)."),
        ('concentration = "10 mg/mL"', 'concentration = "1 mg/mL"',
         "broken.toml: field “product.concentration” (1.0 mg/ml) is not strength / vial_volume (10.0 mg/ml)."),
        ('amount = "12 mg"', 'amount = "6 mg"',
         "broken.toml: field “preparation.withdraw” (1.2 ml) does not hold the dose: 6 mg at 10.0 mg/ml is 0.6 ml."),
        ('brand = "LEMTRADA"', 'brand = "  "', "broken.toml: field “product.brand” is empty."),
        ('carton_text = "Administer within 8 hours after dilution."', 'carton_text = ""',
         "broken.toml: field “in_use.carton_text” is empty."),
        ('carton_text = "Administer within 8 hours after dilution."', "carton_text = 8",
         "broken.toml: field “in_use.carton_text” must be str, not 8."),
    ],
)
def test_a_broken_monograph_is_refused_naming_the_file_and_the_field(tmp_path, old, new, message):
    write_broken(tmp_path, old, new)
    assert message in refusal(tmp_path)


def test_invalid_toml_is_refused_naming_the_file_and_the_line(tmp_path):
    write_broken(tmp_path, "[inspection]", "[inspection")
    message = refusal(tmp_path)
    assert message.startswith("broken.toml: is not valid TOML")
    assert "line" in message


def test_a_gtin_claimed_by_two_products_is_refused(tmp_path):
    write_broken(tmp_path, 'id = "lemtrada"', 'id = "lemtrada-copy"')
    assert "GTIN 09506000134369 is already used by" in refusal(tmp_path)


def test_a_diluent_defined_twice_in_one_file_is_refused(tmp_path):
    entry = '[[diluent]]\nid = "x"\nname = "X"\nlong_name = "X"\nvolume = "100 mL"\ngtins = ["{}"]\n'
    (tmp_path / "diluents.toml").write_text(entry.format("09506000134444") + entry.format("09506000134437"))
    assert "diluents.toml: field “diluent[1].id” “x” is defined twice." in refusal(tmp_path)


def test_a_pharmacy_file_with_the_same_product_id_replaces_the_shipped_one(tmp_path):
    write_broken(tmp_path, 'limit = "8 h"', 'limit = "6 h"')
    assert load_catalog([tmp_path]).products["lemtrada"].in_use_limit == timedelta(hours=6)


# --- a second product, added as data only -----------------------------------------------------------------
EXAMPLUMAB = """
[product]
id = "examplumab"
brand = "EXAMPLA"
inn = "examplumab"
form = "concentrate for solution for infusion"
strength = "50 mg"
vial_volume = "10 mL"
concentration = "5 mg/mL"
vial_gtins = ["09506000134413"]
serialised = false
smpc = "2"

[inspection]
appearance = "Clear solution."
reject_if = "Particles present."
smpc = "6.6"

[vial_storage]
min_celsius = 2
max_celsius = 8
protect_from_light = false
do_not_shake = false
text = "Store at 2–8 °C."
smpc = "6.4"

[dose]
amount = "50 mg"
smpc = "4.2"

[courses]
days_per_course = [1]
months_between_courses = 0
max_doses_per_day = 1
smpc = "4.2"

[preparation]
withdraw = "10 mL"
withdraw_tolerance = "0.2 mL"
diluent_volume = "250 mL"
permitted_diluents = ["glucose-5-250ml"]
mixing = "Invert gently."
smpc = "6.6"

[in_use]
limit = "24 h"
min_celsius = 2
max_celsius = 25
protect_from_light = false
text = "Store below 25 °C."
smpc = "6.3"

[infusion]
route = "IV"
route_text = "intravenous infusion"
duration = "2 h"
observation = "1 h"
smpc = "4.2"

[label]
preparation_gtin = "09506000134420"
"""
GLUCOSE_250 = """
[[diluent]]
id = "glucose-5-250ml"
name = "Glucose 5%"
long_name = "Glucose 5% solution for infusion"
volume = "250 mL"
gtins = ["09506000134437"]
"""


@pytest.fixture
def with_examplumab(tmp_path):
    (tmp_path / "examplumab.toml").write_text(EXAMPLUMAB, encoding="utf-8")
    (tmp_path / "diluents.toml").write_text(GLUCOSE_250, encoding="utf-8")
    return load_catalog([tmp_path])


def test_a_second_product_added_as_a_file_loads_beside_lemtrada(with_examplumab):
    assert set(with_examplumab.products) == {"lemtrada", "examplumab"}
    product = with_examplumab.product_by_gtin("09506000134413")
    assert (product.inn, product.name) == ("examplumab", "EXAMPLA (examplumab)")
    assert [d.id for d in product.permitted_diluents] == ["glucose-5-250ml"]
    assert with_examplumab.diluent_by_gtin("09506000134437").volume == Q_(250, "mL")
    assert product.premedication == ()
    assert product.in_use_limit == timedelta(hours=24)
    assert product.in_use_carton_text == ""  # optional: the file gives none
    # optional too: without ``infusion.min_interval`` two starts are at least the infusion and its observation apart
    assert product.min_interval == product.infusion_duration + product.observation == Q_(3, "h")


def test_the_second_products_dose_maths_come_from_its_data(with_examplumab):
    dose = plan(with_examplumab.products["examplumab"])
    assert dose.withdraw.to("mL").magnitude == pytest.approx(10)
    assert display_volume(dose.final_volume) == "260 mL"
    assert dose.concentration.to("mg/mL").magnitude == pytest.approx(50 / 260)
    assert display_concentration(dose.concentration) == "0.19 mg/mL"
    assert display_rate(dose.rate) == "130.0 mL/h"


def test_adding_a_product_leaves_lemtrada_as_it_was(with_examplumab, lemtrada):
    assert with_examplumab.products["lemtrada"] == lemtrada
