"""Mutants of the reference: one small student-like mistake each, inside a `### BEGIN/END SOLUTION`
region of solutions/scratchcnn (`cnnkit audit` grades them).

Each mutant replaces one expression or statement of a region by a mutated copy (the rest of the
file is untouched, so its diff is one line). The operators model student mistakes: arithmetic and
comparison swaps, off-by-one constants and slice bounds, another axis or a swapped pair in
transpose/reshape, `+=` <-> `=`, changed initial values (-inf <-> 0, zeros <-> empty), a dropped
term, swapped arguments, a dropped dtype conversion or copy, max <-> min, reversed iteration.
"""

from __future__ import annotations

import ast
import copy
import difflib
from dataclasses import dataclass
from pathlib import Path

from .phases import task_owner

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.FloorDiv: ast.Div}
COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                 ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
NAME_SWAPS = {"zeros": "empty", "empty": "zeros", "zeros_like": "empty_like",
              "empty_like": "zeros_like", "ones": "zeros", "max": "min", "min": "max",
              "argmax": "argmin", "argmin": "argmax", "maximum": "minimum", "minimum": "maximum"}
PERMUTED_CALLS = {"transpose", "reshape"}  # their positional arguments are an axis order or shape
DROPPED_CALLS = {"astype", "copy"}  # x.astype(...) -> x; x.copy() -> x


@dataclass(frozen=True)
class Mutant:
    """One mutated copy of one reference file."""

    ident: str  # "conv.py:42:3": file, line, index of the mutation on that line
    file: str  # relative to scratchcnn/
    line: int
    phase: int
    operator: str
    source: str  # the whole mutated file
    diff: str  # one-line unified diff against the reference

    def write(self, folder: Path) -> None:
        (folder / "scratchcnn" / self.file).write_text(self.source)


def regions(source: str) -> list[tuple[int, int]]:
    """(first, last) line numbers (1-based, inclusive) of the code between BEGIN and END lines."""
    found, start = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip() == BEGIN:
            start = number + 1
        elif line.strip() == END and start is not None:
            found.append((start, number - 1))
            start = None
    return found


def owners(tree: ast.Module) -> dict[int, str]:
    """Line number -> qualname of the innermost function defined there ("Conv2D.forward")."""
    lines = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if isinstance(child, ast.FunctionDef):
                    lines.update(dict.fromkeys(range(child.lineno, child.end_lineno + 1), name))
                visit(child, name + ".")
    visit(tree, "")
    return lines


def variants(node: ast.AST) -> list[tuple[str, ast.AST]]:
    """(operator name, replacement) for every mutation of this one node."""
    found = []
    if isinstance(node, ast.BinOp):
        if type(node.op) in BINOP_SWAPS:
            found.append(("arithmetic swap", ast.BinOp(node.left, BINOP_SWAPS[type(node.op)](),
                                                       node.right)))
        if isinstance(node.op, (ast.Add, ast.Sub)):
            found += [("dropped term", node.left), ("dropped term", node.right)]
        if isinstance(node.op, ast.MatMult):
            found.append(("swapped operands", ast.BinOp(node.right, node.op, node.left)))
    elif isinstance(node, ast.AugAssign):
        found.append(("+= <-> =", ast.Assign([node.target], node.value, lineno=0)))
        if type(node.op) in BINOP_SWAPS:
            swapped = BINOP_SWAPS[type(node.op)]()
            found.append(("arithmetic swap", ast.AugAssign(node.target, swapped, node.value)))
    elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript) \
            and len(node.targets) == 1:
        found.append(("= <-> +=", ast.AugAssign(node.targets[0], ast.Add(), node.value)))
    elif isinstance(node, ast.Compare) and type(node.ops[0]) in COMPARE_SWAPS:
        found.append(("comparison swap", ast.Compare(node.left, [COMPARE_SWAPS[type(node.ops[0])]()]
                                                     + node.ops[1:], node.comparators)))
    elif isinstance(node, ast.BoolOp):
        found.append(("and <-> or", ast.BoolOp(ast.Or() if isinstance(node.op, ast.And)
                                               else ast.And(), node.values)))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        found += [("off by one", ast.Constant(node.value + 1)),
                  ("off by one", ast.Constant(node.value - 1))]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and is_inf(node.operand):
        found += [("initial value -inf <-> 0", ast.Constant(0.0)), ("sign of inf", node.operand)]
    elif isinstance(node, ast.Slice):
        found += slice_variants(node)
    elif isinstance(node, ast.For) and is_call_to(node.iter, "range"):
        found.append(("reversed iteration", ast.For(
            node.target, ast.Call(ast.Name("reversed"), [node.iter], []), node.body, node.orelse,
            lineno=0)))
    elif isinstance(node, ast.Call):
        found += call_variants(node)
    return found


def is_inf(node):
    return isinstance(node, ast.Attribute) and node.attr == "inf"


def is_call_to(node, name):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def slice_variants(node: ast.Slice) -> list[tuple[str, ast.AST]]:
    """Off-by-one bounds (non-constant ones: constants are mutated as constants) and no step."""
    found = []
    for field in ("lower", "upper"):
        bound = getattr(node, field)
        if bound is not None and not isinstance(bound, ast.Constant):
            changed = copy.copy(node)
            setattr(changed, field, ast.BinOp(bound, ast.Add(), ast.Constant(1)))
            found.append(("off by one", changed))
    if node.step is not None:
        found.append(("dropped step", ast.Slice(node.lower, node.upper, None)))
    return found


def call_variants(node: ast.Call) -> list[tuple[str, ast.AST]]:
    found = []
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name in NAME_SWAPS and isinstance(node.func, ast.Attribute):
        func = ast.Attribute(node.func.value, NAME_SWAPS[name], ast.Load())
        found.append(("swapped function", ast.Call(func, node.args, node.keywords)))
    if name in DROPPED_CALLS and isinstance(node.func, ast.Attribute):
        found.append((f"dropped .{name}()", node.func.value))
    if name in PERMUTED_CALLS or len(node.args) == 2:
        for i in range(len(node.args) - 1):
            args = list(node.args)
            args[i], args[i + 1] = args[i + 1], args[i]
            found.append(("swapped arguments", ast.Call(node.func, args, node.keywords)))
    for i, keyword in enumerate(node.keywords):
        rest = node.keywords[:i] + node.keywords[i + 1:]
        if keyword.arg in ("dtype", "keepdims", "out", "axis"):
            found.append((f"dropped {keyword.arg}=", ast.Call(node.func, node.args, rest)))
        if keyword.arg == "axis" and isinstance(keyword.value, ast.Constant):
            for other in (keyword.value.value + 1, keyword.value.value - 1):
                changed = ast.keyword("axis", ast.Constant(other))
                found.append(("another axis", ast.Call(node.func, node.args,
                                                       [*rest[:i], changed, *rest[i:]])))
    return found


def splice(source: str, node: ast.AST, replacement: ast.AST) -> str:
    """`source` with the text of `node` replaced by `replacement` (parenthesised if an
    expression, so that precedence holds wherever it sits)."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    begin = starts[node.lineno - 1] + len(lines[node.lineno - 1].encode()[:node.col_offset]
                                          .decode())
    end = starts[node.end_lineno - 1] + len(lines[node.end_lineno - 1].encode()
                                            [:node.end_col_offset].decode())
    text = ast.unparse(ast.fix_missing_locations(replacement))
    if isinstance(node, ast.expr):
        text = f"({text})"
    elif isinstance(node, ast.For):  # keep the body: replace the header only
        end = starts[node.body[0].lineno - 1]
        text = text.splitlines()[0] + "\n"
    return source[:begin] + text + source[end:]


def file_mutants(package: Path, file: str) -> list[Mutant]:
    """Every mutant of the solution regions of package/file."""
    source = (package / file).read_text()
    tree = ast.parse(source)
    lines, inside = owners(tree), regions(source)
    mutants, per_line = [], {}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if line is None or not any(a <= line <= b for a, b in inside):
            continue
        if isinstance(node, ast.Slice) and not hasattr(node, "end_lineno"):
            continue
        task = f"{file}::{lines.get(line, '')}"
        for operator, replacement in variants(node):
            mutated = splice(source, node, replacement)
            try:
                compile(mutated, file, "exec")
            except SyntaxError:
                continue
            per_line[line] = per_line.get(line, 0) + 1
            diff = "".join(difflib.unified_diff(source.splitlines(True), mutated.splitlines(True),
                                                f"a/{file}", f"b/{file}", n=0))
            mutants.append(Mutant(f"{file}:{line}:{per_line[line]}", file, line,
                                  task_owner(task).number, operator, mutated, diff))
    return mutants


def all_mutants(package: Path) -> list[Mutant]:
    """The mutants of every solution region of the reference package, in file and line order."""
    found = []
    for path in sorted(package.glob("*.py")):
        if BEGIN in path.read_text():
            found += file_mutants(package, path.name)
    return sorted(found, key=lambda m: (m.file, m.line, int(m.ident.rsplit(":", 1)[1])))
