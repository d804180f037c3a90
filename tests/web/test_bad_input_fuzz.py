"""Every form field and every API body field, sent a bounded list of bad values: never a 5xx, a control
character, invalid UTF-8 or an over-long value refused with a message naming the field, and nothing
written (row counts of every table and the audit head unchanged; a ``refusals`` row, the near-miss
record, may be added).

The forms are not listed here: each role's screens are crawled from its home page (links followed on
the site, forms read from the pages), so a new screen is fuzzed as soon as a menu or page links to it.
The API fields come from ``api.ENDPOINTS``."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from pharmacy.db.models import AuditHead, Base
from pharmacy.services import users
from pharmacy.web import api
from tests import factories
from tests.web.conftest import text

ROLES = ("tech", "pharm", "nurse", "auditor", "admin")
PAGES_PER_ROLE = 80
SKIP_LINKS = re.compile(r"\.(pdf|csv|json|png|svg|css|js)(\?|$)|^/(logout|static|api)/?")

# refused by the edge whatever the field: the message names it
TEXT_BAD = {"nul": "a\x00b", "control": "a\x07b", "escape": "\x1b[2J", "c1": "a\x85b", "long": "x" * 100_000,
            "invalid_utf8": b"caf\xe9 \xff\xfe"}
# refused by the field's own reading (a number or date field): never a 5xx, nothing written
NUMBER_BAD = {"2**64": str(2**64), "10**20": str(10**20), "negative": "-1", "fraction": "1.5"}
DATE_BAD = {"year1": "0001-01-01", "year9999": "9999-12-31", "nonsense": "2026-02-30"}
DATETIME_BAD = {"year1": "0001-01-01T00:00", "year9999": "9999-12-31T23:59"}


class _Forms(HTMLParser):
    """The page's POST forms (action, fields with their default value and type) and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and (a.get("href") or "").startswith("/"):
            self.links.append(a["href"])
        elif tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": {}, "types": {}, "multipart": "multipart" in
                          (a.get("enctype") or "")}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            kind = (a.get("type") or tag).lower()
            if kind in ("checkbox", "radio") and a["name"] in self._form["fields"]:
                return
            self._form["fields"][a["name"]] = a.get("value") or ""
            self._form["types"][a["name"]] = kind
            self._select = a["name"] if tag == "select" else None
        elif tag == "option" and self._form is not None and self._select and not self._form["fields"][self._select]:
            self._form["fields"][self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _crawl(browser, app) -> dict[str, tuple[str, dict]]:
    """endpoint → (action URL, form) for every POST form this user's screens show."""
    adapter = app.url_map.bind("localhost")
    seen, queue, found = set(), ["/"], {}
    while queue and len(seen) < PAGES_PER_ROLE:
        url = queue.pop(0)
        if url in seen or SKIP_LINKS.search(url):
            continue
        seen.add(url)
        response = browser.get(url, follow_redirects=True)
        if response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        parser = _Forms()
        parser.feed(page)
        for form in parser.forms:
            action = form["action"] or url
            path = urlsplit(action).path
            try:
                endpoint, _ = adapter.match(path, method="POST")
            except Exception:
                continue
            found.setdefault(endpoint, (action, form, page))
        for link in parser.links:
            parts = urlsplit(link)
            key = parts.path + (f"?{parts.query}" if parts.query and "page=" not in parts.query else "")
            if key not in seen and not re.search(r"/\d+/\d+|/\d{3,}", parts.path.replace("/audit", "")):
                queue.append(key)
    return found


def _snapshot(pharmacy) -> dict[str, object]:
    with pharmacy.uow(readonly=True) as uow:
        counts: dict[str, object] = {t.name: uow.session.execute(select(func.count()).select_from(t)).scalar_one()
                                     for t in Base.metadata.sorted_tables if t.name != "refusals"}
        head = uow.session.execute(select(AuditHead)).scalars().first()
        counts["audit head"] = (head.last_id, head.last_hash) if head is not None else None
    return counts


def _post_form(browser, action: str, fields: dict):
    body = urlencode([(k, v) for k, v in fields.items()], doseq=True)
    # a refusal answers 303 and is shown by the GET that follows, with its status (web/prg.py): followed here
    return browser.client.post(action, data=body, content_type="application/x-www-form-urlencoded",
                               follow_redirects=True)


def _bad_values_for(kind: str, name: str) -> dict:
    values = dict(TEXT_BAD)
    if kind == "number" or name in ("version", "expected_bags", "expected_stock", "course", "course_day"):
        values |= NUMBER_BAD
    if kind == "date":
        values |= DATE_BAD
    if kind == "datetime-local":
        values |= DATETIME_BAD
    return values


@pytest.fixture
def busy_pharmacy(pharmacy):
    """An order of each state a screen acts on, a preparation at the check, a stored bag, a running infusion."""
    serials = pharmacy.vial_serials
    factories.verified_order(pharmacy, factories.patient("P-9", "Ben Waiting"))
    factories.signed_preparation(pharmacy, serials[0], factories.patient("P-2", "Cara Check"))
    running = factories.bedside_bag(pharmacy, serials[1], factories.patient("P-3", "Dan Drip"))
    factories.start_infusion(pharmacy, running.serial, "P-3")
    stored = factories.released_bag(pharmacy, serials[2], factories.patient("P-4", "Eve Fridge"))
    from pharmacy.services import bags
    bags.store(pharmacy, "tech", stored.serial, factories.FRIDGE)
    from pharmacy.services import orders
    orders.create_order(pharmacy, "tech", factories.patient("P-5", "Fay Entered"), "lemtrada", 1, 1,
                        factories.today(pharmacy))
    pharmacy.running_serial = running.serial
    return pharmacy


@pytest.mark.hazard("H25")
def test_every_form_field_refuses_every_bad_value_without_a_5xx_or_a_change(busy_pharmacy, app, signed_in):
    before = _snapshot(busy_pharmacy)
    fuzzed, requests, fields_seen, failures = set(), 0, set(), []
    for username in ROLES:
        browser = signed_in(username)
        forms = _crawl(browser, app)
        before = _snapshot(busy_pharmacy)  # signing in opened a session: that is not the fuzz's doing
        for endpoint, (action, form, _page) in forms.items():
            if endpoint in fuzzed or form["multipart"]:
                continue
            fuzzed.add(endpoint)
            for name, kind in form["types"].items():
                if name == "csrf_token" or kind in ("submit", "file"):
                    continue
                fields_seen.add((endpoint, name))
                for label, bad in _bad_values_for(kind, name).items():
                    sent = dict(form["fields"]) | {name: bad}
                    response = _post_form(browser, action, sent)
                    requests += 1
                    if response.status_code >= 500:
                        failures.append((endpoint, name, label, response.status_code))
                    elif label in TEXT_BAD and (response.status_code != 400 or f"“{name}" not in text(response)):
                        failures.append((endpoint, name, label, response.status_code, "field not named"))
                    after = _snapshot(busy_pharmacy)
                    if after != before:
                        changed = {k for k in after if after[k] != before[k]}
                        failures.append((endpoint, name, label, "changed", changed))
                        before = after
    assert not failures, failures[:20]
    assert len(fuzzed) >= 25 and len(fields_seen) >= 60, (len(fuzzed), len(fields_seen))
    print(f"\nforms: {len(fuzzed)} endpoints, {len(fields_seen)} fields, {requests} requests")


# ------------------------------------------------------------------------------ the JSON API

JSON_BAD = {"nul": "a\x00b", "control": "a\x07b", "long": "x" * 100_000, "false_string": "false",
            "false": False, "zero": 0, "2**64": 2**64, "10**20": 10**20, "negative": -1, "float": 1.5,
            "list": ["x"], "object": {"x": "y"}, "year1": "0001-01-01", "year9999": "9999-12-31",
            "deep": json.loads("[" * 40 + "]" * 40)}
NAMING = ("nul", "control", "long")
GOOD_TOO = {"celsius": {"zero", "negative", "float"}, "urgent": {"false"}, "confirm_new_patient": {"false"}}


def _base_bodies(pharmacy, fridge_time: str) -> dict[str, dict]:
    today = factories.today(pharmacy).isoformat()
    return {
        "/stock/receive": {"scan": factories.vial_scan("FUZZ0001")},
        "/orders": {"patient": {"identifier": "P-7", "name": "Gil Fuzz", "date_of_birth": "1980-01-01", "ward": "Ward 5"},
                    "product": "lemtrada", "course": 1, "course_day": 1, "scheduled_on": today, "urgent": False},
        "/orders/<order_id>/cancel": {"reason": "entered twice"},
        "/bedside/check": {"bag_scan": "NOSUCH", "patient_scan": "P-3"},
        "/administrations": {"bag_scan": "NOSUCH", "patient_scan": "P-3"},
        "/administrations/<serial>/end": {},
        "/temperatures": {"readings": [{"location": factories.FRIDGE, "time": fridge_time, "celsius": 5}]},
    }


def _paths(body: dict):
    """Each field's path in a body: ``["patient", "name"]``, ``["readings", 0, "time"]`` …"""
    for key, value in body.items():
        yield [key]
        if isinstance(value, dict):
            yield from ([key, *sub] for sub in _paths(value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            yield from ([key, 0, *sub] for sub in _paths(value[0]))


def _replaced(body, path, value):
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def _string_bad_for(base, path, label: str) -> bool:
    try:
        value = base
        for step in path:
            value = value[step]
    except (KeyError, IndexError):
        return False
    if isinstance(value, str):
        return label.startswith("year") and bool(re.match(r"\d{4}-\d\d-\d\d", value))
    return True


@pytest.mark.hazard("H25")
def test_every_api_field_refuses_every_bad_value_without_a_5xx_or_a_change(busy_pharmacy, app, clock):
    token = users.create_token(busy_pharmacy, "pharm", "fuzz")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    bodies = _base_bodies(busy_pharmacy, (clock.advance(minutes=-5)).isoformat())
    urls = {"/orders/<order_id>/cancel": "/api/v1/orders/1/cancel",
            "/administrations/<serial>/end": f"/api/v1/administrations/{busy_pharmacy.running_serial}/end"}
    before = _snapshot(busy_pharmacy)
    declared = [e for e in api.ENDPOINTS if e.method == "POST"]
    assert {e.rule for e in declared} == set(bodies), "a new API endpoint: give it a base body here"
    failures, requests, fields = [], 0, set()

    def send(url, **kwargs):
        nonlocal before, requests
        response = client.post(url, headers=headers, **kwargs)
        requests += 1
        if response.status_code >= 500:
            failures.append((url, kwargs.get("data", "")[:60] if "data" in kwargs else "", response.status_code))
        after = _snapshot(busy_pharmacy)
        if after != before:
            changed = {k for k in after if after[k] != before[k]}
            failures.append((url, repr(kwargs.get("json"))[-200:], "changed", changed, response.get_json()))
            before = after
        return response

    for e in declared:
        url = urls.get(e.rule, "/api/v1" + e.rule)
        base = bodies[e.rule]
        names = set(e.body or {}) | {"/".join(map(str, p)) for p in _paths(base)}
        for name in sorted(names):
            path = [int(p) if p.isdigit() else p for p in name.split("/")]
            fields.add((e.rule, name))
            for label, bad in JSON_BAD.items():
                if label in GOOD_TOO.get(str(path[-1]), ()):
                    continue  # 0 °C is a reading, false is urgent's default
                if isinstance(bad, str) and label not in NAMING and not _string_bad_for(base, path, label):
                    continue  # "false" is a good name, "0001-01-01" a good ward: only where a date or non-string goes
                response = send(url, json=_replaced(base, path, bad))
                if label in NAMING and response.status_code < 500 and response.status_code != 400:
                    message = json.dumps(response.get_json())
                    if str(path[-1]) not in message:
                        failures.append((e.rule, name, label, response.status_code, "not refused by name"))
        # the body as a whole
        for data, kind in (("{not json", "application/json"), ("[" * 50_000 + "]" * 50_000, "application/json"),
                           ('"a string"', "application/json"), (json.dumps(base), "text/plain"),
                           (b'{"reason": "caf\xe9"}', "application/json"), ('{"x": NaN}', "application/json")):
            response = send(url, data=data, content_type=kind)
            if response.status_code != 400:
                failures.append((e.rule, "whole body", str(data)[:30], kind, response.status_code))
    assert not failures, failures[:20]
    assert len(fields) >= 25, len(fields)
    print(f"\napi: {len(declared)} endpoints, {len(fields)} fields, {requests} requests")
