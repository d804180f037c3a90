"""Mutation score of the pure rules in pharmacy/domain, per module and in total (not run in CI).

    python bench/mutation.py --run          # mutmut run (2 workers), then the report
    python bench/mutation.py --run --fresh  # forget mutmut's cache (./mutants/) first: a full measurement
    python bench/mutation.py --run --retest # after adding tests: run again the mutants not killed last time
    python bench/mutation.py                # only the report, from the last run's results in ./mutants/
    python bench/mutation.py --all          # also list the mutants excluded as message-only or equivalent

Run it from anywhere; it works in the project root. mutmut is configured in ``[tool.mutmut]`` of
pyproject.toml: it mutates pharmacy/domain/ and runs tests/unit against each mutant. The exit status
is 0 when the targets are met: at least 92 % in total and 85 % in every module.

How it counts, per module:

* score = killed / (killed + survived + no tests + timeout + suspicious + segfault). A timeout or a
  crash is not counted as a kill; a mutant no unit test runs ("no tests") counts as a survivor.
* Message-only mutants are taken out of the score, killed or not, and counted in the "msg" column.
  A mutant is message-only when it differs from the original function only in ``str`` constants
  (same syntax tree otherwise), and each of them is a positional argument of the call in a ``raise``
  statement, or a literal piece of one (of an f-string, or of a ``"…" + …`` concatenation):
  ``raise E("…")``, ``raise E(f"… {x} …")``, ``raise E("…" + text + "…")``,
  ``raise self.fail(key, "…")``. Positional arguments of the errors raised in pharmacy/domain are
  text only (``PharmacyError(message, **details)``, ``ValueError(text)``, ``_Fields.fail(key,
  problem)``, which only formats a message). Keyword arguments (the ``details`` an error carries),
  expressions inside ``{…}`` or called on (``", ".join(…)``), and messages that are returned rather
  than raised (courses.check_course's violations) are never message-only.
* Equivalent mutants (no test can tell them apart from the original) are listed, each with its
  reason, in bench/mutation_equivalents.toml. A surviving mutant that matches an entry there (same
  function, same original and mutated line) is taken out of the score and counted in the "equiv"
  column. An entry that matches a killed mutant, or no mutant at all, is reported.
* "not checked" mutants (an interrupted run) are reported, and not scored.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
DOMAIN = Path("pharmacy") / "domain"
EQUIVALENTS = ROOT / "bench" / "mutation_equivalents.toml"
TOTAL_TARGET, MODULE_TARGET = 92.0, 85.0

# mutmut's exit codes (mutmut.stats.status_by_exit_code in 3.8; anything else is "suspicious")
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 2: "interrupted", None: "not checked",
          34: "skipped", 35: "suspicious", 36: "timeout", 37: "type check", -24: "timeout", 24: "timeout",
          152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault"}
NOT_KILLED = ("survived", "no tests", "timeout", "suspicious", "segfault", "interrupted")


@dataclass
class Mutant:
    name: str  # pharmacy.domain.coldchain.x_reading__mutmut_3
    module: str  # coldchain
    function: str  # x_reading (or xǁClassǁmethod)
    status: str
    removed: list[str] = field(default_factory=list)  # changed lines of the original function, stripped
    added: list[str] = field(default_factory=list)  # the same lines in the mutant
    message_only: bool = False
    equivalent: str | None = None  # the reason, when bench/mutation_equivalents.toml lists it


# --- reading the mutated files ------------------------------------------------------------------------
def functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Every generated function of a mutated file (the ``…__mutmut_orig`` copy and each mutant)."""
    found: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) else [node]
        for member in members:
            if isinstance(member, ast.FunctionDef) and "__mutmut_" in member.name:
                found[member.name] = member
    return found


def differences(a: object, b: object, path: tuple = ()):
    """(original, mutated, path) for each place two syntax trees differ; path = ((node, field, index), …)."""
    if type(a) is not type(b):
        yield a, b, path
    elif isinstance(a, ast.AST):
        for name in a._fields:
            x, y = getattr(a, name, None), getattr(b, name, None)
            if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
                for index, (p, q) in enumerate(zip(x, y, strict=True)):
                    yield from differences(p, q, (*path, (a, name, index)))
            elif isinstance(x, list) or isinstance(y, list):
                if x != y:  # an element added or removed: the node itself differs
                    yield a, b, path
            else:
                yield from differences(x, y, (*path, (a, name, None)))
    elif a != b:
        yield a, b, path


def in_raised_message(path: tuple) -> bool:
    """Is this str constant a literal piece of a positional argument of the call in a raise statement?"""
    steps = list(path)
    if not steps or (type(steps[-1][0]), steps[-1][1]) != (ast.Constant, "value"):
        return False
    steps.pop()
    while steps:  # up through f-strings and "…" + "…" concatenations of the message
        node, name, _ = steps[-1]
        if isinstance(node, ast.JoinedStr) and name == "values":
            steps.pop()
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and name in ("left", "right"):
            steps.pop()
        else:
            break
    return [(type(node), name) for node, name, _ in steps[-2:]] == [(ast.Raise, "exc"), (ast.Call, "args")]


def is_message_only(original: ast.FunctionDef, mutant: ast.FunctionDef) -> bool:
    renamed = ast.FunctionDef(**{**{f: getattr(mutant, f) for f in mutant._fields}, "name": original.name})
    found = list(differences(original, renamed))
    return bool(found) and all(isinstance(a, str) and isinstance(b, str) and in_raised_message(p) for a, b, p in found)


def changed_lines(lines: list[str], original: ast.FunctionDef, mutant: ast.FunctionDef) -> tuple[list[str], list[str]]:
    before = lines[original.lineno - 1 : original.end_lineno]
    after = lines[mutant.lineno - 1 : mutant.end_lineno]
    plain = original.name.removesuffix("__mutmut_orig").removeprefix("x_").rpartition("ǁ")[2]
    before[0], after[0] = before[0].replace(original.name, plain, 1), after[0].replace(mutant.name, plain, 1)
    removed, added = [], []
    for line in difflib.ndiff(before, after):
        if line.startswith("- "):
            removed.append(line[2:].strip())
        elif line.startswith("+ "):
            added.append(line[2:].strip())
    return removed, added


def load_results() -> dict[str, list[Mutant]]:
    by_module: dict[str, list[Mutant]] = {}
    for meta in sorted((MUTANTS / DOMAIN).glob("*.py.meta")):
        module = meta.name.removesuffix(".py.meta")
        source = meta.with_name(f"{module}.py").read_text(encoding="utf-8")
        generated, lines = functions(ast.parse(source)), source.splitlines()
        mutants = []
        for name, exit_code in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].items():
            short = name.rpartition(".")[2]
            function = short.partition("__mutmut_")[0]
            mutant = Mutant(name, module, function, STATUS.get(exit_code, "suspicious"))
            original, mutated = generated.get(f"{function}__mutmut_orig"), generated.get(short)
            if original is not None and mutated is not None:
                mutant.removed, mutant.added = changed_lines(lines, original, mutated)
                mutant.message_only = is_message_only(original, mutated)
            mutants.append(mutant)
        by_module[module] = mutants
    return by_module


# --- equivalent mutants -------------------------------------------------------------------------------
def apply_equivalents(by_module: dict[str, list[Mutant]]) -> list[str]:
    """Mark the listed equivalent mutants; return warnings about entries that do not fit the results."""
    if not EQUIVALENTS.exists():
        return []
    warnings = []
    for entry in tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8")).get("equivalent", []):
        where = f"{entry['module']}.{entry['function']}"
        original, mutated = entry["original"].splitlines(), entry["mutated"].splitlines()
        matches = [
            m for m in by_module.get(entry["module"], [])
            if m.function == entry["function"] and m.removed == original and m.added == mutated
        ]
        if not matches:
            warnings.append(f"{EQUIVALENTS.name}: no mutant of {where} changes “{entry['original']}” "
                            f"into “{entry['mutated']}” (the code changed? entry not applied)")
        for mutant in matches:
            if mutant.status == "killed":
                warnings.append(f"{EQUIVALENTS.name}: {mutant.name} is listed as equivalent but a test kills it")
            elif mutant.status == "survived":
                mutant.equivalent = entry["why"]
    return warnings


# --- the report ---------------------------------------------------------------------------------------
def scored(mutants: list[Mutant]) -> list[Mutant]:
    return [m for m in mutants if not m.message_only and m.equivalent is None
            and m.status not in ("not checked", "skipped")]


def score(mutants: list[Mutant]) -> tuple[int, int, float]:
    counted = [m for m in scored(mutants) if m.status == "killed" or m.status in NOT_KILLED]
    killed = sum(m.status == "killed" for m in counted)
    return killed, len(counted), 100.0 * killed / len(counted) if counted else 100.0


def describe(mutant: Mutant) -> str:
    change = "; ".join(f"- {r}" for r in mutant.removed) + "  →  " + "; ".join(f"+ {a}" for a in mutant.added)
    return f"  [{mutant.status}] {mutant.name}\n      {change if mutant.removed or mutant.added else '(no diff found)'}"


def report(by_module: dict[str, list[Mutant]], warnings: list[str], show_all: bool) -> int:
    rows, everything = [], []
    print(f"{'module':<14}{'killed/scored':>15}{'score':>9}{'survived':>10}{'no tests':>10}{'timeout':>9}"
          f"{'other':>7}{'msg':>6}{'equiv':>7}{'all':>6}")
    for module, mutants in sorted(by_module.items()):
        if not mutants:
            continue
        everything += mutants
        killed, counted, percent = score(mutants)
        counts = Counter(m.status for m in scored(mutants))
        other = sum(counts[s] for s in ("suspicious", "segfault", "interrupted"))
        ok = percent >= MODULE_TARGET
        rows.append(ok)
        print(f"{module:<14}{f'{killed}/{counted}':>15}{percent:>8.1f}%{counts['survived']:>10}{counts['no tests']:>10}"
              f"{counts['timeout']:>9}{other:>7}{sum(m.message_only for m in mutants):>6}"
              f"{sum(m.equivalent is not None for m in mutants):>7}{len(mutants):>6}" + ("" if ok else "  < 85 %"))
    killed, counted, percent = score(everything)
    message_only = [m for m in everything if m.message_only]
    equivalents = [m for m in everything if m.equivalent is not None]
    raw_killed = sum(m.status == "killed" for m in everything)
    print(f"{'total':<14}{f'{killed}/{counted}':>15}{percent:>8.1f}%   (target {TOTAL_TARGET:.0f} % in total, "
          f"{MODULE_TARGET:.0f} % per module)")
    print(f"excluded: {len(message_only)} message-only mutants "
          f"({sum(m.status == 'killed' for m in message_only)} of them killed anyway), "
          f"{len(equivalents)} equivalent mutants listed in {EQUIVALENTS.name}")
    print(f"without any exclusion: {raw_killed}/{len(everything)} killed "
          f"({100.0 * raw_killed / len(everything) if everything else 100.0:.1f} %)")
    unchecked = [m for m in everything if m.status == "not checked"]
    if unchecked:
        print(f"WARNING: {len(unchecked)} mutants not checked (interrupted run?): run again")
    for warning in warnings:
        print(f"WARNING: {warning}")

    alive = [m for m in scored(everything) if m.status in NOT_KILLED]
    print(f"\nMutants that are not killed ({len(alive)}):" if alive else "\nEvery scored mutant is killed.")
    for mutant in alive:
        print(describe(mutant))
    if show_all:
        print(f"\nMessage-only mutants ({len(message_only)}):")
        for mutant in message_only:
            print(describe(mutant))
        print(f"\nEquivalent mutants ({len(equivalents)}):")
        for mutant in equivalents:
            print(describe(mutant) + f"\n      why: {mutant.equivalent}")
    return 0 if all(rows) and percent >= TOTAL_TARGET and not unchecked else 1


def run_mutmut(max_children: int, fresh: bool, retest: bool) -> None:
    if fresh and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    mutmut = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    command = [mutmut, "run", "--max-children", str(max_children)]
    if retest and (MUTANTS / DOMAIN).is_dir():
        # mutmut keeps a verdict until the function changes; new tests can only kill what is still alive.
        # Which tests call which function is collected again, for old tests too (fixtures may have changed).
        command += [m.name for ms in load_results().values() for m in ms if m.status in (*NOT_KILLED, "not checked")]
        (MUTANTS / "mutmut-stats.json").unlink(missing_ok=True)
    started = time.monotonic()
    # mutmut's own progress goes to the terminal; its exit status is not the score (read below)
    subprocess.run(command, cwd=ROOT, check=False)
    print(f"\nmutmut run took {time.monotonic() - started:.0f} s ({max_children} workers)\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="run mutmut first (otherwise read the last results)")
    parser.add_argument("--fresh", action="store_true", help="with --run: delete ./mutants/ (mutmut's cache) first")
    parser.add_argument("--retest", action="store_true",
                        help="with --run: run again every mutant the last run did not kill (after adding tests)")
    parser.add_argument("--max-children", type=int, default=2, help="mutmut workers (default 2)")
    parser.add_argument("--all", action="store_true", help="also list message-only and equivalent mutants")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.run:
        run_mutmut(args.max_children, args.fresh, args.retest)
    if not (MUTANTS / DOMAIN).is_dir():
        print("No results in ./mutants/: run `python bench/mutation.py --run` first.")
        return 2
    by_module = load_results()
    measured = set(by_module)
    for path in sorted(DOMAIN.glob("*.py")):
        if path.stem not in measured:
            print(f"WARNING: {path} has no results (added after the last run?): run again")
    warnings = apply_equivalents(by_module)
    return report(by_module, warnings, args.all)


if __name__ == "__main__":
    sys.exit(main())
