"""The framework's floor (issue 18): a bare Flask + Jinja page (or JSON answer) of a given size, served by the same
waitress as `pharmacy serve` (4 threads). bench/bench_web.py measures each screen's CPU time against it.

    python bench/floor_app.py PORT        # then GET /html?bytes=7800 or /json?bytes=900

The page has what any screen has (a head, a menu, a table of rows filled by a loop, autoescaped) and nothing of the
pharmacy's (no session, no database, no permission check, no log line).
"""

from __future__ import annotations

import functools
import sys

import jinja2
import waitress
from flask import Flask, jsonify, render_template, request

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><nav>{% for item in menu %}<a href="/{{ item }}">{{ item|title }}</a> {% endfor %}</nav>
<main><h1>{{ title }}</h1><table><tr><th>Patient</th><th>Product</th><th>State</th></tr>
{% for row in rows %}<tr><td>{{ row.patient }}</td><td>{{ row.product }}</td><td>{{ row.state }}</td></tr>
{% endfor %}</table></main></body></html>
"""
MENU = ["worklist", "bags", "stock", "dashboard", "check"]

app = Flask(__name__)
app.jinja_loader = jinja2.DictLoader({"page.html": PAGE})


def _row(n: int) -> dict[str, str]:
    return {"patient": f"Patient {n:05d} <Ward 5>", "product": "LEMTRADA 12 mg / 1.2 mL", "state": "released"}


def _html(rows: int) -> str:
    return render_template("page.html", title="Worklist", menu=MENU, rows=[_row(n) for n in range(rows)])


def _json(rows: int):
    return jsonify({"ok": True, "rows": [_row(n) for n in range(rows)]})


@functools.cache
def _rows_for(size: int, make) -> int:
    """As many rows as make an answer of ``size`` bytes (from the sizes of 0 and 10 rows; worked out once a size)."""
    with app.test_request_context():
        empty, ten = len(_body(make(0))), len(_body(make(10)))
    return max(0, round((size - empty) / ((ten - empty) / 10)))


def _body(answer) -> bytes:
    return answer.encode() if isinstance(answer, str) else answer.get_data()


@app.get("/html")
def html():
    return _html(_rows_for(request.args.get("bytes", 4000, type=int), _html))


@app.get("/json")
def json_answer():
    return _json(_rows_for(request.args.get("bytes", 1000, type=int), _json))


if __name__ == "__main__":
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=4, ident="floor", _quiet=True)
