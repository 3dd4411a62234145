"""The built-in probes keep the plug-in contract (issue 10, item 2), read from the source.

A probe plug-in imports ``jmo_doctor.api`` and nothing else of jmo-doctor; the built-ins
in probes/ keep to that too. What several probes share lives in ``probes._common``, and a
shared helper never imports a probe. Read with :mod:`ast`, so the rules hold for code no
test happens to run: imports inside functions and under ``if TYPE_CHECKING:`` count, and
so does ``importlib.import_module("…")``. A built-in probe is told by the distribution
that registers it, not by the name of its module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

from jmo_doctor import plugins

ROOT = Path(__file__).resolve().parent.parent
PROBES = ROOT / "probes"
API = "jmo_doctor.api"
COMMON = "probes._common"


@dataclass(frozen=True)
class Import:
    line: int
    target: str  # the module (or, for ``from package import name``, package.name) named


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PROBES.rglob("*.py"))}


def imports_in(source: str, module: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every module ``source`` (the code of ``module``) imports, wherever it does."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from this module's package, or one above it
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                # ``from package import name`` loads the module package.name, if it is one
                deeper = f"{base}.{alias.name}"
                yield Import(node.lineno, deeper if _is_module(deeper) else base)
        elif isinstance(node, ast.Call) and _loads_by_name(node):
            yield Import(node.lineno, node.args[0].value)  # type: ignore[attr-defined]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _loads_by_name(call: ast.Call) -> bool:
    """``importlib.import_module("…")`` or ``__import__("…")`` with the name written out."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return (
        name in ("import_module", "__import__")
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    return list(imports_in(source, module, is_package=path.name == "__init__.py"))


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _outside_the_api(found: list[Import]) -> list[Import]:
    return [i for i in found if _in(i.target, "jmo_doctor") and not _in(i.target, API)]


def _probes_outside_common(found: list[Import]) -> list[Import]:
    return [i for i in found if _in(i.target, "probes") and not _in(i.target, COMMON)]


def _where(module: str, each: Import) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{each.line} imports {each.target}"


def test_the_modules_are_found() -> None:
    assert {"probes.dns", "probes.system", "probes.store", COMMON} <= set(MODULES)
    assert f"{COMMON}.net" in MODULES and "probes.system._scan" in MODULES


def test_probes_import_nothing_of_jmo_doctor_but_the_api() -> None:
    crossing = [_where(m, i) for m in MODULES for i in _outside_the_api(imports_of(m))]
    assert crossing == []


def test_shared_helpers_import_no_probe() -> None:
    common = [m for m in MODULES if _in(m, COMMON)]
    assert len(common) > 5
    crossing = [_where(m, i) for m in common for i in _probes_outside_common(imports_of(m))]
    assert crossing == []


def test_the_rules_see_every_way_of_importing() -> None:
    """Each of these is noticed in a probe module, and in a shared helper."""
    source = """
import jmo_doctor
import jmo_doctor.api
from jmo_doctor import api, config
from jmo_doctor.api import Target
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from jmo_doctor.context import ProbeRunContext
def later():
    from jmo_doctor.kpj import check_kpj
    importlib.import_module("jmo_doctor.plugins")
    from .. import tcp
    from ..dns import DnsProbe
    from . import net
    import probes.store._versions
"""
    found = list(imports_in(source, f"{COMMON}.example"))
    assert sorted(i.target for i in _outside_the_api(found)) == [
        "jmo_doctor",
        "jmo_doctor.config",
        "jmo_doctor.context",
        "jmo_doctor.kpj",
        "jmo_doctor.plugins",
    ]
    assert sorted(i.target for i in _probes_outside_common(found)) == [
        "probes.dns",
        "probes.store._versions",
        "probes.tcp",
    ]


# --- built-in: registered by jmo-doctor's own distribution ---------------------------------


def test_every_probe_jmo_doctor_registers_is_builtin() -> None:
    found = plugins.discover()
    assert {"system", "dns", "tcp", "store"} <= {p.id for p in found.probes}
    assert all(p.builtin for p in found.probes if p.source.startswith("jmo-doctor "))


@pytest.mark.parametrize(
    ("distribution", "builtin"),
    [
        ("other-probes", False),  # its own package called `probes`: still a plug-in
        ("JMO_Doctor", True),  # the same name as pip compares names
    ],
)
def test_builtin_is_told_by_the_distribution_not_the_module(
    tmp_path: Path, distribution: str, builtin: bool
) -> None:
    info = tmp_path / f"{distribution}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[jmo_doctor.probes]\nkpj = probes.kpj:KpjProbe\n")
    (entry,) = PathDistribution(info).entry_points
    loaded = plugins._load(entry)
    assert loaded.id == "kpj" and loaded.source == f"{distribution} 1.0"
    assert loaded.builtin is builtin
