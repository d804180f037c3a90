"""The label fonts: DejaVu Sans, shipped with the package and embedded in every PDF, then a chain of
fallback fonts for the scripts DejaVu lacks (Chinese, Japanese, Korean), chosen per run of characters.

DejaVu has the Latin, Greek and Cyrillic glyphs that patients' names need (SPEC section 4); the PDF
base fonts do not. A character DejaVu has no glyph for is drawn in the first fallback font that has
one (``runs``), so a Chinese, Japanese or Korean name prints in its own script instead of as empty
boxes. The fallbacks are TrueType files: by default the CJK fonts of Debian's ``fonts-wqy-zenhei``
(Chinese, Japanese kana, Hangul) and ``fonts-droid-fallback`` where installed, or the files named by
``PHARMACY_LABEL_FONTS`` (``services/base.build`` calls ``use``). ReportLab embeds only TrueType
outlines, so an OpenType font with PostScript (CFF) outlines, such as Noto Sans CJK, is refused
when configured. A text with a character no label font has is refused at order entry
(``missing``, asked by ``printing.label.check_printable``), never printed as a box.

Fonts are registered once per process: parsing a TTF is the most expensive step of rendering a label.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import as_file, files
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
# Vertical extent of DejaVu's tallest accented capitals and deepest descenders, in em. ReportLab's own
# ascent (0.76 em) is the typographic one, which an "Ř" or "Ż" exceeds. The CJK fallbacks stay inside
# it (ideographs fill about 0.88 em above the baseline and 0.12 em below).
ASCENT = 0.93
DESCENT = 0.24
LEADING = 1.2  # line pitch in em; more than ASCENT + DESCENT, so lines never touch

# Debian's TrueType CJK fonts, tried in this order when PHARMACY_LABEL_FONTS is not set.
DEFAULT_FALLBACKS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei: Hanzi, kana, Hangul
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback: Hanzi, kana
)
# Characters that are never drawn and so need no glyph (line breaks are handled by the text flow).
_INVISIBLE = {"\n"}


class FontError(ValueError):
    """A configured label font that cannot be used (missing, unreadable, or not TrueType)."""


@dataclass(frozen=True)
class Fallback:
    """One fallback font: its file (``#n`` picks a face of a .ttc collection) and the ReportLab name."""

    path: str
    index: int
    name: str


def _parse(spec: str) -> tuple[str, int]:
    path, _, index = spec.strip().partition("#")
    if index and not index.isdigit():
        raise FontError(f"PHARMACY_LABEL_FONTS: “{spec}”: after # comes the number of the face in the collection.")
    return path, int(index or 0)


@cache
def _load_fallback(path: str, index: int) -> Fallback:
    if not Path(path).is_file():
        raise FontError(f"PHARMACY_LABEL_FONTS: there is no font file {path}.")
    name = f"LabelFallback-{Path(path).stem}-{index}"
    try:
        font = TTFont(name, path, subfontIndex=index)
    except TTFError as error:
        why = ("it has PostScript (CFF) outlines, which the PDF writer (ReportLab) cannot embed: use a TrueType "
               "font (.ttf or .ttc with glyf outlines), such as Debian's fonts-wqy-zenhei"
               if "postscript" in str(error).lower() else str(error))
        raise FontError(f"PHARMACY_LABEL_FONTS: {path} cannot be used: {why}.") from None
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise FontError(f"PHARMACY_LABEL_FONTS: {path} cannot be read as a TrueType font ({error}).") from None
    pdfmetrics.registerFont(font)
    return Fallback(path, index, name)


def _sniff(path: str, index: int) -> None:
    """Refuse, from its first bytes, a file that is not a TrueType font or collection, or one whose outlines
    are PostScript (CFF: ``OTTO``), before the (slow) parse on first use."""
    if not Path(path).is_file():
        raise FontError(f"PHARMACY_LABEL_FONTS: there is no font file {path}.")
    try:
        with open(path, "rb") as file:
            head = file.read(12)
            tag = head[:4]
            if tag == b"ttcf":
                count = int.from_bytes(head[8:12], "big")
                if index >= count:
                    raise FontError(f"PHARMACY_LABEL_FONTS: {path} has {count} faces (#0 to #{count - 1}), not #{index}.")
                file.seek(12 + 4 * index)
                file.seek(int.from_bytes(file.read(4), "big"))
                tag = file.read(4)
    except OSError as error:
        raise FontError(f"PHARMACY_LABEL_FONTS: {path} cannot be read ({error}).") from None
    if tag == b"OTTO":
        raise FontError(f"PHARMACY_LABEL_FONTS: {path} cannot be used: it has PostScript (CFF) outlines, which the PDF "
                        "writer (ReportLab) cannot embed: use a TrueType font (.ttf or .ttc with glyf outlines), "
                        "such as Debian's fonts-wqy-zenhei.")
    if tag not in (b"\x00\x01\x00\x00", b"true"):
        raise FontError(f"PHARMACY_LABEL_FONTS: {path} is not a TrueType font file.")


_specs: tuple[tuple[str, int], ...] | None = None  # what ``use`` chose; loaded on first need
_chain: tuple[Fallback, ...] | None = None


def use(specs: Sequence[str] | None) -> tuple[tuple[str, int], ...]:
    """Set the fallback chain: ``None`` or empty is the default (the Debian CJK fonts found), ``["none"]``
    DejaVu only, else these files in order. Raises ``FontError`` naming a file that cannot be used; the
    fonts are parsed when a label first needs them."""
    global _specs, _chain
    if not specs:
        chosen = tuple((p, 0) for p in DEFAULT_FALLBACKS if Path(p).is_file())
    elif [s.strip().lower() for s in specs] == ["none"]:
        chosen = ()
    else:
        chosen = tuple(_parse(spec) for spec in specs if spec.strip())
        for path, index in chosen:
            _sniff(path, index)
    if chosen != _specs:
        _specs, _chain = chosen, None
        _covered.cache_clear()
        _em_width.cache_clear()
        _runs.cache_clear()
    return chosen


def fallbacks() -> tuple[Fallback, ...]:
    """The fallback fonts, in order (parsed and registered on first call)."""
    global _chain
    if _specs is None:
        use(None)
    if _chain is None:
        assert _specs is not None
        _chain = tuple(_load_fallback(path, index) for path, index in _specs)
    return _chain


@cache
def register() -> None:
    for name in (REGULAR, BOLD):
        with as_file(files("pharmacy.fonts") / f"{name}.ttf") as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))


def face(bold: bool) -> str:
    register()
    return BOLD if bold else REGULAR


def chain(bold: bool) -> tuple[str, ...]:
    """The font names tried for a character, in order."""
    return (face(bold), *(f.name for f in fallbacks()))


@lru_cache(maxsize=16)
def _covered(name: str) -> frozenset[int]:
    return frozenset(pdfmetrics.getFont(name).face.charToGlyph)


def has_glyph(name: str, char: str) -> bool:
    return char in _INVISIBLE or ord(char) in _covered(name)


def _font_for(char: str, bold: bool, current: str | None) -> str:
    if current is not None and unicodedata.category(char)[0] not in "LN" and has_glyph(current, char):
        return current  # stay in the run: spaces, punctuation and marks go with the script around them
    primary = face(bold)
    if has_glyph(primary, char):  # DejaVu first: the fallbacks are parsed only when a text needs one
        return primary
    return next((name for name in chain(bold)[1:] if has_glyph(name, char)), primary)


def _has_glyph_anywhere(char: str, bold: bool) -> bool:
    return has_glyph(face(bold), char) or any(has_glyph(name, char) for name in chain(bold)[1:])


@lru_cache(maxsize=4096)
def _runs(text: str, bold: bool) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    current: str | None = None
    for char in text:
        name = _font_for(char, bold, current)
        if out and name == out[-1][0]:
            out[-1] = (name, out[-1][1] + char)
        else:
            out.append((name, char))
        current = name
    return tuple(out)


def runs(text: str, bold: bool) -> tuple[tuple[str, str], ...]:
    """``text`` cut into (font name, characters) runs: each character in DejaVu where DejaVu has it,
    else in the first fallback that has it; a character no font has stays in DejaVu (and would be a
    box: ``missing`` refuses such text before it reaches a label)."""
    return _runs(text, bold)


def missing(texts: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that no label font has a glyph for, in regular or in bold, each once."""
    found: list[str] = []
    for text in texts:
        for char in text or "":
            if char in found:
                continue
            if not all(_has_glyph_anywhere(char, bold) for bold in (False, True)):
                found.append(char)
    return found


def describe(char: str) -> str:
    """A character as a person can find it: ``“” (U+E000, a private-use character)``."""
    name = unicodedata.name(char, "")
    if not name:
        category = unicodedata.category(char)
        name = {"Co": "a private-use character", "Cn": "an unassigned code point",
                "Cs": "a surrogate"}.get(category, f"category {category}")
    return f"“{char}” (U+{ord(char):04X}, {name})"


def width(text: str, bold: bool, size: float) -> float:
    """Advance width of ``text`` in points (proportional to the size, so measured once per text)."""
    return _em_width(text, bold) * size


@lru_cache(maxsize=4096)
def _em_width(text: str, bold: bool) -> float:
    return sum(pdfmetrics.stringWidth(part, name, 1.0) for name, part in runs(text, bold))


def draw(canvas, x: float, y: float, text: str, bold: bool, size: float, align: str = "left") -> None:
    """Draw one line at baseline ``y``: left from ``x``, centred on it, or ending at it (``align``), a
    run of characters at a time, each in its font."""
    hook = getattr(canvas, "text_line", None)  # a canvas of another printer language (printing/zpl.py)
    if hook is not None:
        hook(x, y, text, bold, size, align)
        return
    total = width(text, bold, size)
    start = {"left": x, "centre": x - total / 2, "right": x - total}[align]
    for name, part in runs(text, bold):
        canvas.setFont(name, size)
        canvas.drawString(start, y, part)
        start += pdfmetrics.stringWidth(part, name, size)
