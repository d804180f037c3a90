"""How long one bag label takes to render, next to a bare ReportLab canvas that draws only the
same two barcodes (target: the label at most 2x that).

    python bench/bench_label.py [--quick]

Both are measured in the same run, interleaved, on a different bag each time (serial, batch,
patient and use-by change, as they do on a real print run) with the encoding caches emptied
before every render, so neither side is timed on cached work. The bare canvas is made the way
the label's is (``new_canvas``) and draws the same symbols with their human-readable lines,
which GS1 counts as part of the barcode; a second, informational figure leaves those lines out.
``run(quick)`` returns the rows for a collecting script (bench/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from reportlab.lib.units import mm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: its sample label lives with the tests (tests/label_samples.py)

from pharmacy.domain.gs1 import element_string, human_readable  # noqa: E402
from pharmacy.printing import barcodes, fonts  # noqa: E402
from pharmacy.printing.label import LabelData, label_pairs, linear_pairs, new_canvas, render_label  # noqa: E402
from pharmacy.printing.stocks import LabelStock, load_stock  # noqa: E402
from tests.label_samples import SAMPLE_GSRN, sample_label  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

TARGET = 2.0
STOCKS = ("bag-100x70", "thermal-4x6")
BASE = sample_label(patient_ai="8018", patient_ai_value=SAMPLE_GSRN)


def bag(i: int) -> LabelData:
    return replace(
        BASE, bag_serial=f"B{i:08d}", batch=f"P26031{i:05d}", patient_name=f"Patient Number {i}",
        patient_id=f"P{i:07d}", use_by=BASE.use_by + dt.timedelta(minutes=i),
    )


def bare(data: LabelData, stock: LabelStock, with_text: bool) -> bytes:
    """The two symbols of the label, and (``with_text``) their human-readable lines, nothing else."""
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, stock)
    pairs, linear = label_pairs(data), linear_pairs(data, stock)
    module = barcodes.module_mm(0.5, stock.dot_mm) * mm
    barcodes.draw_datamatrix(canvas, barcodes.datamatrix(element_string(pairs)), 60 * mm, 30 * mm, module)
    bars = barcodes.gs1_128(element_string(linear))
    barcodes.draw_bars(canvas, bars, 5 * mm, 8 * mm, barcodes.module_mm(0.25, stock.dot_mm) * mm, 8 * mm)
    if with_text:
        canvas.setFont(fonts.REGULAR, 6)
        for line, (ai, value) in enumerate(pairs):
            canvas.drawString(60 * mm, 27 * mm - line * 7.2, f"({ai}){value}")
        canvas.drawCentredString(50 * mm, 4 * mm, human_readable(linear))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _timed(render, *args) -> float:
    barcodes.datamatrix.cache_clear()
    barcodes.gs1_128.cache_clear()
    start = time.perf_counter()
    render(*args)
    return time.perf_counter() - start


def measure(stock: LabelStock, runs: int) -> dict[str, float]:
    """Median milliseconds of each way of drawing, interleaved bag by bag."""
    render_label(bag(-1), stock)  # fonts registered and parsed once per process, as in the server
    times: dict[str, list[float]] = {"label": [], "barcodes": [], "bars": []}
    for i in range(runs):
        data = bag(i)
        times["label"].append(_timed(render_label, data, stock))
        times["barcodes"].append(_timed(bare, data, stock, True))
        times["bars"].append(_timed(bare, data, stock, False))
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def run(quick: bool = False) -> list[dict]:
    runs = 40 if quick else 300
    rows = []
    for name in STOCKS:
        medians = measure(load_stock(name), runs)
        ratio = medians["label"] / medians["barcodes"]
        rows += [
            {"name": f"label render, {name} (median of {runs})", "value": round(medians["label"], 3),
             "unit": "ms", "target": None, "ok": True},
            {"name": f"bare canvas with the same two barcodes and their text, {name}",
             "value": round(medians["barcodes"], 3), "unit": "ms", "target": None, "ok": True},
            {"name": f"bare canvas with the bars and modules only, {name}", "value": round(medians["bars"], 3),
             "unit": "ms", "target": None, "ok": True},
            {"name": f"label / same two barcodes, {name}", "value": round(ratio, 2), "unit": "x",
             "target": f"≤ {TARGET:g}x", "ok": ratio <= TARGET},
            {"name": f"label / bars and modules only, {name} (information)",
             "value": round(medians["label"] / medians["bars"], 2), "unit": "x", "target": None, "ok": True},
        ]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 runs per figure instead of 300")
    rows = run(parser.parse_args().quick)
    return report.print_rows(rows)


if __name__ == "__main__":
    raise SystemExit(main())
