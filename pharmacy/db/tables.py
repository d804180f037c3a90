"""Plain table descriptions for reads that must not pay for the ORM (issue 16 point 7: `pharmacy stock list`
answers in under 0.8 s; importing the ORM and building the models is 0.3 s of it). Each names only the
columns its read needs, with the models' types; the models (``db/models.py``) stay the schema, and
``tests/unit/test_tables.py`` fails when a column here is not the model's column of the same type."""

from __future__ import annotations

from sqlalchemy import Date, Integer, String, Text, column, table

VIALS = table(
    "vials", column("id", Integer), column("product_id", String), column("gtin", String), column("serial", String),
    column("lot", String), column("expiry", Date), column("national_number", String), column("state", String),
)
DILUENT_LOTS = table(
    "diluent_lots", column("id", Integer), column("diluent_id", String), column("gtin", String), column("lot", String),
    column("expiry", Date), column("received_count", Integer), column("state", String),
)
AUDIT_ENTRIES = table(
    "audit_entries", column("id", Integer), column("action", String), column("object_type", String),
    column("object_id", String), column("new", Text),
)
TABLES = (VIALS, DILUENT_LOTS, AUDIT_ENTRIES)
