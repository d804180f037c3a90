"""Pictures of each label stock's label for the README (docs/labels/*.png), as the printer makes them.

    python bench/label_pictures.py

For every stock: the PDF label rasterised at the stock's resolution, and the same label written as ZPL
II and rendered offline by zplkit on a 203 dpi printer (the Zebra's own font and barcodes). The label is
the fictitious sample of the tests (tests/label_samples.py) with a GSRN as patient AI (8018).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pypdfium2  # noqa: E402
import zplkit  # noqa: E402
from PIL import Image  # noqa: E402
from zplkit.rendering import Limits  # noqa: E402

from pharmacy.printing import zpl  # noqa: E402
from pharmacy.printing.label import render_label  # noqa: E402
from pharmacy.printing.stocks import available_stocks, load_stock  # noqa: E402
from tests.label_samples import SAMPLE_GSRN, sample_label  # noqa: E402

OUT = ROOT / "docs" / "labels"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    bag = sample_label(patient_ai="8018", patient_ai_value=SAMPLE_GSRN)
    for name in available_stocks():
        stock = load_stock(name)
        document = pypdfium2.PdfDocument(render_label(bag, stock))
        try:
            image = document[0].render(scale=stock.dpi / 72).to_pil().convert("L")
        finally:
            document.close()
        image.save(OUT / f"{name}.png", optimize=True)
        dpi = 203
        size = [round(v / 25.4 * dpi) for v in (stock.width_mm, stock.height_mm)]
        rendered = zplkit.render(zpl.label(bag, stock, dpi),
                                 zplkit.Options(profile="specification", width=size[0], height=size[1], dpi=dpi),
                                 limits=Limits(graphic_bytes=4_000_000))
        Image.open(io.BytesIO(rendered.labels[0].png())).convert("L").save(OUT / f"{name}-zpl-{dpi}dpi.png",
                                                                           optimize=True)
        print(OUT / f"{name}.png", OUT / f"{name}-zpl-{dpi}dpi.png")


if __name__ == "__main__":
    main()
