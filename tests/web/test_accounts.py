"""Issue 13 point 4 through the screens (CSRF on) and the JSON API: password change and the forced
change of an account an admin created or reset; disable/enable (sessions end, tokens stop); the
admin's token screens (shown once, expiry, scope, revoke); the password policy and look-alike user
names; every act audited with the acting admin's name."""

from __future__ import annotations

import json
import re

import pytest

from pharmacy.services import users
from tests import factories
from tests.integration.records import audit_entries
from tests.web.conftest import Browser, text

NEW_PASSWORD = "violet-harbour-lantern"
FIRST_PASSWORD = "given-by-the-admin-77"


@pytest.fixture
def admin(signed_in):
    return signed_in("admin")


def add_on_screen(admin: Browser, name: str, role: str = "nurse", password: str = FIRST_PASSWORD):
    admin.get("/admin/users")
    return admin.post("/admin/users", {"username": name, "full_name": "Nadia New", "role": role, "password": password})


def token_on_page(response) -> str:
    return re.search(r'<code class="token">([^<]+)</code>', response.get_data(as_text=True))[1]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.hazard("H23")
def test_an_account_the_admin_adds_can_open_only_the_password_page_until_its_password_is_changed(app, admin, pharmacy):
    assert add_on_screen(admin, "nadia").status_code == 302
    assert "nadia" in text(admin.get("/admin/users")) and "must change at next sign-in" in text(admin.get("/admin/users"))
    added = audit_entries(pharmacy, "user.add")[-1]
    assert added.username == "admin" and json.loads(added.new_json)["must_change_password"] is True

    nadia = Browser(app.test_client())
    assert nadia.login("nadia", FIRST_PASSWORD).status_code == 302
    for page in ("/", "/ward/", "/bags/", "/dashboard"):
        response = nadia.get(page)
        assert response.status_code == 302 and response.headers["Location"].endswith("/account/password"), page
    forced_page = nadia.get("/account/password")
    assert "An administrator set your password" in text(forced_page)
    assert 'href="/bags/"' not in forced_page.get_data(as_text=True)  # no menu leads elsewhere meanwhile

    refused = nadia.post("/account/password", {"current": FIRST_PASSWORD, "new": "password1234", "repeated": "password1234"})
    assert refused.status_code == 422 and "list of common passwords" in text(refused)
    assert nadia.get("/bags/").status_code == 302  # still forced

    done = nadia.post("/account/password", {"current": FIRST_PASSWORD, "new": NEW_PASSWORD, "repeated": NEW_PASSWORD})
    assert done.status_code == 302
    assert nadia.get("/bags/").status_code == 200
    changed = audit_entries(pharmacy, "user.password_change")[-1]
    assert changed.username == "nadia"
    assert users.authenticate(pharmacy, "nadia", NEW_PASSWORD).username == "nadia"


def test_a_user_changes_their_own_password_with_the_current_one_and_the_new_one_twice(signed_in, pharmacy):
    nurse = signed_in("nurse")
    nurse.get("/account/password")
    wrong = nurse.post("/account/password", {"current": "not-my-password", "new": NEW_PASSWORD, "repeated": NEW_PASSWORD})
    assert wrong.status_code == 401 and "Password not accepted: the password change was not signed" in text(wrong)
    differ = nurse.post("/account/password", {"current": factories.PASSWORDS["nurse"], "new": NEW_PASSWORD,
                                              "repeated": NEW_PASSWORD + "x"})
    assert differ.status_code == 422 and "differ" in text(differ)
    named = nurse.post("/account/password", {"current": factories.PASSWORDS["nurse"], "new": "nurse-nurse-1",
                                             "repeated": "nurse-nurse-1"})
    assert named.status_code == 422 and "built on it" in text(named)
    assert audit_entries(pharmacy, "user.password_change") == []
    assert users.authenticate(pharmacy, "nurse", factories.PASSWORDS["nurse"]).username == "nurse"
    ok = nurse.post("/account/password", {"current": factories.PASSWORDS["nurse"], "new": NEW_PASSWORD, "repeated": NEW_PASSWORD})
    assert ok.status_code == 302
    assert users.authenticate(pharmacy, "nurse", NEW_PASSWORD).username == "nurse"


def test_the_password_form_without_its_csrf_token_changes_nothing(signed_in, pharmacy):
    nurse = signed_in("nurse")
    response = nurse.post("/account/password", {"current": factories.PASSWORDS["nurse"], "new": NEW_PASSWORD,
                                                "repeated": NEW_PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert users.authenticate(pharmacy, "nurse", factories.PASSWORDS["nurse"]).username == "nurse"


@pytest.mark.hazard("H23")
def test_an_admin_reset_ends_a_lockout_and_forces_a_change(app, admin, pharmacy, clock):
    for _ in range(5):
        with pytest.raises(Exception, match="wrong"):
            users.authenticate(pharmacy, "tech", "wrong-password-here")
    assert "locked" in text(admin.get("/admin/users/tech"))
    admin.post("/admin/users/tech/password", {"password": FIRST_PASSWORD})
    assert audit_entries(pharmacy, "user.password_reset")[-1].username == "admin"
    tech = Browser(app.test_client())
    assert tech.login("tech", FIRST_PASSWORD).status_code == 302
    assert tech.get("/worklist").headers["Location"].endswith("/account/password")


@pytest.mark.hazard("H23")
def test_disabling_a_leaver_ends_their_session_and_their_tokens_and_is_audited_with_the_admin(app, admin, signed_in, pharmacy):
    nurse = signed_in("nurse")
    assert nurse.get("/ward/").status_code == 200
    token = users.create_token(pharmacy, "nurse", "ward 5 scanner")
    api = app.test_client()
    assert api.get("/api/v1/bags/BAG0000001", headers=bearer(token)).status_code == 404  # accepted, no such bag

    admin.get("/admin/users/nurse")
    assert admin.post("/admin/users/nurse/disable", {"reason": "x"}).status_code == 422  # a reason is needed
    assert admin.post("/admin/users/nurse/disable", {"reason": "left the hospital"}).status_code == 302
    entry = audit_entries(pharmacy, "user.disable")[-1]
    assert entry.username == "admin" and entry.reason == "left the hospital"
    assert "left the hospital" in text(admin.get("/admin/users/nurse"))

    assert nurse.get("/ward/").headers["Location"].startswith("/login")  # the open session no longer works
    assert Browser(app.test_client()).login("nurse").status_code == 401
    refused = api.get("/api/v1/bags/BAG0000001", headers=bearer(token))
    assert refused.status_code == 403 and "revoked" in refused.get_json()["message"]

    assert admin.post("/admin/users/nurse/enable", {"reason": "came back on a new contract"}).status_code == 302
    assert Browser(app.test_client()).login("nurse").status_code == 302
    assert api.get("/api/v1/bags/BAG0000001", headers=bearer(token)).status_code == 403  # old tokens stay revoked
    assert audit_entries(pharmacy, "user.enable")[-1].username == "admin"


def test_an_admin_cannot_disable_themselves(admin, pharmacy):
    admin.get("/admin/users/admin")
    response = admin.post("/admin/users/admin/disable", {"reason": "testing the rule"})
    assert response.status_code == 403 and "your own account" in text(response)
    assert audit_entries(pharmacy, "user.disable") == []


def test_the_admin_screens_are_for_the_admin_only(signed_in):
    pharm = signed_in("pharm")
    assert pharm.get("/admin/users").status_code == 403
    assert pharm.post("/admin/users/tech/disable", {"reason": "not mine to do"}).status_code == 403


@pytest.mark.hazard("H24")
def test_a_token_made_on_the_screen_is_shown_once_scoped_and_revocable(app, admin, pharmacy, clock):
    admin.get("/admin/users/tech")
    made = admin.post("/admin/users/tech/tokens", {"token_name": "fridge 1 monitor", "scope": ["temps.record"]})
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    token = token_on_page(made)
    assert token not in admin.get("/admin/users/tech").get_data(as_text=True)  # shown once
    created = audit_entries(pharmacy, "token.create")[-1]
    assert created.username == "admin" and json.loads(created.new_json)["scope"] == ["temps.record"]

    api = app.test_client()
    reading = {"readings": [{"location": factories.FRIDGE, "time": clock.now.isoformat(), "celsius": 5.0}]}
    assert api.post("/api/v1/temperatures", headers=bearer(token), json=reading).get_json()["imported"] == 1
    outside = api.get("/api/v1/bags/BAG0000001", headers=bearer(token))
    assert outside.status_code == 403 and outside.get_json()["code"] == "token_refused"
    assert "limited to temps.record" in outside.get_json()["message"] and "(bags.view)" in outside.get_json()["message"]
    receive = api.post("/api/v1/stock/receive", headers=bearer(token), json={"scan": factories.vial_scan("SCOPE001")})
    assert receive.status_code == 403 and "limited to temps.record" in receive.get_json()["message"]

    token_id = re.search(r"/tokens/(\d+)/revoke", admin.get("/admin/users/tech").get_data(as_text=True))[1]
    assert admin.post(f"/admin/users/tech/tokens/{token_id}/revoke").status_code == 302
    revoked = api.post("/api/v1/temperatures", headers=bearer(token), json=reading)
    assert revoked.status_code == 403 and "was revoked" in revoked.get_json()["message"]
    assert audit_entries(pharmacy, "token.revoke")[-1].username == "admin"
    assert "revoked" in text(admin.get("/admin/users/tech"))


@pytest.mark.hazard("H24")
def test_a_scope_beyond_the_role_is_refused_and_nothing_is_made(admin, pharmacy):
    admin.get("/admin/users/nurse")
    response = admin.post("/admin/users/nurse/tokens", {"token_name": "overreach", "scope": ["check.release"]})
    assert response.status_code == 422 and "cannot go beyond its user's role" in text(response)
    assert audit_entries(pharmacy, "token.create") == []


@pytest.mark.hazard("H24")
def test_a_token_stops_at_its_expiry_with_a_message_that_says_so(app, admin, pharmacy, clock):
    admin.get("/admin/users/tech")
    made = admin.post("/admin/users/tech/tokens", {"token_name": "short-lived", "expires": "2026-11-22"})
    token = token_on_page(made)
    api = app.test_client()
    assert api.get("/api/v1/bags/BAG0000001", headers=bearer(token)).status_code == 404  # accepted
    clock.advance(days=2, hours=15)  # 22 Nov 23:59:59 local has passed
    expired = api.get("/api/v1/bags/BAG0000001", headers=bearer(token))
    assert expired.status_code == 403 and "expired on 2026-11-22" in expired.get_json()["message"]


@pytest.mark.hazard("H24")
def test_a_token_has_a_default_expiry_of_a_year(app, pharmacy, clock):
    token = users.create_token(pharmacy, "tech", "bench scanner")
    api = app.test_client()
    clock.advance(days=364)
    assert api.get("/api/v1/bags/BAG0000001", headers=bearer(token)).status_code == 404
    clock.advance(days=1, seconds=1)
    assert "expired" in api.get("/api/v1/bags/BAG0000001", headers=bearer(token)).get_json()["message"]


@pytest.mark.hazard("H23")
@pytest.mark.parametrize(("name", "message"), [
    ("tеch", "looks like the existing user “tech”"),     # Cyrillic е
    ("ТЕСН", "looks like the existing user “tech”"),     # all Cyrillic capitals
    ("TECH", "exists already"),                          # case-folded
    ("ｔｅｃｈ2", "exists already"),                       # full-width, NFKC
    ("phαrm", "looks like the existing user “pharm”"),   # Greek alpha
])
def test_look_alike_and_differently_written_names_of_an_existing_user_are_refused(admin, pharmacy, name, message):
    response = add_on_screen(admin, name)
    assert response.status_code == 422 and message in text(response)
    assert len(audit_entries(pharmacy, "user.add")) == len(factories.PASSWORDS)


def test_a_user_name_is_stored_folded_and_signs_in_however_it_is_typed(app, admin):
    assert add_on_screen(admin, "Nadia.K").status_code == 302
    assert "nadia.k" in text(admin.get("/admin/users"))
    assert Browser(app.test_client()).login("NADIA.K", FIRST_PASSWORD).status_code == 302
    assert Browser(app.test_client()).login("ｎａｄｉａ.ｋ", FIRST_PASSWORD).status_code == 302


def test_an_admin_added_user_must_not_get_a_common_password(admin, pharmacy):
    response = add_on_screen(admin, "nadia", password="password1234")
    assert response.status_code == 422 and "common passwords" in text(response)
    assert "nadia" not in text(admin.get("/admin/users"))


def test_the_menu_shows_users_to_the_admin_only(signed_in):
    assert 'href="/admin/users"' in signed_in("admin").get("/storage/").get_data(as_text=True)
    assert 'href="/admin/users"' not in signed_in("pharm").get("/worklist").get_data(as_text=True)


def test_an_expiry_in_the_past_is_refused(admin, clock):
    admin.get("/admin/users/tech")
    response = admin.post("/admin/users/tech/tokens", {"token_name": "old", "expires": "2026-11-19"})
    assert response.status_code == 422 and "must be in the future" in text(response)


def test_the_account_screens_are_labelled_and_have_no_inline_code(admin, signed_in):
    from tests.web.test_accessibility import check

    check(signed_in("nurse").get("/account/password"))
    check(admin.get("/admin/users"))
    check(admin.get("/admin/users/tech"))
    admin.get("/admin/users/tech")
    check(admin.post("/admin/users/tech/tokens", {"token_name": "bench scanner"}))  # the page that shows a token
    check(admin.post("/admin/users/tech/disable", {"reason": ""}))  # a refusal
