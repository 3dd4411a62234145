"""Installing on Termux needs no compiler, and the README's Termux steps work there.

- The dependency set pip resolves for Termux (markers evaluated with the values Termux's
  Python reports: ``sys_platform`` "linux", or "android" from Python 3.13, on kernels
  whose release may lack "android") holds no psutil, and every distribution in it is a
  pure-Python wheel (``Root-Is-Purelib``, ``py3-none-any``-style tags) — checked on the
  wheels pip actually installed in this environment, transitively.
- jmo-doctor itself builds and installs with no compiler on PATH (``CC=false``), and the
  installed CLI, run under Android's app-sandbox rules (tests/lab/android.py), says
  ``offline`` in an empty namespace and all clear in the lab.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import venv_with_test_dependencies, verdict_of
from tests.lab import Lab
from tests.lab.android import AndroidSandbox, unavailable_reason
from tests.netns import empty_namespace

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

#: What Termux's Python reports, old and new: Python 3.12 built as "linux" on a vendor
#: kernel without "android" in its release, and Python 3.13 (PEP 738) as "android".
TERMUX_MARKERS = [
    {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_release": "4.14.190-perf+",
        "platform_machine": "aarch64",
        "python_version": "3.12",
        "python_full_version": "3.12.11",
    },
    {
        "sys_platform": "android",
        "platform_system": "Android",
        "platform_release": "5.10.198-android12-9-00085-g226a9632f13d",
        "platform_machine": "aarch64",
        "python_version": "3.13",
        "python_full_version": "3.13.5",
    },
]


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _closure(environment: dict[str, str]) -> dict[str, metadata.Distribution]:
    """Every distribution pip would install for jmo-doctor in ``environment``, found
    among the ones installed here (they were resolved from the same requirements)."""
    found: dict[str, metadata.Distribution] = {}
    todo = _requirements()
    while todo:
        requirement = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} is needed on Termux but not installed here to check")
        found[name] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    return found


def _pure(dist: metadata.Distribution) -> bool:
    wheel = dist.read_text("WHEEL") or ""
    tags = re.findall(r"^Tag: (\S+)$", wheel, re.MULTILINE)
    return (
        "Root-Is-Purelib: true" in wheel
        and bool(tags)
        and all(tag.endswith("-none-any") for tag in tags)
    )


@pytest.mark.parametrize("termux", TERMUX_MARKERS, ids=["py3.12-linux", "py3.13-android"])
def test_termux_dependency_set_is_pure_python(termux: dict[str, str]) -> None:
    environment = {**default_environment(), **termux}
    closure = _closure(environment)
    assert "psutil" not in closure
    assert {"httpx", "dnspython", "click", "rich"} <= set(closure)
    compiled = sorted(name for name, dist in closure.items() if not _pure(dist))
    assert compiled == [], f"would need a compiler on Termux: {compiled}"


def test_psutil_is_kept_where_it_has_wheels_and_is_needed() -> None:
    [psutil] = [r for r in _requirements() if r.name == "psutil"]
    assert psutil.marker is not None
    for platform, wanted in (("darwin", True), ("win32", True), ("linux", False)):
        assert psutil.marker.evaluate({**default_environment(), "sys_platform": platform}) is wanted


# --- the README's steps, in a Termux-like environment ------------------------------------


def _readme_termux_commands() -> list[str]:
    text = README.read_text()
    section = text[text.index("### Di Android dengan Termux") :]
    block = section[section.index("```sh") + 5 : section.index("```", section.index("```sh") + 5)]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AndroidSandbox:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    return AndroidSandbox.build(tmp_path_factory.mktemp("android"))


@pytest.fixture(scope="module")
def termux_venv(tmp_path_factory: pytest.TempPathFactory, sandbox: AndroidSandbox) -> Path:
    """``make run``'s install (``pip install .`` into a fresh venv) with no compiler: PATH
    without cc/gcc and CC=false, offline (dependencies come from this environment, as
    pip on Termux would fetch the same pure wheels)."""
    root = tmp_path_factory.mktemp("termux")
    venv = root / "venv"
    python = venv_with_test_dependencies(venv)
    no_compiler = root / "bin"
    no_compiler.mkdir()
    for tool in ("git", "make", "sh", "env"):  # what `pkg install python git make` gives
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True)
        if found.stdout.strip():
            (no_compiler / tool).symlink_to(found.stdout.strip())
    env = {
        **sandbox.env(),
        "PATH": f"{venv / 'bin'}{os.pathsep}{no_compiler}",
        "CC": "false",
        "CXX": "false",
        "HOME": str(root),
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(REPO),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return venv


def _run(
    argv: list[str], sandbox: AndroidSandbox, home: Path, namespace: str | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    return subprocess.run(
        [*prefix, *sandbox.argv(argv)],
        env={**sandbox.env({}), "PATH": "/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_readme_steps_are_the_ones_tested() -> None:
    commands = _readme_termux_commands()
    # what the tests below do: the copied project folder installed with pip (as `make run`
    # does) and no compiler anywhere on PATH
    assert "pkg install python make" in commands[1]
    assert any(c.startswith("cp -r ") and c.endswith("~/jmo-doctor") for c in commands)
    assert commands[-1] == "make run"


def test_termux_install_offline_says_offline(
    termux_venv: Path, sandbox: AndroidSandbox, tmp_path: Path
) -> None:
    cli = str(termux_venv / "bin" / "jmo-doctor")
    with empty_namespace() as namespace:
        done = _run(
            [cli, "run", "--timeout", "8", "--format", "json"], sandbox, tmp_path, namespace
        )
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    assert done.returncode == report["exit_code"] == 2, done.stdout[-2000:]
    assert report["causes"][0]["id"] == "offline"
    assert report["environment"]["platform"] == "android-termux"


def test_termux_install_in_the_lab_is_all_clear(
    termux_venv: Path, sandbox: AndroidSandbox, lab: Lab
) -> None:
    cli = str(termux_venv / "bin" / "jmo-doctor")
    config = lab.write_config()
    argv = [cli, "run", "--quick", "--config", str(config), "--timeout", "10"]
    done = lab.run_in_phone(sandbox.argv(argv), env={**sandbox.env(), "NO_COLOR": "1"})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    last = verdict_of(done.stdout)
    assert last.startswith("Kesimpulan:") and "kode keluar 0" in last, done.stdout[-2000:]
