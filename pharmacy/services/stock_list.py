"""The stock list — every vial and diluent lot with its state — read as plain rows (``db/tables.py``), without
the ORM: the stock screen and ``pharmacy stock list`` show the same rows, and the command answers in under
0.8 s because this module imports neither the ORM nor the models (issue 16 point 7)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pharmacy.db.tables import AUDIT_ENTRIES, DILUENT_LOTS, VIALS


def _national_number_ais(connection: Connection) -> dict[str, str | None]:
    """Which AI (710–714: the country) carried each received vial's national number, by vial id, as the
    receipt's audit entry recorded it (the vials table keeps the number only)."""
    entries = connection.execute(select(AUDIT_ENTRIES.c.object_id, AUDIT_ENTRIES.c.new).where(
        AUDIT_ENTRIES.c.action == "stock.receive", AUDIT_ENTRIES.c.object_type == "vial"))
    return {object_id: json.loads(new or "{}").get("national_number_ai") for object_id, new in entries}


def read(connection: Connection) -> list[dict]:
    """The vials (by id), then the diluent lots (by id), as the screen and the command show them."""
    vials = connection.execute(select(VIALS).order_by(VIALS.c.id)).all()
    lots = connection.execute(select(DILUENT_LOTS).order_by(DILUENT_LOTS.c.id)).all()
    ais = _national_number_ais(connection) if any(v.national_number for v in vials) else {}
    countries: Mapping[str, str] = {}
    if ais:  # gs1 brings biip (0.2 s): only when a vial carries a national number
        from pharmacy.domain.gs1 import NATIONAL_NUMBER_AIS

        countries = NATIONAL_NUMBER_AIS
    rows: list[dict[str, object]] = [{
        "kind": "vial", "product": v.product_id, "gtin": v.gtin, "serial": v.serial, "lot": v.lot,
        "expiry": v.expiry.isoformat(), "state": v.state, "national_number": v.national_number,
        "national_number_ai": ais.get(str(v.id)) if v.national_number else None,
        "national_number_country": countries.get(ais.get(str(v.id)) or ""),
    } for v in vials]
    rows += [{"kind": "diluent", "product": d.diluent_id, "gtin": d.gtin, "serial": None, "lot": d.lot,
              "expiry": d.expiry.isoformat(), "state": d.state, "count": d.received_count} for d in lots]
    return rows
