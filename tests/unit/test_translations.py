"""Every text a person reads is marked for translation, and every shipped language translates it (issue 16 point 8).

Three checks, each naming what it found (file:line and the text) so that the list is a to-do:

- the templates: text between tags and the attributes people read (title, aria-label, placeholder, alt,
  data-label, the value of a submit button) hold no letters outside ``{{ _(…) }}``/``{% trans %}``, and no string
  written in an expression (``title="…"`` given to a macro, ``"A" if x else "B"``) is shown unmarked;
- the Python code: a refusal (a ``PharmacyError`` subclass), a ``flash()`` or a ``message=`` is never given a bare
  string literal or f-string: it is ``_("…", name=value)`` (or ``ngettext``/``lazy``);
- the catalogues: each shipped language other than English has ``pharmacy/translations/<lang>/LC_MESSAGES/messages.po``
  with a non-empty, non-fuzzy translation of every message extracted (Babel's extractors, as ``babel.cfg`` says),
  with the same fields as the English text.

What is not translated, and why, is listed here and nowhere else: units and codes (``NOT_WORDS``), elements
marked ``translate="no"`` (the HTML attribute: product facts, codes), ``<code>``/``<kbd>``/``<samp>``, scripts and
styles, and the files English by design (``ENGLISH_BY_DESIGN``: the command line).
"""

from __future__ import annotations

import ast
import html.parser
import re
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from pharmacy import i18n

pytestmark = pytest.mark.hazard("H41")  # SAFETY.md: a text shown in another language says what the English says

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PACKAGE = ROOT / "pharmacy"

# Letters that are not words of a language: units, symbols and codes shown as they are in every language.
NOT_WORDS = frozenset({
    "mL", "L", "mg", "g", "kg", "µg", "mcg", "mmol", "IU", "h", "min", "s", "mL/h", "mg/mL", "mg/m²", "m²", "°C",
    "dpi", "GS1", "GTIN", "FHIR", "ZPL", "PDF", "CSV", "JSON", "QR", "ID", "OK", "UTC", "SmPC", "AI",
})
# The attributes a person reads (a screen reader, a tooltip, a field's hint, the narrow screens' column captions).
READ_ATTRIBUTES = frozenset({"title", "aria-label", "aria-description", "aria-roledescription", "aria-placeholder",
                             "placeholder", "alt", "label", "data-label"})
BUTTON_INPUTS = frozenset({"submit", "button", "reset"})
UNTRANSLATED_ELEMENTS = frozenset({"script", "style", "code", "kbd", "samp"})
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
# Files whose texts are English by design: the command line (an operator's tool, documented in English).
ENGLISH_BY_DESIGN = frozenset({"cli.py"})
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy": None}  # pybabel's own, and -k lazy

EXPR = "\x1a"  # where a {{ … }} or a {% trans %} block stood: its text is either data or already marked
LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Finding:
    where: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.text!r}"


def _environment() -> Environment:
    return Environment(extensions=["jinja2.ext.i18n"])  # as Flask-Babel installs it


def has_words(text: str) -> bool:
    """Letters that are words of a language: not units or codes, not what an expression wrote."""
    for word in re.split(r"[\s" + EXPR + r"]+", text):
        word = word.strip(".,:;!?()[]«»“”\"'’·—–-/#+*=<>|…")
        if word and LETTER.search(word) and word not in NOT_WORDS:
            return True
    return False


# --- templates: the text between tags and the attributes read ------------------------------------------------------
def skeleton(env: Environment, source: str) -> str:
    """The template's HTML with every {{ … }} and {% trans %} block replaced by EXPR and every other tag by a
    space; lines kept where they were, so the HTML parser's line numbers are the template's."""
    out: list[str] = []
    line = 1
    in_trans = False
    block: list[str] | None = None  # the first name of the {% … %} being read
    for lineno, token, value in env.lex(source):
        if lineno > line:
            out.append("\n" * (lineno - line))
            line = lineno
        if token == "block_begin":
            block = []
        elif block is not None:
            if token == "name" and not block:
                block.append(value)
                if value == "trans":
                    in_trans = True
                    out.append(EXPR)
                elif value == "endtrans":
                    in_trans = False
            elif token == "block_end":
                block = None
                if not in_trans:
                    out.append(" ")
        elif token == "data" and not in_trans:
            out.append(value)
            line += value.count("\n")
        elif token == "variable_begin" and not in_trans:
            out.append(EXPR)
    return "".join(out)


class _TextFinder(html.parser.HTMLParser):
    def __init__(self, where: str) -> None:
        super().__init__(convert_charrefs=True)
        self.where = where
        self.findings: list[Finding] = []
        self.stack: list[tuple[str, bool]] = []  # (element, its content is not translated)

    def _untranslated(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        line = self.getpos()[0]
        skip = self._untranslated() or values.get("translate") == "no"
        if not skip:
            for name, value in attrs:
                shown = name in READ_ATTRIBUTES or (
                    name == "value" and tag == "input" and values.get("type", "").lower() in BUTTON_INPUTS)
                if shown and value and has_words(value):
                    self.findings.append(Finding(self.where, line, f'{name}="{value.replace(EXPR, "{{…}}")}"'))
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, skip or tag in UNTRANSLATED_ELEMENTS))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):  # tolerant of unclosed <li>, <p>…
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self._untranslated() or not has_words(data):
            return
        line = self.getpos()[0]
        first = LETTER.search(data)
        line += data[: first.start() if first else 0].count("\n")
        text = " ".join(data.replace(EXPR, " {{…}} ").split())
        self.findings.append(Finding(self.where, line, text))


def unmarked_text(source: str, where: str = "<template>", env: Environment | None = None) -> list[Finding]:
    finder = _TextFinder(where)
    finder.feed(skeleton(env or _environment(), source))
    finder.close()
    return finder.findings


# --- templates: strings written in expressions ------------------------------------------------------------------------
MARKING_CALLS = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext"})
# Calls whose string arguments are names, not texts shown.
NAME_CALLS = frozenset({"url_for", "get", "getattr", "attr", "csrf_token", "has_permission", "can", "static"})
# Filters whose arguments are shown.
TEXT_FILTERS = frozenset({"default", "d", "replace"})


def _is_text(value: str) -> bool:
    """A string constant that reads as a sentence or a caption ("Not done", "Preparation"), not an identifier."""
    value = re.sub(r"%-?[a-zA-Z%]", " ", value)  # a date format ("%d %b %H:%M") is no text
    return has_words(value) and (" " in value.strip() or bool(re.match(r"[A-Z][a-z]", value)))


def unmarked_expressions(source: str, where: str = "<template>", env: Environment | None = None) -> list[Finding]:
    tree = (env or _environment()).parse(source)
    findings: list[Finding] = []

    def visit(node: nodes.Node, shown: bool) -> None:
        called = _call_name(node) if isinstance(node, nodes.Call) else ""
        if called in MARKING_CALLS or isinstance(node, (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            return
        if isinstance(node, (nodes.Compare, nodes.Test, nodes.Getitem)):
            # compared with, tested or used as a key: a value, not a text shown
            for child in node.iter_child_nodes():
                visit(child, False)
        elif isinstance(node, nodes.Filter):
            # a filter's arguments are names or formats (selectattr("label", "equalto", "Withdraw"), local("%H:%M")),
            # except the text a few of them show
            if node.node is not None:
                visit(node.node, shown)
            for child in (*node.args, *(k.value for k in node.kwargs)):
                visit(child, shown and node.name in TEXT_FILTERS)
        elif isinstance(node, nodes.Call) and called in NAME_CALLS:
            visit(node.node, False)
            for index, child in enumerate((*node.args, *(k.value for k in node.kwargs))):
                visit(child, shown and called == "get" and index > 0)  # titles.get(step, "Preparation"): a default shown
        elif isinstance(node, nodes.Pair):
            visit(node.key, False)
            visit(node.value, shown)
        elif isinstance(node, nodes.Const):
            if shown and isinstance(node.value, str) and _is_text(node.value):
                findings.append(Finding(where, node.lineno, node.value))
        else:
            for child in node.iter_child_nodes():
                visit(child, shown)

    visit(tree, True)
    return findings


def _call_name(node: nodes.Call) -> str:
    if isinstance(node.node, nodes.Name):
        return node.node.name
    if isinstance(node.node, nodes.Getattr):
        return node.node.attr
    return ""


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _report(findings: list[Finding], what: str) -> str:
    findings = sorted(findings, key=lambda f: (f.where, f.line))
    return f"{len(findings)} {what}:\n" + "\n".join(map(str, findings))


def test_template_text_is_marked() -> None:
    env = _environment()
    findings = [f for path in _templates() for f in unmarked_text(path.read_text(encoding="utf-8"), _relative(path), env)]
    assert not findings, _report(findings, "texts outside translation marks")


def test_template_expression_strings_are_marked() -> None:
    env = _environment()
    findings = [f for path in _templates() for f in unmarked_expressions(path.read_text(encoding="utf-8"), _relative(path), env)]
    assert not findings, _report(findings, "strings written in expressions and shown unmarked")


# the checkers themselves: they find what they must and nothing else
@pytest.mark.parametrize("source, expected", [
    ("<p>Scan the vial</p>", ["Scan the vial"]),
    ("<td>{{ n }} bags</td>", ["{{…}} bags"]),
    ('<button title="Print the label">{{ _("Print") }}</button>', ['title="Print the label"']),
    ('<input type="submit" value="Record">', ['value="Record"']),
    ('<td data-label="Patient">{{ p.name }}</td>', ['data-label="Patient"']),
    ('<img alt="Photo of the bag" src="{{ url }}">', ['alt="Photo of the bag"']),
    ("{% block title %}Change password{% endblock %}", ["Change password"]),
    ("<p>\n  {% if x %}\n  Not yet\n  {% endif %}</p>", ["Not yet"]),
])
def test_checker_finds_unmarked_text(source: str, expected: list[str]) -> None:
    assert [f.text for f in unmarked_text(source)] == expected


def test_checker_names_the_line() -> None:
    assert [f.line for f in unmarked_text("<div>\n{{ x }}\n<p>\n\n   Weigh the bag</p>\n</div>")] == [5]


@pytest.mark.parametrize("source", [
    '<p>{{ _("Scan the vial") }}</p>',
    "<p>{% trans serial=bag.serial %}Bag {{ serial }} was stored{% endtrans %}</p>",
    "<p>{% trans count=n %}{{ count }} bag{% pluralize %}{{ count }} bags{% endtrans %}</p>",
    '<td>{{ dose }} mg · {{ volume }} mL · {{ rate }} mL/h</td>',
    '<a class="btn btn-primary" href="{{ url_for(\'prep.show\', id=p.id) }}" id="next-step">{{ _("Next") }}</a>',
    '<input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><input name="code" value="Lot A">',
    '<button type="submit" name="decision" value="use">{{ _("Use") }}</button>',
    '<span translate="no">{{ product.brand }} 12 mg/1.2 mL concentrate</span>',
    "<p>Run <code>pharmacy init-db</code></p>".replace("Run ", ""),
    "<script>var text = 'Not shown as such';</script><style>.a::after { content: 'x'; }</style>",
    "{# A comment #}<!-- an HTML comment -->&nbsp;&middot;&mdash; · — {{ x }}",
    '<span aria-hidden="true">!</span> <abbr title="{{ _(\'Good Manufacturing Practice\') }}">GMP</abbr>'.replace("GMP", "{{ x }}"),
])
def test_checker_passes_marked_text(source: str) -> None:
    assert unmarked_text(source) == []


@pytest.mark.parametrize("source, expected", [
    ('{{ refusal(error, title="Password not changed") }}', ["Password not changed"]),
    ('{{ "Retake photo" if current else "Take photo" }}', ["Retake photo", "Take photo"]),
    ('{% with scan_label = "Vial scan" %}{{ scan_label }}{% endwith %}', ["Vial scan"]),
    ('{{ titles.get(step, "Preparation") }}', ["Preparation"]),
    ('{{ "Preparation " ~ prep.id }}', ["Preparation "]),
    ('{% for n, name in [(1, "Bag label"), (2, "Wristband")] %}{{ name }}{% endfor %}', ["Bag label", "Wristband"]),
])
def test_checker_finds_unmarked_expressions(source: str, expected: list[str]) -> None:
    assert [f.text for f in unmarked_expressions(source)] == expected


@pytest.mark.parametrize("source", [
    '{{ refusal(error, title=_("Password not changed")) }}',
    '{{ _("Retake photo") if current else _("Take photo") }}',
    '{% set fact = facts|selectattr("label", "equalto", "Withdraw")|first %}',
    '<span class="{% if text == "EXPIRED" %}is-expired{% endif %}">{{ text }}</span>',
    "{{ url_for('accounts.change_password') }}{{ bag.location or \"—\" }}{{ row['Patient'] }}",
    '{% extends "base.html" %}{% from "_macros.html" import refusal, csrf %}',
    '{{ bag.use_by|local("%d %b %H:%M") }}{{ "%g"|format(order.dose_mg) }}',
])
def test_checker_passes_marked_expressions(source: str) -> None:
    assert unmarked_expressions(source) == []


# --- Python: refusals, flashes and messages ------------------------------------------------------------------------
WRAPPERS = frozenset({"_", "gettext", "ngettext", "lazy"})


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).as_posix() not in ENGLISH_BY_DESIGN and "migrations" not in p.parts)


def _refusal_classes(files: list[Path]) -> frozenset[str]:
    """Every class that derives from PharmacyError, by name, across the package."""
    bases: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(b) for b in node.bases)
    found = {"PharmacyError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return frozenset(found)
        found |= more


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _unwrapped(node: ast.expr) -> list[ast.expr]:
    """The literal texts in this argument that no _()/ngettext()/lazy() wraps."""
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) and has_words(node.value) else []
    if isinstance(node, ast.JoinedStr):
        literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return [node] if has_words(literal) else []
    if isinstance(node, ast.Call):
        if _name(node.func) in WRAPPERS:
            return []
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":  # "…".format(…)
            return _unwrapped(node.func.value)
        return []
    if isinstance(node, ast.BinOp):  # "…" + x, "…" % x
        return _unwrapped(node.left) + _unwrapped(node.right)
    if isinstance(node, ast.IfExp):
        return _unwrapped(node.body) + _unwrapped(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [n for value in node.values for n in _unwrapped(value)]
    return []


def unmarked_messages(source: str, refusals: frozenset[str], where: str = "<module>") -> list[Finding]:
    findings: list[Finding] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = _name(node.func)
        candidates: list[ast.expr] = []
        if (called in refusals or called == "flash") and node.args:
            candidates.append(node.args[0])
        candidates += [k.value for k in node.keywords if k.arg == "message"]
        for candidate in candidates:
            for literal in _unwrapped(candidate):
                findings.append(Finding(where, literal.lineno, ast.get_source_segment(source, literal) or ""))
    return findings


def test_python_messages_are_marked() -> None:
    files = _python_files()
    refusals = _refusal_classes(files)
    findings = [f for path in files
                for f in unmarked_messages(path.read_text(encoding="utf-8"), refusals, _relative(path))]
    assert not findings, _report(findings, "refusals, flashes or messages given a text not marked with _()")


@pytest.mark.parametrize("source, expected", [
    ('raise NotFound("No such bag.")', ['"No such bag."']),
    ('raise errors.Expired(f"Vial {serial} expired.", serial=serial)', ['f"Vial {serial} expired."']),
    ('flash(f"Bag {serial} stored.", "success")', ['f"Bag {serial} stored."']),
    ('flash("Used." if ok else "Discarded.", "info")', ['"Used."', '"Discarded."']),
    ('Violation(code="x", message="Too early.")', ['"Too early."']),
    ('raise StateConflict("Bag {serial} is {state}.".format(serial=s, state=t))', ['"Bag {serial} is {state}."']),
])
def test_checker_finds_unmarked_messages(source: str, expected: list[str]) -> None:
    refusals = frozenset({"PharmacyError", "NotFound", "Expired", "StateConflict"})
    assert [f.text for f in unmarked_messages(source, refusals)] == expected


@pytest.mark.parametrize("source", [
    'raise NotFound(_("No such bag {serial}.", serial=s))',
    'raise errors.Expired(i18n._("Vial {serial} expired.", serial=serial))',
    'flash(ngettext("{count} bag quarantined.", "{count} bags quarantined.", n), "success")',
    'raise NotFound(message)',
    'raise StateConflict(_("Stored.") if ok else _("Not stored."))',
    'log.info("bag %s stored", serial)',
    'raise ValueError("not a refusal: an error of the program")',
    'flash("", "info")',
])
def test_checker_passes_marked_messages(source: str) -> None:
    assert unmarked_messages(source, frozenset({"NotFound", "Expired", "StateConflict"})) == []


MARKS = frozenset({"_", "gettext", "ngettext", "lazy"})


def marks_inside_fstrings(source: str, where: str = "<module>") -> list[Finding]:
    """``_("…")`` written inside an f-string: pybabel does not read f-strings, so the text never reaches the
    catalogues and stays English in every language (the catalogue test cannot see what was never extracted)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and _name(inner.func).rsplit(".", 1)[-1] in MARKS:
                    found.append(Finding(where, inner.lineno, ast.unparse(inner)))
    return found


def test_no_text_is_marked_inside_an_f_string() -> None:
    findings = [f for path in _python_files()
                for f in marks_inside_fstrings(path.read_text(encoding="utf-8"), _relative(path))]
    assert not findings, _report(findings, "texts marked inside an f-string (never extracted: write them outside it)")


def test_the_f_string_check_finds_a_mark_inside_and_only_there() -> None:
    assert [f.text for f in marks_inside_fstrings('x = f"{_(\'USE BY\')} {when}"')] == ["_('USE BY')"]
    assert marks_inside_fstrings('x = " ".join((_("USE BY"), when))\ny = f"{when}"') == []


def test_every_refusal_class_is_known() -> None:
    """The classes the check reads as refusals include those defined outside domain/errors.py."""
    refusals = _refusal_classes(_python_files())
    assert {"PharmacyError", "QuantityError", "CheckDigitError", "FormError", "LabelOverflow", "BalanceNotStable"} <= refusals


# --- the catalogues -------------------------------------------------------------------------------------------------
# the map pybabel reads (babel.cfg at the project's root), so that this check and the catalogues agree
with (ROOT / "babel.cfg").open(encoding="utf-8") as _cfg:
    METHOD_MAP, OPTIONS_MAP = parse_mapping_cfg(_cfg, "babel.cfg")
SHIPPED = [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE]


@dataclass(frozen=True)
class Extracted:
    msgid: str | tuple[str, str]
    where: str
    template: bool  # %(name)s fields (Jinja), else {name} fields (str.format)


def extracted_messages() -> dict[str | tuple[str, str], Extracted]:
    messages: dict[str | tuple[str, str], Extracted] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS, strip_comment_tags=True):
        if isinstance(message, tuple):
            if not message[0]:
                continue
            message = (message[0], message[1])
        elif not message:
            continue
        messages.setdefault(message, Extracted(message, f"{filename}:{lineno}", filename.startswith("templates")))
    return messages


def fields(text: str, template: bool) -> set[str]:
    if template:  # Jinja's newstyle gettext always applies %: a literal percent sign is %%
        if re.search(r"%(?!%|\(\w+\)[sdif])", text.replace("%%", "")):
            return {"<a lone % (write %%)>"}
        return set(re.findall(r"%\((\w+)\)[sdif]", text))
    try:
        return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<not a str.format text>"}


def test_messages_are_extracted() -> None:
    """The extraction reads both the code and the templates (else the catalogue check would pass on nothing)."""
    found = extracted_messages()
    assert any(e.template for e in found.values())
    assert any(not e.template for e in found.values())


@pytest.mark.parametrize("lang", SHIPPED)
def test_catalogue_translates_every_message(lang: str) -> None:
    path = PACKAGE / "translations" / lang / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"no catalogue for {lang}: {_relative(path)} (docs: pybabel extract/update, see babel.cfg)"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    problems: list[str] = []
    for msgid, origin in extracted_messages().items():
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"{origin.where}: not in the catalogue: {msgid!r}")
            continue
        if entry.fuzzy:
            problems.append(f"{origin.where}: fuzzy: {msgid!r}")
            continue
        forms = tuple(entry.string) if isinstance(entry.string, (tuple, list)) else (entry.string or "",)
        if not forms or not all(forms):
            problems.append(f"{origin.where}: not translated: {msgid!r}")
            continue
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(fields(text, origin.template) for text in ids))
        for form in forms:
            got = fields(form, origin.template)
            # a plural form may leave the count out ("one bag"), nothing else
            if got - wanted or (wanted - got) - {"count"}:
                problems.append(f"{origin.where}: fields {sorted(got)} instead of {sorted(wanted)}: {msgid!r} → {form!r}")
    assert not problems, f"{len(problems)} messages of {lang} missing or wrong:\n" + "\n".join(problems)
