"""In CI a missing browser fails the run; on a developer's machine the browser tests are skipped."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.conftest import require_chromium


def test_a_missing_browser_fails_in_ci_and_is_skipped_elsewhere(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="in CI a missing browser is a failure"):
        require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_chromium()


def test_the_browser_is_debians_chromium_from_path(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert require_chromium() == "/usr/bin/chromium"
