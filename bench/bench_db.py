"""Database benchmarks on the seeded data set (bench/generate.py):

- recall of one vial lot through the application (services.trace.recall) next to the same rows
  fetched by a hand-written SQL query on the same database (target ratio ≤ 2x, well under 1 s);
- scan-to-verdict at the bedside (services.administration.bedside_check, label scan + wristband),
  server side (target median ≤ 20 ms);
- audit chain verification throughput (services.setup.verify_audit; target ≥ 100,000 entries/s);
- ``pharmacy audit verify`` against its anchors (services.audit_check, issue 13): the full walk, then
  ``--since-checkpoint`` after 1,000 new entries (each its own commit and anchor; they stay in the
  database, whose chain still verifies), chain and anchors only, and the state replay of a full run
  (on generated rows the trail does not explain: the time counts, the findings do not).

    python bench/bench_db.py [--quick] [--db bench/data/bench.sqlite3]

Every figure is a median of several runs; the two sides of a ratio are measured in the same run,
interleaved.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pharmacy import config  # noqa: E402
from pharmacy.domain.gs1 import GS  # noqa: E402
from pharmacy.services import administration, base, setup, trace  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

DEFAULT_DB = ROOT / "bench" / "data" / "bench.sqlite3"
HAND_SQL = """
SELECT b.serial, b.batch, b.state, b.use_by, p.identifier, p.name, p.ward, v.lot, v.serial, d.lot,
       (SELECT count(*) FROM label_prints lp WHERE lp.bag_id = b.id), a.started_at, a.ended_at
FROM vials v
JOIN preparations pr ON pr.vial_id = v.id
JOIN bags b ON b.preparation_id = pr.id
JOIN orders o ON o.id = pr.order_id
JOIN patients p ON p.id = o.patient_id
JOIN diluent_lots d ON d.id = pr.diluent_lot_id
LEFT JOIN administrations a ON a.bag_id = b.id
WHERE v.lot = ?
ORDER BY b.serial
"""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _pharmacy(db: Path) -> base.Pharmacy:
    settings = config.load({"instance": Path(tempfile.mkdtemp()), "database_url": f"sqlite:///{db}",
                            "timezone": "Europe/Brussels"}, environ={})
    return base.build(settings)


def recall(pharmacy, db: Path, runs: int) -> list[dict]:
    raw = sqlite3.connect(db)
    lots = [row[0] for row in raw.execute("SELECT DISTINCT lot FROM vials ORDER BY lot LIMIT 400")]
    app_times, sql_times = [], []
    for index in range(runs):
        lot = lots[(index * 37) % len(lots)]
        raw.execute(HAND_SQL, (lot,)).fetchall()  # the lot's pages into the cache, so neither side pays the disk
        timings = {}
        for side in (("app", "sql") if index % 2 else ("sql", "app")):  # alternate who goes first
            start = time.perf_counter()
            if side == "app":
                rows = trace.recall(pharmacy, lot)
            else:
                hand = raw.execute(HAND_SQL, (lot,)).fetchall()
            timings[side] = time.perf_counter() - start
        app_times.append(timings["app"])
        sql_times.append(timings["sql"])
        if [r["bag_serial"] for r in rows] != [h[0] for h in hand]:
            raise SystemExit(f"recall of {lot}: the application and the hand-written SQL disagree")
    raw.close()
    app, sql = _median_ms(app_times), _median_ms(sql_times)
    return [
        {"name": f"recall of one vial lot ({len(rows)} bags), application (median of {runs})", "value": app,
         "unit": "ms", "target": "< 1000 ms", "ok": app < 1000},
        {"name": "recall of one vial lot, hand-written SQL", "value": sql, "unit": "ms", "target": None, "ok": True},
        {"name": "recall, application / hand-written SQL", "value": app / sql, "unit": "x", "target": "≤ 2x",
         "ok": app / sql <= 2},
    ]


def bedside(pharmacy, db: Path, runs: int) -> list[dict]:
    raw = sqlite3.connect(db)
    total = raw.execute("SELECT max(id) FROM bags").fetchone()[0]
    nurse = raw.execute("SELECT username FROM users WHERE role = 'nurse' LIMIT 1").fetchone()[0]
    raw.close()
    gtin = pharmacy.product("lemtrada").preparation_gtin
    times = []
    for index in range(runs):
        n = (index * 7919) % total + 1
        scan = f"]d201{gtin}10P{n}{GS}70032611221800{GS}21B{n:09d}"
        wristband = f"P{(n % 100_000) + 1:07d}"
        start = time.perf_counter()
        verdict = administration.bedside_check(pharmacy, nurse, scan, wristband)
        times.append(time.perf_counter() - start)
        if verdict.serial != f"B{n:09d}":
            raise SystemExit("bedside check answered for another bag")
    median = _median_ms(times)
    return [{"name": f"bedside scan-to-verdict on {total:,} bags, server side (median of {runs})", "value": median,
             "unit": "ms", "target": "≤ 20 ms", "ok": median <= 20}]


def verification(pharmacy, runs: int) -> list[dict]:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        result = setup.verify_audit(pharmacy)
        rates.append(result.checked / (time.perf_counter() - start))
        if not result.ok:
            raise SystemExit(f"the seeded audit chain does not verify: {result.problem}")
    rate = statistics.median(rates)
    return [{"name": f"audit chain verification, {result.checked:,} entries (median of {runs})", "value": rate,
             "unit": "entries/s", "target": "≥ 100,000 entries/s", "ok": rate >= 100_000}]


def anchored(pharmacy, db: Path, added: int = 1000) -> list[dict]:
    from pharmacy.db import audit
    from pharmacy.services import audit_check

    with tempfile.TemporaryDirectory() as folder:
        settings = config.load({"instance": Path(folder), "database_url": f"sqlite:///{db}", "timezone": "UTC"},
                               environ={})
        anchored_pharmacy = base.build(settings)
        try:
            audit_check.adopt(anchored_pharmacy)
            start = time.perf_counter()
            full = audit_check.verify(anchored_pharmacy, full=True, replay_state=False)
            full_s = time.perf_counter() - start
            for n in range(added):
                with anchored_pharmacy.uow() as uow:
                    audit.append(uow.session, "bench", "bench.incremental", "bench", n, new={"n": n})
                    uow.commit()
            start = time.perf_counter()
            since = audit_check.verify(anchored_pharmacy, full=False, replay_state=False)
            since_s = time.perf_counter() - start
            start = time.perf_counter()
            replayed = audit_check.verify(anchored_pharmacy, full=True, checkpoint=False)
            replay_s = time.perf_counter() - start
        finally:
            anchored_pharmacy.db.dispose()
    if not (full.ok and since.ok and since.chain.checked == added):
        raise SystemExit(f"the anchored chain does not verify: {full.problems or since.problems}")
    entries = full.chain.end
    return [
        {"name": f"audit verify --full, chain + anchors, {entries:,} entries", "value": full_s, "unit": "s",
         "target": None, "ok": True},
        {"name": f"audit verify --since-checkpoint after {added:,} new entries and anchors", "value": since_s,
         "unit": "s", "target": "< 1 s", "ok": since_s < 1},
        {"name": f"audit verify --full with the state replay ({sum(replayed.replayed.values()):,} rows)",
         "value": replay_s, "unit": "s", "target": None, "ok": True},
    ]


def run(quick: bool = False, db: Path = DEFAULT_DB) -> list[dict]:
    if not db.exists():
        raise SystemExit(f"{db} does not exist: run python bench/generate.py first")
    pharmacy = _pharmacy(db)
    try:
        return (recall(pharmacy, db, 5 if quick else 21) + bedside(pharmacy, db, 30 if quick else 201)
                + verification(pharmacy, 1 if quick else 3) + anchored(pharmacy, db))
    finally:
        pharmacy.db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    args = parser.parse_args()
    rows = run(args.quick, args.db)
    return report.print_rows(rows)


if __name__ == "__main__":
    sys.exit(main())
