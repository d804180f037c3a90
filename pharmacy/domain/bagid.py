"""The bag's identity before it is released (issue 14 point 1, SAFETY.md H27).

A bag is made when the diluent bag is scanned, and from then on it carries an in-process label: its
serial in a plain Code 128 symbol that reads ``IP-BAG0000001`` — never a GS1 element string, never a
use-by — so no bedside and no scanner setting can take it for a released bag's label. The checking
pharmacist scans it to open the check; the bedside names it and refuses it.
"""

from __future__ import annotations

import re

IN_PROCESS_PREFIX = "IP-"
# symbology identifiers a scanner may put before a Code 128 symbol (]C0 plain, ]C1 GS1-128)
_SYMBOLOGY = re.compile(r"^\](?:C[0-4])")
_IN_PROCESS = re.compile(r"^IP-([A-Z0-9]{1,20})$")


def bag_serial(preparation_id: int) -> str:
    """The serial a preparation's bag has from its filling to its administration."""
    return f"BAG{preparation_id:07d}"


def in_process_code(serial: str) -> str:
    """What the in-process label's barcode holds."""
    return IN_PROCESS_PREFIX + serial


def in_process_serial(scanned: str) -> str | None:
    """The bag serial of a scanned in-process label, or ``None`` when the scan is something else."""
    text = _SYMBOLOGY.sub("", (scanned or "").strip()).upper()
    match = _IN_PROCESS.match(text)
    return match[1] if match else None
