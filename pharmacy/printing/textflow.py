"""Text that always fits its box: a line shrinks a little, then wraps; a block scales down as a whole.

Strings are drawn with ``canvas.drawString`` (``fonts.draw``: a run of characters at a time, each in
the font that has its glyphs), which never interprets markup, so a name such as
``<b>Anna</b> & Co`` prints exactly as typed. Text that cannot fit even at the smallest allowed
size is refused (``LabelOverflow``) rather than cut off or drawn over the edge of the label.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pharmacy import i18n
from pharmacy.domain.errors import PharmacyError
from pharmacy.i18n import _, lazy
from pharmacy.printing import fonts

MIN_SCALE = 0.7
MIN_SIZE = 5.0  # pt; below this a label is not read reliably
FRAME = 1.2  # pt, line width of the frame round a framed item
PADDING = 0.3  # em, inside a frame


class LabelOverflow(PharmacyError):
    code = "label_overflow"


@dataclass(frozen=True)
class Text:
    """One item of a block: ``size`` in points, ``shrink`` = the smallest fraction of it the item
    may take to stay on one line before it wraps."""

    text: str
    size: float
    bold: bool = False
    shrink: float = 0.8
    space_before: float = 0.0
    align: str = "left"
    framed: bool = False  # boxed, as the use-by line is
    hyphenate: bool = False  # a name: a word broken inside ends its line with a hyphen


@dataclass(frozen=True)
class Placed:
    item: Text
    lines: tuple[str, ...]
    size: float
    space_before: float
    padding: float

    @property
    def height(self) -> float:
        return self.space_before + 2 * self.padding + len(self.lines) * fonts.LEADING * self.size


SEPARATOR = " · "  # between the fields of one line; lines break here first
NBSP = "\u00a0"  # joins a caption to its value, a date to its time: lines break there last
HYPHEN = "-"  # ends the line of a name broken inside a word


def wrap(text: str, bold: bool, size: float, width: float, *, hyphenate: bool = False) -> list[str]:
    """Break at field separators first, then between words, and inside a word only when it is wider
    than the box on its own. A line that goes on after a separator ends with "·"; with ``hyphenate``
    (names), a word broken between two letters of an alphabet ends its line with a hyphen (Chinese,
    Japanese and Korean break between characters without one)."""
    def fits(line: str) -> bool:
        return fonts.width(line, bold, size) <= width

    if fits(text):
        return [text]
    lines: list[str] = []

    def flush(line: str) -> None:
        marked = line + SEPARATOR.rstrip()
        lines.append(marked if fits(marked) else line)

    current = ""
    for segment in text.split(SEPARATOR):
        candidate = f"{current}{SEPARATOR}{segment}" if current else segment
        if fits(candidate):
            current = candidate
            continue
        if current:
            flush(current)
        pieces = [segment] if fits(segment) else _wrap_words(segment, fits, hyphenate)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    lines.append(current)
    return lines


def _joins(before: str, after: str) -> bool:
    """A break between these two characters needs a hyphen: both are letters of an alphabet (not
    ideographs, kana or Hangul, which are written without one)."""
    return all(c.isalpha() and unicodedata.east_asian_width(c) not in ("W", "F") for c in (before, after))


def _break_word(word: str, current: str, fits, hyphenate: bool) -> tuple[list[str], str]:
    """Break a word too wide for a line of its own, character by character; returns the full lines
    and the start of the next one."""
    lines: list[str] = []
    for char in word:
        if current and not fits(current + char):
            line, carry = current, ""
            if hyphenate and _joins(current[-1], char):
                while len(line) > 1 and not fits(line + HYPHEN):
                    line, carry = line[:-1], line[-1] + carry
                if fits(line + HYPHEN) and _joins(line[-1], (carry + char)[0]):
                    line += HYPHEN
            lines.append(line)
            current = carry
        current += char
    return lines, current


def _wrap_words(text: str, fits, hyphenate: bool = False) -> list[str]:
    """Greedy word wrap. Words joined by no-break spaces stay together unless they cannot fit
    even on a line of their own."""
    words = []
    for word in text.split(" "):
        words += word.split(NBSP) if not fits(word) else [word]
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        broken, current = _break_word(word, "", fits, hyphenate)
        lines.extend(broken)
    return [*lines, current] if current or not lines else lines


def place(item: Text, width: float, scale: float = 1.0) -> Placed:
    """Fit one item: on one line per paragraph (``\n``), shrinking down to ``shrink``, else wrapped."""
    size = max(item.size * scale, MIN_SIZE)
    padding = PADDING * size if item.framed else 0.0
    if item.framed:
        width -= 2 * (padding + FRAME)
    paragraphs = item.text.split("\n")
    natural = max(fonts.width(p, item.bold, size) for p in paragraphs)
    fitted = size * width / natural * 0.999 if natural else size
    if natural > width and fitted >= max(size * item.shrink, MIN_SIZE):
        size = fitted
    lines = [line for p in paragraphs for line in wrap(p, item.bold, size, width, hyphenate=item.hyphenate)]
    return Placed(item, tuple(lines), size, item.space_before * scale, padding)


def fit(items: Sequence[Text], width: float, height: float, *, where: str = lazy("label")) -> list[Placed]:
    """Lay ``items`` out in a box of ``width`` × ``height`` points at the largest scale that fits."""
    scale = 1.0
    while scale >= MIN_SCALE - 1e-9:
        placed = [place(item, width, scale) for item in items if item.text]
        if sum(p.height for p in placed) <= height:
            return placed
        scale -= 0.05
    raise LabelOverflow(
        _("The {where} does not fit the label even in small print; shorten the longest entries (names, lots) or "
          "choose a larger label stock.", where=i18n.now(where))
    )


def spread(placed: Sequence[Placed], height: float) -> list[Placed]:
    """Share the room left in a box among the spaces between groups (items with ``space_before``)."""
    gaps = [p for p in placed if p.space_before]
    room = height - sum(p.height for p in placed)
    if not gaps or room <= 0:
        return list(placed)
    extra = room / len(gaps)
    return [replace(p, space_before=p.space_before + extra) if p.space_before else p for p in placed]


def height(placed: Sequence[Placed]) -> float:
    return sum(p.height for p in placed)


def draw(canvas, placed: Sequence[Placed], x: float, top: float, width: float) -> float:
    """Draw a fitted block below ``top``; returns the y where it ends."""
    for p in placed:
        top -= p.space_before
        inset = 0.0
        if p.item.framed:
            _frame(canvas, x, top - p.height + p.space_before, width, p.height - p.space_before)
            inset = p.padding + FRAME
        top -= p.padding
        for line in p.lines:
            baseline = top - fonts.ASCENT * p.size
            if p.item.align == "centre":
                fonts.draw(canvas, x + width / 2, baseline, line, p.item.bold, p.size, "centre")
            elif p.item.align == "right":
                fonts.draw(canvas, x + width - inset, baseline, line, p.item.bold, p.size, "right")
            else:
                fonts.draw(canvas, x + inset, baseline, line, p.item.bold, p.size)
            top -= fonts.LEADING * p.size
        top -= p.padding
    return top


def _frame(canvas, x: float, y: float, width: float, height: float) -> None:
    """A rectangle whose stroke lies wholly inside (x, y, width, height)."""
    canvas.setLineWidth(FRAME)
    half = FRAME / 2
    canvas.rect(x + half, y + half, width - FRAME, height - FRAME, stroke=1, fill=0)
