"""The JSON API under /api/v1: tokens, roles, stable error codes, and an OpenAPI document that
describes exactly the routes that exist."""

from __future__ import annotations

import re

import pytest

from pharmacy.services import bags, users
from tests import factories
from tests.factories import NACL_SCAN, WATER_SCAN, vial_scan


@pytest.fixture
def api(app, pharmacy):
    client = app.test_client()
    tokens = {name: users.create_token(pharmacy, name, f"{name} device") for name in ("tech", "nurse", "auditor", "pharm")}

    def call(method: str, url: str, who: str | None = "tech", headers: dict | None = None, **kwargs):
        sent = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        return client.open(f"/api/v1{url}", method=method, headers={**sent, **(headers or {})}, **kwargs)

    return call


def test_the_openapi_document_and_the_routes_agree(app, api):
    document = api("GET", "/openapi.json", who=None).get_json()
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi_document":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed and len(routed) == 9
    assert document["components"]["schemas"]["Error"]["required"] == ["code", "message"]


def test_without_a_token_or_with_a_wrong_one_the_api_refuses_with_json(api):
    response = api("GET", "/bags/BAG0000001", who=None)
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"
    response = api("GET", "/bags/BAG0000001", who=None, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 403 and response.get_json()["code"] == "token_refused"
    assert "Unknown API token" in response.get_json()["message"]


def test_a_role_that_may_not_is_refused(api):
    response = api("POST", "/stock/receive", who="nurse", json={"scan": vial_scan("API0001")})
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"


def test_stock_receipt_by_api_and_its_refusal_with_a_stable_code(api):
    response = api("POST", "/stock/receive", json={"scan": vial_scan("API0001")})
    assert response.status_code == 201 and response.get_json()["serial"] == "API0001"
    again = api("POST", "/stock/receive", json={"scan": vial_scan("API0001")})
    assert again.status_code == 409
    assert again.get_json()["code"] == "suspected_falsification" and "falsified" in again.get_json()["message"]
    assert api("POST", "/stock/receive", json=["not an object"]).get_json()["code"] == "bad_request"


@pytest.mark.hazard("H8")
def test_an_order_by_api_reports_its_course_rule_breaches(api, clock):
    body = {"patient": {"identifier": "P-API", "name": "Api Patient", "date_of_birth": "1970-05-05", "ward": "W1"},
            "product": "lemtrada", "course": 2, "course_day": 1, "scheduled_on": "2026-11-20"}
    response = api("POST", "/orders", json=body)
    assert response.status_code == 201
    assert response.get_json()["state"] == "blocked"
    assert [v["code"] for v in response.get_json()["violations"]] == ["previous_course_missing"]
    body["course"] = "two"
    assert api("POST", "/orders", json=body).get_json()["message"] == "course must be a whole number from 1 to 99."


def test_bedside_check_start_and_end_by_api(api, pharmacy, clock):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    wrong = api("POST", "/bedside/check", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-OTHER"})
    assert wrong.get_json()["ok"] is False and wrong.get_json()["reasons"][0]["code"] == "unknown_patient"
    right = api("POST", "/bedside/check", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-1"})
    assert right.get_json() == {**right.get_json(), "ok": True, "reasons": []}
    typed = {"bag_scan": bag.serial, "patient_scan": "P-1", "patient_entry_reason": "scanner_broken",  # typed: H7
             "premedication": [{"what": p.what, "given_at": p.given_at.isoformat()}  # day 1: H17
                               for p in factories.premedication_given(pharmacy)]}
    assert api("POST", "/administrations", who="nurse", json=typed).status_code == 201
    again = api("POST", "/administrations", who="nurse", json={"bag_scan": bag.serial, "patient_scan": "P-1"})
    assert again.status_code == 422 and again.get_json()["reasons"][0]["code"] == "already_given"
    clock.advance(hours=4)
    ended = api("POST", f"/administrations/{bag.serial}/end", who="nurse", json={}).get_json()
    assert ended["observe_until"].startswith("20 Nov 2026 15:")
    assert api("GET", f"/bags/{bag.serial}", who="auditor").get_json()["state"] == "administered"


@pytest.mark.hazard("H6")
def test_temperatures_by_api_quarantine_and_report_bad_readings(api, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    bags.store(pharmacy, "tech", bag.serial, factories.FRIDGE)
    later = clock.advance(minutes=10).isoformat()
    response = api("POST", "/temperatures", json={"readings": [
        {"location": factories.FRIDGE, "time": later, "celsius": 8.5},
        {"location": factories.FRIDGE, "time": "2026-11-20T10:00:00", "celsius": 5}]})
    body = response.get_json()
    assert body["imported"] == 1 and body["quarantined"] == [bag.serial]
    assert body["errors"][0]["index"] == 1 and "UTC offset" in body["errors"][0]["message"]


@pytest.mark.hazard("H14")
def test_recall_by_api_for_pharmacists_and_auditors(api, pharmacy, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0], diluent=NACL_SCAN)
    rows = api("GET", "/recall/K123A", who="auditor").get_json()
    assert [r["bag_serial"] for r in rows] == [bag.serial] and rows[0]["use_by"].endswith("+01:00")
    assert api("GET", "/recall/K123A", who="nurse").status_code == 403
    assert api("GET", "/recall/N9931?kind=diluent", who="pharm").get_json()[0]["bag_serial"] == bag.serial
    assert api("GET", "/recall/K123A?kind=soup", who="pharm").get_json()["code"] == "refused"


def test_a_wrong_diluent_scan_is_not_a_bag_label(api):
    response = api("POST", "/bedside/check", who="nurse", json={"bag_scan": WATER_SCAN, "patient_scan": "P-1"})
    assert response.status_code == 422 and response.get_json()["code"] == "scan_malformed"


def test_an_unknown_api_route_answers_json_not_a_page(api):
    response = api("GET", "/no-such-thing")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
