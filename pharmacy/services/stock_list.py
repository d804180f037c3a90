"""The stock list — every vial and diluent lot with its state — read as plain rows (``db/tables.py``), without
the ORM: ``pharmacy stock list`` answers in under 0.8 s because this module imports neither the ORM nor the
models (issue 16 point 7). The stock screen shows the stock by lot (``by_lot``: as many rows as lots, however
many vials were ever received) and the latest vials received (``latest_vials``), every vial one click away."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pharmacy.db.tables import AUDIT_ENTRIES, DILUENT_LOTS, VIALS


def _national_number_ais(connection: Connection) -> dict[str, str | None]:
    """Which AI (710–714: the country) carried each received vial's national number, by vial id, as the
    receipt's audit entry recorded it (the vials table keeps the number only)."""
    entries = connection.execute(select(AUDIT_ENTRIES.c.object_id, AUDIT_ENTRIES.c.new).where(
        AUDIT_ENTRIES.c.action == "stock.receive", AUDIT_ENTRIES.c.object_type == "vial"))
    return {object_id: json.loads(new or "{}").get("national_number_ai") for object_id, new in entries}


def _vial(row) -> dict[str, object]:
    """A vial as the command and the screen list it."""
    return {"kind": "vial", "product": row.product_id, "gtin": row.gtin, "serial": row.serial, "lot": row.lot,
            "expiry": row.expiry.isoformat(), "state": row.state}


def read(connection: Connection) -> list[dict]:
    """The vials (by id), then the diluent lots (by id), as the command shows them."""
    vials = connection.execute(select(VIALS).order_by(VIALS.c.id)).all()
    lots = connection.execute(select(DILUENT_LOTS).order_by(DILUENT_LOTS.c.id)).all()
    ais = _national_number_ais(connection) if any(v.national_number for v in vials) else {}
    countries: Mapping[str, str] = {}
    if ais:  # gs1 brings biip (0.2 s): only when a vial carries a national number
        from pharmacy.domain.gs1 import NATIONAL_NUMBER_AIS

        countries = NATIONAL_NUMBER_AIS
    rows: list[dict[str, object]] = [{
        **_vial(v), "national_number": v.national_number,
        "national_number_ai": ais.get(str(v.id)) if v.national_number else None,
        "national_number_country": countries.get(ais.get(str(v.id)) or ""),
    } for v in vials]
    rows += [{"kind": "diluent", "product": d.diluent_id, "gtin": d.gtin, "serial": None, "lot": d.lot,
              "expiry": d.expiry.isoformat(), "state": d.state, "count": d.received_count} for d in lots]
    return rows


def by_lot(connection: Connection) -> list[dict]:
    """Each vial lot (product, GTIN, lot, expiry) with how many of its vials are in each state, and each diluent
    lot with its count; the soonest expiry first (first expiring, first out), then by lot."""
    from pharmacy.domain.lifecycle import VialState  # the screen's only (the command line imports no domain)

    counted = connection.execute(
        select(VIALS.c.product_id, VIALS.c.gtin, VIALS.c.lot, VIALS.c.expiry, VIALS.c.state, func.count())
        .group_by(VIALS.c.product_id, VIALS.c.gtin, VIALS.c.lot, VIALS.c.expiry, VIALS.c.state)).all()
    lots: dict[tuple, dict] = {}
    for product, gtin, lot, expiry, state, count in counted:
        row = lots.setdefault((product, gtin, lot, expiry), {
            "kind": "vial", "product": product, "gtin": gtin, "lot": lot, "expiry": expiry.isoformat(), "states": {}})
        row["states"][state] = count
    rows = list(lots.values())
    rows += [{"kind": "diluent", "product": d.diluent_id, "gtin": d.gtin, "lot": d.lot, "expiry": d.expiry.isoformat(),
              "states": {d.state: d.received_count}} for d in connection.execute(select(DILUENT_LOTS))]
    order = {state.value: index for index, state in enumerate(VialState)}
    for row in rows:  # the states in their lifecycle's order
        row["states"] = dict(sorted(row["states"].items(), key=lambda item: order.get(item[0], len(order))))
    return sorted(rows, key=lambda row: (row["expiry"], row["kind"] != "vial", row["lot"], row["gtin"]))


def latest_vials(connection: Connection, limit: int | None) -> tuple[list[dict], int]:
    """The vials received last (``limit`` of them; ``None``: all), newest first, and how many there are."""
    query = select(VIALS.c.product_id, VIALS.c.gtin, VIALS.c.serial, VIALS.c.lot, VIALS.c.expiry,
                   VIALS.c.state).order_by(VIALS.c.id.desc())
    vials = connection.execute(query if limit is None else query.limit(limit)).all()
    total = len(vials) if limit is None or len(vials) < limit else \
        connection.execute(select(func.count()).select_from(VIALS)).scalar_one()
    return [_vial(v) for v in vials], total
