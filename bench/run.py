"""Run every benchmark and print one table of figures with their targets.

    python bench/run.py [--quick] [--skip-load] [--database-url URL]

- label render vs a bare ReportLab canvas with the same barcodes (bench_label.py);
- `pharmacy --help`/`--version`/`stock list` against a bare interpreter start (cli_start.py);
- recall vs hand-written SQL, bedside scan-to-verdict, audit verification throughput on the seeded
  1,000,000-bag / 10,000,000-entry database (bench_db.py; `python bench/generate.py` makes it first,
  or `--quick` makes a 50,000-bag / 500,000-entry one);
- the 50-user load test against `pharmacy serve` (load.py), printed as it runs.

Every figure is a median of several runs; each ratio's two sides are measured in the same run.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_db  # noqa: E402
import bench_label  # noqa: E402
import cli_start  # noqa: E402
import report  # noqa: E402


def _machine() -> str:
    cores = len(__import__("os").sched_getaffinity(0))
    memory = ""
    try:
        kib = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{platform.processor() or platform.machine()}, {cores} cores{memory}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--database-url", default="", help="run the load test on this database (PostgreSQL)")
    args = parser.parse_args()
    database = bench_db.DEFAULT_DB
    if args.quick:
        database = HERE / "data" / "bench-quick.sqlite3"
        if not database.exists():
            subprocess.run([sys.executable, str(HERE / "generate.py"), "--bags", "50000", "--audit", "500000",
                            "--out", str(database)], check=True)
    rows = bench_label.run(args.quick) + cli_start.run(3 if args.quick else 7) + bench_db.run(args.quick, database)
    print(f"\nmachine: {_machine()}")
    print(f"{'figure':92} {'value':>16}  target")
    for row in rows:
        print(f"{row['name']:92} {report.value_text(row):>16}  {report.verdict_text(row)}")
    ok = all(row["ok"] for row in rows)
    if not args.skip_load:
        command = [sys.executable, str(HERE / "load.py")] + (["--quick"] if args.quick else [])
        if args.database_url:
            command += ["--database-url", args.database_url]
        ok = subprocess.run(command, check=False).returncode == 0 and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
