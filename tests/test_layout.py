"""The layout's rules, read from the source (issue 10): who may import whom.

The engine (config → probes → diagnosis → report) never imports monitoring: history,
lock, notifications and the schedule hang on a run from outside, through the commands.
No module of jmo_doctor/ imports itself back through others. Read with :mod:`ast`, so a
rule holds for code no test happens to run, and an import inside a function counts as
much as one at the top of a module. The commands are a table imported on first use, so
``--version`` and ``--help`` import none of them.
"""

from __future__ import annotations

import ast
import graphlib
import importlib
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from jmo_doctor.commands import COMMANDS, cli

PACKAGE = "jmo_doctor"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MONITOR = f"{PACKAGE}.monitor"
#: Where the engine and monitoring meet; everything else under jmo_doctor/ is the engine.
OUTSIDE_THE_ENGINE = (MONITOR, f"{PACKAGE}.commands", f"{PACKAGE}.cli")


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the module imported: the deepest one of ours that the statement names
    line: int
    lazy: bool  # inside a function: runs when called, not when the module is imported
    typing_only: bool  # under `if TYPE_CHECKING:`: never runs at all


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _ours(name: str, names: list[str]) -> Iterator[str]:
    """The modules of ours that ``from name import names`` (or ``import name``) loads."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return
    submodules = [f"{name}.{each}" for each in names if f"{name}.{each}" in MODULES]
    yield from submodules
    if len(submodules) < len(names) or not names:  # a name defined in the module itself
        yield name


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    return imports_in(source, module, is_package=path.name == "__init__.py")


def imports_in(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import of one of our modules in ``source``, the code of ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool, typing_only: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                pairs = [(alias.name, []) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from the package this module is in, or above
                    anchor = package.rsplit(".", node.level - 1)[0]
                    base = f"{anchor}.{base}" if base else anchor
                pairs = [(base, [alias.name for alias in node.names])]
            for name, names in pairs:
                for target in _ours(name, names):
                    found.append(Import(module, target, node.lineno, lazy, typing_only))
            return
        if isinstance(node, ast.Call) and _loads_by_name(node):
            target = node.args[0].value  # type: ignore[attr-defined]
            found.append(Import(module, target, node.lineno, lazy, typing_only))
        inner_lazy = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            typing = typing_only or (
                isinstance(node, ast.If) and child in node.body and _is_type_checking(node.test)
            )
            visit(child, inner_lazy, typing)

    visit(ast.parse(source, module), False, False)
    return found


def _loads_by_name(call: ast.Call) -> bool:
    """``importlib.import_module("jmo_doctor.…")`` or ``__import__("jmo_doctor.…")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return (
        name in ("import_module", "__import__")
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
        and call.args[0].value.startswith(PACKAGE)
    )


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_modules_are_found() -> None:
    assert {PACKAGE, f"{PACKAGE}.cli", f"{PACKAGE}.runner", MONITOR} <= set(MODULES)
    assert f"{MONITOR}.history" in MODULES and f"{PACKAGE}.report.text" in MODULES


def test_the_engine_never_imports_monitoring() -> None:
    """Lazy imports and `if TYPE_CHECKING:` ones count: the engine must not know it."""
    engine = [m for m in MODULES if not any(_in(m, outside) for outside in OUTSIDE_THE_ENGINE)]
    assert f"{PACKAGE}.diagnosis" in engine and f"{PACKAGE}.report.history" in engine
    crossing = [
        f"{MODULES[i.importer].relative_to(ROOT.parent)}:{i.line} imports {i.target}"
        for module in engine
        for i in imports_of(module)
        if _in(i.target, MONITOR)
    ]
    assert crossing == []


def test_the_rule_sees_every_way_of_importing() -> None:
    """The reader above notices each of these in an engine module."""
    source = """
import jmo_doctor.monitor.lock
from jmo_doctor import monitor
from jmo_doctor.monitor import history
from ..monitor.notify import ping
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from jmo_doctor.monitor.schedule import ScheduleError
def later():
    from jmo_doctor.monitor import schedule
    importlib.import_module("jmo_doctor.monitor.watch")
"""
    found = imports_in(source, f"{PACKAGE}.report.example")
    assert sorted((i.target, i.lazy, i.typing_only) for i in found) == [
        (MONITOR, False, False),
        (f"{MONITOR}.history", False, False),
        (f"{MONITOR}.lock", False, False),
        (f"{MONITOR}.notify", False, False),
        (f"{MONITOR}.schedule", False, True),
        (f"{MONITOR}.schedule", True, False),
        (f"{MONITOR}.watch", True, False),
    ]


# --- no import cycle ---------------------------------------------------------------------


def _graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for each in imports:
        if each.target != each.importer:
            graph.setdefault(each.importer, set()).add(each.target)
    return graph


def _cycle(graph: Mapping[str, set[str]]) -> list[str]:
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


ALL_IMPORTS = [each for module in MODULES for each in imports_of(module)]


@pytest.mark.parametrize(
    "which",
    [
        "at import time",  # what Python runs when a module is first imported
        "with lazy ones",  # imports inside functions too: none may lead back either
        "with typing ones",  # and those under `if TYPE_CHECKING:`
    ],
)
def test_there_is_no_import_cycle(which: str) -> None:
    kept = [
        each
        for each in ALL_IMPORTS
        if (not each.lazy or which != "at import time")
        and (not each.typing_only or which == "with typing ones")
    ]
    assert len(kept) > 50  # the reader found the imports
    assert _cycle(_graph(kept)) == []


def test_a_cycle_is_found() -> None:
    """cli.py and commands.py imported each other once (eight lazy imports)."""
    a = imports_in("from jmo_doctor.commands import cli", f"{PACKAGE}.cli")
    b = imports_in("def f():\n    from jmo_doctor.cli import UserError", f"{PACKAGE}.commands")
    assert set(_cycle(_graph([*ALL_IMPORTS, *a, *b]))) == {f"{PACKAGE}.cli", f"{PACKAGE}.commands"}


# --- the command table -------------------------------------------------------------------


def test_the_table_holds_every_command_module_and_its_own_summary() -> None:
    modules = {m for m in MODULES if m.startswith(f"{PACKAGE}.commands.")}
    assert modules == {info.module for info in COMMANDS.values()} | {f"{PACKAGE}.commands.common"}
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name, info in COMMANDS.items():
        command = getattr(importlib.import_module(info.module), info.attribute)
        assert isinstance(command, click.Command) and command.name == name
        # the listing shows the table's words: they must be the command's own
        assert command.get_short_help_str(limit=1000) == info.summary
        assert cli.get_command(ctx, name) is command


def _loaded_after(*args: str) -> list[str]:
    code = (
        "import sys\n"
        "from jmo_doctor.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('jmo_doctor.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return list(ast.literal_eval(done.stdout.splitlines()[-1]))


def test_version_imports_neither_click_nor_a_command() -> None:
    loaded = _loaded_after("--version")
    assert "click" not in loaded
    assert not [m for m in loaded if m.startswith(f"{PACKAGE}.commands")]


def test_help_lists_every_command_without_importing_one() -> None:
    loaded = _loaded_after("--help")
    assert f"{PACKAGE}.commands" in loaded
    assert not [m for m in loaded if m.startswith(f"{PACKAGE}.commands.")]
    assert not [m for m in loaded if m.startswith(MONITOR)]


def test_a_command_imports_only_its_own_module() -> None:
    loaded = _loaded_after("kpj", "check", "12345678901")
    commands = {m for m in loaded if m.startswith(f"{PACKAGE}.commands.")}
    assert commands == {f"{PACKAGE}.commands.kpj", f"{PACKAGE}.commands.common"}


def test_every_package_is_shipped() -> None:
    """pyproject's package search must find every package: one left out is missing from
    the wheel.

    (The installed-wheel tests may not notice: an in-tree build keeps old copies in
    build/lib.)
    """
    from setuptools import find_namespace_packages  # what packages.find runs

    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    search = pyproject["tool"]["setuptools"]["packages"]["find"]
    listed = set(find_namespace_packages(str(ROOT.parent), include=search["include"]))
    packages = {m for m, path in MODULES.items() if path.name == "__init__.py"}
    assert packages - listed == set()
