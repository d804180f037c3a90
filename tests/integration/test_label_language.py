"""Issue 16 point 8: a label's fixed words (USE BY, START BY, captions, IN PREPARATION — NOT FOR ADMINISTRATION)
are in the pharmacy's label language (``PHARMACY_LABEL_LANGUAGE``), its figures with that language's decimal mark;
the product facts stay as the monograph says them; the screens' language of whoever prints changes nothing.
Read back from the PDF with pypdf.

The first test reads the shipped French catalogue: it fails until pharmacy/translations/fr has the label's words.
The others use a small catalogue of their own, so they hold whatever the shipped one says."""

from __future__ import annotations

import dataclasses
import io

import pytest
from pypdf import PdfReader

from pharmacy import i18n
from pharmacy.services import bags, preparation
from tests import factories

FIXED = ("USE BY", "START BY", "Total volume {volume} · {concentration}", "Prepared by", "Checked by", "Batch",
         "IN PREPARATION", "NOT FOR ADMINISTRATION")
OURS = {"USE BY": "À UTILISER AVANT", "START BY": "À COMMENCER AVANT", "Prepared by": "Préparé par",
        "Checked by": "Vérifié par", "IN PREPARATION": "EN PRÉPARATION", "NOT FOR ADMINISTRATION": "NE PAS ADMINISTRER",
        "approx. {volume}": "env. {volume}"}


def pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def labelled_in(pharmacy, monkeypatch, language: str) -> str:
    monkeypatch.setattr(pharmacy, "settings", dataclasses.replace(pharmacy.settings, label_language=language))
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    return pdf_text(bags.print_labels(pharmacy, "pharm2", [bag.serial]).pdf)


@pytest.fixture
def french(tmp_path, monkeypatch):
    """A French catalogue of the label's words, read instead of the shipped ones."""
    folder = tmp_path / "translations" / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    entries = "".join(f'msgid "{english}"\nmsgstr "{french}"\n\n' for english, french in OURS.items())
    (folder / "messages.po").write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' + entries,
                                        encoding="utf-8")
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path / "translations")
    i18n.catalogue.cache_clear()
    yield
    i18n.catalogue.cache_clear()


def test_the_shipped_french_catalogue_translates_every_fixed_word_of_the_labels():
    i18n.catalogue.cache_clear()
    untranslated = [text for text in FIXED if i18n.translate(text, "fr") == text]
    assert not untranslated, f"pharmacy/translations/fr does not translate the label's {untranslated}"


def test_a_label_printed_with_the_french_label_language_has_the_shipped_french_words(pharmacy, monkeypatch):
    i18n.catalogue.cache_clear()
    printed = labelled_in(pharmacy, monkeypatch, "fr")
    for text in ("USE BY", "START BY", "Prepared by", "Checked by"):
        french = i18n.translate(text, "fr")
        assert french != text, f"the shipped French catalogue does not translate “{text}”"
        assert french in printed


def test_a_french_label_has_french_fixed_words_decimal_commas_and_the_monographs_facts(pharmacy, monkeypatch, french):
    printed = labelled_in(pharmacy, monkeypatch, "fr")
    for english, translated in OURS.items():
        if "{" not in english and english not in ("IN PREPARATION", "NOT FOR ADMINISTRATION"):
            assert translated in printed, translated
            assert english not in printed, english
    assert "LEMTRADA (alemtuzumab) 12 mg" in printed  # product facts as the monograph says them
    assert "env. 101,2 mL" in printed and "101.2 mL" not in printed  # the figures in the label's language


def test_an_english_label_is_printed_in_english_whatever_the_printing_users_screens_say(pharmacy, monkeypatch, french):
    with i18n.using("fr"):  # the pharmacist who prints reads French screens
        printed = labelled_in(pharmacy, monkeypatch, "en")
    assert "USE BY" in printed and "START BY" in printed and "Prepared by" in printed
    assert "À UTILISER AVANT" not in printed and "approx. 101.2 mL" in printed


def test_the_in_process_label_says_in_preparation_in_the_label_language(pharmacy, monkeypatch, french):
    monkeypatch.setattr(pharmacy, "settings", dataclasses.replace(pharmacy.settings, label_language="fr"))
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    _serial, pdf = preparation.in_process_label(pharmacy, "tech", prep.id)
    printed = pdf_text(pdf)
    assert "EN PRÉPARATION" in printed and "NE PAS ADMINISTRER" in printed and "IN PREPARATION" not in printed
