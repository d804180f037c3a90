"""Issue 16 point 8 through the screens: each user picks the language of their screens (stored with their account,
audited), from the menu of every page or their account page; users who chose none see the pharmacy's
``PHARMACY_LANGUAGE``; the sign-in page follows the browser's language among the shipped ones. The screens read
the shipped catalogues (here a small one written by the test, so that this holds whatever the catalogues say)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from sqlalchemy import select

from pharmacy import i18n
from pharmacy.db.models import User
from tests.integration.records import audit_entries
from tests.web.conftest import Browser, text

LANG = re.compile(r'<html lang="([a-z]+)"')


def page_language(response) -> str:
    return LANG.search(response.get_data(as_text=True))[1]


def user_language(pharmacy, name: str) -> str | None:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(User.language).where(User.username == name)).scalar_one()


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    """A French catalogue of a few texts, read instead of the shipped ones."""
    folder = tmp_path / "translations" / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: fr\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        'msgid "Sign in"\nmsgstr "Connexion"\n\n'
        'msgid "Change password"\nmsgstr "Changer de mot de passe"\n\n'
        'msgid "Language"\nmsgstr "Langue"\n\n'
        'msgid "EXPIRED"\nmsgstr "PÉRIMÉ"\n\n'
        'msgid "{minutes} min left"\nmsgstr "encore {minutes} min"\n',
        encoding="utf-8")
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path / "translations")
    i18n.catalogue.cache_clear()
    yield
    i18n.catalogue.cache_clear()


def test_a_user_picks_their_language_from_the_menu_of_any_page_and_keeps_it_at_the_next_sign_in(app, signed_in, pharmacy):
    nurse = signed_in("nurse")
    ward = nurse.get("/ward/")
    assert page_language(ward) == "en"
    page = ward.get_data(as_text=True)
    assert 'action="/account/language"' in page and 'value="fr" lang="fr"' in page and "Français" in page

    chosen = nurse.post("/account/language", {"language": "fr", "next": "/ward/"})
    assert nurse.last_post_status == 302 and chosen.status_code == 302
    assert chosen.headers["Location"] == "/ward/"
    assert page_language(nurse.get("/ward/")) == "fr"
    assert user_language(pharmacy, "nurse") == "fr"
    entry = audit_entries(pharmacy, "user.language")[-1]
    assert entry.username == "nurse"
    assert (json.loads(entry.old_json), json.loads(entry.new_json)) == ({"language": None}, {"language": "fr"})

    again = Browser(app.test_client())  # another sign-in, another browser: the choice is the account's
    again.login("nurse")
    assert page_language(again.get("/ward/")) == "fr"
    assert page_language(signed_in("tech").get("/", follow_redirects=True)) == "en"  # and nobody else's


def test_without_a_next_page_the_choice_returns_to_the_page_it_was_made_on(signed_in):
    tech = signed_in("tech")
    tech.get("/bags/")
    back = tech.post("/account/language", {"language": "de"})
    assert back.headers["Location"].endswith("/bags/")
    assert page_language(tech.get("/bags/")) == "de"


@pytest.mark.parametrize("elsewhere", ["https://elsewhere.example/", "//elsewhere.example/x", "/\\elsewhere.example"])
def test_the_language_choice_never_sends_the_user_to_another_site(signed_in, elsewhere):
    tech = signed_in("tech")
    tech.get("/", follow_redirects=True)
    response = tech.post("/account/language", {"language": "nl", "next": elsewhere})
    assert response.status_code == 302 and "elsewhere" not in response.headers["Location"]


def test_a_language_that_is_not_shipped_is_refused_and_nothing_changes(signed_in, pharmacy):
    tech = signed_in("tech")
    tech.get("/", follow_redirects=True)
    refused = tech.post("/account/language", {"language": "xx", "next": "/"}, follow_redirects=True)
    assert "“xx” is not a language of these screens: choose one of English, Français, Nederlands, Deutsch." in text(refused)
    assert user_language(pharmacy, "tech") is None
    assert audit_entries(pharmacy, "user.language") == []


def test_users_who_chose_none_see_the_pharmacys_language_and_can_go_back_to_it(signed_in, pharmacy, monkeypatch):
    monkeypatch.setattr(pharmacy, "settings", dataclasses.replace(pharmacy.settings, language="nl"))
    pharmacist = signed_in("pharm")
    assert page_language(pharmacist.get("/", follow_redirects=True)) == "nl"
    pharmacist.post("/account/language", {"language": "en", "next": "/"})
    assert page_language(pharmacist.get("/", follow_redirects=True)) == "en"
    account = pharmacist.get("/account/password")
    assert "Use the pharmacy" in text(account)  # the account page offers the way back
    pharmacist.post("/account/language", {"language": "", "next": "/"})
    assert page_language(pharmacist.get("/", follow_redirects=True)) == "nl" and user_language(pharmacy, "pharm") is None


def test_the_account_page_offers_every_shipped_language_in_its_own_words(signed_in):
    page = signed_in("auditor").get("/account/password").get_data(as_text=True)
    section = page[page.index('id="language-title"'):]
    for code, name in i18n.LANGUAGES.items():
        assert f'value="{code}" lang="{code}"' in section and name in section


@pytest.mark.parametrize("header, expected", [
    ("fr-BE,fr;q=0.9,en;q=0.5", "fr"),
    ("nl-BE", "nl"),
    ("de-DE,de;q=0.9", "de"),
    ("ja,en-GB;q=0.8", "en"),
    ("ja", "en"),  # none shipped: the pharmacy's
])
def test_the_sign_in_page_follows_the_browsers_language(browser, header, expected):
    assert page_language(browser.get("/login", headers={"Accept-Language": header})) == expected


def test_the_sign_in_page_of_a_browser_that_states_no_language_is_in_the_pharmacys(browser, pharmacy, monkeypatch):
    monkeypatch.setattr(pharmacy, "settings", dataclasses.replace(pharmacy.settings, language="de"))
    assert page_language(browser.get("/login")) == "de"


def test_the_signed_in_users_choice_wins_over_the_browsers(signed_in, pharmacy):
    nurse = signed_in("nurse")
    nurse.post("/account/language", {"language": "nl", "next": "/ward/"})
    assert page_language(nurse.get("/ward/", headers={"Accept-Language": "fr"})) == "nl"


def test_an_account_that_must_change_its_password_may_still_pick_its_language(app, pharmacy, signed_in):
    admin = signed_in("admin")
    admin.get("/admin/users")
    admin.post("/admin/users", {"username": "nadia", "full_name": "Nadia New", "role": "nurse",
                                "password": "given-by-the-admin-77"})
    nadia = Browser(app.test_client())
    nadia.login("nadia", "given-by-the-admin-77")
    forced = nadia.get("/account/password")
    assert 'action="/account/language"' in forced.get_data(as_text=True)
    done = nadia.post("/account/language", {"language": "fr", "next": "/account/password"})
    assert done.headers["Location"] == "/account/password"
    assert page_language(nadia.get("/account/password")) == "fr"
    assert nadia.get("/ward/").headers["Location"].endswith("/account/password")  # still forced, nothing else opens


def test_the_screens_read_the_shipped_catalogue_of_the_chosen_language(signed_in, browser, catalogue):
    login = browser.get("/login", headers={"Accept-Language": "fr"})
    assert "Connexion" in text(login) and ">Sign in<" not in login.get_data(as_text=True)
    tech = signed_in("tech")
    assert "Change password" in text(tech.get("/", follow_redirects=True))
    tech.post("/account/language", {"language": "fr", "next": "/"})
    home = text(tech.get("/", follow_redirects=True))
    assert "Changer de mot de passe" in home and "Change password" not in home


def test_the_scripts_texts_come_in_the_pages_language(signed_in, catalogue):
    tech = signed_in("tech")
    tech.post("/account/language", {"language": "fr", "next": "/"})
    page = text(tech.get("/", follow_redirects=True))
    assert 'data-text-expired="PÉRIMÉ"' in page and 'data-text-minutes-left="encore {minutes} min"' in page
    assert 'data-text-hours-left="{hours} h {minutes:02d} min left"' in page  # not translated here: the English


def test_a_translated_text_escapes_what_fills_its_fields_and_keeps_its_percent_signs(app):
    """The templates' `_()`, `ngettext` and `{% trans %}` (called directly, without Jinja's context calls: issue 18)
    still escape each field's value, keep the text's own markup as the catalogue has it, and read `%%` as `%`."""
    from flask import render_template_string

    with app.test_request_context("/"):
        shown = render_template_string(
            '{{ _("Scan %(what)s", what="<script>x</script>") }}|{{ _("100%% done") }}|'
            '{{ ngettext("%(num)s bag", "%(num)s bags", 2) }}|{% trans who="<b>" %}Hello {{ who }}{% endtrans %}')
    assert shown == "Scan &lt;script&gt;x&lt;/script&gt;|100% done|2 bags|Hello &lt;b&gt;"
    with i18n.using("fr"):
        assert i18n.translate("Scan the vial") != "Scan the vial"  # a text the French catalogue has
    with app.test_request_context("/"), i18n.using("fr"):
        assert render_template_string('{{ _("Scan the vial") }}') == i18n.translate("Scan the vial", "fr")


def test_the_menu_kept_for_a_role_marks_the_page_you_are_on_and_speaks_your_language(signed_in):
    """The menu is drawn once per role, language and page and then kept (web/common.main_menu, issue 18): what is
    kept never shows one page's mark, one language or one role's lines on another."""
    def current(page: str) -> list[str]:
        return re.findall(r'<a href="([^"]+)" aria-current="page"', page)

    pharm = signed_in("pharm")
    worklist, bags = text(pharm.get("/worklist")), text(pharm.get("/bags/"))
    assert current(worklist) == ["/worklist"] and current(bags) == ["/bags/"]
    assert current(text(pharm.get("/worklist"))) == ["/worklist"]  # the kept menu, asked again
    assert ">Users</a>" not in worklist and ">Recall & trace</a>" in worklist
    admin = text(signed_in("admin").get("/worklist", follow_redirects=True))
    assert ">Users</a>" in admin  # another role on the same page: its own lines
    pharm.post("/account/language", {"language": "de", "next": "/worklist"})
    german = text(pharm.get("/worklist"))
    assert current(german) == ["/worklist"] and i18n.translate("Bags & ward", "de") != "Bags & ward"
    assert i18n.translate("Bags & ward", "de") in german and "Bags & ward" not in german
