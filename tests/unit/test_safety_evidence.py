"""The hazard log's evidence: SAFETY.md is read as a table, and the safety report lists every hazard
with each of its tests and the outcome of this run, as Markdown and as a PDF read back here."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from tests.safety_plugin import SAFETY_MD, Evidence, Hazard, read_hazards, write_report


def test_the_hazard_log_lists_unique_hazards_each_with_a_status():
    hazards = read_hazards()
    assert len(hazards) >= 17 and list(hazards) == [f"H{n}" for n in range(1, len(hazards) + 1)]
    assert all(h.status == "controlled" or h.status.startswith("open: ") for h in hazards.values())
    assert hazards["H1"].title == "Wrong diluent" and SAFETY_MD.name == "SAFETY.md"


def test_the_report_shows_each_hazard_with_its_tests_and_their_outcome(tmp_path):
    evidence = Evidence({"H1": Hazard("H1", "Wrong diluent", "controlled"), "H2": Hazard("H2", "Wrong volume", "open: 9"),
                         "H3": Hazard("H3", "Wrong product", "controlled")})
    evidence.tests = {"H1": ["tests/a.py::test_one", "tests/a.py::test_two"], "H2": ["tests/b.py::test_three"]}
    evidence.outcomes = {"tests/a.py::test_one": "passed", "tests/a.py::test_two": "passed", "tests/b.py::test_three": "failed"}
    rows = {r["hazard"]: r for r in evidence.rows()}
    assert rows["H1"]["verdict"] == "all 2 passed"
    assert rows["H2"]["verdict"] == "1 of 1 NOT PASSED" and "test_three — failed" in rows["H2"]["tests"]
    assert rows["H3"]["verdict"] == "NO TEST"
    markdown, pdf = write_report(evidence, tmp_path, now=datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    text = markdown.read_text(encoding="utf-8")
    assert "| H1 | Wrong diluent | controlled | all 2 passed | tests/a.py::test_one — passed<br>" in text
    assert "| H3 | Wrong product | controlled | NO TEST | — |" in text
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Safety evidence" in pages and "NO TEST" in pages and "1 of 1 NOT PASSED" in pages
    assert "tests/b.py::test_three" in pages and "failed" in pages


def test_a_hazard_with_a_hundred_tests_still_makes_a_readable_pdf(tmp_path):
    evidence = Evidence({"H1": Hazard("H1", "Wrong diluent", "controlled")})
    evidence.tests = {"H1": [f"tests/unit/test_many.py::test_case_{n}" for n in range(100)]}
    evidence.outcomes = dict.fromkeys(evidence.tests["H1"], "passed")
    _markdown, pdf = write_report(evidence, tmp_path)
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) > 1 and "test_case_99" in "".join(page.extract_text() for page in reader.pages)
