"""A pytest plugin for mutation testing only (``-p tests.unit.mutation_profile`` in ``[tool.mutmut]``).

Each mutant must be judged the same way on every run, and by every test that depends on it:

* Hypothesis runs without a deadline (mutmut's trampolines make every call of a domain function
  slower, and a deadline would "kill" a mutant for being slow), with a fixed sequence of examples and
  without an example database carried from one mutant to the next;
* the tests' own module- and session-scoped fixtures (``catalog`` and ``lemtrada`` in
  tests/unit/conftest.py) are built again for every test. mutmut runs, for each mutant, only the tests
  that called the mutated function; a fixture built once per module calls ``parse_monograph`` during the
  first test only, so the module's other tests, which check what it parsed, would never see a mutant.

The normal test run does not load this module.
"""

from __future__ import annotations

import pytest
from _pytest.scope import Scope
from hypothesis import settings

settings.register_profile("mutation", deadline=None, derandomize=True, database=None)
settings.load_profile("mutation")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session) -> None:
    for definitions in session._fixturemanager._arg2fixturedefs.values():
        for fixture in definitions:
            if fixture._scope is not Scope.Function and getattr(fixture.func, "__module__", "").startswith("tests."):
                fixture._scope = Scope.Function  # type: ignore[misc]
