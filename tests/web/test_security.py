"""Sign-in, roles, CSRF, idle timeout and the deny-by-default guard."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from pharmacy.web.app import create_app
from pharmacy.web.security import API, PERMISSIONS, PUBLIC, SIGNED_IN, permission, required_permission
from tests import factories
from tests.web.conftest import Browser, text

SESSION_LESS = (PUBLIC, API)


def test_every_route_declares_a_permission(app):
    undeclared = [rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" and getattr(app.view_functions[rule.endpoint], "permission", None) is None]
    assert undeclared == []


def test_every_declared_permission_is_one_the_guard_knows(app):
    for rule in app.url_map.iter_rules():
        assert required_permission(app, rule.endpoint) in (*PERMISSIONS, PUBLIC, SIGNED_IN, API), rule.rule


def test_only_sign_in_health_and_static_files_are_open_to_anyone(app):
    public = sorted(rule.rule for rule in app.url_map.iter_rules()
                    if required_permission(app, rule.endpoint) == PUBLIC and not rule.rule.startswith("/api/"))
    # FHIR: the CapabilityStatement is read before authenticating, and an unknown path answers an OperationOutcome
    assert public == ["/fhir/r4/<path:anything>", "/fhir/r4/metadata", "/healthz", "/login", "/static/<path:filename>"]


def test_a_route_that_declares_no_permission_is_refused_even_to_a_signed_in_user(pharmacy):
    app = create_app({"TESTING": True}, pharmacy=pharmacy)

    @app.get("/forgotten")
    def forgotten():
        return "should never be seen"

    browser = Browser(app.test_client())
    browser.login("admin")
    response = browser.get("/forgotten")
    assert response.status_code == 403
    assert "declares no permission" in text(response)


def test_an_unknown_permission_name_is_a_programming_error():
    with pytest.raises(ValueError):
        permission("prep.wrk")


@pytest.mark.parametrize("url", ["/", "/worklist", "/orders/new", "/prep/1", "/check/", "/bags/", "/stock/"])
def test_an_anonymous_visitor_is_sent_to_sign_in(browser, url):
    response = browser.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_an_anonymous_post_is_sent_to_sign_in_and_changes_nothing(browser, pharmacy):
    order = factories.verified_order(pharmacy)
    browser.get("/login")
    response = browser.post(f"/prep/start/{order.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert factories.orders.get_order(pharmacy, order.id).state == "verified"


@pytest.mark.parametrize(("username", "method", "url"), [
    ("nurse", "get", "/worklist"),
    ("nurse", "get", "/prep/1"),
    ("admin", "get", "/orders/new"),
    ("technician", "get", "/check/"),
    ("technician", "post", "/orders/1/verify"),
    ("technician", "post", "/check/1"),
    ("auditor", "post", "/orders/new"),
    ("auditor", "post", "/stock/receive"),
    ("auditor", "post", "/bags/BAG0000001/label.pdf"),
    ("nurse", "post", "/bags/BAG0000001/label.pdf"),
])
def test_the_wrong_role_is_refused_with_403(signed_in, username, method, url):
    browser = signed_in({"technician": "tech"}.get(username, username))
    response = browser.get(url) if method == "get" else browser.post(url, {"version": "1"})
    assert response.status_code == 403
    assert "may not" in text(response)


def _example_url(rule) -> str:
    values = {arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "BAG0000001"  # BoundedInt too
              for arg in rule.arguments}
    return rule.build(values)[1]


def test_an_auditor_reads_every_screen_but_every_change_is_refused(app, signed_in, pharmacy):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    auditor = signed_in("auditor")
    for url in ["/worklist", "/orders/pending", "/check/", "/check/1", "/bags/", "/bags/BAG0000001", "/stock/"]:
        assert auditor.get(url).status_code == 200, url
    changes = [rule for rule in app.url_map.iter_rules()
               if "POST" in rule.methods and required_permission(app, rule.endpoint) not in (*SESSION_LESS, SIGNED_IN)
               and rule.endpoint != "trace.audit_verify"]  # verifying the audit chain reads and records nothing
    assert len(changes) >= 8
    for rule in changes:
        response = auditor.post(_example_url(rule), {"version": "1"})
        assert response.status_code == 403, rule.rule


def test_a_form_without_its_csrf_token_is_refused_with_400(app, signed_in, pharmacy):
    order = factories.verified_order(pharmacy)
    tech = signed_in("tech")
    response = tech.post(f"/prep/start/{order.id}", csrf=False)
    assert response.status_code == 400
    assert "security token is missing" in text(response)
    assert factories.orders.get_order(pharmacy, order.id).state == "verified"


def test_sign_in_itself_needs_the_csrf_token(browser):
    browser.get("/login")
    response = browser.post("/login", {"username": "tech", "password": factories.PASSWORDS["tech"]}, csrf=False)
    assert response.status_code == 400


def test_a_forged_csrf_token_is_refused(signed_in):
    tech = signed_in("tech")
    response = tech.post("/stock/receive", {"scan": factories.NACL_SCAN, "csrf_token": "forged"})
    assert response.status_code == 400


def _refusal_text(response):
    import re

    return re.search(r'<div class="refusal"[^>]*>.*?</div>', text(response), re.S).group(0)


def test_a_wrong_password_is_refused_on_the_sign_in_page(browser):
    response = browser.login("tech", "not-the-password")
    assert response.status_code == 401
    assert "User name or password is wrong" in text(response)


def test_after_five_failures_the_account_is_locked_even_for_the_right_password(browser):
    # issue 13: a locked account is refused with the same status and text as a wrong password (was: "locked")
    wrong = browser.login("nurse", "wrong-password-123")
    for _ in range(5):
        assert browser.login("tech", "wrong-password-123").status_code == 401
    response = browser.login("tech")
    assert response.status_code == wrong.status_code == 401
    assert _refusal_text(response) == _refusal_text(wrong)
    assert browser.login("tech").status_code == 401  # still locked


def test_a_lock_ends_after_fifteen_minutes(browser, clock):
    for _ in range(5):
        browser.login("tech", "wrong-password-123")
    clock.advance(minutes=16)
    assert browser.login("tech").status_code == 302


def test_an_idle_session_is_signed_out(signed_in, clock):
    tech = signed_in("tech")
    clock.advance(minutes=14)
    assert tech.get("/worklist").status_code == 200  # activity keeps the session alive
    clock.advance(minutes=16)
    response = tech.get("/worklist")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/worklist"
    page = tech.get(response.headers["Location"])
    assert "signed out after 15 minutes without activity" in text(page)
    assert tech.get("/worklist").status_code == 302  # the session is gone, not just this request


def test_sign_in_starts_a_new_session(app, browser):
    browser.get("/login")
    with browser.client.session_transaction() as before:
        before["planted"] = "by someone else"
    browser.login("tech")
    with browser.client.session_transaction() as after:
        assert "planted" not in after
        assert after["_user_id"] == str(_user_id(app, "tech"))


def _user_id(app, username):
    from sqlalchemy import select

    from pharmacy.db.models import User

    with app.extensions["pharmacy"].uow(readonly=True) as uow:
        return uow.session.execute(select(User.id).where(User.username == username)).scalar_one()


def test_the_session_cookie_is_httponly_and_samesite_lax(browser):
    browser.get("/login")
    response = browser.post("/login", {"username": "tech", "password": factories.PASSWORDS["tech"]})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("pharmacy_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_can_be_switched_on(pharmacy):
    app = create_app({"SESSION_COOKIE_SECURE": True}, pharmacy=pharmacy)
    browser = Browser(app.test_client())
    browser.get("/login")
    response = browser.post("/login", {"username": "tech", "password": factories.PASSWORDS["tech"]})
    assert "Secure" in response.headers["Set-Cookie"]


def test_sign_out_forgets_the_session(signed_in):
    tech = signed_in("tech")
    response = tech.post("/logout")
    assert response.status_code == 302
    assert tech.get("/worklist").status_code == 302


def test_after_sign_in_only_a_local_next_is_followed(browser):
    browser.get("/login")
    response = browser.post("/login", {"username": "tech", "password": factories.PASSWORDS["tech"],
                                       "next": "//evil.example/phish"})
    assert response.headers["Location"] == "/"
    browser.post("/logout")
    browser.get("/login")
    response = browser.post("/login", {"username": "tech", "password": factories.PASSWORDS["tech"],
                                       "next": "/stock/"})
    assert response.headers["Location"] == "/stock/"


@pytest.mark.parametrize(("username", "home"), [("tech", "/worklist"), ("pharm", "/worklist"),
                                                ("auditor", "/worklist"), ("nurse", "/ward/"), ("admin", "/stock/")])
def test_each_role_starts_where_its_work_is(signed_in, username, home):
    assert signed_in(username).get("/").headers["Location"] == home


def test_the_health_check_answers_without_sign_in(browser):
    response = browser.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_screens_are_never_cached_and_never_framed(signed_in):
    response = signed_in("tech").get("/worklist")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_an_unexpected_error_shows_a_plain_page_and_no_stack_trace(pharmacy):
    app = create_app(pharmacy=pharmacy)  # not TESTING: errors are handled as in production

    @app.get("/boom")
    @permission(SIGNED_IN)
    def boom():
        raise RuntimeError("secret internals")

    browser = Browser(app.test_client())
    browser.login("tech")
    response = browser.get("/boom")
    assert response.status_code == 500
    page = text(response)
    assert "Something went wrong" in page
    assert "Traceback" not in page and "secret internals" not in page


def test_a_refusal_outside_a_form_is_a_4xx_page_with_its_message(signed_in):
    response = signed_in("tech").get("/orders/999")
    assert response.status_code == 404
    assert "Order 999 does not exist." in text(response)


def test_the_current_user_is_reloaded_on_every_request(signed_in, pharmacy):
    from pharmacy.db.models import User

    tech = signed_in("tech")
    with pharmacy.uow() as uow:
        uow.session.query(User).filter(User.username == "tech").update({"active": False})
        uow.commit()
    assert tech.get("/worklist").status_code == 302

