"""Reports over a period of local days: work done, refusals and near misses, waste, bags expired
unused — each on screen, as CSV and as a PDF report, with the same rows in every form."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Blueprint, abort, render_template

from pharmacy import clock, i18n
from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _, lazy
from pharmacy.printing import exports
from pharmacy.services import reports
from pharmacy.web.common import get_pharmacy, today
from pharmacy.web.errors import http_status
from pharmacy.web.security import permission
from pharmacy.web.trace import arg_date, download, generated_by

bp = Blueprint("reports", __name__, url_prefix="/reports")


@dataclass(frozen=True)
class Report:
    title: str
    columns: list[str]
    rows: Callable
    notes: Callable = field(default=lambda pharmacy, rows: [])
    hidden_on_screen: tuple[str, ...] = ()  # columns the screen leaves out (shown elsewhere on it)

    @property
    def screen_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.hidden_on_screen]


REPORTS = {
    "work": Report(lazy("Work done per day and user"), reports.WORK_COLUMNS, reports.work_done),
    "refusal-codes": Report(lazy("Refusals and near misses by kind"), reports.REFUSAL_SUMMARY_COLUMNS,
                            reports.refusal_summary),
    "refusals": Report(lazy("Refusals and near misses"), reports.REFUSAL_COLUMNS, reports.refusals,
                       hidden_on_screen=("what",)),  # the counts by kind above say it
    "waste": Report(lazy("Waste: bags destroyed and vials rejected"), reports.WASTE_COLUMNS, reports.waste,
                    lambda pharmacy, rows: [reports.waste_total(pharmacy, rows)]),
    "expired-unused": Report(lazy("Bags whose use-by passed unused"), reports.EXPIRED_COLUMNS, reports.expired_unused),
}
# A screen shows one or more reports; the refusals screen shows the counts by kind, then every refusal.
SCREENS = {"work": ["work"], "refusals": ["refusal-codes", "refusals"], "waste": ["waste"],
           "expired-unused": ["expired-unused"]}


def _shown() -> dict[str, Report]:
    """The reports with their titles in the reader's language."""
    return {key: dataclasses.replace(report, title=i18n.now(report.title)) for key, report in REPORTS.items()}


def _period() -> reports.Period:
    last = arg_date("to", _("The last day")) or today()
    first = arg_date("from", _("The first day")) or last - timedelta(days=6)
    return reports.period(first, last)


@bp.get("/")
@permission("reports.view")
def index():
    """The reports and the period they cover (the last seven days unless chosen)."""
    error = None
    try:
        when = _period()
    except PharmacyError as refused:
        error, when = refused, reports.Period(today() - timedelta(days=6), today())
    return render_template("reports/index.html", when=when, screens=SCREENS, reports=_shown(), error=error), \
        http_status(error) if error else 200


@bp.get("/<name>")
@permission("reports.view")
def show(name: str):
    """One report screen with its CSV and PDF downloads."""
    if name not in SCREENS:
        abort(404)
    pharmacy = get_pharmacy()
    try:
        when = _period()
    except PharmacyError as error:
        return render_template("reports/index.html", when=reports.Period(today() - timedelta(days=6), today()),
                               screens=SCREENS, reports=_shown(), error=error), http_status(error)
    parts, shown = [], _shown()
    for key in SCREENS[name]:
        report = shown[key]
        rows = report.rows(pharmacy, when)
        parts.append({"key": key, "report": report, "rows": rows, "notes": report.notes(pharmacy, rows)})
    return render_template("reports/show.html", name=name, when=when, parts=parts, screens=SCREENS, reports=shown)


@bp.get("/<name>.<any(csv, pdf):fmt>")
@permission("reports.view")
def download_report(name: str, fmt: str):
    """The report's rows as CSV (UTF-8 with BOM, ISO 8601 times with offset) or as a PDF report."""
    if name not in REPORTS:
        abort(404)
    pharmacy = get_pharmacy()
    report, when = REPORTS[name], _period()
    rows = report.rows(pharmacy, when)
    filename = f"{name}-{when.first.isoformat()}-{when.last.isoformat()}.{fmt}"
    if fmt == "csv":
        return download(exports.to_csv(rows, report.columns, pharmacy.zone), filename, "text/csv")
    title = i18n.now(report.title)
    pdf = exports.report_pdf(title, _("{title}, local days {when} ({zone})", title=title, when=when, zone=pharmacy.zone.key),
                             report.columns,
                             rows, generated_by=generated_by(), generated_at=clock.now(), zone=pharmacy.zone,
                             notes=report.notes(pharmacy, rows))
    return download(pdf, filename, "application/pdf")
