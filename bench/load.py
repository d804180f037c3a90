"""Load test: 50 simulated users against `pharmacy serve` on loopback, for a bounded time.

    python bench/load.py [--quick] [--seconds 60] [--database-url URL]

20 technicians prepare bags through the screens (worklist, start, scan vial, inspect, scan diluent,
volume, mixing, sign) and receive stock; 10 pharmacists check and release them; 18 nurses scan at
the bedside (API bedside check and bag status); one auditor runs recalls; one monitoring device
sends fridge readings. It prints requests per second, p50/p95/p99 latency per endpoint, and the error
count (connection failures and 5xx; expected refusals such as a 409 are counted apart).

Targets on a 2-core machine: zero errors, p95 under 200 ms for every screen and scan. Electronic
signatures and sign-in hash a password with argon2id, which is slow by design; they are listed
but not held to the 200 ms target. The server is started here, on 127.0.0.1 only, and stopped at the
end; every loop stops at the deadline or after a bounded number of requests.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import queue
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from datetime import date
from pathlib import Path

import http_body  # bench/http_body.py, beside this file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pharmacy import config  # noqa: E402
from pharmacy.domain import bagid  # noqa: E402
from pharmacy.domain.gs1 import GS  # noqa: E402
from pharmacy.services import base, demo, orders, stock, users  # noqa: E402

TECHS, PHARMACISTS, NURSES = 20, 10, 18
PASSWORD = "load-test-password-1"
SIGNATURES = {"POST /prep/<id>/sign", "POST /check/<id>", "POST /login"}
MAX_REQUESTS_PER_USER = 5000
THINK = 0.5  # seconds a person takes between two actions (scan, read, click); the machine does the rest


def think() -> None:
    """People are not metronomes: each pause is 0.5 to 1.5 times the typical one."""
    time.sleep(THINK * random.uniform(0.5, 1.5))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.refusals: dict[str, int] = defaultdict(int)

    def add(self, name: str, seconds: float, status: int) -> None:
        with self.lock:
            self.times[name].append(seconds)
            if status >= 500:
                self.errors.append(f"{name}: HTTP {status}")
            elif status >= 400:
                self.refusals[name] += 1


class Client:
    """One user: a keep-alive connection, a session cookie, the last CSRF token seen."""

    def __init__(self, port: int, stats: Stats, token: str | None = None) -> None:
        self.port, self.stats, self.api_token = port, stats, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie, self.csrf, self.count = "", "", 0

    def request(self, method: str, path: str, name: str, form: dict | None = None, body: dict | None = None,
                files: dict[str, tuple[str, bytes, str]] | None = None):
        payload, headers = http_body.body(self.csrf, form, body, files, self.api_token)
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.count += 1
        start = time.perf_counter()
        try:
            self.conn.request(method, path, payload, headers)
            response = self.conn.getresponse()
            data = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            self.stats.add(name, time.perf_counter() - start, 599)
            self.stats.errors.append(f"{name}: {error!r}")
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 599, "", ""
        self.stats.add(name, time.perf_counter() - start, response.status)
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        match = _CSRF.search(data)
        if match:
            self.csrf = match[1]
        return response.status, data, response.getheader("Location") or ""

    def login(self, username: str) -> None:
        self.request("GET", "/login", "GET /login")
        status, _, _ = self.request("POST", "/login", "POST /login", form={"username": username, "password": PASSWORD})
        if status != 302:
            raise SystemExit(f"{username} could not sign in (HTTP {status})")
        self.request("GET", "/", "GET /")


def vial_scan(serial: str) -> str:
    return f"]d201{demo.VIAL_GTIN}21{serial}<GS>10LOAD1<GS>17280630"


def technician(client: Client, work: queue.Queue, vials: queue.Queue, checks: queue.Queue,
               deadline: float, receive_serials) -> None:
    while time.monotonic() < deadline and client.count < MAX_REQUESTS_PER_USER:
        client.request("GET", "/worklist", "GET /worklist")
        think()
        client.request("POST", "/stock/receive", "POST /stock/receive", form={"scan": vial_scan(next(receive_serials))})
        try:
            order_id = work.get_nowait()
            serial = vials.get_nowait()
        except queue.Empty:
            continue
        status, _, location = client.request("POST", f"/prep/start/{order_id}", "POST /prep/start/<id>", form={})
        if status != 302:
            continue
        path = urllib.parse.urlparse(location).path
        prep_id = path.rsplit("/", 1)[-1]
        steps = [("vial", {"scan": vial_scan(serial)}), ("inspection", {"result": "pass"}),
                 ("diluent", {"scan": demo.NACL_SCAN}), ("volume", {"volume": "1.2 mL"}), ("photo/syringe", {}),
                 ("mixing", {}), ("photo/bag", {}), ("sign", {"password": PASSWORD})]
        for step, fields in steps:
            photo = None  # the photos the monograph requires (issue 14 point 4): a drawn picture, one per take
            if step.startswith("photo/"):
                kind = step.split("/")[1]
                photo = {"photo": (f"{kind}.jpg", demo.demo_picture([f"bench {kind}", f"preparation {prep_id}"]), "image/jpeg")}
            _, page, _ = client.request("GET", path, "GET /prep/<id>")
            version = _VERSION.search(page)
            if not version:
                break
            think()
            status, _, _ = client.request("POST", f"{path}/{step}", f"POST /prep/<id>/{step}",
                                          form={**fields, "version": version[1]}, files=photo)
            if status != 302:
                break
        else:
            checks.put(prep_id)


def pharmacist(client: Client, checks: queue.Queue, released: list, deadline: float) -> None:
    while time.monotonic() < deadline and client.count < MAX_REQUESTS_PER_USER:
        think()
        client.request("GET", "/check/", "GET /check/")
        client.request("GET", "/orders/pending", "GET /orders/pending")
        try:
            prep_id = checks.get(timeout=0.2)
        except queue.Empty:
            continue
        _, page, _ = client.request("GET", f"/check/{prep_id}", "GET /check/<id>")
        version = _VERSION.search(page)
        think()
        if version:
            status, _, location = client.request("POST", f"/check/{prep_id}", "POST /check/<id>", form={
                "decision": "released", "password": PASSWORD, "version": version[1], "reason": "",  # the bag in hand (H27)
                "bag_scan": "]C0" + bagid.in_process_code(bagid.bag_serial(int(prep_id)))})
            if status == 302:
                released.append(location.rsplit("/", 1)[-1])


def nurse(client: Client, released: list, deadline: float, seed: int) -> None:
    n = seed
    while time.monotonic() < deadline and client.count < MAX_REQUESTS_PER_USER:
        if not released:
            time.sleep(0.05)
            continue
        serial = released[n % len(released)]
        n += 7
        status, data, _ = client.request("GET", f"/api/v1/bags/{serial}", "GET /api/v1/bags/<serial>")
        patient = json.loads(data).get("patient_id", "") if status == 200 else ""
        client.request("POST", "/api/v1/bedside/check", "POST /api/v1/bedside/check",
                       body={"bag_scan": serial, "patient_scan": patient or "unknown"})
        think()  # a nurse scans, reads the screen, scans again


def auditor(client: Client, deadline: float) -> None:
    while time.monotonic() < deadline and client.count < MAX_REQUESTS_PER_USER:
        client.request("GET", "/api/v1/recall/LOAD1", "GET /api/v1/recall/<lot>")
        time.sleep(0.5)


def device(client: Client, deadline: float) -> None:
    minute = 0
    while time.monotonic() < deadline and client.count < MAX_REQUESTS_PER_USER:
        at = f"2026-01-01T00:{minute % 60:02d}:{minute // 60 % 60:02d}+00:00"
        client.request("POST", "/api/v1/temperatures", "POST /api/v1/temperatures",
                       body={"readings": [{"location": demo.FRIDGE, "time": at, "celsius": 5.0}]})
        minute += 1
        time.sleep(1.0)


class SerialSource:
    """New pack serials for receipts, safe to share between the threads of one process."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.n, self.lock = prefix, 0, threading.Lock()

    def __next__(self) -> str:
        with self.lock:
            self.n += 1
            return f"{self.prefix}{self.n:08d}"


def run_group(name: str, members, port: int, shared, tokens: dict, begin: float, seconds: float):
    """One client process: its people sign in, wait for the common start, work until the deadline."""
    work, vials, checks, released = shared
    stats = Stats()
    serials = SerialSource(f"LR{name[-1]}")
    if name.startswith("techs"):
        clients = [(Client(port, stats), f"tech{n:02d}") for n in members]
    elif name == "pharmacists":
        clients = [(Client(port, stats), f"pharm{n:02d}") for n in members]
    else:
        clients = []
    for client, username in clients:
        client.login(username)
    time.sleep(max(0.0, begin - time.time()))
    deadline = time.monotonic() + seconds
    if name.startswith("techs"):
        threads = [threading.Thread(target=technician, args=(c, work, vials, checks, deadline, serials)) for c, _ in clients]
    elif name == "pharmacists":
        threads = [threading.Thread(target=pharmacist, args=(c, checks, released, deadline)) for c, _ in clients]
    else:
        threads = [threading.Thread(target=nurse, args=(Client(port, stats, tokens["nurses"][n]), released, deadline, n))
                   for n in members]
        threads += [threading.Thread(target=auditor, args=(Client(port, stats, tokens["auditor"]), deadline)),
                    threading.Thread(target=device, args=(Client(port, stats, tokens["device"]), deadline))]
    for thread in threads:
        thread.start()
        time.sleep(random.uniform(0, 2 * THINK) / len(threads))  # people do not all click at the same instant
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return dict(stats.times), stats.errors, dict(stats.refusals)


def prepare_data(pharmacy: base.Pharmacy, orders_wanted: int) -> tuple[list[int], list[str]]:
    demo.seed(pharmacy)
    names = [f"tech{n:02d}" for n in range(TECHS)] + [f"pharm{n:02d}" for n in range(PHARMACISTS)]
    for index, name in enumerate(names):
        users.add_user(pharmacy, None, name, name, "technician" if index < TECHS else "pharmacist", PASSWORD)
    for n in range(NURSES + 2):
        users.add_user(pharmacy, None, f"nurse{n:02d}", f"nurse{n:02d}", "nurse" if n < NURSES else "auditor", PASSWORD)
    vials = [f"LV{n:07d}" for n in range(orders_wanted)]
    for serial in vials:
        stock.receive(pharmacy, "tech", vial_scan(serial).replace("<GS>", GS))
    today = date.today()
    made = []
    for n in range(orders_wanted):
        order = orders.create_order(pharmacy, "tech", orders.PatientDetails(f"L-{n:05d}", f"Load Patient {n}",
                                    date(1980, 1, 1), "Ward L"), "lemtrada", 1, 1, today)
        orders.verify_order(pharmacy, "pharm", order.id, premedication_confirmed=True)
        made.append(order.id)
    return made, vials


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 s instead of 60 s")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads per process")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    args = parser.parse_args()
    seconds = args.seconds or (15 if args.quick else 60)
    instance = Path(tempfile.mkdtemp(prefix="pharmacy-load-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHARMACY_INSTANCE": str(instance), "PHARMACY_DATABASE_URL": args.database_url,
           "PHARMACY_TIMEZONE": "UTC", "PHARMACY_SECRET_KEY": "load-test"}
    settings = config.load(environ=env)
    if args.database_url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(args.database_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    pharmacy = base.build(settings)
    print("seeding …", flush=True)
    order_ids, vial_serials = prepare_data(pharmacy, 150 if args.quick else 400)
    nurse_tokens = [users.create_token(pharmacy, f"nurse{n:02d}", "load") for n in range(NURSES)]
    auditor_token = users.create_token(pharmacy, f"nurse{NURSES:02d}", "load")
    device_token = users.create_token(pharmacy, "tech", "fridge monitor")
    pharmacy.db.dispose()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pharmacy.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--threads", str(args.threads), "--workers", str(args.workers)],
                              env=env, cwd=instance, stdout=subprocess.DEVNULL,
                              stderr=(instance / "server.log").open("w"))
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"the server stopped: see {instance / 'server.log'}") from None
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not answer within 20 s")
        # The simulated people run in four client processes (two of technicians, one of pharmacists,
        # one for the ward, the auditor and the fridge monitor), so that the load generator's own
        # interpreter lock does not add to the latencies it measures.
        manager = multiprocessing.Manager()
        work, vials, checks, released = manager.Queue(), manager.Queue(), manager.Queue(), manager.list()
        for order_id in order_ids:
            work.put(order_id)
        for serial in vial_serials:
            vials.put(serial)
        shared = (work, vials, checks, released)
        tokens = {"nurses": nurse_tokens, "auditor": auditor_token, "device": device_token}
        begin = time.time() + 8  # everyone signs in first, then the measured period starts for all at once
        groups = [("techs-a", range(0, TECHS // 2)), ("techs-b", range(TECHS // 2, TECHS)),
                  ("pharmacists", range(PHARMACISTS)), ("ward", range(NURSES))]
        with concurrent.futures.ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(run_group, name, members, port, shared, tokens, begin, seconds)
                       for name, members in groups]
            stats = Stats()
            for future in futures:
                times, errors, refusals = future.result(timeout=seconds + 180)
                for name, values in times.items():
                    stats.times[name].extend(values)
                stats.errors.extend(errors)
                for name, count in refusals.items():
                    stats.refusals[name] += count
        elapsed = seconds
        released = list(released)
        manager.shutdown()
    finally:
        server.terminate()
        server.wait(timeout=30)
    total = sum(len(v) for v in stats.times.values())
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{kind}, {args.workers} server process(es) × {args.threads} threads:")
    print(f"{TECHS + PHARMACISTS + NURSES + 2} users, {elapsed:.0f} s, {total:,} requests, {total / elapsed:.0f} requests/s, "
          f"{len(released)} bags prepared and released")
    print(f"{'endpoint':38} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  target")
    worst = 0.0
    for name in sorted(stats.times):
        values = stats.times[name]
        p95 = percentile(values, 95)
        target = "(signature: argon2)" if name in SIGNATURES else ("ok" if p95 < 200 else "MISSED p95 < 200 ms")
        if name not in SIGNATURES:
            worst = max(worst, p95)
        print(f"{name:38} {len(values):7} {percentile(values, 50):8.1f} {p95:8.1f} {percentile(values, 99):8.1f}  {target}")
    print(f"errors: {len(stats.errors)}" + (f" (first: {stats.errors[0]})" if stats.errors else ""))
    print(f"refusals (4xx, expected under contention): {dict(stats.refusals)}")
    print(f"worst p95 of screens and scans: {worst:.1f} ms (target < 200 ms: {'ok' if worst < 200 else 'MISSED'})")
    return 0 if not stats.errors and worst < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
