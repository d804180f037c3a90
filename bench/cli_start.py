"""How fast the `pharmacy` command answers (issue 16): `--help` and `--version` against a bare interpreter
start, and `pharmacy stock list` on a demo database, each the median of several runs in fresh processes.

    python bench/cli_start.py [--runs N]

Targets: --help and --version ≤ 0.3 s, `stock list` on the demo database ≤ 0.8 s (a 2-core machine).
The command imports the services only when a command needs the pharmacy (pharmacy/cli.py, `_Lazy`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402

CPU: dict[tuple[str, ...], float] = {}  # the median CPU time (user + system) of each command, beside its wall time


def _seconds(command: list[str], env: dict[str, str], runs: int) -> float:
    """The median wall time; the median CPU time goes to ``CPU`` (on a machine shared with other work the
    wall time mostly measures the wait for a core, the CPU time what the command itself costs)."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    CPU[tuple(command)] = statistics.median(cpu)
    return statistics.median(times)


def run(runs: int = 7) -> list[dict]:
    pharmacy = shutil.which("pharmacy") or sys.exit("the pharmacy command is not installed (pip install -e .)")
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PHARMACY_INSTANCE": folder, "PHARMACY_DATABASE_URL": "", "PHARMACY_TIMEZONE": "Europe/Brussels"}
        subprocess.run([pharmacy, "demo"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare = _seconds([sys.executable, "-c", "pass"], env, runs)
        figures = [("python -c pass (a bare interpreter start)", bare, None, ""),
                   ("  its CPU time", CPU[(sys.executable, "-c", "pass")], None, "")]
        for name, args, limit in (("pharmacy --help", ["--help"], 0.3), ("pharmacy --version", ["--version"], 0.3),
                                  ("pharmacy stock list (demo database)", ["stock", "list"], 0.8)):
            figures.append((name, _seconds([pharmacy, *args], env, runs), limit, f"≤ {limit} s"))
            figures.append(("  its CPU time", CPU[(pharmacy, *args)], None, ""))
    return [{"name": name, "value": value, "unit": "s", "target": target, "ok": limit is None or value <= limit}
            for name, value, limit, target in figures]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    return report.print_rows(run(parser.parse_args().runs))


if __name__ == "__main__":
    sys.exit(main())
