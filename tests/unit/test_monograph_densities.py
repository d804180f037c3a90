"""A pharmacy's densities.toml (issue 14 point 3): the density that turns a weighed mass into a
volume, with its source; every mistake in the file is named with the file and the field."""

from __future__ import annotations

import pytest

from pharmacy.domain.errors import MonographError
from pharmacy.domain.monograph import load_catalog


def catalog_with(tmp_path, text: str):
    (tmp_path / "densities.toml").write_text(text, encoding="utf-8")
    return load_catalog([tmp_path])


def test_the_shipped_lemtrada_monograph_weighs_the_syringe_and_has_no_density():
    """SmPC 6.6 gives the volume (1.2 mL) but no density of the concentrate."""
    lemtrada = load_catalog().products["lemtrada"]
    assert lemtrada.weigh == "syringe" and lemtrada.density is None


def test_a_pharmacys_density_is_read_with_its_source(tmp_path):
    density = catalog_with(tmp_path, '[lemtrada]\ndensity = "1006 kg/m**3"\nsource = "QC-14"\n').products["lemtrada"].density
    assert density is not None and float(density.value.to("g/mL").magnitude) == pytest.approx(1.006)
    assert density.source == "QC-14" and not density.demo


@pytest.mark.parametrize(("text", "words"), [
    ('[lemtrada]\ndensity = "1.006 g"\nsource = "x"\n', "density"),
    ('[lemtrada]\ndensity = "10.06 g/mL"\nsource = "x"\n', "0.8–1.5 g/mL"),
    ('[lemtrada]\ndensity = "1.006 g/mL"\n', "source"),
    ('[nosuch]\ndensity = "1.006 g/mL"\nsource = "x"\n', "“nosuch” is not a product"),
    ('lemtrada = "1.006 g/mL"\n', "must be a table"),
])
def test_a_wrong_densities_file_is_refused_naming_the_field(tmp_path, text, words):
    with pytest.raises(MonographError, match=words) as refused:
        catalog_with(tmp_path, text)
    assert "densities.toml" in refused.value.message
