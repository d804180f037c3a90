"""The screens under load (issue 18): locust against `pharmacy serve`, and each screen's server CPU time per request
against the framework's floor. Run through bench/run.py:

    python bench/run.py --locust [--workers 2 4] [--run-time 60] [--users 50] [--database-url URL]
    python bench/run.py --screen-cpu [--requests 200] [--database-url URL]

``--locust``: a fresh pharmacy seeded as bench/load.py seeds it, `pharmacy serve --workers N --threads 4` on
127.0.0.1, bench/locustfile.py run headless (the users and the measured time bounded), p50/p95 per screen and
API call, requests per second and errors read from locust's CSV statistics. Target: p95 < 150 ms on SQLite,
< 200 ms on PostgreSQL, for every screen and call but the argon2 signatures; no error.

``--screen-cpu``: the demo pharmacy served by `pharmacy serve --workers 1 --threads 4`, and a bare Flask + Jinja
page of the same size (bench/floor_app.py) served by the same waitress in the same run. Each screen is asked a
fixed number of times, one request after the other; the server's CPU time (every thread's, from
/proc/<pid>/task/*/schedstat, in nanoseconds) over those requests divided by their number is its cost per
request. Target: at most 5× the bare page's.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import load  # noqa: E402  (the data, users and server start of bench/load.py)

SIGNATURES = load.SIGNATURES
CPU_TARGET = 5.0


def _environment(instance: Path, database_url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PHARMACY_INSTANCE": str(instance), "PHARMACY_DATABASE_URL": database_url,
            "PHARMACY_TIMEZONE": "UTC", "PHARMACY_SECRET_KEY": "bench-web"}


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _pharmacy(env: dict[str, str]):
    from pharmacy import config
    from pharmacy.services import base

    if env["PHARMACY_DATABASE_URL"].startswith("postgresql"):
        _empty_postgres(env["PHARMACY_DATABASE_URL"])
    return base.build(config.load(environ=env))


def _wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server stopped: see {log}") from None
            time.sleep(0.1)
    raise SystemExit("the server did not answer within 30 s")


def serve(env: dict[str, str], instance: Path, workers: int, threads: int = 4) -> tuple[subprocess.Popen, int]:
    """`pharmacy serve` on 127.0.0.1 and a free port, started and answering."""
    port = load.free_port()
    log = instance / f"server-{port}.log"
    server = subprocess.Popen([sys.executable, "-m", "pharmacy.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--threads", str(threads), "--workers", str(workers)],
                              env=env, cwd=instance, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    _wait_for(port, server, log)
    return server, port


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# --- locust ---------------------------------------------------------------------------------------------------------


def run_locust(workers: int, seconds: float, users: int = 50, database_url: str = "", quick: bool = False,
               threads: int = 4) -> bool:
    """One locust run against `pharmacy serve --workers N --threads T`; prints its table; True when on target."""
    from pharmacy.services import demo
    from pharmacy.services import users as user_service

    instance = Path(tempfile.mkdtemp(prefix="pharmacy-locust-"))
    env = _environment(instance, database_url)
    pharmacy = _pharmacy(env)
    print(f"seeding ({'PostgreSQL' if database_url else 'SQLite'}, {workers} workers) …", flush=True)
    order_ids, vial_serials = load.prepare_data(pharmacy, 150 if quick else 400)
    data = {
        "password": load.PASSWORD, "vial_gtin": demo.VIAL_GTIN, "nacl_scan": demo.NACL_SCAN, "fridge": demo.FRIDGE,
        "orders": order_ids, "vials": vial_serials, "released": ["BAG0000001"],  # the demo's released bag
        "nurse_tokens": [user_service.create_token(pharmacy, f"nurse{n:02d}", "locust") for n in range(load.NURSES)],
        "auditor_token": user_service.create_token(pharmacy, f"nurse{load.NURSES:02d}", "locust"),
        "device_token": user_service.create_token(pharmacy, "tech", "fridge monitor"),
        "usernames": {"auditor": f"nurse{load.NURSES:02d}"},  # bench/load.py's auditor
    }
    pharmacy.db.dispose()
    data_file, prefix = instance / "locust-data.json", instance / "locust"
    data_file.write_text(json.dumps(data), encoding="utf-8")
    server, port = serve(env, instance, workers, threads)
    try:
        command = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(users),
                   "-r", str(users), "--run-time", f"{int(seconds) + 180}s", "--stop-timeout", "15",
                   "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
        locust_env = {**env, "PHARMACY_LOCUST_DATA": str(data_file), "PHARMACY_LOCUST_SECONDS": str(seconds),
                      "PHARMACY_LOCUST_REFUSALS": str(instance / "locust-refusals.json")}
        load_before = _load_average()
        subprocess.run(command, env=locust_env, cwd=instance, check=False, timeout=seconds + 300,
                       stdout=subprocess.DEVNULL, stderr=(instance / "locust.log").open("w"))
    finally:
        stop(server)
    return report_locust(prefix, instance, workers, users, seconds, target=200.0 if database_url else 150.0,
                         kind="PostgreSQL" if database_url else "SQLite", load_before=load_before, threads=threads)


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def report_locust(prefix: Path, instance: Path, workers: int, users: int, seconds: float, target: float, kind: str,
                  load_before: str = "?", threads: int = 4) -> bool:
    try:
        rows = read_stats(prefix)
    except FileNotFoundError:
        print(f"locust wrote no statistics: see {instance / 'locust.log'}")
        return False
    extra = instance / "locust-refusals.json"
    details = json.loads(extra.read_text(encoding="utf-8")) if extra.exists() else {}
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    print(f"\nlocust, {kind}, {workers} server process(es) × {threads} threads, {users} users, {seconds:.0f} s measured, "
          f"{os.cpu_count()} cores (the client on the same ones), load average before: {load_before}, after: {_load_average()}")
    if total:
        print(f"{int(total['Request Count']):,} requests, {float(total['Requests/s']):.0f} requests/s, "
              f"{int(total['Failure Count'])} errors, {details.get('released', '?')} bags prepared and released")
    print(f"{'screen or call':38} {'count':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  target p95 < {target:.0f} ms")
    worst, ok = 0.0, True
    for row in rows:
        if row["Name"] == "Aggregated" or not int(row["Request Count"]):
            continue  # a sign-in, before the measured period
        name = f"{row['Type']} {row['Name'].removeprefix(row['Type'] + ' ')}"
        p95 = _ms(row["95%"])
        if name in SIGNATURES:
            verdict = "(signature: argon2)"
        else:
            worst = max(worst, p95)
            verdict = "ok" if p95 < target else "MISSED"
            ok = ok and p95 < target
        print(f"{name:38} {int(row['Request Count']):7} {_ms(row['50%']):7.0f} {p95:7.0f} {_ms(row['99%']):7.0f}  "
              f"{verdict}")
    failures = int(total["Failure Count"]) if total else 0
    print(f"errors: {failures}" + (f" (see {prefix}_failures.csv)" if failures else ""))
    print(f"refusals (4xx, expected under contention): {details.get('refusals', {})}")
    print(f"worst p95 of screens and calls: {worst:.0f} ms (target < {target:.0f} ms: {'ok' if ok else 'MISSED'})")
    report_server_cpu(instance)
    return ok and failures == 0


def report_server_cpu(instance: Path) -> None:
    """Where the server's CPU went during the run, read from its request log (``cpu_ms``: the serving thread's CPU
    time, sign-ins included): the routes that cost most in total first; on SQLite, each route's time waiting for
    the one writer and holding it (``lock_wait_ms``, ``lock_ms``, db/writelock.py), against the CPU it spent."""
    routes: dict[str, list[tuple[float, float, float]]] = {}
    for log in instance.glob("server-*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            _, found, entry = line.partition(" pharmacy.requests ")
            if found and entry.startswith("{"):
                data = json.loads(entry)
                routes.setdefault(f"{data['method']} {data['route']}", []).append(
                    (float(data.get("cpu_ms") or 0), float(data.get("lock_wait_ms") or 0), float(data.get("lock_ms") or 0)))
    spent = sum(cpu for values in routes.values() for cpu, _, _ in values)
    if not spent:
        return
    held = sum(lock for values in routes.values() for _, _, lock in values)
    print(f"server CPU by route (the request log's cpu_ms; {spent / 1000:.1f} s in all; "
          f"the write lock held {held / 1000:.1f} s in all):")
    print(f"{'route':45} {'count':>7} {'mean ms':>8} {'share':>6} {'lock wait':>9} {'p95':>6} {'held':>6}")
    for route, values in sorted(routes.items(), key=lambda item: -sum(cpu for cpu, _, _ in item[1]))[:20]:
        waits = sorted(wait for _, wait, _ in values)
        print(f"{route:45} {len(values):7} {sum(cpu for cpu, _, _ in values) / len(values):8.2f} "
              f"{sum(cpu for cpu, _, _ in values) / spent:6.1%} {waits[len(waits) // 2]:9.1f} "
              f"{waits[int(len(waits) * 0.95)]:6.1f} {sum(lock for _, _, lock in values) / len(values):6.1f}")


def _ms(value: str) -> float:
    """A percentile cell of locust's CSV ("N/A" where nothing was measured)."""
    try:
        return float(value)
    except ValueError:
        return 0.0


def _load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


# --- CPU per request ------------------------------------------------------------------------------------------------


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of the process so far, in nanoseconds (Linux's schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


class Connection:
    """One keep-alive connection; a session cookie and the last CSRF token; a bearer token for the API."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port, self.token, self.cookie, self.csrf = port, token, "", ""
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method: str, path: str, form: dict | None = None, body: dict | None = None) -> tuple[int, bytes]:
        import urllib.parse

        headers = {"Cookie": self.cookie} if self.cookie else {}
        payload = None
        if form is not None:
            payload = urllib.parse.urlencode({**form, "csrf_token": self.csrf})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            self.http.request(method, path, payload, headers)
            response = self.http.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # waitress closed it after 120 s idle: once more
            self.http.close()
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.http.request(method, path, payload, headers)
            response = self.http.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        match = load._CSRF.search(data.decode("utf-8", "replace"))
        if match:
            self.csrf = match[1]
        return response.status, data

    def sign_in(self, username: str, password: str) -> None:
        self.send("GET", "/login")
        status, _ = self.send("POST", "/login", form={"username": username, "password": password})
        if status != 302:
            raise SystemExit(f"{username} could not sign in (HTTP {status})")
        self.send("GET", "/")


def demo_screens(pharmacy) -> tuple[dict, dict]:
    """The demo, with one preparation under way: (ids the screens need, API tokens)."""
    from sqlalchemy import select

    from pharmacy.db.models import Order
    from pharmacy.domain.lifecycle import OrderState
    from pharmacy.services import demo, preparation
    from pharmacy.services import users as user_service

    demo.seed(pharmacy)
    with pharmacy.uow(readonly=True) as uow:
        order_id = uow.session.execute(select(Order.id).where(Order.state == OrderState.VERIFIED).order_by(Order.id)).scalars().first()
    prep = preparation.start(pharmacy, "tech", order_id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, demo.vial_scan("DEMO000000003"))
    signed = 2  # the demo's second preparation waits for its check
    return {"prep": prep.id, "check": signed, "bag": "BAG0000001"}, {"nurse": user_service.create_token(pharmacy, "nurse", "bench")}


def screen_requests(ids: dict) -> list[tuple[str, str, str, str, dict | None]]:
    """(name, who, method, path, JSON body): the main screens and API calls."""
    bag = ids["bag"]
    return [
        ("GET /worklist", "tech", "GET", "/worklist", None),
        ("GET /dashboard", "tech", "GET", "/dashboard", None),
        ("GET /bags/", "tech", "GET", "/bags/", None),
        ("GET /bags/<serial>", "tech", "GET", f"/bags/{bag}", None),
        ("GET /prep/<id>", "tech", "GET", f"/prep/{ids['prep']}", None),
        ("GET /stock/", "tech", "GET", "/stock/", None),
        ("GET /check/", "pharm", "GET", "/check/", None),
        ("GET /check/<id>", "pharm", "GET", f"/check/{ids['check']}", None),
        ("GET /orders/pending", "pharm", "GET", "/orders/pending", None),
        ("GET /trace/bags/<serial>", "pharm", "GET", f"/trace/bags/{bag}", None),
        ("GET /trace/recall", "pharm", "GET", "/trace/recall?lot=K123A", None),
        ("GET /api/v1/bags/<serial>", "nurse", "GET", f"/api/v1/bags/{bag}", None),
        ("POST /api/v1/bedside/check", "nurse", "POST", "/api/v1/bedside/check", {"bag_scan": bag, "patient_scan": "P-1002"}),
    ]


def _per_request(pid: int, ask, count: int) -> float:
    """Milliseconds of the server's CPU per request over ``count`` requests (after 20 not counted)."""
    for _ in range(20):
        ask()
    before = cpu_ns(pid)
    for _ in range(count):
        ask()
    return (cpu_ns(pid) - before) / count / 1e6


def screen_cpu(requests: int = 200, database_url: str = "", rounds: int = 3) -> list[dict]:
    """Each screen's server CPU per request, and the bare Flask + Jinja page of the same size's, in the same run."""
    from pharmacy.services import demo

    instance = Path(tempfile.mkdtemp(prefix="pharmacy-cpu-"))
    env = _environment(instance, database_url)
    pharmacy = _pharmacy(env)
    ids, tokens = demo_screens(pharmacy)
    pharmacy.db.dispose()
    passwords = {name: password for name, _, _, password in demo.USERS}
    server, port = serve(env, instance, workers=1)
    floor_port = load.free_port()
    floor_log = instance / "floor.log"
    floor = subprocess.Popen([sys.executable, str(HERE / "floor_app.py"), str(floor_port)], env=env, cwd=instance,
                             stdout=subprocess.DEVNULL, stderr=floor_log.open("w"))
    rows = []
    try:
        _wait_for(floor_port, floor, floor_log)
        people = {"tech": Connection(port), "pharm": Connection(port), "nurse": Connection(port, tokens["nurse"])}
        people["tech"].sign_in("tech", passwords["tech"])
        people["pharm"].sign_in("pharm", passwords["pharm"])
        bare = Connection(floor_port)
        for name, who, method, path, body in screen_requests(ids):
            client = people[who]
            status, page = client.send(method, path, body=body)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}")
            size = len(page)
            kind = "json" if path.startswith("/api/") else "html"
            floor_bytes = len(bare.send("GET", f"/{kind}?bytes={size}")[1])
            screen, floor_cost = [], []
            for _ in range(rounds):  # alternated, so that a neighbour's burst weighs on both alike
                screen.append(_per_request(server.pid, lambda c=client, m=method, p=path, b=body: c.send(m, p, body=b), requests))
                floor_cost.append(_per_request(floor.pid, lambda s=size, k=kind: bare.send("GET", f"/{k}?bytes={s}"), requests))
            rows.append({"name": name, "bytes": size, "floor_bytes": floor_bytes, "ms": statistics.median(screen),
                         "floor_ms": statistics.median(floor_cost)})
    finally:
        stop(server)
        stop(floor)
    return rows


def report_cpu(rows: list[dict], requests: int) -> bool:
    print(f"\nserver CPU per request ({requests} requests a screen, median of 3 rounds, load average: {_load_average()}), "
          "against a bare Flask + Jinja page of the same size on the same waitress")
    print(f"{'screen or call':34} {'bytes':>7} {'CPU ms':>7} {'bare ms':>8} {'(bytes)':>8} {'ratio':>6}  target ≤ {CPU_TARGET:.0f}×")
    ok = True
    for row in rows:
        ratio = row["ms"] / row["floor_ms"] if row["floor_ms"] else float("inf")
        ok = ok and ratio <= CPU_TARGET
        print(f"{row['name']:34} {row['bytes']:7} {row['ms']:7.2f} {row['floor_ms']:8.2f} {row['floor_bytes']:8} {ratio:5.1f}×  "
              f"{'ok' if ratio <= CPU_TARGET else 'MISSED'}")
    return ok
