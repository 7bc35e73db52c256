"""`grade()` against two corpora of submissions: known-wrong ones and correct alternatives.

A corpus entry (tests/autograder/corpus/<corpus>/<name>.py) is a patch, not a copy: its module
docstring says what it is, its `ENTRY = {...}` literal is its metadata, and everything else is
submission code, appended to one file ("file") of a copy of the reference (a later `def`
overrides the earlier one; methods are replaced by assignment). The entry files are never
imported here: `Entry` reads them with `ast`.

known_wrong/  one realistic bug each. "phase"; "place": a string, or a tuple of them, that the
              phase's feedback must contain; "diagnosis": the suites' known-mistake description
              that some failed test's feedback must contain, or None; "dependent" (optional):
              phases that may lose points too because they run this code (a backward suite takes
              its cache from the student's own forward), whose feedback must then name this
              phase as the one to fix first; "blame" (optional): {phase: words} that some failed
              test of that phase must contain (the feedback names the student's function that
              the failing one is built from); "extends" (optional): entries whose code comes
              first, in order ("correct/<name>", ...); "gap" (optional): why the grader cannot
              catch it yet, which makes the test a strict xfail. The entry must lose points in its
              phase and none in the other phases it is graded on (`also_graded`).
correct/      alternative implementations in other styles. "phases": every phase the code
              touches; each must get full marks in all of them.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnnkit.autograder.grade import grade
from cnnkit.paths import KIT_ROOT
from cnnkit.phases import phase

CORPUS = Path(__file__).with_name("corpus")
STATUSES = {"passed", "partial", "not_started", "failed", "timeout", "error"}
HANG_GUARD_SECONDS = 600  # far above any grade's own time limits: only a real hang trips it


@dataclass(frozen=True)
class Entry:
    """One corpus file: its docstring, metadata and the code it appends to a submission."""

    name: str
    description: str
    meta: dict
    code: str

    @classmethod
    def read(cls, path: Path) -> Entry:
        source = path.read_text()
        lines = source.splitlines(keepends=True)
        tree = ast.parse(source)
        meta, code = None, []
        for node in tree.body[1:]:  # body[0] is the docstring
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id == "ENTRY":
                meta = ast.literal_eval(node.value)
            else:
                first = min([node.lineno] + [d.lineno for d in
                                             getattr(node, "decorator_list", [])])
                code.append("".join(lines[first - 1:node.end_lineno]))
        assert isinstance(meta, dict), f"{path.name} has no ENTRY = {{...}} literal"
        return cls(path.stem, ast.get_docstring(tree).splitlines()[0], meta, "\n\n".join(code))

    def apply(self, folder: Path) -> Path:
        """Append this entry's code to its "file" of the scratchcnn package in `folder`, after
        the code of the entries it "extends" (paths under corpus/), if any."""
        for base in self.meta.get("extends", ()):
            Entry.read(CORPUS / f"{base}.py").apply(folder)
        target = folder / "scratchcnn" / self.meta["file"]
        with open(target, "a") as out:
            out.write(f"\n\n# --- corpus entry {self.name}: {self.description}\n{self.code}\n")
        return folder


def entries(corpus: str) -> list:
    """pytest params of every entry of a corpus, with the file name as id. An entry with a "gap"
    (a known hole of the grader, described there) is a strict xfail: fixing the hole makes it
    pass, and CI then asks for the "gap" to go."""
    params = []
    for path in sorted((CORPUS / corpus).glob("*.py")):
        entry = Entry.read(path)
        gap = entry.meta.get("gap")
        params.append(pytest.param(entry, id=path.stem, marks=[pytest.mark.xfail(
            strict=True, reason=f"grader gap: {gap}")] if gap else []))
    return params


def copy_package(source: Path, folder: Path) -> Path:
    shutil.copytree(source / "scratchcnn", folder / "scratchcnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def check_complete(result: dict, numbers: list[int]) -> dict[int, dict]:
    """Check that the result has one well-formed record per requested phase, in order; return
    the records by phase number."""
    assert [p["phase"] for p in result["phases"]] == numbers
    for p in result["phases"]:
        assert p["status"] in STATUSES, p
        assert 0 <= p["score"] <= p["max_score"]
        assert isinstance(p["feedback"], str) and isinstance(p["tests"], list)
        # every test ran and reported (unless no job could run: a grader error, or an import
        # that hung, found once for all phases); each score is rounded
        if p["tests"] or p["status"] not in ("error", "timeout"):
            assert p["tests"] and p["score"] == pytest.approx(
                sum(t["score"] for t in p["tests"]), abs=0.005 * (len(p["tests"]) + 1))
    assert result["total"] == pytest.approx(sum(p["score"] for p in result["phases"]), abs=1e-9)
    assert result["max_total"] == sum(p["max_score"] for p in result["phases"] if not p["bonus"])
    assert result["bonus_max"] == sum(p["max_score"] for p in result["phases"] if p["bonus"])
    return {p["phase"]: p for p in result["phases"]}


def also_graded(phase: int) -> tuple[int, ...]:
    """The other phases whose suites run the code of `phase`, so where a bug could leak:
    phase 8 (it replaces phases 1-7 by the reference), the suite whose backward uses this
    forward's cache (3 after 2, 5 after 4), or whose forward a Phase 5 entry rewrites (4), and
    phase 13, whose residual block is built on ReLU (7) and Conv2D (8)."""
    neighbours = {2: (3,), 4: (5,), 5: (4,), 7: (13,), 8: (13,)}.get(phase, ())
    return tuple(sorted({*neighbours, *((8,) if phase < 8 else ())}))


@pytest.mark.timeout(HANG_GUARD_SECONDS)
@pytest.mark.parametrize("entry", entries("known_wrong"))
def test_known_wrong_loses_points_in_its_phase_only(entry, tmp_path):
    own = entry.meta["phase"]
    numbers = sorted({own, *also_graded(own)})
    phases = check_complete(grade(entry.apply(copy_package(KIT_ROOT / "solutions", tmp_path)),
                                  numbers), numbers)

    mine = phases[own]
    assert mine["status"] in ("partial", "failed"), (entry.description, mine)
    assert mine["score"] < mine["max_score"]
    places = entry.meta["place"]
    for place in (places,) if isinstance(places, str) else places:
        assert place in mine["feedback"], (place, mine["feedback"])
    if entry.meta["diagnosis"]:
        failed = [t["feedback"] for t in mine["tests"] if not t["passed"]]
        assert any(entry.meta["diagnosis"] in f for f in failed), failed
    for number in numbers:
        if number != own and number not in entry.meta.get("dependent", ()):
            assert phases[number]["status"] == "passed", (number, phases[number])
            assert phases[number]["score"] == phases[number]["max_score"]
    for number in entry.meta.get("dependent", ()):
        if phases[number]["status"] != "passed":  # it runs this code: it says what to fix first
            blamed = f"Phase {own} ({phase(own).title}) fails too"
            assert phases[number]["feedback"].startswith(blamed), phases[number]["feedback"]
    for number, words in entry.meta.get("blame", {}).items():
        failed = [t["feedback"] for t in phases[number]["tests"] if not t["passed"]]
        assert any(words in f for f in failed), failed


@pytest.mark.timeout(HANG_GUARD_SECONDS)
@pytest.mark.parametrize("entry", entries("correct"))
def test_correct_alternative_gets_full_marks(entry, tmp_path, mnist_dir):
    """Full marks in its phases; and where Phase 9 trains with its code, that training passes
    the replay (the batch benchmark found float32 replays failing such alternatives)."""
    numbers = list(entry.meta["phases"])
    trains = bool(set(numbers) & set(phase(9).builds_on))
    graded = numbers + [9] * trains
    phases = check_complete(grade(entry.apply(copy_package(KIT_ROOT / "solutions", tmp_path)),
                                  graded), graded)
    for number in numbers:
        p = phases[number]
        assert (p["status"], p["score"]) == ("passed", p["max_score"]), (number, p["feedback"])
    if trains:  # no model.npz here: only the tests of training itself can pass
        training = [t for t in phases[9]["tests"] if t["name"].startswith("train_epoch")]
        assert len(training) == 2 and all(t["passed"] for t in training), phases[9]["feedback"]
