"""The day's mix for locust (issue 18), as bench/load.py has it, measured by a load tool the project did not write.

    python bench/run.py --locust [--workers 2] [--run-time 60] [--database-url URL]

``bench/run.py --locust`` seeds a pharmacy (``load.prepare_data``), starts ``pharmacy serve`` on 127.0.0.1, writes
what the people need (orders to prepare, vial serials, API tokens, the password) to the JSON file named by
``PHARMACY_LOCUST_DATA`` and runs this file headless. The people:

- 20 technicians prepare bags through the screens (worklist, start, vial, inspection, diluent, volume, the two
  photos, mixing, signature) and receive stock; now and then they look at the bag list, a bag and the dashboard;
- 10 pharmacists check and release what the technicians signed, and look at the orders to verify and the stock;
- 18 nurses at the bedside through the API (the bag's status, the bedside check);
- one auditor (recall through the API, a bag's history and the recall screen) and one fridge monitor (a reading
  a second through the API).

Everyone signs in first; the measured period (``PHARMACY_LOCUST_SECONDS``) starts once the last one has (the
statistics are reset then) and locust stops itself at its end (``--run-time`` is only the upper bound). Each
user is bounded in requests too (``MAX_REQUESTS_PER_USER``). A 4xx is a refusal the mix expects under
contention (two technicians, one vial); a 5xx or a lost connection is an error.
"""

from __future__ import annotations

import json
import os
import random
import re
import urllib.parse
from collections import deque

import gevent
import gevent.event
import http_body  # bench/http_body.py, beside this file (locust puts the locustfile's folder on the path)
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from pharmacy.domain import bagid  # pure: the in-process label's code
from pharmacy.services import demo  # imported here, not at the first photo: the import held every user's request for 2 s

DATA = json.loads(open(os.environ["PHARMACY_LOCUST_DATA"], encoding="utf-8").read()) \
    if os.environ.get("PHARMACY_LOCUST_DATA") else {}
SECONDS = float(os.environ.get("PHARMACY_LOCUST_SECONDS", "60"))
PASSWORD = DATA.get("password", "")
VIAL_GTIN = DATA.get("vial_gtin", "")
NACL_SCAN = DATA.get("nacl_scan", "")
MAX_REQUESTS_PER_USER = 5000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')

# shared by the people of this (one) locust process: greenlets, so no lock is needed
WORK: deque[int] = deque(DATA.get("orders", []))
VIALS: deque[str] = deque(DATA.get("vials", []))
TO_CHECK: deque[str] = deque()
RELEASED: list[str] = list(DATA.get("released", []))
REFUSALS: dict[str, int] = {}
STARTED = gevent.event.Event()  # set once everyone has signed in: the measured period begins
_signed_in = {"count": 0}


def vial_scan(serial: str) -> str:
    return f"]d201{VIAL_GTIN}21{serial}\x1d10LOAD1\x1d17280630"


def _everyone_ready(environment) -> None:
    """The last person to sign in starts the measured period: statistics reset, locust stopped at its end."""
    _signed_in["count"] += 1
    if _signed_in["count"] < sum(cls.fixed_count for cls in (Technician, Pharmacist, Auditor)):
        return
    environment.runner.stats.reset_all()
    STARTED.set()

    def stop_at_the_end() -> None:
        gevent.sleep(SECONDS)
        environment.runner.quit()

    gevent.spawn(stop_at_the_end)


class Person(FastHttpUser):
    """A keep-alive connection, its session cookie, the last CSRF token seen; 0.25–0.75 s between two actions."""

    abstract = True
    wait_time = between(0.25, 0.75)
    signs_in: str | None = None  # the user-name prefix of screen users (their number follows); None: an API token
    count = 0

    def on_start(self) -> None:
        self.csrf, self.requests = "", 0
        type(self).count += 1
        self.number = type(self).count - 1
        if self.signs_in is not None:
            self.send("GET", "/login", "GET /login")
            name = DATA.get("usernames", {}).get(self.signs_in) or f"{self.signs_in}{self.number:02d}"
            status, _, _ = self.send("POST", "/login", "POST /login", form={"username": name, "password": PASSWORD})
            if status != 302:
                raise RuntimeError(f"{name} could not sign in (HTTP {status})")
            self.send("GET", "/", "GET /")
            _everyone_ready(self.environment)
        STARTED.wait()
        gevent.sleep(random.uniform(0, 0.5))  # people do not all click at the same instant

    def send(self, method: str, path: str, name: str, form: dict | None = None, body: dict | None = None,
             photo: tuple[str, bytes] | None = None, token: str | None = None) -> tuple[int, str, str]:
        """One request; (status, body, Location). 5xx and lost connections are failures, refusals are counted apart."""
        if self.requests >= MAX_REQUESTS_PER_USER:
            raise StopUser()
        self.requests += 1
        files = {"photo": (photo[0], photo[1], "image/jpeg")} if photo is not None else None  # the camera script's upload
        payload, headers = http_body.body(self.csrf, form, body, files, token)
        with self.client.request(method, path, name=name, data=payload, headers=headers, allow_redirects=False,
                                 catch_response=True) as response:
            status = response.status_code or 0
            if status == 0 or status >= 500:
                response.failure(f"HTTP {status}")
                return status, "", ""
            response.success()
            if status >= 400:
                REFUSALS[name] = REFUSALS.get(name, 0) + 1
            text = response.text or ""
            match = _CSRF.search(text)
            if match:
                self.csrf = match[1]
            return status, text, response.headers.get("Location") or ""


class Technician(Person):
    fixed_count = 20
    signs_in = "tech"

    @task
    def prepare(self) -> None:
        self.send("GET", "/worklist", "GET /worklist")
        self.wait()
        self.send("POST", "/stock/receive", "POST /stock/receive", form={"scan": vial_scan(f"LC{self.number:02d}{self.requests:07d}")})
        if random.random() < 0.2:  # where is that bag, is the fridge in range
            self.wait()
            self.send("GET", "/bags/", "GET /bags/")
            if RELEASED:
                self.wait()
                self.send("GET", f"/bags/{random.choice(RELEASED)}", "GET /bags/<serial>")
            self.wait()
            self.send("GET", "/dashboard", "GET /dashboard")
        if not WORK or not VIALS:
            return
        order_id, serial = WORK.popleft(), VIALS.popleft()
        self.wait()
        status, _, location = self.send("POST", f"/prep/start/{order_id}", "POST /prep/start/<id>", form={})
        if status != 302:
            return
        path = urllib.parse.urlparse(location).path
        prep_id = path.rsplit("/", 1)[-1]
        steps = [("vial", {"scan": vial_scan(serial)}), ("inspection", {"result": "pass"}), ("diluent", {"scan": NACL_SCAN}),
                 ("volume", {"volume": "1.2 mL"}), ("photo/syringe", {}), ("mixing", {}), ("photo/bag", {}),
                 ("sign", {"password": PASSWORD})]
        for step, fields in steps:
            _, page, _ = self.send("GET", path, "GET /prep/<id>")
            version = _VERSION.search(page)
            if not version:
                return
            self.wait()
            photo = (f"{step[6:]}.jpg", picture(step[6:], prep_id)) if step.startswith("photo/") else None
            status, _, _ = self.send("POST", f"{path}/{step}", f"POST /prep/<id>/{step}", form={**fields, "version": version[1]},
                                     photo=photo)
            if status != 302:
                return
        TO_CHECK.append(prep_id)


class Pharmacist(Person):
    fixed_count = 10
    signs_in = "pharm"

    @task
    def check(self) -> None:
        self.send("GET", "/check/", "GET /check/")
        self.send("GET", "/orders/pending", "GET /orders/pending")
        if random.random() < 0.2:
            self.wait()
            self.send("GET", "/stock/", "GET /stock/")
        if not TO_CHECK:
            return
        prep_id = TO_CHECK.popleft()
        _, page, _ = self.send("GET", f"/check/{prep_id}", "GET /check/<id>")
        version = _VERSION.search(page)
        self.wait()
        if version:
            status, _, location = self.send("POST", f"/check/{prep_id}", "POST /check/<id>", form={  # the bag in hand (H27)
                "decision": "released", "password": PASSWORD, "version": version[1], "reason": "",
                "bag_scan": "]C0" + bagid.in_process_code(bagid.bag_serial(int(prep_id)))})
            if status == 302:
                RELEASED.append(location.rsplit("/", 1)[-1])


class Nurse(Person):
    fixed_count = 18

    @task
    def bedside(self) -> None:
        if not RELEASED:
            return
        token = DATA["nurse_tokens"][self.number % len(DATA["nurse_tokens"])]
        serial = RELEASED[(self.number + 7 * self.requests) % len(RELEASED)]
        status, data, _ = self.send("GET", f"/api/v1/bags/{serial}", "GET /api/v1/bags/<serial>", token=token)
        patient = json.loads(data).get("patient_id", "") if status == 200 else ""
        self.send("POST", "/api/v1/bedside/check", "POST /api/v1/bedside/check",
                  body={"bag_scan": serial, "patient_scan": patient or "unknown"}, token=token)


class Auditor(Person):
    fixed_count = 1
    signs_in = "auditor"  # DATA["usernames"]["auditor"]: bench/load.py's auditor
    wait_time = between(0.5, 0.5)

    @task
    def trace(self) -> None:
        self.send("GET", "/api/v1/recall/LOAD1", "GET /api/v1/recall/<lot>", token=DATA["auditor_token"])
        self.wait()
        self.send("GET", "/trace/recall?lot=LOAD1", "GET /trace/recall")
        if RELEASED:
            self.wait()
            self.send("GET", f"/trace/bags/{random.choice(RELEASED)}", "GET /trace/bags/<serial>")


class FridgeMonitor(Person):
    fixed_count = 1
    wait_time = between(1.0, 1.0)

    def on_start(self) -> None:
        super().on_start()
        self.minute = 0

    @task
    def reading(self) -> None:
        at = f"2026-01-01T00:{self.minute % 60:02d}:{self.minute // 60 % 60:02d}+00:00"
        self.send("POST", "/api/v1/temperatures", "POST /api/v1/temperatures", token=DATA["device_token"],
                  body={"readings": [{"location": DATA["fridge"], "time": at, "celsius": 5.0}]})
        self.minute += 1


def picture(kind: str, prep_id: str) -> bytes:
    """A drawn picture that passes the photo checks, one per take (a picture kept for another preparation is refused)."""
    return demo.demo_picture([f"locust {kind}", f"preparation {prep_id}"])


@events.quitting.add_listener
def _write_refusals(environment, **_kwargs) -> None:
    """The refusals (4xx) next to locust's CSV files, for bench/run.py to print."""
    out = os.environ.get("PHARMACY_LOCUST_REFUSALS")
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"refusals": REFUSALS, "released": len(RELEASED) - len(DATA.get("released", []))}, handle)
