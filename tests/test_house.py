"""The package's house rules that a reader cannot keep by eye: narrow functions, a cheap ``import camsis``,
groups of modules that import downward only."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import camsis
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


# The package's groups from the ground up (docs/DESIGN.md): a module imports its own group
# and the groups below it, never one above; scaling and publish stand side by side and know
# nothing of each other. Top-level modules are the ground (errors, vocabulary) or the doors.
FLOORS = {"ground": 0, "io": 1, "classifications": 2, "method": 3, "scaling": 4, "publish": 4, "doors": 5}
GROUND = {"errors", "vocabulary"}
DOORS = {"config", "runner", "steps", "diagnostics", "building", "cli", "cli_classification"}


def group_of(module: str) -> str | None:
    """The group of ``camsis.x`` or ``camsis.group.x``; None for a module in no known place."""
    first = module.split(".")[1]
    if first in GROUND:
        return "ground"
    if first in DOORS:
        return "doors"
    return first if first in FLOORS else None


def module_names(package: Path) -> dict[str, Path]:
    return {".".join(("camsis",) + path.relative_to(package).with_suffix("").parts).removesuffix(".__init__"): path
            for path in sorted(package.rglob("*.py"))}


def imported_modules(path: Path, name: str, modules: dict[str, Path], lazy: dict[str, str]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in it (at its top or inside a function).

    ``from camsis import build_scale`` and ``camsis.build_scale`` count as imports of the
    module that defines it (``camsis.__init__``'s lazy names); ``import camsis`` itself, which
    loads only ``camsis.errors``, as an import of the ground.
    """
    found = set()
    package_of = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("camsis.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package_of.split(".")[:len(package_of.split(".")) - node.level + 1] + ([base] if base else []))
            if base != "camsis" and not base.startswith("camsis."):
                continue
            found |= {imported_by_name(base, alias.name, modules, lazy) for alias in node.names}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "camsis" \
                and node.attr in lazy:
            found.add(f"camsis.{lazy[node.attr]}")
    return found


def imported_by_name(base: str, name: str, modules: dict[str, Path], lazy: dict[str, str]) -> str:
    """The module that ``from base import name`` loads: a submodule, a lazy name's module, or base."""
    if f"{base}.{name}" in modules:
        return f"{base}.{name}"
    if base == "camsis":
        return f"camsis.{lazy[name]}" if name in lazy else "camsis.errors"  # CamsisError, __version__
    return base


def upward_imports(package: Path, lazy: dict[str, str]) -> list[str]:
    """Every import that runs up or sideways between groups, and every module in no known place."""
    modules = module_names(package)
    faults = []
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue  # a group's docstring; the package's face hands its lazy names on to any floor
        group = group_of(name)
        if group is None:
            faults.append(f"{name}: in no group (place it, and say so in FLOORS/GROUND/DOORS and DESIGN.md)")
            continue
        for imported in sorted(imported_modules(path, name, modules, lazy)):
            other = group_of(imported) or "doors"
            if other != group and FLOORS[other] >= FLOORS[group]:
                faults.append(f"{name} ({group}) imports {imported} ({other})")
    return faults


def test_the_groups_import_downward_only():
    assert not upward_imports(PACKAGE, camsis._LAZY)


def test_the_check_finds_upward_sideways_relative_and_lazy_imports_and_an_unplaced_module(tmp_path):
    files = {
        "__init__.py": "",
        "errors.py": "",
        "steps.py": "from camsis.method import ca\n",
        "method/__init__.py": '"""The stages."""\n',
        "method/ca.py": "from camsis.io import reading\n\ndef later():\n    from camsis.scaling.scale import build\n",
        "io/__init__.py": "",
        "io/reading.py": "import camsis\n\ndef front():\n    return camsis.build_scale\n",
        "scaling/__init__.py": "",
        "scaling/scale.py": "from camsis.publish import plots\nfrom camsis import method\n",
        "publish/__init__.py": "",
        "publish/plots.py": "from ..method import ca\nfrom ..scaling import scale\n",
        "helpers.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert upward_imports(tmp_path, {"build_scale": "building"}) == [
        "camsis.helpers: in no group (place it, and say so in FLOORS/GROUND/DOORS and DESIGN.md)",
        "camsis.io.reading (io) imports camsis.building (doors)",
        "camsis.method.ca (method) imports camsis.scaling.scale (scaling)",
        "camsis.publish.plots (publish) imports camsis.scaling.scale (scaling)",
        "camsis.scaling.scale (scaling) imports camsis.publish.plots (publish)",
    ]


def circles(package: Path, lazy: dict[str, str]) -> list[list[str]]:
    """Modules that import one another round a loop, imports inside functions included."""
    modules = module_names(package)
    arrows = {name: imported_modules(path, name, modules, lazy) - {name}
              for name, path in modules.items() if path.name != "__init__.py"}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for other in arrows.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    reached = {name: reach(name) for name in arrows}
    loops = {tuple(sorted(other for other in reached[name] if name in reached[other])) for name in arrows}
    return sorted(list(loop) for loop in loops if loop)


def test_no_modules_import_one_another_round_a_circle():
    assert not circles(PACKAGE, camsis._LAZY)


def test_the_check_finds_a_circle_closed_inside_a_function(tmp_path):
    files = {"method/a.py": "from camsis.method import b\n", "method/b.py": "def late():\n    from camsis.method.c import x\n",
             "method/c.py": "import camsis.method.a\n", "method/d.py": "from camsis.method import a\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert circles(tmp_path, {}) == [["camsis.method.a", "camsis.method.b", "camsis.method.c"]]
