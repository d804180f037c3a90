"""Evidence for the hazard log: ``@pytest.mark.hazard("H7")`` ties a test to a hazard of SAFETY.md,
and ``python -m pytest --safety-report=DIR`` writes, from that very run, the table hazard → tests →
outcome as ``safety-report.md`` and ``safety-report.pdf`` in DIR, so a pharmacy's safety officer can
sign the evidence of the version they install.

A marker naming a hazard that SAFETY.md does not list stops the run before any test (a typo must
not pass for evidence). A hazard with no test, or with a failed or skipped one, is shown as such.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAFETY_MD = ROOT / "SAFETY.md"
_ROW = re.compile(r"^\|\s*(H\d+)\s*\|\s*([^|]+?)\s*\|(.*)\|\s*$")


@dataclass(frozen=True)
class Hazard:
    id: str
    title: str
    status: str  # the last column of the hazard log: "controlled", or "open: …"


def read_hazards(path: Path = SAFETY_MD) -> dict[str, Hazard]:
    """The hazard log's table: rows ``| H7 | title | … | status |``."""
    hazards: dict[str, Hazard] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            status = match[3].rsplit("|", 1)[-1].strip()
            hazards[match[1]] = Hazard(match[1], match[2], status)
    return hazards


@dataclass
class Evidence:
    hazards: dict[str, Hazard]
    tests: dict[str, list[str]] = field(default_factory=dict)  # hazard id → test node ids
    outcomes: dict[str, str] = field(default_factory=dict)  # node id → passed / failed / skipped

    def rows(self) -> list[dict[str, str]]:
        rows = []
        for hazard in self.hazards.values():
            ids = self.tests.get(hazard.id, [])
            results = [self.outcomes.get(node, "not run") for node in ids]
            if not ids:
                verdict = "NO TEST"
            elif all(r == "passed" for r in results):
                verdict = f"all {len(ids)} passed"
            else:
                bad = sum(r != "passed" for r in results)
                verdict = f"{bad} of {len(ids)} NOT PASSED"
            tests = "; ".join(f"{node} — {result}" for node, result in zip(ids, results, strict=True)) or "—"
            rows.append({"hazard": hazard.id, "title": hazard.title, "status": hazard.status, "verdict": verdict,
                         "tests": tests})
        return rows


def _version() -> str:
    from pharmacy import __version__
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10, check=False).stdout.strip()
    except OSError:
        commit = ""
    database = "PostgreSQL" if os.environ.get("PHARMACY_DATABASE_URL", "").startswith("postgresql") else "SQLite"
    return f"pharmacy {__version__}" + (f", commit {commit}" if commit else "") + f", on {database}"


def write_report(evidence: Evidence, folder: Path, now: datetime | None = None) -> tuple[Path, Path]:
    from zoneinfo import ZoneInfo

    from pharmacy.printing.exports import report_pdf

    now = now or datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    rows, version = evidence.rows(), _version()
    lines = [f"# Safety evidence — {version}", "", f"Generated {now.isoformat(timespec='seconds')} from this test run.", "",
             "| hazard | title | status in SAFETY.md | verdict | tests |", "|---|---|---|---|---|"]
    lines += [f"| {r['hazard']} | {r['title']} | {r['status']} | {r['verdict']} | "
              f"{r['tests'].replace('|', '/').replace('; ', '<br>')} |" for r in rows]
    markdown = folder / "safety-report.md"
    markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pdf = folder / "safety-report.pdf"
    # one row per hazard, then one per test (a hazard may have dozens: one cell would not fit a page)
    lines_of_pdf: list[dict[str, str]] = []
    for row in rows:
        lines_of_pdf.append({k: row[k] for k in ("hazard", "title", "status", "verdict")})
        for node in evidence.tests.get(row["hazard"], []):
            lines_of_pdf.append({"hazard": row["hazard"], "test": node, "outcome": evidence.outcomes.get(node, "not run")})
    pdf.write_bytes(report_pdf("Safety evidence: hazard → tests → outcome", version,
                               ["hazard", "title", "status", "verdict", "test", "outcome"], lines_of_pdf,
                               generated_by="pytest --safety-report", generated_at=now, zone=ZoneInfo("UTC"),
                               notes=[f"{len(rows)} hazards of SAFETY.md; each test's outcome is from this run."],
                               shares=[0.6, 2, 1.6, 1.2, 5, 0.8]))
    return markdown, pdf


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--safety-report", metavar="DIR", default=None,
                     help="write safety-report.md and .pdf (hazard → tests → outcome) into DIR")


_RUN: list[Evidence] = []  # this run's evidence (pytest_runtest_logreport receives no config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hazard(*ids): the test proves the control of these SAFETY.md hazards")
    _RUN[:] = [Evidence(read_hazards())]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    evidence = _RUN[0]
    unknown = []
    for item in items:
        for marker in item.iter_markers("hazard"):
            for hazard in marker.args:
                if hazard not in evidence.hazards:
                    unknown.append(f"{item.nodeid}: {hazard}")
                evidence.tests.setdefault(hazard, []).append(item.nodeid)
    if unknown:
        raise pytest.UsageError("hazard markers name hazards SAFETY.md does not list: " + ", ".join(unknown))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcomes = _RUN[0].outcomes
    previous = outcomes.get(report.nodeid)
    if report.failed:
        outcomes[report.nodeid] = "failed"
    elif report.skipped and previous != "failed":
        outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and previous is None:
        outcomes[report.nodeid] = "passed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    folder = session.config.getoption("--safety-report")
    if folder:
        markdown, pdf = write_report(_RUN[0], Path(folder))
        writer = session.config.get_terminal_writer()
        writer.line(f"safety report: {markdown} and {pdf}")
        # a hazard the log calls controlled must have its evidence in this run
        unproven = [h.id for h in _RUN[0].hazards.values() if h.status == "controlled" and not _RUN[0].tests.get(h.id)]
        if unproven and session.config.getoption("--collect-only") is False:
            writer.line(f"safety report: hazards marked controlled without a test: {', '.join(unproven)}", red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
