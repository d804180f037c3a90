"""The shipped catalogue and its LEMTRADA monograph, loaded once per test module."""

from __future__ import annotations

import pytest

from pharmacy.domain.monograph import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def lemtrada(catalog):
    return catalog.products["lemtrada"]
