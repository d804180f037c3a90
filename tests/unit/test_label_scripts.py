"""Every script a patient's name may be in (issue 15, point 2; SAFETY.md H31): a Chinese, a Japanese and a
Korean name print in a font that has their glyphs, chosen per run of characters, and are drawn — read back
from the rasterised PDF, each character compared with the .notdef box the label drew before; a character no
label font has is refused before it reaches a label; long words of a name break with a hyphen."""

from __future__ import annotations

import ctypes
import io

import pypdfium2
import pypdfium2.raw as pdfium
import pytest

from pharmacy.config import ConfigError, load
from pharmacy.printing import fonts, textflow
from pharmacy.printing.label import LabelCannotPrint, check_printable, render_label
from pharmacy.printing.layouts import draw_label
from pharmacy.printing.stocks import load_stock
from pharmacy.services import base

from .label_helpers import RecordingCanvas, make_label, pdf_text

pytestmark = pytest.mark.hazard("H31")

NAMES = {"Chinese": "王小明", "Japanese": "山田 はなこ", "Korean": "김민준"}
STOCKS = ["bag-100x70", "thermal-4x6"]
WQY = fonts.DEFAULT_FALLBACKS[0]


@pytest.fixture
def dejavu_only():
    """The label fonts before issue 15: DejaVu Sans alone (what draws a CJK character as its .notdef box)."""
    fonts.use(["none"])
    yield
    fonts.use(None)


def _chars(pdf: bytes, wanted: str, dpi: int = 600):
    """For each character of ``wanted`` (in its first occurrence on the page): the name of the font the PDF
    draws it with and its pixels, cut from the page rasterised at ``dpi`` and scaled to 32 × 32."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        textpage = page.get_textpage()
        codes = [pdfium.FPDFText_GetUnicode(textpage.raw, i) for i in range(textpage.count_chars())]
        image = page.render(scale=dpi / 72).to_pil().convert("L")
        height = page.get_height()
        target = [ord(c) for c in wanted]  # a .notdef box has no character: code 0
        start = next(i for i in range(len(codes)) if all(code in (want, 0) for code, want in
                                                          zip(codes[i:i + len(target)], target, strict=False))
                     and len(codes[i:i + len(target)]) == len(target))
        found = []
        for offset, char in enumerate(wanted):
            if char == " ":
                continue
            index = start + offset
            size = pdfium.FPDFText_GetFontInfo(textpage.raw, index, None, 0, None)
            name = ctypes.create_string_buffer(size)
            pdfium.FPDFText_GetFontInfo(textpage.raw, index, name, size, None)
            left, bottom, right, top = textpage.get_charbox(index)
            scale = dpi / 72
            box = (int(left * scale) - 2, int((height - top) * scale) - 2, int(right * scale) + 2,
                   int((height - bottom) * scale) + 2)
            pixels = image.crop(box).resize((32, 32)).point(lambda v: 0 if v < 128 else 255)
            found.append((char, name.value.decode(), pixels))
        return found
    finally:
        document.close()


def _differ(a, b) -> float:
    """The share of the 32 × 32 pixels in which two character images differ."""
    return sum(x != y for x, y in zip(a.tobytes(), b.tobytes(), strict=True)) / 1024


@pytest.mark.parametrize("stock_name", STOCKS)
@pytest.mark.parametrize("script", sorted(NAMES))
def test_a_cjk_name_is_printed_in_a_fallback_font_that_has_its_glyphs(script, stock_name):
    name = NAMES[script]
    pdf = render_label(make_label(patient_name=name), load_stock(stock_name))
    assert name in pdf_text(pdf)
    for char, font, _ in _chars(pdf, name):
        assert "WenQuanYi" in font, f"{char} drawn in {font}"
    latin = _chars(pdf, "Demo University")  # the rest of the label stays in DejaVu
    assert all("DejaVuSans" in font for _, font, _ in latin)


@pytest.mark.parametrize("script", sorted(NAMES))
def test_cjk_glyphs_are_drawn_not_the_notdef_box(script, dejavu_only):
    """The same name printed with DejaVu alone (as before) is a row of identical .notdef boxes; with the
    fallback chain each character is its own glyph, unlike the box and unlike the others."""
    name = NAMES[script]
    stock = load_stock("thermal-4x6")
    boxes = _chars(render_label(make_label(patient_name=name), stock), name)
    fonts.use(None)
    glyphs = _chars(render_label(make_label(patient_name=name), stock), name)
    notdef = boxes[0][2]
    assert all(_differ(notdef, other) < 0.05 for _, _, other in boxes)  # tofu: every character the same box
    for char, _, pixels in glyphs:
        assert _differ(pixels, notdef) > 0.15, f"{char} looks like the .notdef box"
    for (a, _, one), (b, _, other) in zip(glyphs, glyphs[1:], strict=False):
        if a != b:
            assert _differ(one, other) > 0.1, f"{a} and {b} are drawn alike"


def test_each_character_goes_to_the_first_font_that_has_it_and_spaces_stay_in_their_run():
    runs = fonts.runs("Anna 王小明 Kim", False)
    assert [part for _, part in runs] == ["Anna ", "王小明 ", "Kim"]
    assert runs[0][0] == runs[2][0] == fonts.REGULAR
    assert runs[1][0].startswith("LabelFallback-wqy-zenhei")
    assert fonts.width("Anna 王小明 Kim", False, 10) == pytest.approx(
        sum(fonts.width(part, False, 10) for _, part in runs))


@pytest.mark.parametrize("char, words", [("\ue000", "U+E000, a private-use character"),
                                         ("\U00013000", "U+13000, EGYPTIAN HIEROGLYPH A001")])
def test_a_character_no_label_font_has_is_refused_naming_it(char, words):
    assert fonts.missing([f"Anna {char}"]) == [char]
    label = make_label(patient_name=f"Anna {char}")
    with pytest.raises(LabelCannotPrint) as caught:
        check_printable(label, [load_stock(name) for name in STOCKS])
    assert words in caught.value.message and "patient name" in caught.value.message
    assert "empty box" in caught.value.message


def test_with_dejavu_alone_a_cjk_name_is_refused_not_printed_as_boxes(dejavu_only):
    with pytest.raises(LabelCannotPrint, match="U\\+738B, CJK UNIFIED IDEOGRAPH-738B"):
        check_printable(make_label(patient_name="王小明"), [load_stock("bag-100x70")])


# --- long words break with a hyphen -------------------------------------------------------------------
def test_a_word_of_a_name_too_long_for_its_line_breaks_with_a_hyphen():
    word = "Konstantinopoulou"
    width = fonts.width("Konstantin", True, 10)
    lines = textflow.wrap(word, True, 10, width, hyphenate=True)
    assert len(lines) > 1 and all(line.endswith("-") for line in lines[:-1])
    assert "".join(line.removesuffix("-") for line in lines) == word
    assert all(fonts.width(line, True, 10) <= width for line in lines)
    plain = textflow.wrap(word, True, 10, width)  # not a name (a lot, an identifier): no hyphen is added
    assert len(plain) > 1 and "".join(plain) == word and not any(line.endswith("-") for line in plain)


def test_ideographs_and_hangul_break_without_a_hyphen():
    name = "王小明王小明王小明김민준김민준"
    width = fonts.width("王小明王", True, 10)
    lines = textflow.wrap(name, True, 10, width, hyphenate=True)
    assert len(lines) > 1 and "".join(lines) == name


@pytest.mark.parametrize("stock_name", STOCKS)
def test_the_patient_name_on_the_label_is_hyphenated_where_it_breaks(stock_name):
    name = "Anna Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessenschafewaren"
    stock = load_stock(stock_name)
    canvas = RecordingCanvas(io.BytesIO(), pagesize=stock.pagesize)
    draw_label(canvas, make_label(patient_name=name), stock)
    lines = [m["text"] for m in canvas.marks if m["kind"] == "text" and m["font"] == fonts.BOLD
             and m["text"].removesuffix("-") in name]
    assert len(lines) > 2 and all(line.endswith("-") for line in lines[1:-1])  # after "Anna", the word's pieces
    assert " ".join(line.removesuffix("-") for line in lines).replace(" ", "") == name.replace(" ", "")


# --- configuring the fonts ------------------------------------------------------------------------------
def test_label_fonts_are_read_from_the_environment():
    settings = load(environ={"PHARMACY_LABEL_FONTS": f"{WQY}#0, /fonts/extra.ttf"})
    assert settings.label_fonts == (f"{WQY}#0", "/fonts/extra.ttf")


def test_a_configured_font_that_cannot_be_used_stops_the_start_with_its_reason(tmp_path):
    missing = load({"instance": tmp_path, "label_fonts": (str(tmp_path / "nope.ttf"),)}, environ={})
    with pytest.raises(ConfigError, match="there is no font file"):
        base.build(missing)
    cff = tmp_path / "cff.otf"
    cff.write_bytes(b"OTTO" + bytes(60))  # an OpenType font with PostScript outlines, as Noto Sans CJK is
    with pytest.raises(ConfigError, match="PostScript \\(CFF\\) outlines, which the PDF writer \\(ReportLab\\) cannot embed"):
        base.build(load({"instance": tmp_path, "label_fonts": (str(cff),)}, environ={}))
    text = tmp_path / "notes.ttf"
    text.write_text("not a font")
    with pytest.raises(ConfigError, match="is not a TrueType font file"):
        base.build(load({"instance": tmp_path, "label_fonts": (str(text),)}, environ={}))
    fonts.use(None)


def test_a_configured_collection_face_is_used(tmp_path):
    try:
        fonts.use([f"{WQY}#0"])
        assert [f.name for f in fonts.fallbacks()] == ["LabelFallback-wqy-zenhei-0"]
        assert fonts.missing(["김민준"]) == []
        with pytest.raises(fonts.FontError, match="faces"):
            fonts.use([f"{WQY}#9"])
    finally:
        fonts.use(None)
