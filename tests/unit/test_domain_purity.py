"""The domain is pure rules (DESIGN, habit 1): no web framework, no database, no printing, no services."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pharmacy.domain

DOMAIN = Path(pharmacy.domain.__file__).resolve().parent
FORBIDDEN = ("flask", "sqlalchemy", "werkzeug", "pharmacy.db", "pharmacy.services", "pharmacy.web",
             "pharmacy.printing")
MODULES = sorted(DOMAIN.glob("*.py"))
PACKAGE = ["pharmacy", "domain"]


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, relative imports resolved against ``pharmacy.domain``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = PACKAGE[: max(len(PACKAGE) - (node.level - 1), 0)]
                module = ".".join([*package, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            if isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args:
            if isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names


def forbidden_in(names: set[str]) -> list[str]:
    return sorted(n for n in names for f in FORBIDDEN if n == f or n.startswith(f + "."))


def test_the_domain_modules_are_found():
    assert {p.name for p in MODULES} >= {"units.py", "gs1.py", "monograph.py", "dilution.py", "inuse.py",
                                          "errors.py", "courses.py"}


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_a_domain_module_imports_no_web_database_printing_or_service_code(path):
    assert forbidden_in(imported_modules(path)) == []


@pytest.mark.parametrize(
    "source, found",
    [
        ("import flask", ["flask"]),
        ("from sqlalchemy.orm import Session", ["sqlalchemy.orm", "sqlalchemy.orm.Session"]),
        ("import werkzeug.exceptions as wx", ["werkzeug.exceptions"]),
        ("from pharmacy import db", ["pharmacy.db"]),
        ("from pharmacy.services.stock import receive", ["pharmacy.services.stock", "pharmacy.services.stock.receive"]),
        ("from ..web import app", ["pharmacy.web", "pharmacy.web.app"]),
        ("from .. import printing", ["pharmacy.printing"]),
        ("importlib.import_module('flask')", ["flask"]),
        ("import flasky, pharmacy.domain.units", []),
    ],
)
def test_the_import_walker_catches_every_spelling_of_a_forbidden_import(tmp_path, source, found):
    path = tmp_path / "module.py"
    path.write_text(source + "\n", encoding="utf-8")
    assert forbidden_in(imported_modules(path)) == found
