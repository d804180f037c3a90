"""The domain's texts in the reader's language (issue 16 point 8): refusals, the reasons of a refusal, the words of
the tables (states, reasons, photos, permissions) follow the current language; what is recorded (the words of a
disposal, a typed wristband, an early end) stays English whatever the screen's language. A small French catalogue
written by the test, so that this holds whatever the shipped catalogues say."""

from __future__ import annotations

import pytest

from pharmacy import i18n
from pharmacy.domain import disposal, identity, infusions, permissions
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.lifecycle import BAG, BagState, Event, TransitionRefused
from pharmacy.domain.monograph import parse_monograph
from pharmacy.domain.photos import PHOTO_KINDS, PhotoMissing, check_taken
from pharmacy.domain.units import VOLUME, parse_quantity

pytestmark = pytest.mark.hazard("H41")  # SAFETY.md: a text shown in another language says what the English says

FRENCH = {
    "awaiting check": "en attente de contrôle",
    "This bag": "Cette poche",
    "{name} is {state}: {rule}. Nothing was recorded.": "{name} est {state} : {rule}. Rien n’a été enregistré.",
    "only a released bag is put into storage": "seule une poche libérée est rangée",
    "Damaged or leaking": "Endommagée ou qui fuit",
    "Wristband unreadable": "Bracelet illisible",
    "Photo of the syringe at the dose": "Photo de la seringue à la dose",
    "photo of the syringe at the dose": "photo de la seringue à la dose",
    "inject the dose and mix the bag": "injecter la dose et mélanger la poche",
    "Take the {photo} before you {step}: {instruction} Nothing was recorded.":
        "Prenez la {photo} avant d’{step} : {instruction} Rien n’a été enregistré.",
    "a volume": "un volume",
    "Enter {wanted} with its unit, for example 1.2 mL.": "Saisissez {wanted} avec son unité, par exemple 1,2 mL.",
    "{source}: field “{field}” is missing.": "{source} : le champ « {field} » manque.",
    "see bags": "voir les poches",
    "nurse": "infirmier",
    "TYPED: the wristband was typed by hand, not scanned. Scan the wristband, or say why it was typed "
    "(wristband unreadable, scanner broken, other). Nothing was recorded.": "SAISI : le bracelet a été saisi à la main.",
}


@pytest.fixture
def french(monkeypatch):
    monkeypatch.setattr(i18n, "catalogue", lambda lang: FRENCH if lang == "fr" else {})
    with i18n.using("fr"):
        yield


def test_a_refusal_of_the_lifecycle_is_said_in_the_current_language(french):
    with pytest.raises(TransitionRefused) as refused:
        BAG.apply(BagState.AWAITING_CHECK, Event.STORE)
    assert refused.value.message == ("Cette poche est en attente de contrôle : seule une poche libérée est rangée. "
                                     "Rien n’a été enregistré.")
    assert BagState.AWAITING_CHECK.label == "en attente de contrôle"


def test_the_same_refusal_reads_english_outside_a_language():
    with pytest.raises(TransitionRefused) as refused:
        BAG.apply(BagState.AWAITING_CHECK, Event.STORE)
    assert refused.value.message == ("This bag is awaiting check: only a released bag is put into storage. "
                                     "Nothing was recorded.")


def test_a_table_word_is_shown_in_the_current_language_and_recorded_in_english(french):
    damaged = disposal.BY_CODE["damaged"]
    assert damaged.label == "Endommagée ou qui fuit"
    assert disposal.words(damaged, "port cracked") == "Damaged or leaking: port cracked"
    assert i18n.now(identity.TYPED_REASONS["wristband_unreadable"]) == "Bracelet illisible"
    assert identity.typed_reason("wristband_unreadable") == "Wristband unreadable"
    assert infusions.END_REASONS["rate_error"] == "rate error"  # the English is the table's own value


def test_a_refusal_made_from_a_marked_constant_is_translated_when_it_is_made(french):
    refusal = identity.TypedWithoutReason(identity.NEEDS_REASON)
    assert refusal.message == "SAISI : le bracelet a été saisi à la main." and type(refusal.message) is str
    with pytest.raises(identity.TypedWithoutReason) as caught:
        identity.typed_reason("")
    assert caught.value.message == refusal.message


def test_a_photo_is_named_and_asked_for_in_the_current_language(french):
    syringe = PHOTO_KINDS["syringe"]
    assert syringe.title == "Photo de la seringue à la dose" and syringe.before_words == "injecter la dose et mélanger la poche"
    with pytest.raises(PhotoMissing) as missing:
        check_taken(["syringe"], set(), Event.MIX)
    assert missing.value.message.startswith("Prenez la photo de la seringue à la dose avant d’injecter la dose et mélanger")


def test_a_typed_quantity_and_a_data_file_are_refused_in_the_current_language(french):
    with pytest.raises(PharmacyError) as empty:
        parse_quantity("", VOLUME)
    assert empty.value.message == "Saisissez un volume avec son unité, par exemple 1,2 mL."
    with pytest.raises(PharmacyError) as field:
        parse_monograph({}, "lemtrada.toml", {})
    assert field.value.message == "lemtrada.toml : le champ « .product » manque."


def test_a_refused_permission_names_the_role_and_the_act_in_the_current_language(french):
    assert permissions.refusal(None, "bags.view").startswith("A visitor may not voir les poches; only a ")
    assert "infirmier" in permissions.refusal("admin", "ward.bedside")


@pytest.mark.parametrize("fmt", ["%d %b %Y %H:%M", "%d %b %Y %H:%M:%S", "%d %b %H:%M", "%H:%M", "%H:%M:%S",
                                 "%d %b %Y", "%a %d %b %Y", "%A %d %B %Y", "%Y-%m-%d %H:%M", "%d/%m/%y"])
def test_english_moments_are_what_cldr_writes(fmt):
    """English is written by strftime, the fast way every screen takes (issue 18): it must be exactly what CLDR's
    English writes for the same pattern, on every month and day of the week, midnight and noon included."""
    from datetime import UTC, date, datetime, timedelta

    from babel.dates import format_date, format_datetime

    start = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    for day in range(0, 366, 3):
        moment = start + timedelta(days=day, hours=day % 24, minutes=day % 60)
        with i18n.using("en"):
            written = i18n.format_moment(moment, fmt)
            written_day = i18n.format_moment(moment.date(), fmt) if "%H" not in fmt else None
        assert written == format_datetime(moment, i18n.cldr_pattern(fmt), tzinfo=UTC, locale="en")
        if written_day is not None:
            assert written_day == format_date(date(moment.year, moment.month, moment.day), i18n.cldr_pattern(fmt), locale="en")
