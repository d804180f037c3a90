"""A non-editable install works: templates, label stocks, monographs and fonts travel in the wheel,
and the installed ``pharmacy`` command runs from a fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, cwd=out, timeout=300)
    (built,) = out.glob("pharmacy-*.whl")
    return built


def test_the_wheel_carries_templates_label_stocks_monographs_fonts_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pharmacy/catalog/lemtrada.toml" in names
    assert "pharmacy/catalog/diluents.toml" in names
    assert "pharmacy/labels/bag-100x70.toml" in names and "pharmacy/labels/thermal-4x6.toml" in names
    assert "pharmacy/fonts/DejaVuSans.ttf" in names
    assert "pharmacy/db/migrations/versions/0001_initial_schema.py" in names
    assert "pharmacy/security_data/common-passwords.txt.gz" in names and "pharmacy/security_data/LICENSE.django" in names
    assert any(n.startswith("pharmacy/templates/") and n.endswith(".html") for n in names)
    # the screens' languages: without their catalogues an installed pharmacy would show English silently (H41)
    assert {f"pharmacy/translations/{lang}/LC_MESSAGES/messages.po" for lang in ("fr", "nl", "de")} <= set(names)


def test_pharmacy_help_runs_from_a_fresh_virtual_environment(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    # The dependencies come from this interpreter's site-packages; the project itself only from the wheel.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # --ignore-installed: the project may be installed outside the venv too (CI installs it); the
    # venv must get its own copy from the wheel
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--ignore-installed",
                    "-q", str(wheel)],
                   check=True, timeout=300)
    done = subprocess.run([str(env_dir / "bin" / "pharmacy"), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "init-db" in done.stdout and "serve" in done.stdout
    # The installed copy, not the checkout, renders a label with its own stock, font and monograph.
    probe = (
        "import pharmacy, pharmacy.printing.stocks as s, pharmacy.domain.monograph as m;"
        "print(pharmacy.__file__); print(s.load_stock('bag-100x70').name); print(m.load_catalog().products['lemtrada'].brand);"
        "import pharmacy.domain.accounts as a; print('password1234' in a.common_passwords())"
    )
    done = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    location, stock, brand, common = done.stdout.split()
    assert str(env_dir) in location and stock == "bag-100x70" and brand == "LEMTRADA" and common == "True"
