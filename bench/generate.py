"""Seed a large database for the benchmarks: by default 1,000,000 bags (each with its vial, order,
preparation, label print and, for most, an administration) and 10,000,000 audit entries whose hash
chain verifies. The schema comes from the project's own migrations.

    python bench/generate.py [--bags N] [--audit N] [--out bench/data/bench.sqlite3]

Rows are written with plain executemany (the fastest way in), in the exact form the application
reads them back, so the application's own queries run on it unchanged.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pharmacy.db import audit, migrate  # noqa: E402
from pharmacy.db.database import Database  # noqa: E402
from pharmacy.services.demo import NACL, VIAL_GTIN  # noqa: E402

PER_LOT = 1000
PATIENTS = 100_000
START = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
CHUNK = 50_000


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")  # as UTCDateTime writes it


def lot_of(n: int) -> str:
    return f"L{n // PER_LOT:05d}"


def chunks(total: int):
    for start in range(0, total, CHUNK):
        yield range(start, min(total, start + CHUNK))


def seed(path: Path, bags: int, entries: int) -> None:
    if path.exists():
        path.unlink()
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    t0 = time.perf_counter()
    con.executemany("INSERT INTO users (id, username, full_name, role, password_hash, active, failed_logins, created_at) "
                    "VALUES (?, ?, ?, ?, 'x', 1, 0, ?)",
                    [(i, f"user{i}", f"User {i}", ["technician", "pharmacist", "nurse"][i % 3], ts(START))
                     for i in range(1, 31)])
    con.execute("INSERT INTO products (id, brand, inn) VALUES ('lemtrada', 'LEMTRADA', 'alemtuzumab')")
    con.executemany("INSERT INTO patients (id, identifier, name, date_of_birth, ward) VALUES (?, ?, ?, ?, ?)",
                    [(i, f"P{i:07d}", f"Patient {i}", "1980-01-01", f"Ward {i % 20}") for i in range(1, PATIENTS + 1)])
    con.executemany("INSERT INTO diluent_lots (id, diluent_id, gtin, lot, expiry, received_count, state, received_at) "
                    "VALUES (?, 'sodium-chloride-0.9-100ml', ?, ?, '2030-12-31', 1000, 'received', ?)",
                    [(i, NACL, f"N{i:05d}", ts(START)) for i in range(1, 201)])
    for block in chunks(bags):
        rows = []
        for n in block:
            i = n + 1
            made = START + timedelta(minutes=n)
            rows.append((i, made))
        con.executemany("INSERT INTO vials (id, product_id, gtin, serial, lot, expiry, state, received_at, received_by, "
                        "decommissioned_at, decommission_ref) VALUES (?, 'lemtrada', ?, ?, ?, '2030-06-30', 'used', ?, 1, ?, "
                        "'recorded-locally')",
                        [(i, VIAL_GTIN, f"S{i:09d}", lot_of(i - 1), ts(m), ts(m)) for i, m in rows])
        con.executemany("INSERT INTO orders (id, patient_id, product_id, dose_mg, course, course_day, scheduled_on, urgent, "
                        "state, premedication_confirmed, created_by, created_at, verified_by, verified_at) VALUES "
                        "(?, ?, 'lemtrada', 12.0, 1, 1, ?, 0, 'released', 1, 1, ?, 2, ?)",
                        [(i, (i % PATIENTS) + 1, m.date().isoformat(), ts(m), ts(m)) for i, m in rows])
        con.executemany("INSERT INTO preparations (id, order_id, state, version, vial_id, diluent_lot_id, withdrawn_ml, "
                        "withdrawn_entered, dilution_time, prepared_by, started_at, signed_at, checked_by, checked_at) "
                        "VALUES (?, ?, 'released', 9, ?, ?, 1.2, '1.2 mL', ?, 1, ?, ?, 2, ?)",
                        [(i, i, i, (i % 200) + 1, ts(m), ts(m), ts(m), ts(m)) for i, m in rows])
        con.executemany("INSERT INTO bags (id, serial, batch, preparation_id, state, use_by, released_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(i, f"B{i:09d}", f"P{i}", i, "administered" if i % 10 else "released",
                          ts(m + timedelta(hours=8)), ts(m)) for i, m in rows])
        con.executemany("INSERT INTO label_prints (bag_id, number, stock, destination, user_id, at) "
                        "VALUES (?, 1, 'bag-100x70', 'download', 1, ?)", [(i, ts(m)) for i, m in rows])
        con.executemany("INSERT INTO administrations (bag_id, patient_id, started_at, ended_at, nurse_id) "
                        "VALUES (?, ?, ?, ?, 3)",
                        [(i, (i % PATIENTS) + 1, ts(m + timedelta(hours=1)), ts(m + timedelta(hours=5)))
                         for i, m in rows if i % 10])
        con.commit()
    print(f"{bags:,} bags with their vials, orders, preparations, prints and administrations: "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    previous = audit.GENESIS
    actions = ("stock.receive", "prep.vial", "prep.volume", "bag.release", "label.print", "administration.start")
    for block in chunks(entries):
        rows = []
        for n in block:
            i = n + 1
            at = START + timedelta(seconds=n * 3)
            new = audit.json_text({"state": "x", "n": i})
            stored = ts(at)
            digest = audit.entry_hash(previous, i, audit.canonical_time(stored), f"user{i % 30 + 1}", actions[i % 6],
                                      "bag", str(i % max(bags, 1) + 1), None, new, None)
            rows.append((i, stored, f"user{i % 30 + 1}", actions[i % 6], "bag", str(i % max(bags, 1) + 1),
                         new, previous, digest))
            previous = digest
        con.executemany("INSERT INTO audit_entries (id, at, username, action, object_type, object_id, old, new, reason, "
                        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, ?, ?)", rows)
        con.commit()
    con.execute("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, ?, ?)", (entries, previous))
    con.commit()
    con.execute("ANALYZE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(f"{entries:,} audit entries: {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bags", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "bench.sqlite3")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seed(args.out, args.bags, args.audit)
    print(f"written {args.out} ({args.out.stat().st_size / 1e9:.2f} GB); today is {date.today()}")


if __name__ == "__main__":
    main()
