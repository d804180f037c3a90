"""Back and reload are harmless (issue 16, point 2): every POST of every screen answers with a redirect,
refusals included (web/prg.py), so the browser's history holds only GETs: Back never asks to send a
form again and a reload never records a scan, a step or a refusal twice (H36).

The routes are read from the app itself, so a view added later is crawled too."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import Refusal
from pharmacy.domain import permissions
from pharmacy.web.security import API, PUBLIC, SIGNED_IN
from tests import factories
from tests.web.conftest import Browser, text, version_on

REDIRECTS = {302, 303}
# POST routes that may answer an ACCEPTED request with something other than a redirect, and why. A refused
# request to them is a page, and redirected like any other.
NOT_REDIRECTED_WHEN_ACCEPTED = {
    "bags.label": "the label PDF is the answer: a download leaves the screen where it is (pharmacy.js reloads it)",
    "prep.in_process_label": "the in-process label PDF is the answer, as for the bag label",
    "accounts.create_token": "the new API token is shown on that one page only and never written anywhere, not "
                             "even in the session for a redirect (web/prg.renders_after_post)",
}
# the JSON API (blueprint ``api``) is for other systems, not a browser: its answers are JSON, never redirected
USER_OF_ROLE = {"technician": "tech", "pharmacist": "pharm", "nurse": "nurse", "auditor": "auditor", "admin": "admin"}


def _post_routes(app):
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "POST" in (rule.methods or ()) and rule.endpoint.split(".")[0] != "api"),
                  key=lambda rule: rule.rule)


def _user_for(app, endpoint: str) -> str | None:
    needed = getattr(app.view_functions[endpoint], "permission", None)
    if needed == API:
        return API
    if needed == PUBLIC:
        return None
    if needed == SIGNED_IN:
        return "pharm"
    return next(user for role, user in USER_OF_ROLE.items() if permissions.may(role, needed))


@pytest.fixture
def objects(pharmacy):
    """One of everything a POST route names in its URL."""
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    order = factories.verified_order(pharmacy, factories.patient("P-2", "Ben Example"))
    return {"prep_id": prep.id, "order_id": order.id, "serial": bag.serial, "name": "tech", "token_id": 1,
            "recall_id": 1, "incident_id": 1, "step": "vial"}


def test_every_post_route_is_crawled(app):
    endpoints = {rule.endpoint for rule in _post_routes(app)}
    assert len(endpoints) >= 40  # the app's forms, read from its URL map (not a list kept by hand)
    assert set(NOT_REDIRECTED_WHEN_ACCEPTED) <= endpoints


@pytest.mark.hazard("H36")
def test_a_refused_post_to_every_route_answers_with_a_redirect(app, objects, signed_in):
    """Each POST route gets a form with nothing in it (only its CSRF token): refused (a field missing, a
    stale version, not found …), or harmless when nothing is needed; never a page."""
    browsers: dict[str | None, Browser] = {}
    answered = {}
    for rule in _post_routes(app):
        user = _user_for(app, rule.endpoint)
        if user == API:  # a bearer token's route: JSON for other systems, never a browser's form
            continue
        if user not in browsers:
            browsers[user] = signed_in(user) if user else Browser(app.test_client())
            browsers[user].get("/login" if user is None else "/")
        browser = browsers[user]
        values = {name: objects.get(name, 1) for name in rule.arguments}
        if rule.endpoint in NOT_REDIRECTED_WHEN_ACCEPTED and "serial" in values:
            values["serial"] = "NO-SUCH-BAG"  # refused: not found
        if rule.endpoint in NOT_REDIRECTED_WHEN_ACCEPTED and "prep_id" in values:
            values["prep_id"] = 999999
        if rule.endpoint == "accounts.create_token":
            values["name"] = "nobody-here"
        url = rule.build(values, append_unknown=False)[1]
        response = browser.client.post(url, data={"csrf_token": browser.token}, headers={"Referer": "http://localhost/"})
        if response.mimetype.endswith("json"):  # an interface for other systems (FHIR), not a browser's form
            continue
        answered[rule.endpoint] = response.status_code
        if rule.endpoint == "auth.logout":  # accepted: signed out; sign in again for the next routes
            browsers.pop(user)
    not_redirected = {endpoint: status for endpoint, status in answered.items() if status not in REDIRECTS}
    assert not not_redirected, f"POST routes that answered a refusal with a page: {not_redirected}"


def _refusals(pharmacy) -> int:
    with pharmacy.uow(readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(Refusal)).scalar_one()


@pytest.mark.hazard("H36")
def test_a_refused_scan_is_shown_once_after_the_redirect_and_a_reload_records_nothing(pharmacy, signed_in):
    order = factories.verified_order(pharmacy)
    tech = signed_in("tech")
    start = tech.post(f"/prep/start/{order.id}")
    screen = tech.get(start.headers["Location"])
    before = _refusals(pharmacy)

    raw = tech.client.post(f"{start.headers['Location']}/vial", data={"csrf_token": tech.token, "version": version_on(screen),
                                                           "scan": "]d2NOT-A-VIAL"},
                           headers={"Referer": f"http://localhost{start.headers['Location']}"})
    assert raw.status_code == 303
    assert raw.headers["Location"] == start.headers["Location"]  # back to the step screen the scan came from
    shown = tech.get(raw.headers["Location"])
    assert shown.status_code == 422  # the refusal's own status, on a GET
    assert "Refused" in text(shown) and 'id="refusal"' in text(shown)
    assert _refusals(pharmacy) == before + 1

    reloaded = tech.get(raw.headers["Location"])  # reload: a GET, the screen afresh, nothing recorded
    assert reloaded.status_code == 200 and 'id="refusal"' not in text(reloaded)
    assert _refusals(pharmacy) == before + 1


def test_what_the_user_typed_comes_back_after_the_redirect(pharmacy, signed_in):
    tech = signed_in("tech")
    tech.get("/orders/new")
    shown = tech.post("/orders/new", {"identifier": "P-77", "name": "Carla Typed", "date_of_birth": "not a date",
                                      "ward": "Ward 9", "product": "lemtrada", "course": "1", "course_day": "1",
                                      "scheduled_on": "2026-01-01"})
    assert tech.last_post_status == 303
    assert shown.status_code == 400
    page = text(shown)
    assert "Date of birth" in page and 'value="Carla Typed"' in page and 'value="Ward 9"' in page


def test_a_failed_sign_in_keeps_the_name_typed_and_the_next_page(browser):
    browser.get("/login?next=/prep/5")
    shown = browser.post("/login?next=/prep/5", {"username": "tech", "password": "wrong password"})
    assert browser.last_post_status == 303
    assert shown.status_code == 401
    assert 'value="tech"' in text(shown) and re.search(r'name="next" value="/prep/5"', text(shown))
    assert 'id="refusal"' not in text(browser.get("/login?next=/prep/5"))


@pytest.mark.hazard("H36")
def test_accepted_posts_along_a_whole_bag_answer_with_redirects(pharmacy, signed_in):
    """A bag from order to bedside through the screens: every accepted POST answers 302/303, the bedside's
    next screens (wristband, verdict) included."""
    statuses: dict[str, int] = {}

    def post(browser, name, url, data=None):
        response = browser.post(url, data or {})
        statuses[name] = browser.last_post_status
        assert response.status_code < 400, (name, re.findall(r"<p>([^<]*)</p>", text(response)))  # accepted, not refused
        return response

    tech, pharm = signed_in("tech"), signed_in("pharm")
    tech.get("/orders/new")
    entered = post(tech, "orders.new", "/orders/new", {
        "identifier": "P-1", "name": "Anna Example", "date_of_birth": "1980-01-01", "ward": "Ward 5",
        "gsrn": "", "product": "lemtrada", "course": "1", "course_day": "1",
        "scheduled_on": factories.today(pharmacy).isoformat()})
    order_id = int(re.search(r"/orders/(\d+)", entered.headers["Location"])[1])
    pharm.get(f"/orders/{order_id}")
    post(pharm, "orders.verify", f"/orders/{order_id}/verify", {"premedication_confirmed": "on"})
    tech.get("/worklist")
    started = post(tech, "prep.start", f"/prep/start/{order_id}")
    prep_url = started.headers["Location"]
    prep_id = int(prep_url.rsplit("/", 1)[1])
    steps = [("vial", {"scan": factories.vial_scan(pharmacy.vial_serials[0])}), ("inspection", {"result": "pass"}),
             ("diluent", {"scan": factories.NACL_SCAN}), ("volume", {"volume": "1.2 mL"})]
    for step, data in steps:  # (from mixing on, the photos of the preparation are needed: tests of their own)
        screen = tech.get(prep_url)
        post(tech, f"prep.record:{step}", f"{prep_url}/{step}", {"version": version_on(screen), **data})
    assert prep_id
    tech.get("/stock/")
    post(tech, "stock.receive", "/stock/receive", {"scan": factories.vial_scan("TNEW00000001")})
    admin = signed_in("admin")
    admin.get("/admin/users")
    post(admin, "accounts.add_user", "/admin/users", {"username": "newtech", "full_name": "New Technician",
                                                      "role": "technician", "password": "a long new password 42"})
    admin.get("/storage/")
    post(admin, "storage.add_location", "/storage/locations", {"name": "Ward 9 fridge", "min_celsius": "2",
                                                                "max_celsius": "8"})
    post(pharm, "trace.audit_verify", "/audit/verify")
    post(tech, "auth.logout", "/logout")
    assert statuses and all(status in REDIRECTS for status in statuses.values()), statuses
    assert len(statuses) >= 11
