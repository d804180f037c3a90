"""Run every benchmark and print one table of figures with their targets.

    python bench/run.py [--quick] [--skip-load] [--database-url URL]
    python bench/run.py --locust [--workers 2 4] [--run-time 60] [--users 50] [--database-url URL]
    python bench/run.py --screen-cpu [--requests 200] [--database-url URL]

- label render vs a bare ReportLab canvas with the same barcodes (bench_label.py);
- `pharmacy --help`/`--version`/`stock list` against a bare interpreter start (cli_start.py);
- recall vs hand-written SQL, bedside scan-to-verdict, audit verification throughput on the seeded
  1,000,000-bag / 10,000,000-entry database (bench_db.py; `python bench/generate.py` makes it first,
  or `--quick` makes a 50,000-bag / 500,000-entry one);
- each main screen's and API call's server CPU time per request against a bare Flask + Jinja page of the same
  size on the same waitress (bench_web.py; `--screen-cpu` alone);
- the 50-user load test against `pharmacy serve` (load.py), printed as it runs; `--locust` runs the same day's mix
  with locust instead (bench/locustfile.py, through bench_web.py), once per `--workers` count.

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
import bench_web  # noqa: E402
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
    parser.add_argument("--locust", action="store_true", help="only the locust runs (bench/locustfile.py)")
    parser.add_argument("--screen-cpu", action="store_true", help="only the screens' CPU time against the bare page")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4], help="server processes, one locust run each")
    parser.add_argument("--threads", type=int, default=4, help="threads of each server process (locust runs)")
    parser.add_argument("--run-time", type=float, default=60, help="seconds measured per locust run")
    parser.add_argument("--users", type=int, default=50, help="locust users (the mix is written for 50)")
    parser.add_argument("--requests", type=int, default=200, help="requests per screen for --screen-cpu")
    args = parser.parse_args()
    if args.locust or args.screen_cpu:
        ok = True
        if args.screen_cpu:
            ok = bench_web.report_cpu(bench_web.screen_cpu(args.requests, args.database_url), args.requests) and ok
        for workers in args.workers if args.locust else []:
            ok = bench_web.run_locust(workers, args.run_time, args.users, args.database_url, args.quick,
                                      args.threads) and ok
        return 0 if ok else 1
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
    ok = bench_web.report_cpu(bench_web.screen_cpu(args.requests, args.database_url), args.requests) and ok
    if not args.skip_load:
        command = [sys.executable, str(HERE / "load.py")] + (["--quick"] if args.quick else [])
        if args.database_url:
            command += ["--database-url", args.database_url]
        ok = subprocess.run(command, check=False).returncode == 0 and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
