"""How every benchmark prints a figure: value, unit, and its target with ok or MISSED."""

from __future__ import annotations


def value_text(row: dict) -> str:
    return f"{row['value']:.2f}x" if row["unit"] == "x" else f"{row['value']:,.2f} {row['unit']}"


def verdict_text(row: dict) -> str:
    return f"{row['target']}: {'ok' if row['ok'] else 'MISSED'}" if row["target"] else ""


def print_rows(rows: list[dict]) -> int:
    """Print one line per figure; the exit status says whether every target was met."""
    for row in rows:
        verdict = verdict_text(row)
        print(f"{row['name']}: {value_text(row)}" + (f"  (target {verdict})" if verdict else ""))
    return 0 if all(row["ok"] for row in rows) else 1
