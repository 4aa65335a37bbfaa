"""The package's house rules that a reader cannot keep by eye: narrow functions, a cheap ``import camsis``."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from camsis.errors import shown

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "camsis"
MAX_PARAMETERS = 12  # issue 24: parameters that travel together go in a small spec (InputSpec, ScaleFiles, ...)
MAX_LINES = 100


def functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}", node


def parameters(node) -> list[str]:
    """Every parameter, keyword-only and ``*args``/``**kwargs`` included, but self and cls."""
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls")]


def test_the_check_counts_every_kind_of_parameter():
    node = ast.parse("def f(self, a, /, b, *rest, c, d=1, **more): pass").body[0]
    assert parameters(node) == ["a", "b", "c", "d", "rest", "more"]


def test_no_function_takes_more_than_twelve_parameters():
    wide = {name: len(parameters(node)) for name, node in functions() if len(parameters(node)) > MAX_PARAMETERS}
    assert not wide, wide


def test_no_function_is_longer_than_a_hundred_lines():
    long = {name: node.end_lineno - node.lineno + 1 for name, node in functions()
            if node.end_lineno - node.lineno + 1 > MAX_LINES}
    assert not long, long


def test_import_camsis_loads_neither_numpy_nor_pandas():
    code = "import sys, camsis; print(sorted({'numpy', 'pandas', 'scipy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_messages_show_numpy_scalars_as_plain_numbers():
    assert [shown(np.float64(68.24)), shown(np.int64(1111)), shown(np.float32(2.0)), shown(3.0), shown("nurse")] \
        == ["68.24", "1111", "2", "3", "'nurse'"]


def test_no_rule_is_a_by_status_twin():
    """Occupation-by-status units are a variant ({variant} wildcard) of the same rules, not a copy."""
    rules = [match for path in sorted((REPO / "workflow").rglob("*.smk")) + [REPO / "Snakefile"]
             for match in re.findall(r"^(?:rule|checkpoint)\s+(\w+)\s*:", path.read_text(), re.MULTILINE)]
    assert "score_units" in rules and "tabulate" in rules, rules  # the pattern reads the rules
    assert not [name for name in rules if "by_status" in name], rules
    assert not list((REPO / "workflow/scripts").glob("*by_status*.py"))
